"""Pretrained models bundled inside the package: ``mv.load("moses-smiles")``, ``mv.pretrained()``.

The files live in ``molvae/models/`` beside ``manifest.json``, which names each model, its file,
the file's sha256 and its model card (data, configuration, training hardware and time, the command
that reproduces it, and the metrics measured on samples against the MOSES test set). A bundled
name resolves only to its own file: a missing file or one that fails its checksum raises
:class:`CheckpointError`, never a fallback to another model. A model that was renamed keeps its
old name as an alias (the manifest's ``renamed`` table, logged when used), so that scripts written
against the old name go on loading the same model. ``scripts/bundle_model.py`` writes
the files, the manifest and ``MODELS.md``.

Example:
    >>> import molvae as mv
    >>> mv.pretrained()[["name", "tokenizer", "parameters"]]  # doctest: +SKIP
    >>> gen = mv.load("moses-smiles")                          # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import pandas as pd

from molvae.exceptions import CheckpointError
from molvae.files import file_sha256

MODELS_DIR = Path(__file__).parent / "models"
logger = logging.getLogger(__name__)

# The card's metrics shown by ``pretrained()`` / ``molvae models``, in MOSES's column order.
CARD_METRICS = (
    "valid",
    "unique@10k",
    "FCD/Test",
    "SNN/Test",
    "Frag/Test",
    "Scaf/Test",
    "IntDiv",
    "Filters",
    "novelty",
    "recon_exact",
)


def models_dir() -> Path:
    """Where the bundled files are looked up (``MOLVAE_MODELS_DIR`` overrides it, for tests)."""
    return Path(os.environ.get("MOLVAE_MODELS_DIR") or MODELS_DIR)


def manifest() -> dict[str, Any]:
    """The bundled models' manifest: ``{"default": name, "models": {name: entry}}``, and
    optionally ``"renamed": {old name: current name}``."""
    path = models_dir() / "manifest.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {"default": None, "models": {}}
    except (OSError, ValueError) as err:
        raise CheckpointError(f"{path}: unreadable model manifest: {err}") from err
    if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
        raise CheckpointError(f"{path}: not a molvae model manifest")
    if data.get("default") is not None and not isinstance(data["default"], str):
        raise CheckpointError(f"{path}: 'default' must be a model name, got {data['default']!r}")
    for name, entry in data["models"].items():
        problem = (
            "is not a table"
            if not isinstance(entry, dict)
            else next(
                (
                    f"lacks a text {key!r}"
                    for key in ("file", "sha256")
                    if not isinstance(entry.get(key), str) or not entry[key]
                ),
                None,
            )
        )
        if problem is None and not isinstance(entry.get("card", {}), dict):
            problem = "has a 'card' that is not a table"
        if problem is None and Path(entry["file"]).name != entry["file"]:
            problem = f"names a file outside the models folder ({entry['file']!r})"
        if problem:
            raise CheckpointError(
                f"{path}: model {name!r} {problem} (a broken installation: reinstall molvae)"
            )
    renamed = data.get("renamed", {})
    if not isinstance(renamed, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in renamed.items()
    ):
        raise CheckpointError(f"{path}: 'renamed' must map old model names to current ones")
    return data


def current_name(name: str, data: dict[str, Any] | None = None) -> str:
    """``name`` itself, or the current name of a bundled model that was renamed from it
    (``data``: the manifest when the caller has read it already)."""
    data = manifest() if data is None else data
    new = data.get("renamed", {}).get(name)
    if name in data["models"] or new not in data["models"]:
        return name
    logger.info("bundled model %r is now called %r; loading %r", name, new, new)
    return new


def names() -> list[str]:
    """Names of the bundled models."""
    return sorted(manifest()["models"])


def default_name() -> str:
    """The model ``molvae sample`` uses when no model is given."""
    name = manifest().get("default")
    if not name:
        raise CheckpointError(
            "this molvae installation bundles no pretrained model; give a checkpoint or a run "
            "directory (molvae train makes one)"
        )
    return name


sha256 = file_sha256  # the older name


def path(name: str) -> Path:
    """The verified file of a bundled model.

    Raises:
        CheckpointError: an unknown name (the message lists the bundled ones), a missing file, or
            a file whose sha256 differs from the manifest's.
    """
    data = manifest()
    name = current_name(name, data)
    entries = data["models"]
    if name not in entries:
        known = ", ".join(sorted(entries)) or "none in this installation"
        raise CheckpointError(
            f"unknown model {name!r}: not a checkpoint file or run directory, nor a bundled "
            f"model (bundled: {known})"
        )
    entry = entries[name]
    file = models_dir() / entry["file"]
    if not file.is_file():
        raise CheckpointError(
            f"bundled model {name!r}: its file {file} is missing (a broken installation: "
            f"reinstall molvae)"
        )
    digest = sha256(file)
    if digest != entry["sha256"]:
        raise CheckpointError(
            f"bundled model {name!r}: {file} fails its checksum (sha256 {digest[:12]}..., "
            f"expected {entry['sha256'][:12]}...): the file is damaged or was changed; reinstall "
            f"molvae"
        )
    return file


def card(name: str) -> dict[str, Any]:
    """A bundled model's card (plain data, as in the manifest and in the checkpoint's metadata)."""
    data = manifest()
    name = current_name(name, data)
    entries = data["models"]
    if name not in entries:
        path(name)  # raises the unknown-name error
    return dict(entries[name].get("card") or {})


def pretrained() -> pd.DataFrame:
    """One row per bundled model: name, default, tokenizer, parameters, size, training and the
    card's MOSES metrics (samples against the MOSES test set; ``MODELS.md`` has the full cards).
    ``epochs``, ``steps`` and ``train_minutes`` are the last training piece's; ``pieces``,
    ``molecules_seen`` and ``total_minutes`` sum the model's whole lineage (``--init`` pieces).
    """
    data = manifest()
    rows = []
    for name, entry in sorted(data["models"].items()):
        c = entry.get("card") or {}
        metrics = c.get("metrics") or {}
        total = (c.get("lineage") or {}).get("total")
        if total:  # None minutes where a piece's time is unknown: a partial sum would mislead
            seconds = total.get("seconds")
            minutes = round(seconds / 60, 1) if seconds is not None else None
        else:  # trained in one piece
            total, minutes = {"pieces": 1}, c.get("train_minutes")
        rows.append(
            {
                "name": name,
                "default": name == data.get("default"),
                "tokenizer": c.get("tokenizer"),
                "parameters": c.get("parameters"),
                "size_mb": round(entry.get("bytes", 0) / 1e6, 2),
                "data": c.get("data"),
                "epochs": c.get("epochs"),
                "steps": c.get("steps"),
                "hardware": c.get("hardware"),
                "train_minutes": c.get("train_minutes"),
                "pieces": total.get("pieces"),
                "molecules_seen": total.get("molecules_seen"),
                "total_minutes": minutes,
                "samples": c.get("n_samples"),
                **{k: metrics.get(k) for k in CARD_METRICS},
                "summary": entry.get("summary", ""),
            }
        )
    columns = [
        "name", "default", "tokenizer", "parameters", "size_mb", "data", "epochs", "steps",
        "hardware", "train_minutes", "pieces", "molecules_seen", "total_minutes", "samples",
        *CARD_METRICS, "summary",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)
