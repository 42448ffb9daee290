"""One self-describing checkpoint file of plain data, loaded with ``torch.load(weights_only=True)``.

Layout (a dict of plain types and tensors only)::

    format            "molvae-checkpoint"
    format_version    1
    model_config      dict (ModelConfig fields)
    tokenizer         dict (tokenizer.to_dict(): kind, tokens, format_version)
    state_dict        {name: tensor}
    state_sha256      sha256 over the state dict's names, shapes, dtypes and bytes
    train_config      dict or None
    train_state       dict or None (epoch, step, optimizer state, RNG states, best metric, ...)
    metadata          dict (molvae/torch/rdkit/selfies versions, date, data source, ...)
    prior             dict or None: a learned prior over z (``molvae.prior``), tensors + numbers
    prior_sha256      sha256 over the prior's tensors (present with ``prior``)

Anything else (a pickled object, a truncated or corrupted file, a changed weight, an unknown
format version) raises :class:`CheckpointError`.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import logging
import math
import os
import pickle
import platform
import re
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from molvae.checks import check_count
from molvae.config import ModelConfig
from molvae.constants import DECODE_METHODS, MAX_BEAM_WIDTH, MAX_TRAIN_LEN
from molvae.exceptions import CheckpointError, ConfigError, TokenizerError
from molvae.files import atomic_write
from molvae.tokenizers import Tokenizer, tokenizer_from_dict
from molvae.version import __version__

logger = logging.getLogger(__name__)

FORMAT = "molvae-checkpoint"
FORMAT_VERSION = 1


@dataclass
class Checkpoint:
    """A loaded checkpoint: the rebuilt model config and tokenizer, and the raw parts."""

    model_config: ModelConfig
    tokenizer: Tokenizer
    state_dict: dict[str, torch.Tensor]
    train_config: dict[str, Any] | None
    train_state: dict[str, Any] | None
    metadata: dict[str, Any]
    path: Path
    prior: dict[str, Any] | None = None

    def build_model(self, device: str | torch.device = "cpu") -> torch.nn.Module:
        """The network with these weights. Its shapes are first compared with the weights' on
        the ``meta`` device (no memory), so sizes that disagree with the weights stored (a
        hostile or damaged ``model_config``) fail before anything is allocated."""
        from molvae.model import MolVAE

        with torch.device("meta"):
            expected = {
                k: tuple(v.shape) for k, v in MolVAE(self.model_config).state_dict().items()
            }
        stored = {k: tuple(v.shape) for k, v in self.state_dict.items()}
        if expected != stored:
            diff = sorted(set(expected) ^ set(stored)) or [
                f"{k} {stored[k]} vs {expected[k]}" for k in expected if stored[k] != expected[k]
            ]
            raise CheckpointError(
                f"{self.path}: weights do not fit the model config: {', '.join(diff[:5])}"
            )
        model = MolVAE(self.model_config)
        try:
            model.load_state_dict(self.state_dict)
        except RuntimeError as err:
            raise CheckpointError(
                f"{self.path}: weights do not fit the model config: {str(err)[:300]}"
            ) from err
        return model.to(device).eval()


def read_plain(path: str | os.PathLike, what: str = "checkpoint") -> Any:
    """``torch.load(path, weights_only=True)`` with its failures as :class:`CheckpointError`: a
    file that holds pickled Python objects is refused as such (naming the object), anything else
    is reported as damaged. torch's advice to load with ``weights_only=False`` is never passed on."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        text = str(err)
        found = re.search(r"GLOBAL ([\w.]+)", text)
        if found or "Unsupported global" in text:
            name = found.group(1) if found else "a Python object"
            raise CheckpointError(
                f"{path}: refused: the file holds pickled Python objects ({name}), not plain "
                f"data; molvae loads only plain-data {what} files"
            ) from None
        detail = re.search(r"WeightsUnpickler error:\s*(.+?)(?:\n|$)", text)
        raise CheckpointError(
            f"{path}: truncated or corrupted {what}: "
            f"{detail.group(1).strip() if detail else 'not a plain-data file'}"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile, KeyError) as err:
        raise CheckpointError(f"{path}: truncated or corrupted {what}: {_brief(err)}") from err
    except Exception as err:  # anything else torch's loader raises on a damaged file
        raise CheckpointError(
            f"{path}: unreadable {what}: {type(err).__name__}: {_brief(err)}"
        ) from err


def _brief(err: BaseException) -> str:
    """First line of an error message (at most 200 characters), or its type when it has none."""
    lines = str(err).strip().splitlines()
    return lines[0][:200] if lines else type(err).__name__


def state_digest(state_dict: dict[str, torch.Tensor]) -> str:
    """sha256 over names, shapes, dtypes and raw bytes of every tensor (in name order)."""
    h = hashlib.sha256()
    for name in sorted(state_dict):
        t = state_dict[name].detach().cpu().contiguous()
        h.update(f"{name}|{tuple(t.shape)}|{t.dtype}|".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def environment() -> dict[str, str]:
    import rdkit
    import selfies

    return {
        "molvae": __version__,
        "torch": str(torch.__version__),
        "rdkit": str(rdkit.__version__),
        "selfies": str(selfies.__version__),
        "python": platform.python_version(),
    }


def save(
    path: str | os.PathLike,
    model: torch.nn.Module,
    tokenizer: Tokenizer,
    train_config: dict[str, Any] | None = None,
    train_state: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    prior: dict[str, Any] | None = None,
    storage_dtype: torch.dtype | None = None,
) -> Path:
    """Write a checkpoint atomically (temp file in the same folder, then rename).

    ``prior`` is a learned prior's plain data (``GaussianMixturePrior.to_dict()``) or None.
    ``storage_dtype`` (e.g. ``torch.float16``) stores the floating-point weights and prior
    tensors at that precision, half the bytes for a bundled model; loading casts them back to the
    model's float32 (``build_model``), so nothing else changes. Default: as the model holds them.
    """
    state = {k: _stored(v.detach().cpu(), storage_dtype) for k, v in model.state_dict().items()}
    if prior is not None and storage_dtype is not None:
        prior = {k: _stored(v, storage_dtype) if isinstance(v, torch.Tensor) else v
                 for k, v in prior.items()}  # fmt: skip
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_config": asdict(model.cfg),
        "tokenizer": tokenizer.to_dict(),
        "state_dict": state,
        "state_sha256": state_digest(state),
        "train_config": train_config,
        "train_state": train_state,
        "metadata": {
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            **environment(),
            **(metadata or {}),
        },
    }
    _put_prior(payload, prior)
    write_plain(payload, path)
    return Path(path)


def write_plain(payload: Any, path: str | os.PathLike, what: str = "checkpoint") -> None:
    """``torch.save`` into ``path`` atomically; a write that fails (a full disk, a quota) is an
    ``OSError`` saying so, and the previous file under ``path`` is left as it was."""
    try:
        with atomic_write(path, "wb") as f:
            torch.save(payload, f)
    except (RuntimeError, OSError) as err:  # torch's zip writer reports some as RuntimeError
        raise OSError(
            getattr(err, "errno", None) or 0,
            f"{path}: could not write the {what} ({_brief(err)}); is the disk full? The previous "
            "file there, if any, is unchanged",
        ) from err


def _stored(t: torch.Tensor, dtype: torch.dtype | None) -> torch.Tensor:
    return t.to(dtype) if dtype is not None and t.is_floating_point() else t


def _prior_tensors(prior: dict[str, Any]) -> dict[str, torch.Tensor]:
    return {k: v for k, v in prior.items() if isinstance(v, torch.Tensor)}


def _put_prior(payload: dict[str, Any], prior: dict[str, Any] | None) -> None:
    payload["prior"] = prior
    payload["prior_sha256"] = state_digest(_prior_tensors(prior)) if prior is not None else None


def set_prior(path: str | os.PathLike, prior: dict[str, Any] | None) -> Path:
    """Store (or with None remove) a learned prior in an existing checkpoint, atomically."""
    load(path)  # verified before it is rewritten
    payload = read_plain(path)
    _put_prior(payload, prior)
    write_plain(payload, path)
    return Path(path)


def set_metadata(path: str | os.PathLike, updates: dict[str, Any]) -> Path:
    """Add or replace metadata entries (plain data) of an existing checkpoint, atomically; the
    weights and prior are kept as stored (a float16 bundled model stays float16)."""
    load(path)  # verified before it is rewritten
    payload = read_plain(path)
    payload["metadata"] = {**(payload.get("metadata") or {}), **updates}
    write_plain(payload, path)
    return Path(path)


# Types of the metadata and training-config entries that molvae reads back (others pass as they are).
_METADATA_TYPES: dict[str, Any] = {
    "data": str, "n_train": int, "n_val": int, "epoch": int, "step": int, "world_size": int,
    "prepare_report": dict, "lineage": dict, "card": dict, "anomaly": dict, "sampling": dict,
}  # fmt: skip


def _check_plain_sections(path: Path, payload: dict[str, Any]) -> None:
    """``metadata``, ``train_config`` and ``train_state`` are tables of the types molvae reads
    (a damaged or hostile file fails here, naming the entry, not later in a traceback)."""
    for key in ("metadata", "train_config", "train_state", "model_config"):
        value = payload.get(key)
        if value is not None and not isinstance(value, dict):
            raise CheckpointError(f"{path}: {key} must be a table, got {type(value).__name__}")
    for key, kind in _METADATA_TYPES.items():
        value = (payload.get("metadata") or {}).get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, kind)):
            raise CheckpointError(
                f"{path}: metadata[{key!r}] must be {kind.__name__}, got {type(value).__name__}"
            )
    tc = payload.get("train_config") or {}
    max_len = tc.get("max_len")
    if max_len is not None and (
        isinstance(max_len, bool)
        or not isinstance(max_len, int)
        or not 1 <= max_len <= MAX_TRAIN_LEN
    ):
        raise CheckpointError(
            f"{path}: train_config max_len must be 1..{MAX_TRAIN_LEN}, got {max_len!r}"
        )
    beta = tc.get("kl_weight")
    if beta is not None and (
        isinstance(beta, bool) or not isinstance(beta, (int, float)) or not 0 <= beta < math.inf
    ):
        raise CheckpointError(f"{path}: train_config kl_weight must be a number >= 0, got {beta!r}")
    sampling = (payload.get("metadata") or {}).get("sampling") or {}
    method = sampling.get("method")
    if method is not None and method not in DECODE_METHODS:
        raise CheckpointError(
            f"{path}: metadata['sampling']['method'] must be one of {list(DECODE_METHODS)}, "
            f"got {method!r}"
        )
    if sampling.get("beam_width") is not None:
        try:
            check_count("beam_width", sampling["beam_width"], 1, MAX_BEAM_WIDTH)
        except ValueError as e:
            raise CheckpointError(f"{path}: metadata['sampling']: {e}") from None


def load(path: str | os.PathLike) -> Checkpoint:
    """Load and verify a checkpoint without ever unpickling arbitrary objects.

    Raises:
        CheckpointError: missing file, not a checkpoint, pickled objects, truncated/corrupted data,
            a checksum mismatch (tampered weights), or an unknown format version.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if path.is_dir():
        raise CheckpointError(f"{path}: is a directory; give a checkpoint file or a run directory")
    payload = read_plain(path)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a molvae checkpoint")
    version = payload.get("format_version")
    if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format_version {version!r} is not supported by this molvae "
            f"(reads 1..{FORMAT_VERSION}); upgrade molvae"
        )
    for key in ("model_config", "tokenizer", "state_dict", "state_sha256"):
        if key not in payload:
            raise CheckpointError(f"{path}: checkpoint lacks {key!r}")
    state = payload["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: state_dict is not a dict of tensors")
    if state_digest(state) != payload["state_sha256"]:
        raise CheckpointError(
            f"{path}: weights do not match their checksum (file corrupted or tampered with)"
        )
    prior = payload.get("prior")
    if prior is not None and (
        not isinstance(prior, dict)
        or state_digest(_prior_tensors(prior)) != payload.get("prior_sha256")
    ):
        raise CheckpointError(
            f"{path}: the learned prior does not match its checksum (file corrupted or tampered with)"
        )
    _check_plain_sections(path, payload)
    try:
        model_config = ModelConfig(**payload["model_config"])
        tokenizer = tokenizer_from_dict(payload["tokenizer"])
    except (ConfigError, TokenizerError, TypeError) as err:
        raise CheckpointError(f"{path}: invalid model config or tokenizer: {err}") from err
    if model_config.vocab_size != tokenizer.vocab_size:
        raise CheckpointError(
            f"{path}: model vocab_size {model_config.vocab_size} != tokenizer's {tokenizer.vocab_size}"
        )
    return Checkpoint(
        model_config=model_config,
        tokenizer=tokenizer,
        state_dict=state,
        train_config=payload.get("train_config"),
        train_state=payload.get("train_state"),
        metadata=payload.get("metadata") or {},
        path=path,
        prior=prior,
    )


def resolve(model: str | os.PathLike) -> Path:
    """A checkpoint file, a run directory's ``best.pt``, or a bundled model's verified file.

    A run directory without ``best.pt`` (a run that has not finished an epoch that improved, or
    whose ``best.pt`` was lost) resolves to its ``last.pt`` with a warning naming it, never silently.
    A name that is not an existing path is looked up among the bundled models
    (``molvae.bundled``): an unknown one raises :class:`CheckpointError` listing them.
    """
    p = Path(model)
    if not p.exists() and isinstance(model, str) and _looks_like_name(model):
        from molvae import bundled

        return bundled.path(model)
    if p.is_dir():
        if (p / "best.pt").is_file():
            return p / "best.pt"
        if (p / "last.pt").is_file():
            logger.warning(
                "%s holds no best.pt; loading %s (the latest state, not the best)", p, p / "last.pt"
            )
            return p / "last.pt"
        raise CheckpointError(f"{p}: run directory holds no best.pt or last.pt")
    if not p.exists():
        raise CheckpointError(f"{p}: no such checkpoint file or run directory")
    return p


def _looks_like_name(model: str) -> bool:
    """A bare name such as ``moses-smiles`` (no folder, no file suffix), not a path."""
    return bool(model) and os.sep not in model and "/" not in model and not Path(model).suffix
