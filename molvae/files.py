"""Writing files safely: every output goes to a temporary name in the same folder, then is renamed,
so a crash or a kill never leaves a half-written file under the final name. A symbolic link is
written through (its target is replaced, the link stays); a FIFO, a terminal or another device
(``-o /dev/stdout``) is written to directly, never replaced. Tables are written in the format
their suffix names (:func:`table_writer`): ``.csv``, ``.csv.gz``, ``.tsv``, ``.smi`` (the SMILES
column, one per line) and ``.parquet`` (with pyarrow installed); any other suffix is refused by
:func:`table_format` before the work starts.

Example:
    >>> from molvae.files import atomic_write
    >>> with atomic_write("out/result.csv", "w") as f:   # creates out/ if needed
    ...     f.write("smiles\\nCCO\\n")
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import io
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

TEMP_SUFFIX = ".tmp"


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", **open_kwargs: Any) -> Iterator[IO]:
    """Open a temporary file beside ``path``; on a clean exit fsync it and rename it to ``path``.

    Parent folders are created. On an exception the temporary file is removed and ``path`` is left
    as it was. ``mode`` is ``"w"`` (text, UTF-8 unless ``encoding`` is given) or ``"wb"``.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
    if mode == "w":
        open_kwargs.setdefault("encoding", "utf-8")
    if is_stream(path):  # a FIFO or device: write into it; renaming would replace the node
        with open(path, mode.replace("w", "a"), **open_kwargs) as f:  # "a": never truncate
            yield f  # what /dev/stdout stands for (a redirected file keeps what came before)
        return
    path = Path(os.path.realpath(path)) if os.path.islink(path) else Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, mode, **open_kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def is_stream(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a FIFO, a terminal or a device (anything under ``/dev`` or ``/proc``,
    such as ``/dev/stdout`` even when it is redirected to a file, or an existing path that is not a
    regular file or folder): such an output is written to as it is, never replaced."""
    if os.path.abspath(path).startswith(("/dev/", "/proc/")):
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def remove_stale_temps(folder: str | os.PathLike, older_than: float = 0.0) -> list[Path]:
    """Delete temporary files that an interrupted :func:`atomic_write` left in ``folder``; with
    ``older_than`` (seconds) only those not modified for that long (a shared folder such as the
    cache, where another process may be writing one right now)."""
    import time

    removed = []
    now = time.time()
    for p in Path(folder).glob(f".*{TEMP_SUFFIX}"):
        try:
            if older_than and now - p.stat().st_mtime < older_than:
                continue
            p.unlink()
        except OSError:  # gone meanwhile, or not ours to remove
            continue
        removed.append(p)
    if removed:
        import logging

        logging.getLogger(__name__).info(
            "removed %d stale temporary file(s) in %s", len(removed), folder
        )
    return removed


def check_writable(path: str | os.PathLike) -> Path:
    """Create ``path``'s parent folder now, so that work is not done for an output that cannot be
    written; raises ``OSError`` (e.g. the parent is a file) before any work starts."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a directory, not an output file")
    if not is_stream(path):
        Path(os.path.realpath(path)).parent.mkdir(parents=True, exist_ok=True)
    return path


TABLE_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".smi", ".parquet")


def table_format(path: str | os.PathLike) -> str:
    """The table format ``path`` names by its suffix (one of :data:`TABLE_SUFFIXES`; a FIFO or
    device gets CSV). Any other suffix, and ``.parquet`` without pyarrow, raise ``ValueError``
    naming the choices: called before the work, so nothing is computed for a file that would be
    written in the wrong format."""
    if is_stream(path):
        return ".csv"
    name = Path(path).name.lower()
    for suffix in TABLE_SUFFIXES:
        if name.endswith(suffix):
            if suffix == ".parquet":
                try:
                    import pyarrow  # noqa: F401
                except ImportError:
                    raise ValueError(
                        f"{path}: writing .parquet needs pyarrow (pip install pyarrow); "
                        "or use .csv, .csv.gz, .tsv or .smi"
                    ) from None
            return suffix
    raise ValueError(f"{path}: unknown table suffix; use one of {', '.join(TABLE_SUFFIXES)}")


class _TableWriter:
    """Writes DataFrame chunks into one open file in the format of its suffix."""

    def __init__(self, f: IO, fmt: str, smiles_column: str) -> None:
        self.f, self.fmt, self.smiles_column = f, fmt, smiles_column
        self.rows, self._parts, self._header = 0, [], True

    def write(self, df: Any) -> None:
        if self.fmt == ".parquet":
            self._parts.append(df)
        elif self.fmt == ".smi":
            if self.smiles_column not in df.columns:
                raise ValueError(f"a .smi file holds the {self.smiles_column!r} column; this "
                                 f"table has {list(df.columns)}: use .csv")  # fmt: skip
            text = df[self.smiles_column].fillna("").astype(str)
            self.f.write("".join(s + "\n" for s in text))
        else:
            sep = "\t" if self.fmt == ".tsv" else ","
            df.to_csv(self.f, header=self._header, index=False, sep=sep)
            self._header = False
        self.rows += len(df)

    def close(self) -> None:
        if self.fmt == ".parquet":
            import pandas as pd

            parts = self._parts or [pd.DataFrame()]
            pd.concat(parts, ignore_index=True).to_parquet(self.f, index=False)


@contextlib.contextmanager
def table_writer(path: str | os.PathLike, smiles_column: str = "smiles") -> Iterator[_TableWriter]:
    """Write a table in chunks (``writer.write(df)``) to ``path`` atomically, in the format of
    its suffix (:func:`table_format`); ``.smi`` keeps only ``smiles_column``."""
    fmt = table_format(path)
    binary = fmt in (".csv.gz", ".parquet")
    with atomic_write(path, "wb" if binary else "w", **({} if binary else {"newline": ""})) as raw:
        if fmt == ".csv.gz":
            with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
                text = io.TextIOWrapper(gz, encoding="utf-8", newline="")
                writer = _TableWriter(text, fmt, smiles_column)
                yield writer
                text.flush()
                text.detach()
        else:
            writer = _TableWriter(raw, fmt, smiles_column)
            yield writer
            writer.close()


def write_table(df: Any, path: str | os.PathLike, smiles_column: str = "smiles") -> None:
    """A DataFrame to ``path`` atomically, in the format of its suffix (:func:`table_writer`)."""
    with table_writer(path, smiles_column) as w:
        w.write(df)


@functools.lru_cache(maxsize=64)
def _sha256(path: str, mtime_ns: int, size: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes as stored: the one file hash in molvae (checkpoints, bundled
    models, data files, shipped statistics); cached per path, modification time and size."""
    st = os.stat(path)
    return _sha256(os.fspath(path), st.st_mtime_ns, st.st_size)
