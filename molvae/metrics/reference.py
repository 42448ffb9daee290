"""Statistics of reference sets (the MOSES test and scaffold-test sets, or a user's), computed once
and cached on disk as plain ``.npz`` keyed by the reference molecules' content."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from molvae.files import atomic_write
from molvae.metrics.fcd import fcd_moments
from molvae.metrics.features import (
    PROPERTY_KEYS,
    SetStats,
    canonical_chunk,
    set_stats,
)

logger = logging.getLogger(__name__)

REFERENCE_NAMES = ("moses",)
MOSES_SETS = {"Test": "test", "TestSF": "test_scaffolds"}
STATS_VERSION = 1


def stats_path(key: str) -> Path:
    from molvae.data import cache_dir

    return cache_dir() / "reference" / f"{key}.npz"


def save_stats(stats: SetStats, path: Path) -> None:
    meta = json.dumps(
        {"v": STATS_VERSION, "n": stats.n, "frags": stats.frags, "scafs": stats.scafs}
    )
    with atomic_write(path, "wb") as f:
        np.savez(
            f,
            fps=stats.fps,
            passes=stats.passes,
            fcd_mu=stats.fcd_mu,
            fcd_sigma=stats.fcd_sigma,
            meta=np.array(meta),
            **{f"prop_{k}": v for k, v in stats.props.items()},
        )


def load_stats(path: Path) -> SetStats | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            if meta["v"] != STATS_VERSION:
                return None
            return SetStats(
                n=meta["n"],
                fps=z["fps"],
                frags=Counter(meta["frags"]),
                scafs=Counter(meta["scafs"]),
                passes=z["passes"],
                props={k: z[f"prop_{k}"] for k in PROPERTY_KEYS},
                fcd_mu=z["fcd_mu"],
                fcd_sigma=z["fcd_sigma"],
            )
    except Exception as err:  # a damaged cache is recomputed, never trusted
        logger.warning("ignoring unreadable reference cache %s: %s", path, err)
        return None


def content_key(values: Sequence[Any]) -> str:
    """Cache key of a reference set: its molecules, in order."""
    blob = "\n".join(map(str, values)) + f"|v{STATS_VERSION}"
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def compute_stats(
    smiles: Sequence[Any], n_jobs: int, device: str, progress: bool, name: str
) -> SetStats:
    """All statistics of a reference set from its molecules (valid ones, canonicalised)."""
    from molvae.parallel import chunked, map_chunks

    t0 = time.perf_counter()
    chunks = chunked(list(smiles), 5000)
    canon = [
        c
        for part in map_chunks(canonical_chunk, chunks, n_jobs, progress, f"{name}: parse")
        for c, _ in part
        if c is not None
    ]
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


def reference_stats(
    smiles: Sequence[Any],
    n_jobs: int = 1,
    device: str = "cpu",
    cache: bool = True,
    progress: bool = False,
    name: str = "reference",
    shipped: tuple[str, Path] | None = None,
) -> SetStats:
    """Statistics of a reference set: the shipped ones when ``shipped=(split, source file)`` names
    valid shipped statistics, else computed once from the molecules and cached on disk."""
    values = list(smiles)
    if shipped is not None:
        from molvae.metrics import shipped as shipped_stats

        stats = shipped_stats.load(*shipped)
        if stats is not None:
            return stats
    path = stats_path(content_key(values))
    if cache and path.exists():
        stats = load_stats(path)
        if stats is not None:
            logger.info("reference %s: cached statistics %s", name, path)
            return stats
    stats = compute_stats(values, n_jobs, device, progress, name)
    if cache:
        try:
            save_stats(stats, path)
        except OSError as err:
            logger.warning("could not cache reference statistics at %s: %s", path, err)
    return stats


def reference_sets(reference: str | dict[str, Sequence[Any]]) -> dict[str, list[Any]]:
    if isinstance(reference, dict):
        if not reference:
            raise ValueError("reference dict is empty; give {name: smiles, ...}")
        return {str(k): list(v) for k, v in reference.items()}
    if reference != "moses":
        raise ValueError(
            f"unknown reference {reference!r}; known references: {list(REFERENCE_NAMES)} "
            "(or a dict of name -> SMILES)"
        )
    from molvae import datasets

    return {key: datasets.load("moses", split).smiles.tolist() for key, split in MOSES_SETS.items()}
