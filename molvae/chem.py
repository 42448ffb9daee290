"""RDKit helpers: parsing with logs muted, canonical SMILES, validity with a reason, properties,
structural alerts and the MOSES filters.

Example:
    >>> from molvae.chem import canonical, properties
    >>> canonical("OCC")
    'CCO'
    >>> round(properties("CC(=O)Oc1ccccc1C(=O)O")["qed"], 3)
    0.55
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from rdkit import Chem, rdBase
from rdkit.Chem import (
    QED,
    Crippen,
    Descriptors,
    Lipinski,
    MolSurf,
    RDConfig,
    rdMolDescriptors,
)

from molvae import reasons

# A molecule larger than this (heavy atoms), or a SMILES longer than MAX_SMILES_CHARS, is reported
# as "too_large" instead of being scored: ring perception and SA scoring of huge inputs can take
# seconds each, and generated sets are drug-sized.
MAX_HEAVY_ATOMS = 500
MAX_SMILES_CHARS = 5000

# Penalized logP standardisation constants: mean/std of logP, -SA and the large-ring penalty over
# ZINC-250k, as used by the Grammar VAE (Kusner et al. 2017) and JT-VAE (Jin et al. 2018,
# wengong-jin/icml18-jtnn, bo/gen_latent.py).
PLOGP_LOGP = (2.4570953396190123, 1.434324401111988)
PLOGP_SA = (-3.0525811293166134, 0.8335207024513095)
PLOGP_CYCLE = (-0.0485696876403053, 0.2860212110245455)

_DATA = Path(__file__).resolve().parent / "_chemdata"
MOSES_ALLOWED_ATOMS = frozenset({"C", "N", "S", "O", "F", "Cl", "Br", "H"})


def smiles_list(values: Any) -> list[Any]:
    """A batch input as a list: one string is one molecule (never split into its characters);
    a Series, array or any iterable gives its items."""
    if isinstance(values, str):
        return [values]
    if hasattr(values, "tolist"):
        return list(values.tolist())
    return list(values)


def to_mol(smiles: Any) -> Chem.Mol | None:
    """Parse SMILES into an RDKit molecule; ``None`` for anything RDKit rejects (logs muted).

    Strings over ``MAX_SMILES_CHARS`` characters are refused unparsed: RDKit writes very long
    chains recursively and crashes the process (a 50,000-atom chain segfaults ``MolToSmiles``).
    """
    if not isinstance(smiles, str) or not smiles.strip() or len(smiles) > MAX_SMILES_CHARS:
        return None
    with rdBase.BlockLogs():
        try:
            return Chem.MolFromSmiles(smiles)
        except Exception:  # RDKit raises on a few pathological inputs instead of returning None
            return None


def canonical(smiles: Any, largest_fragment: bool = False) -> str | None:
    """RDKit canonical SMILES, or ``None`` when RDKit cannot parse the input.

    Args:
        smiles: a SMILES string.
        largest_fragment: keep only the fragment with the most heavy atoms (salts, solvents).
    """
    mol = to_mol(smiles)
    if mol is None:
        return None
    if largest_fragment:
        mol = keep_largest_fragment(mol)
    return to_smiles(mol)


def to_smiles(mol: Chem.Mol) -> str:
    """RDKit canonical SMILES of a molecule (what :func:`canonical` gives for its SMILES)."""
    with rdBase.BlockLogs():
        return Chem.MolToSmiles(mol)


def keep_largest_fragment(mol: Chem.Mol) -> Chem.Mol:
    """The fragment with the most heavy atoms (the molecule itself when it has one fragment)."""
    frags = Chem.GetMolFrags(mol, asMols=True, sanitizeFrags=False)
    if len(frags) <= 1:
        return mol
    return max(frags, key=lambda m: m.GetNumHeavyAtoms())


def validity_reason(smiles: Any, allow_fragments: bool = True) -> str | None:
    """Why ``smiles`` is not a valid molecule, or ``None`` when it is.

    Reasons (``molvae.reasons``): ``not_a_string``, ``empty``, ``too_large`` (over
    ``MAX_SMILES_CHARS`` characters or ``MAX_HEAVY_ATOMS`` heavy atoms), ``unparseable`` (syntax or
    sanitization), ``multiple_fragments`` (only when ``allow_fragments`` is False).
    """
    return parse(smiles, allow_fragments)[1]


def parse(smiles: Any, allow_fragments: bool = True) -> tuple[Chem.Mol | None, str | None]:
    """``(mol, None)`` for a valid molecule, else ``(None, reason)`` (see :func:`validity_reason`)."""
    if not isinstance(smiles, str):
        return None, reasons.NOT_A_STRING
    if not smiles.strip():
        return None, reasons.EMPTY
    if len(smiles) > MAX_SMILES_CHARS:
        return None, reasons.TOO_LARGE
    mol = to_mol(smiles)
    if mol is None:
        return None, reasons.UNPARSEABLE
    if not allow_fragments and len(Chem.GetMolFrags(mol)) > 1:
        return None, reasons.MULTIPLE_FRAGMENTS
    if mol.GetNumHeavyAtoms() > MAX_HEAVY_ATOMS:
        return None, reasons.TOO_LARGE
    return mol, None


def canonical_pair(value: Any, largest_fragment: bool = False) -> tuple[str | None, str | None]:
    """``(RDKit canonical SMILES, None)`` of one input (of its largest fragment with
    ``largest_fragment``), or ``(None, reason)`` when it is not a valid molecule."""
    mol, reason = parse(value)
    if mol is None:
        return None, reason
    return to_smiles(keep_largest_fragment(mol) if largest_fragment else mol), None


def _canonical_chunk(values: list[Any]) -> list[tuple[str | None, str | None]]:
    return [canonical_pair(v) for v in values]


PARALLEL_MIN = 5000  # inputs from which canonical_forms runs in worker processes


def default_jobs() -> int:
    """Worker processes for RDKit work: the CPUs this process may use, at most 8, shared with
    the other processes of a torchrun job on this machine (``LOCAL_WORLD_SIZE``)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    local = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1))
    return max(1, min(8, (cpus or 1) // local))


def canonical_forms(
    values: list[Any], n_jobs: int | None = None
) -> tuple[list[str | None], list[str | None]]:
    """RDKit canonical SMILES of each input (None when it cannot be parsed) and the reason
    (``molvae.reasons``, None when parsed). From ``PARALLEL_MIN`` inputs on, chunks go to
    ``n_jobs`` worker processes (default :func:`default_jobs`)."""
    from molvae.parallel import chunked, map_chunks

    jobs = (n_jobs or default_jobs()) if len(values) >= PARALLEL_MIN else 1
    size = max(1000, -(-len(values) // (4 * jobs)))
    pairs = [
        p
        for part in map_chunks(_canonical_chunk, chunked(values, size), jobs, False, "")
        for p in part
    ]
    return [c for c, _ in pairs], [r for _, r in pairs]


# ---- properties ---------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _sascorer() -> Any:
    path = os.path.join(RDConfig.RDContribDir, "SA_Score")
    if path not in sys.path:
        sys.path.append(path)
    import sascorer  # RDKit Contrib: Ertl & Schuffenhauer, J. Cheminf. 2009

    return sascorer


def sa_score(mol: Chem.Mol) -> float:
    """Synthetic accessibility, 1 (easy) .. 10 (hard): RDKit Contrib's SA_Score."""
    return float(_sascorer().calculateScore(mol))


def warm_up() -> None:
    """Load the SA fragment table and compile the SMARTS screens once, in this process, so that
    forked workers inherit them instead of each paying ~0.5 s."""
    sascorer = _sascorer()
    if getattr(sascorer, "_fscores", None) is None:
        sascorer.readFragmentScores()
    _moses_screen()
    _qed_alerts()
    _atom_queries()


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
def _moses_screen() -> _Screen:
    return _Screen(_moses_filter_queries())


@functools.cache
def _qed_alerts() -> Any:
    """QED's 116 structural alerts as one RDKit ``FilterCatalog``: one C++ call counts the matching
    alerts (each alert is a ``SmartsMatcher`` with minimum count 1, i.e. ``HasSubstructMatch``)."""
    from rdkit.Chem import FilterCatalog

    catalog = FilterCatalog.FilterCatalog()
    for i, alert in enumerate(QED.StructuralAlerts):
        catalog.AddEntry(
            FilterCatalog.FilterCatalogEntry(str(i), FilterCatalog.SmartsMatcher(str(i), alert, 1))
        )
    return catalog


def qed(mol: Chem.Mol, logp: float | None = None) -> float:
    """QED (Bickerton et al. 2012): the value of RDKit's ``QED.qed``, computed faster (the
    structural alerts counted in one C++ call; logP can be passed in when already computed).
    The tests compare it with ``QED.qed`` over thousands of molecules."""
    if mol.GetNumAtoms() != mol.GetNumHeavyAtoms():  # explicit hydrogens: as RDKit, strip them
        mol, logp = Chem.RemoveHs(mol), None
    props = QED.QEDproperties(
        MW=rdMolDescriptors._CalcMolWt(mol),
        ALOGP=Crippen.MolLogP(mol) if logp is None else logp,
        HBA=sum(len(mol.GetSubstructMatches(p)) for p in QED.Acceptors),
        HBD=rdMolDescriptors.CalcNumHBD(mol),
        PSA=MolSurf.TPSA(mol),
        ROTB=rdMolDescriptors.CalcNumRotatableBonds(
            mol, rdMolDescriptors.NumRotatableBondsOptions.Strict
        ),
        AROM=len(Chem.GetSSSR(Chem.DeleteSubstructs(Chem.Mol(mol), QED.AliphaticRings))),
        ALERTS=len(_qed_alerts().GetMatches(mol)),
    )
    return QED.qed(mol, qedProperties=props)


def largest_ring_penalty(mol: Chem.Mol) -> int:
    """``max(0, largest ring size - 6)``."""
    rings = mol.GetRingInfo().AtomRings()
    return max(0, max((len(r) for r in rings), default=0) - 6)


def penalized_logp(mol: Chem.Mol) -> float:
    """Standardised logP - SA - large-ring penalty (Kusner et al. 2017; Jin et al. 2018)."""
    logp = Crippen.MolLogP(mol)
    sa = -sa_score(mol)
    cycle = -largest_ring_penalty(mol)
    return (
        (logp - PLOGP_LOGP[0]) / PLOGP_LOGP[1]
        + (sa - PLOGP_SA[0]) / PLOGP_SA[1]
        + (cycle - PLOGP_CYCLE[0]) / PLOGP_CYCLE[1]
    )


def lipinski_pass(mol: Chem.Mol) -> bool:
    """Lipinski's rule of five with at most one violation (MW <= 500, logP <= 5, HBD <= 5, HBA <= 10)."""
    violations = sum(
        (
            Descriptors.MolWt(mol) > 500,
            Crippen.MolLogP(mol) > 5,
            Lipinski.NumHDonors(mol) > 5,
            Lipinski.NumHAcceptors(mol) > 10,
        )
    )
    return violations <= 1


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


def _matches_moses_pattern(h_mol: Chem.Mol, screen: bool = True) -> bool:
    """Whether any MCF/PAINS pattern matches ``h_mol`` (explicit hydrogens, as MOSES matches).

    With ``screen``, only the patterns whose pattern-fingerprint bits are all set in the
    molecule's are searched (see :class:`_Screen`; the tests compare both paths).
    """
    if not screen:
        return any(h_mol.HasSubstructMatch(q) for q in _moses_screen().queries)
    words = _pattern_words(Chem.PatternFingerprint(h_mol))
    return any(h_mol.HasSubstructMatch(q) for q in _moses_screen().candidates(words))


@functools.cache
def _atom_queries() -> tuple[Chem.Mol, Chem.Mol]:
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
    charged, disallowed = _atom_queries()
    if mol.HasSubstructMatch(charged) or mol.HasSubstructMatch(disallowed):
        return False
    if _matches_moses_pattern(Chem.AddHs(mol), screen=screen):
        return False
    smiles = Chem.MolToSmiles(mol, isomericSmiles=False)
    return bool(smiles) and to_mol(smiles) is not None


PROPERTIES: dict[str, Callable[[Chem.Mol], Any]] = {
    "mw": Descriptors.MolWt,
    "logp": Crippen.MolLogP,
    "qed": qed,
    "sa": sa_score,
    "tpsa": rdMolDescriptors.CalcTPSA,
    "hbd": Lipinski.NumHDonors,
    "hba": Lipinski.NumHAcceptors,
    "rotatable_bonds": rdMolDescriptors.CalcNumRotatableBonds,
    "rings": rdMolDescriptors.CalcNumRings,
    "aromatic_rings": rdMolDescriptors.CalcNumAromaticRings,
    "heavy_atoms": lambda m: m.GetNumHeavyAtoms(),
    "penalized_logp": penalized_logp,
    "lipinski": lipinski_pass,
    "pains": lambda m: len(alerts(m, "PAINS")),
    "brenk": lambda m: len(alerts(m, "BRENK")),
    "moses_filters": passes_moses_filters,
}
DEFAULT_PROPERTIES = (
    "mw",
    "logp",
    "qed",
    "sa",
    "tpsa",
    "hbd",
    "hba",
    "rotatable_bonds",
    "rings",
    "aromatic_rings",
)


def properties(
    smiles: str, names: tuple[str, ...] | list[str] = DEFAULT_PROPERTIES
) -> dict[str, Any]:
    """Properties of one molecule.

    Raises:
        ValueError: invalid SMILES (the message quotes it and gives the reason) or unknown property.
    """
    check_property_names(names)
    mol, reason = parse(smiles)
    if mol is None:
        raise ValueError(f"cannot score {smiles!r}: {reason}")
    with rdBase.BlockLogs():
        return {n: PROPERTIES[n](mol) for n in names}


def check_property_names(names: Any) -> None:
    unknown = [n for n in names if n not in PROPERTIES]
    if unknown:
        raise ValueError(f"unknown properties {unknown}; known: {sorted(PROPERTIES)}")


# ---- similarity ---------------------------------------------------------------------------------
def fingerprint(smiles_or_mol: Any, radius: int = 2, n_bits: int = 2048) -> Any:
    """Morgan bit vector (RDKit ``ExplicitBitVect``), or ``None`` for an invalid molecule."""
    from rdkit.Chem import rdFingerprintGenerator

    mol = smiles_or_mol if isinstance(smiles_or_mol, Chem.Mol) else to_mol(smiles_or_mol)
    if mol is None:
        return None
    return rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits).GetFingerprint(
        mol
    )


def tanimoto(a: Any, b: Any) -> float:
    """Tanimoto similarity of two molecules (SMILES or fingerprints; Morgan r=2, 2048 bits);
    NaN when either is invalid."""
    from rdkit import DataStructs

    fa = fingerprint(a) if isinstance(a, (str, Chem.Mol)) else a
    fb = fingerprint(b) if isinstance(b, (str, Chem.Mol)) else b
    if not isinstance(fa, DataStructs.ExplicitBitVect) or not isinstance(
        fb, DataStructs.ExplicitBitVect
    ):
        return float("nan")
    return float(DataStructs.TanimotoSimilarity(fa, fb))


def _similar_chunk(pairs: list[tuple[Any, str]]) -> list[tuple[str | None, float]]:
    out = []
    for value, target in pairs:
        canon, _ = canonical_pair(value)
        out.append((canon, tanimoto(target, canon)))  # NaN when canon is None
    return out


def canonical_similarities(
    values: list[Any], targets: list[str], n_jobs: int | None = None
) -> tuple[list[str | None], list[float]]:
    """Canonical SMILES of each value (None when invalid) and its :func:`tanimoto` to the paired
    target SMILES (NaN when either is invalid): one parse of each value instead of two, in
    worker processes from ``PARALLEL_MIN`` pairs on (chunks of 1,000 or more)."""
    from molvae.parallel import chunked, map_chunks

    if len(values) != len(targets):
        raise ValueError(f"{len(values)} values but {len(targets)} targets")
    jobs = (n_jobs or default_jobs()) if len(values) >= PARALLEL_MIN // 5 else 1
    size = max(200, -(-len(values) // (4 * jobs)))
    pairs = list(zip(values, targets))
    done = [
        p
        for part in map_chunks(_similar_chunk, chunked(pairs, size), jobs, False, "")
        for p in part
    ]
    return [c for c, _ in done], [t for _, t in done]


# ---- batch scoring ------------------------------------------------------------------------------
def _property_values(mol: Chem.Mol, names: tuple[str, ...]) -> list[Any]:
    """``[PROPERTIES[n](mol) for n in names]``, with logP computed once when QED needs it too."""
    logp = Crippen.MolLogP(mol) if "logp" in names and "qed" in names else None
    out = []
    for n in names:
        if n == "logp" and logp is not None:
            out.append(logp)
        elif n == "qed":
            out.append(qed(mol, logp=logp))
        else:
            out.append(PROPERTIES[n](mol))
    return out


def _score_chunk(args: tuple[list[Any], tuple[str, ...]]) -> list[tuple[Any, ...]]:
    values, names = args
    out = []
    with rdBase.BlockLogs():
        for v in values:
            mol, reason = parse(v)
            if mol is None:
                out.append((False, reason, None, *([None] * len(names))))
                continue
            try:
                row = _property_values(mol, names)
            except Exception as err:  # a property RDKit cannot compute for this molecule
                out.append(
                    (
                        False,
                        f"{reasons.PROPERTY_ERROR}: {type(err).__name__}",
                        None,
                        *([None] * len(names)),
                    )
                )
                continue
            out.append((True, None, Chem.MolToSmiles(mol), *row))
    return out


def score(
    molecules: Any,
    properties: list[str] | tuple[str, ...] | str | None = None,
    column: str = "smiles",
    n_jobs: int = 1,
    progress: bool | None = None,
    chunk_size: int = 2000,
) -> Any:
    """Score molecules: one column per property, NaN and a ``reason`` for invalid rows.

    Args:
        molecules: SMILES (list, Series; one string is one molecule) or a DataFrame holding
            ``column``.
        properties: names from ``molvae.chem.PROPERTIES`` (or a comma-separated string);
            default ``DEFAULT_PROPERTIES``.
        column: SMILES column of a DataFrame input.
        n_jobs: worker processes (chunks of ``chunk_size`` molecules).
        progress: progress bar (default: on for more than 10,000 molecules).

    Returns:
        DataFrame in input order: the input's columns (or ``smiles``), then ``valid``, ``reason``,
        ``canonical`` and the properties. Never raises on bad chemistry.

    Raises:
        ValueError: unknown property (lists the known ones), or a DataFrame without ``column``.

    Example:
        >>> mv.score(["CCO", "C1CC", None], properties=["qed", "mw"])
    """
    import numpy as np
    import pandas as pd

    from molvae.parallel import chunked, map_chunks

    if isinstance(properties, str):
        properties = [p.strip() for p in properties.split(",") if p.strip()]
    names = tuple(properties) if properties is not None else DEFAULT_PROPERTIES
    check_property_names(names)
    if isinstance(molecules, pd.DataFrame):
        if column not in molecules.columns:
            raise ValueError(f"no column {column!r}; columns present: {list(molecules.columns)}")
        frame = molecules.reset_index(drop=True).copy()
        values = frame[column].tolist()
    else:
        values = smiles_list(molecules)
        frame = pd.DataFrame({"smiles": pd.Series(values, dtype=object)})
    if progress is None:
        progress = len(values) > 10_000
    chunks = [(c, names) for c in chunked(values, chunk_size)]
    if n_jobs > 1:
        warm_up()  # forked workers inherit the SA table and SMARTS instead of loading their own
    rows = [
        r for part in map_chunks(_score_chunk, chunks, n_jobs, progress, "scoring") for r in part
    ]
    cols = ["valid", "reason", "canonical", *names]
    result = pd.DataFrame(rows, columns=cols) if rows else pd.DataFrame(columns=cols)
    for n in names:
        result[n] = pd.to_numeric(result[n], errors="coerce").astype(float)
    result["valid"] = result["valid"].astype(bool)
    for c in cols:
        frame[c] = result[c].to_numpy() if len(result) else np.array([], dtype=object)
    return frame
