"""Reference statistics of the MOSES test and scaffold-test sets, shipped inside the package.

Everything the reference side needs (ChemNet moments for FCD, BRICS-fragment and Murcko-scaffold
counts, the distinct Morgan fingerprints for SNN, and the test set's logP/SA/QED/weight values for
the property distances) ships as plain ``.npz`` arrays (no pickle), xz-compressed
(``moses_<split>.npz.xz``), in ``molvae/metrics/reference_data/``, with a ``manifest.json`` giving
their provenance: the bundled dataset file each was computed from and its sha256, the sha256 of
each file, and the molvae, RDKit and fcd versions that made them. The fingerprints are stored
sorted and deduplicated (SNN is a max over the set), which lets xz shrink them about 6-7x.

A shipped file whose sha256 differs from the manifest (damaged or tampered with), or whose source
dataset changed (stale), is never used: :func:`load` logs why and returns ``None``, and the caller
recomputes the statistics from the molecules. ``scripts/build_reference_stats.py`` rebuilds them.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from molvae.files import atomic_write, file_sha256
from molvae.metrics.features import SetStats
from molvae.metrics.store import FORMAT_VERSION, read, save

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"


def data_dir() -> Path:
    """Folder of the shipped statistics (``molvae/metrics/reference_data``)."""
    return Path(__file__).resolve().parent / "reference_data"


def manifest(folder: Path | None = None) -> dict[str, Any] | None:
    """The provenance of the shipped statistics, or None when there is no readable manifest."""
    path = (folder or data_dir()) / MANIFEST
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        logger.warning("shipped reference statistics: no readable %s (%s)", path, err)
        return None


def load(split: str, source: Path, folder: Path | None = None) -> SetStats | None:
    """The shipped statistics of MOSES ``split`` computed from ``source``, or None (logged) when
    they are missing, unreadable, tampered with (sha256) or stale (``source`` changed)."""
    folder = folder or data_dir()
    info = (manifest(folder) or {}).get("sets", {}).get(split)
    if info is None:
        logger.warning("no shipped reference statistics for %r; computing them", split)
        return None
    path = folder / info["file"]
    why = None
    if not path.is_file():
        why = f"{path} is missing"
    elif file_sha256(path) != info["sha256"]:
        why = f"{path} does not match its sha256 in {MANIFEST} (damaged or tampered with)"
    elif file_sha256(source) != info["source_sha256"]:
        why = f"{source} changed since the statistics were built (stale)"
    if why is None:
        try:
            stats = read(path)
        except Exception as err:  # lzma, zip or format errors of a damaged file: recompute
            why = f"{path} is unreadable: {type(err).__name__}: {err}"
    if why is not None:
        logger.warning("shipped reference statistics not used: %s; recomputing them", why)
        return None
    logger.info("reference %s: shipped statistics %s", split, path)
    return stats


def build(
    splits: dict[str, tuple[Path, bool]],
    folder: Path | None = None,
    n_jobs: int = 1,
    device: str = "cpu",
    progress: bool = False,
) -> dict[str, Any]:
    """Compute and write the statistics of each ``split -> (source file, with properties)`` into
    ``folder`` with a manifest; returns the manifest. What ``scripts/build_reference_stats.py`` runs.
    """
    import datetime as dt

    import fcd
    import rdkit

    from molvae.data import read_smiles
    from molvae.metrics.features import compute_stats
    from molvae.version import __version__

    folder = folder or data_dir()
    sets = {}
    for split, (source, with_props) in splits.items():
        smiles = read_smiles(source).tolist()
        stats = compute_stats(smiles, n_jobs, device, progress, split)
        path = folder / f"moses_{split}.npz.xz"
        save(stats, path, with_props)
        sets[split] = {
            "file": path.name,
            "sha256": file_sha256(path),
            "source": source.name,
            "source_sha256": file_sha256(source),
            "molecules": stats.n,
            "properties": with_props,
        }
        logger.info("built %s: %d molecules, %.1f MB", path, stats.n, path.stat().st_size / 1e6)
    doc = {
        "format_version": FORMAT_VERSION,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "built_with": {"molvae": __version__, "rdkit": rdkit.__version__, "fcd": fcd.__version__},
        "command": "python scripts/build_reference_stats.py",
        "sets": sets,
    }
    with atomic_write(folder / MANIFEST) as f:
        f.write(json.dumps(doc, indent=2) + "\n")
    return doc
