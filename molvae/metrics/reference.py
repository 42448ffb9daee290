"""Statistics of reference sets (the MOSES test and scaffold-test sets, or a user's), computed once
and cached on disk as plain ``.npz`` keyed by the reference molecules' content."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from molvae.metrics import store
from molvae.metrics.features import (
    SetStats,
    compute_stats,
)

logger = logging.getLogger(__name__)

REFERENCE_NAMES = ("moses",)
MOSES_SETS = {"Test": "test", "TestSF": "test_scaffolds"}
STATS_VERSION = store.FORMAT_VERSION  # in the cache key: another format, another file


def stats_path(key: str) -> Path:
    from molvae.data import cache_dir

    return cache_dir() / "reference" / f"{key}.npz"


def load_cached(path: Path) -> SetStats | None:
    """Cached statistics, or None when the file is unreadable or of another format (a damaged
    cache is recomputed, never trusted)."""
    try:
        return store.read(path)
    except Exception as err:
        logger.warning("ignoring unreadable reference cache %s: %s", path, err)
        return None


def content_key(values: Sequence[Any]) -> str:
    """Cache key of a reference set: its molecules, in order."""
    blob = "\n".join(map(str, values)) + f"|v{STATS_VERSION}"
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


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
    if path.parent.is_dir():  # half-written files of killed runs (an hour old: not in use)
        from molvae.files import remove_stale_temps

        remove_stale_temps(path.parent, older_than=3600)
    if cache and path.exists():
        stats = load_cached(path)
        if stats is not None:
            logger.info("reference %s: cached statistics %s", name, path)
            return stats
    stats = compute_stats(values, n_jobs, device, progress, name)
    if cache:
        try:
            store.save(stats, path)
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
