"""Writing files safely: every output goes to a temporary name in the same folder, then is renamed,
so a crash or a kill never leaves a half-written file under the final name.

Example:
    >>> from molvae.files import atomic_write
    >>> with atomic_write("out/result.csv", "w") as f:   # creates out/ if needed
    ...     f.write("smiles\\nCCO\\n")
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    if mode == "w":
        open_kwargs.setdefault("encoding", "utf-8")
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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def remove_stale_temps(folder: str | os.PathLike) -> list[Path]:
    """Delete temporary files that an interrupted :func:`atomic_write` left in ``folder``."""
    removed = []
    for p in Path(folder).glob(f".*{TEMP_SUFFIX}"):
        p.unlink(missing_ok=True)
        removed.append(p)
    return removed


def check_writable(path: str | os.PathLike) -> Path:
    """Create ``path``'s parent folder now, so that work is not done for an output that cannot be
    written; raises ``OSError`` (e.g. the parent is a file) before any work starts."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a directory, not an output file")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


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
