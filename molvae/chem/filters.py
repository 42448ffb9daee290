"""Structural filters: RDKit's alert catalogs (PAINS, BRENK, ...) and MOSES's filter (MCF + PAINS
SMARTS, ring size, charges, allowed atoms), with a pattern-fingerprint screen that skips the
queries that cannot match."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
from rdkit import Chem, rdBase

from molvae.chem.mol import to_mol

_DATA = Path(__file__).resolve().parent.parent / "_chemdata"
MOSES_ALLOWED_ATOMS = frozenset({"C", "N", "S", "O", "F", "Cl", "Br", "H"})


def _pattern_words(fp: Any) -> np.ndarray:
    """An RDKit bit vector as ``uint64`` words, for vectorised subset tests."""
    from rdkit import DataStructs

    return np.frombuffer(bytes.fromhex(DataStructs.BitVectToFPSText(fp)), dtype=np.uint64)


class _Screen:
    """SMARTS queries with their pattern fingerprints, screened in one vectorised step.

    A query can only match a molecule whose pattern fingerprint holds every bit of the query's
    (RDKit's substructure-screening guarantee), so :meth:`candidates` never drops a real match;
    the tests compare screened and unscreened results over thousands of molecules.
    """

    def __init__(self, queries: list[Chem.Mol]):
        self.queries = queries
        self.words = np.stack([_pattern_words(Chem.PatternFingerprint(q)) for q in queries])

    def candidates(self, words: np.ndarray) -> list[Chem.Mol]:
        """Queries whose bits are all set in ``words`` (a molecule's pattern fingerprint)."""
        return [self.queries[i] for i in np.flatnonzero(~(self.words & ~words).any(axis=1))]


@functools.cache
def moses_screen() -> _Screen:
    return _Screen(_moses_filter_queries())


@functools.cache
def _catalog(name: str) -> Any:
    from rdkit.Chem import FilterCatalog

    params = FilterCatalog.FilterCatalogParams()
    params.AddCatalog(getattr(FilterCatalog.FilterCatalogParams.FilterCatalogs, name))
    return FilterCatalog.FilterCatalog(params)


def alerts(mol: Chem.Mol, catalog: str = "PAINS") -> list[str]:
    """Names of the structural alerts of an RDKit ``FilterCatalog`` (``PAINS``, ``BRENK``, ...) that match."""
    return [m.GetDescription() for m in _catalog(catalog).GetMatches(mol)]


def _moses_filter_queries() -> list[Chem.Mol]:
    """MCF + PAINS SMARTS of MOSES 0.3.1 (``molvae/_chemdata``, MIT, copied from molsets)."""
    import csv

    patterns = []
    with open(_DATA / "mcf.csv", newline="") as f:
        patterns += [row["smarts"] for row in csv.DictReader(f)]
    with open(_DATA / "wehi_pains.csv", newline="") as f:
        patterns += [row[0] for row in csv.reader(f)]
    with rdBase.BlockLogs():
        return [Chem.MolFromSmarts(p) for p in patterns]


def matches_moses_pattern(h_mol: Chem.Mol, screen: bool = True) -> bool:
    """Whether any MCF/PAINS pattern matches ``h_mol`` (explicit hydrogens, as MOSES matches).

    With ``screen``, only the patterns whose pattern-fingerprint bits are all set in the
    molecule's are searched (see :class:`_Screen`; the tests compare both paths).
    """
    if not screen:
        return any(h_mol.HasSubstructMatch(q) for q in moses_screen().queries)
    words = _pattern_words(Chem.PatternFingerprint(h_mol))
    return any(h_mol.HasSubstructMatch(q) for q in moses_screen().candidates(words))


@functools.cache
def atom_queries() -> tuple[Chem.Mol, Chem.Mol]:
    """A charged atom; an atom outside ``MOSES_ALLOWED_ATOMS`` (C N S O F Cl Br H). One C++
    substructure search each instead of a Python loop over the atoms."""
    allowed = "&".join(
        f"!#{Chem.GetPeriodicTable().GetAtomicNumber(s)}" for s in sorted(MOSES_ALLOWED_ATOMS)
    )
    return Chem.MolFromSmarts("[!+0]"), Chem.MolFromSmarts(f"[{allowed}]")


def passes_moses_filters(mol: Chem.Mol, screen: bool = True) -> bool:
    """MOSES's filter (``mol_passes_filters``): no ring of 8+ atoms, no charges, only
    C N S O F Cl Br H, no MCF or PAINS match, and a canonical SMILES that parses again."""
    ring_info = mol.GetRingInfo()
    if ring_info.NumRings() != 0 and any(len(r) >= 8 for r in ring_info.AtomRings()):
        return False
    charged, disallowed = atom_queries()
    if mol.HasSubstructMatch(charged) or mol.HasSubstructMatch(disallowed):
        return False
    if matches_moses_pattern(Chem.AddHs(mol), screen=screen):
        return False
    smiles = Chem.MolToSmiles(mol, isomericSmiles=False)
    return bool(smiles) and to_mol(smiles) is not None
