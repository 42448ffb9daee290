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

    def __init__(self, queries: list[Chem.Mol], names: list[str]):
        self.queries, self.names = queries, names
        self.words = np.stack([_pattern_words(Chem.PatternFingerprint(q)) for q in queries])

    def candidate_indices(self, words: np.ndarray) -> np.ndarray:
        """Indices of the queries whose bits are all set in ``words`` (a molecule's pattern
        fingerprint)."""
        return np.flatnonzero(~(self.words & ~words).any(axis=1))

    def candidates(self, words: np.ndarray) -> list[Chem.Mol]:
        """Queries whose bits are all set in ``words`` (a molecule's pattern fingerprint)."""
        return [self.queries[i] for i in self.candidate_indices(words)]


@functools.cache
def moses_screen() -> _Screen:
    return _Screen(*_moses_filter_queries())


@functools.cache
def _catalog(name: str) -> Any:
    from rdkit.Chem import FilterCatalog

    params = FilterCatalog.FilterCatalogParams()
    params.AddCatalog(getattr(FilterCatalog.FilterCatalogParams.FilterCatalogs, name))
    return FilterCatalog.FilterCatalog(params)


def alerts(mol: Chem.Mol, catalog: str = "PAINS") -> list[str]:
    """Names of the structural alerts of an RDKit ``FilterCatalog`` (``PAINS``, ``BRENK``, ...) that match."""
    return [m.GetDescription() for m in _catalog(catalog).GetMatches(mol)]


def _moses_filter_queries() -> tuple[list[Chem.Mol], list[str]]:
    """MCF + PAINS SMARTS of MOSES 0.3.1 (``molvae/_chemdata``, MIT, copied from molsets), with
    their names (``MCF1``..., ``PAINS anil_di_alk_F``...)."""
    import csv
    import re

    patterns, names = [], []
    with open(_DATA / "mcf.csv", newline="") as f:
        for row in csv.DictReader(f):
            patterns.append(row["smarts"])
            names.append(row["names"])
    with open(_DATA / "wehi_pains.csv", newline="") as f:
        for row in csv.reader(f):
            patterns.append(row[0])
            found = re.search(r"regId=([^>(]+)", row[1])
            names.append("PAINS " + (found.group(1) if found else row[1].strip()))
    with rdBase.BlockLogs():
        return [Chem.MolFromSmarts(p) for p in patterns], names


def matches_moses_pattern(h_mol: Chem.Mol, screen: bool = True) -> bool:
    """Whether any MCF/PAINS pattern matches ``h_mol`` (explicit hydrogens, as MOSES matches).

    With ``screen``, only the patterns whose pattern-fingerprint bits are all set in the
    molecule's are searched (see :class:`_Screen`; the tests compare both paths).
    """
    return moses_pattern_match(h_mol, screen=screen) is not None


def moses_pattern_match(h_mol: Chem.Mol, screen: bool = True) -> str | None:
    """The name of the first MCF/PAINS pattern that matches ``h_mol`` (explicit hydrogens), or
    ``None``; ``screen`` as in :func:`matches_moses_pattern`."""
    s = moses_screen()
    if screen:
        order = s.candidate_indices(_pattern_words(Chem.PatternFingerprint(h_mol)))
    else:
        order = range(len(s.queries))
    return next((s.names[i] for i in order if h_mol.HasSubstructMatch(s.queries[i])), None)


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
    return moses_filter_failure(mol, screen=screen) is None


def moses_filter_failure(mol: Chem.Mol, screen: bool = True) -> str | None:
    """Why ``mol`` fails MOSES's filter (the first check it fails, in MOSES's order), or
    ``None`` when it passes: ``"ring of N atoms"``, ``"charged atom"``, ``"atom outside C N S O
    F Cl Br H"``, the name of the MCF or PAINS pattern that matches (``"MCF3"``, ``"PAINS
    anil_alk_ene"``), or ``"canonical SMILES does not parse"``."""
    ring_info = mol.GetRingInfo()
    if ring_info.NumRings() != 0:
        largest = max(len(r) for r in ring_info.AtomRings())
        if largest >= 8:
            return f"ring of {largest} atoms"
    charged, disallowed = atom_queries()
    if mol.HasSubstructMatch(charged):
        return "charged atom"
    if mol.HasSubstructMatch(disallowed):
        return "atom outside " + " ".join(sorted(MOSES_ALLOWED_ATOMS, key="CNSOFClBrH".find))
    pattern = moses_pattern_match(Chem.AddHs(mol), screen=screen)
    if pattern is not None:
        return pattern
    smiles = Chem.MolToSmiles(mol, isomericSmiles=False)
    if not smiles or to_mol(smiles) is None:
        return "canonical SMILES does not parse"
    return None
