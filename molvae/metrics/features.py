"""Per-molecule features of a generated or reference set (worker processes): Morgan
fingerprints, BRICS fragments, Murcko scaffolds, MOSES filters and the logP/SA/QED/weight
properties, with MOSES 0.3.1's definitions."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

FP_BITS = 1024
PROPERTY_KEYS = ("logP", "SA", "QED", "weight")


def features_chunk(args: tuple[list[str], bool]) -> list[tuple[Any, ...]]:
    """(canonical, packed fingerprint, fragments, scaffold, passes filters, logP, SA, QED, weight)
    for each valid canonical SMILES; the filters (the costliest part) only when asked for.
    Every value is the one MOSES computes (``moses.metrics.utils``): the same RDKit calls, with
    logP computed once for logP and QED."""
    from rdkit import Chem, rdBase
    from rdkit.Chem import AllChem, Crippen, Descriptors
    from rdkit.Chem.Scaffolds import MurckoScaffold

    from molvae.chem import packed_fingerprints, passes_moses_filters, qed, sa_score, to_mol

    smiles, with_filters = args
    out = []
    with rdBase.BlockLogs():
        mols = [to_mol(s) for s in smiles]
        fps, _ = packed_fingerprints(mols, n_bits=FP_BITS)
        for s, mol, fp in zip(smiles, mols, fps):
            frags = Chem.MolToSmiles(AllChem.FragmentOnBRICSBonds(mol)).split(".")
            try:
                scaf_mol = MurckoScaffold.GetScaffoldForMol(mol)
                scaf = Chem.MolToSmiles(scaf_mol)
                if not scaf or scaf_mol.GetRingInfo().NumRings() < 2:
                    scaf = None
            except (ValueError, RuntimeError):
                scaf = None
            logp = Crippen.MolLogP(mol)
            passes = passes_moses_filters(mol) if with_filters else None
            out.append(
                (
                    s,
                    fp,
                    frags,
                    scaf,
                    passes,
                    logp,
                    sa_score(mol),
                    qed(mol, logp=logp),
                    Descriptors.MolWt(mol),
                )
            )
    return out


@dataclass
class SetStats:
    """Everything the metrics need about one set of valid canonical molecules."""

    n: int
    fps: np.ndarray  # (N, 128) uint8, packed Morgan bits
    frags: Counter
    scafs: Counter
    passes: np.ndarray  # (N,) bool
    props: dict[str, np.ndarray]  # PROPERTY_KEYS -> (N,)
    fcd_mu: np.ndarray | None = None  # (512,)
    fcd_sigma: np.ndarray | None = None  # (512, 512)


def set_stats(
    smiles: list[str], n_jobs: int, progress: bool, desc: str, filters: bool = True
) -> SetStats:
    """Features of every molecule of ``smiles`` (duplicates included, as MOSES counts them); each
    distinct molecule is computed once."""
    from molvae.chem import warm_up
    from molvae.parallel import chunked, map_chunks

    unique = list(dict.fromkeys(smiles))
    warm_up()  # before the workers fork, so that they inherit the SA table and SMARTS screens
    chunks = [(c, filters) for c in chunked(unique, 1000)]
    rows = [r for part in map_chunks(features_chunk, chunks, n_jobs, progress, desc) for r in part]
    where = {s: i for i, s in enumerate(unique)}
    idx = np.array([where[s] for s in smiles], dtype=np.int64)  # (N,) row of each molecule
    mult = np.bincount(idx, minlength=len(unique)) if len(unique) else np.zeros(0, np.int64)
    frags: Counter = Counter()
    scafs: Counter = Counter()
    for r, k in zip(rows, mult.tolist()):
        for f in r[2]:
            frags[f] += k
        if r[3] is not None:
            scafs[r[3]] += k
    fps = np.stack([r[1] for r in rows]) if rows else np.zeros((0, FP_BITS // 8), np.uint8)
    passes = np.array([bool(r[4]) for r in rows], dtype=bool)  # all False without filters
    return SetStats(
        n=len(smiles),
        fps=fps[idx],
        frags=frags,
        scafs=scafs,
        passes=passes[idx] if len(rows) else passes,
        props={
            k: np.array([r[5 + i] for r in rows], dtype=np.float64)[idx] if rows else np.zeros(0)
            for i, k in enumerate(PROPERTY_KEYS)
        },
    )


def compute_stats(
    smiles: Sequence[Any], n_jobs: int, device: str, progress: bool, name: str
) -> SetStats:
    """All statistics of a reference set from its molecules (valid ones, canonicalised)."""
    from molvae.chem import canonical_forms
    from molvae.metrics.fcd import fcd_moments

    t0 = time.perf_counter()
    forms, _ = canonical_forms(list(smiles), n_jobs, progress=progress, desc=f"{name}: parse")
    canon = [c for c in forms if c is not None]
    if not canon:
        raise ValueError(f"reference set {name!r} holds no valid molecule")
    # Filters is a metric of the generated set only: skip the costly filter matching here.
    stats = set_stats(canon, n_jobs, progress, f"{name}: features", filters=False)
    stats.fcd_mu, stats.fcd_sigma = fcd_moments(canon, device)
    logger.info(
        "reference %s: statistics of %d molecules in %.0f s",
        name,
        len(canon),
        time.perf_counter() - t0,
    )
    return stats
