"""Many molecules at once: the one list canonicaliser (:func:`canonical_forms`), canonical forms
with similarities to paired targets, and batch scoring (:func:`score`), in worker processes
(``molvae.parallel``) from a few thousand inputs on."""

from __future__ import annotations

from typing import Any

from rdkit import Chem, rdBase
from rdkit.Chem import Crippen

from molvae import reasons
from molvae.chem.mol import canonical_mol, canonical_pair, smiles_list, tanimoto
from molvae.chem.properties import (
    DEFAULT_PROPERTIES,
    PROPERTIES,
    check_property_names,
    qed,
    warm_up,
)
from molvae.chem.standardize import standardized_pair
from molvae.parallel import chunked, default_jobs, map_chunks

PARALLEL_MIN = 5000  # inputs from which canonical_forms runs in worker processes


def _canonical_chunk(args: tuple[list[Any], bool]) -> list[tuple[str | None, str | None]]:
    values, largest_fragment = args
    return [canonical_pair(v, largest_fragment) for v in values]


def canonical_forms(
    values: list[Any],
    n_jobs: int | None = None,
    largest_fragment: bool = False,
    progress: bool = False,
    desc: str = "rdkit",
) -> tuple[list[str | None], list[str | None]]:
    """RDKit canonical SMILES of each input (None when it is not a valid molecule, see
    :func:`~molvae.chem.mol.canonical_mol`) and the reason (``molvae.reasons``, None when valid).

    The one list canonicaliser: data preparation, sampling, reconstruction, encoding and the
    metrics all call it, so "valid" means the same everywhere. From ``PARALLEL_MIN`` inputs on,
    chunks go to ``n_jobs`` worker processes (default :func:`~molvae.parallel.default_jobs`).
    """
    pairs = _per_molecule(_canonical_chunk, values, largest_fragment, n_jobs, progress, desc)
    return [c for c, _ in pairs], [r for _, r in pairs]


def _per_molecule(
    fn: Any, values: list[Any], option: Any, n_jobs: int | None, progress: bool, desc: str
) -> list[Any]:
    """``fn((chunk, option))`` over ``values`` in chunks, flattened, in input order: in worker
    processes from ``PARALLEL_MIN`` inputs on (chunks of 1,000 or more, about four per job)."""
    jobs = (n_jobs or default_jobs()) if len(values) >= PARALLEL_MIN else 1
    size = max(1000, -(-len(values) // (4 * jobs)))
    chunks = [(c, option) for c in chunked(values, size)]
    return [r for part in map_chunks(fn, chunks, jobs, progress, desc) for r in part]


def _standardized_chunk(
    args: tuple[list[Any], bool],
) -> list[tuple[str | None, str | None, str | None]]:
    values, keep_stereo = args
    return [standardized_pair(v, keep_stereo) for v in values]


def standardized_forms(
    values: list[Any], keep_stereo: bool = True, n_jobs: int | None = None
) -> tuple[list[str | None], list[str | None], list[str | None]]:
    """As :func:`canonical_forms` after standardising each molecule (``molvae.chem.standardize``:
    largest fragment, neutral charges, no stereo unless ``keep_stereo``), plus what changed per
    input (``"fragment,charge"``..., None when nothing did or the input is invalid)."""
    out = _per_molecule(_standardized_chunk, values, keep_stereo, n_jobs, False, "")
    return [c for c, _, _ in out], [r for _, r, _ in out], [x for _, _, x in out]


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
    out: list[tuple[Any, ...]] = []
    blank = [None] * len(names)
    with rdBase.BlockLogs():
        for v in values:
            mol, smiles, reason = canonical_mol(v)
            if mol is None:
                out.append((False, reason, None, *blank))
                continue
            try:
                row = _property_values(mol, names)
            except Exception as err:  # a property RDKit cannot compute for this molecule
                out.append((False, f"{reasons.PROPERTY_ERROR}: {type(err).__name__}", None, *blank))
                continue
            out.append((True, None, smiles, *row))
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
