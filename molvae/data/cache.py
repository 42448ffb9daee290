"""The prepared-data cache: token arrays of a file, keyed by its bytes, the tokenizer and the
:class:`~molvae.data.prepare.PrepareOptions`, stored as plain ``.npz`` (no pickle)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from molvae.data.io import read_raw, read_smiles
from molvae.data.prepare import PreparedData, PrepareOptions, PrepareReport, prepare
from molvae.exceptions import DataError
from molvae.files import atomic_write, remove_stale_temps
from molvae.tokenizers import Tokenizer, tokenizer_from_dict

logger = logging.getLogger(__name__)

CACHE_VERSION = 2  # 2: reasons from molvae.reasons (too_large), PrepareOptions key


def cache_dir() -> Path:
    """``$MOLVAE_CACHE`` or ``~/.cache/molvae``."""
    return Path(os.environ.get("MOLVAE_CACHE") or Path.home() / ".cache" / "molvae")


def cache_key(
    source_sha256: str, tokenizer: str | Tokenizer, options: PrepareOptions, column: str | None
) -> str:
    """What identifies a preparation: the file's bytes, the tokenizer, the options and column."""
    tok = tokenizer if isinstance(tokenizer, str) else tokenizer.to_dict()
    blob = json.dumps(
        {
            "v": CACHE_VERSION,
            "src": source_sha256,
            "tok": tok,
            "opt": options.to_dict(),
            "column": column,
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def save_prepared(data: PreparedData, path: str | os.PathLike) -> None:
    """Write :class:`PreparedData` to one ``.npz`` of plain arrays (atomically)."""
    meta = json.dumps(
        {
            "cache_version": CACHE_VERSION,
            "tokenizer": data.tokenizer.to_dict(),
            "report": data.report.to_dict(),
        }
    )
    smiles = np.frombuffer("\n".join(data.smiles).encode(), dtype=np.uint8)
    with atomic_write(path, "wb") as f:
        np.savez(f, tokens=data.tokens, offsets=data.offsets, smiles=smiles, meta=np.array(meta))


def load_prepared(path: str | os.PathLike) -> PreparedData:
    """Read what :func:`save_prepared` wrote (no pickles: ``allow_pickle=False``)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            if meta.get("cache_version") != CACHE_VERSION:
                raise DataError(
                    f"{path}: cache version {meta.get('cache_version')} != {CACHE_VERSION}"
                )
            text = z["smiles"].tobytes().decode()
            smiles = text.split("\n") if text else []
            tokens, offsets = z["tokens"], z["offsets"]
            if (
                tokens.ndim != 1
                or offsets.ndim != 1
                or len(offsets) != len(smiles) + 1
                or not np.issubdtype(tokens.dtype, np.integer)
                or not np.issubdtype(offsets.dtype, np.integer)
                or (len(offsets) and (offsets[0] != 0 or offsets[-1] != len(tokens)))
                or bool((np.diff(offsets) < 0).any())
            ):
                raise ValueError(
                    f"arrays disagree: {len(smiles)} SMILES, offsets {offsets.shape}, tokens "
                    f"{tokens.shape}"
                )
            tokenizer = tokenizer_from_dict(meta["tokenizer"])
            if (
                len(tokens)
                and not 0 <= int(tokens.min()) <= int(tokens.max()) < tokenizer.vocab_size
            ):
                raise ValueError(f"token ids outside the vocabulary of {tokenizer.vocab_size}")
            return PreparedData(
                smiles=smiles,
                tokens=tokens,
                offsets=offsets,
                tokenizer=tokenizer,
                report=PrepareReport.from_dict(meta["report"]),
            )
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        raise DataError(f"{path}: unreadable prepared-data file: {err}") from err


def prepare_file(
    path: str | os.PathLike,
    tokenizer: str | Tokenizer,
    column: str | None = None,
    cache: bool = True,
    n_jobs: int = 1,
    progress: bool = False,
    **options: Any,
) -> PreparedData:
    """:func:`prepare` a SMILES file, caching the result keyed by the file's hash, the tokenizer
    and the options (``max_len``, ``canonicalize``, ``dedupe``, ``largest_fragment``).

    The file is read once (a stream such as ``/dev/stdin`` works). The second call with the same
    file, tokenizer and options loads the cached arrays (about a second for the full MOSES train
    set) instead of redoing the RDKit work.
    """
    try:
        opts = PrepareOptions(**options)
    except TypeError as err:
        raise TypeError(
            f"prepare_file: {err}; options: {list(PrepareOptions.__annotations__)}"
        ) from err
    raw = read_raw(path)
    key = cache_key(raw.sha256, tokenizer, opts, column)
    cached = cache_dir() / "prepared" / f"{raw.path.name}.{key}.npz"
    if cached.parent.is_dir():  # what killed runs left half-written (an hour old: not in use)
        remove_stale_temps(cached.parent, older_than=3600)
    if cache and cached.exists():
        try:
            data = load_prepared(cached)
            logger.info("loaded prepared data from cache %s (%s)", cached, data.report)
            return data
        except DataError as err:
            logger.warning("ignoring damaged cache %s: %s", cached, err)
    data = prepare(
        read_smiles(raw, column=column), tokenizer, n_jobs=n_jobs, progress=progress, options=opts
    )
    if cache:
        try:
            save_prepared(data, cached)
            logger.info("cached prepared data at %s", cached)
        except OSError as err:
            logger.warning("could not write cache %s: %s", cached, err)
    return data
