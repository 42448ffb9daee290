"""Reading SMILES files (``.smi``/``.txt``/``.csv``/``.tsv``, optionally gzipped, or a stream).

Each file is read exactly once into memory and parsed from there, so a pipe such as
``/dev/stdin`` works, and the bytes that were parsed are the bytes that were hashed for the cache.
"""

from __future__ import annotations

import difflib
import gzip
import hashlib
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from molvae.exceptions import DataError
from molvae.files import file_sha256  # noqa: F401  (re-exported by molvae.data)

SMILES_COLUMN_NAMES = ("smiles", "smi", "canonical_smiles", "smiles_string", "mol")


@dataclass
class RawFile:
    """A file's bytes (decompressed) read once, with what is needed to parse them.

    Attributes:
        path: where they came from (for messages).
        data: the (decompressed) bytes.
        ext: ``.csv``, ``.tsv``, ``.smi``, ``.txt`` or ``""``, ignoring a trailing ``.gz``.
        sha256: hash of the bytes as stored (before decompression).
    """

    path: Path
    data: bytes
    ext: str
    sha256: str

    @property
    def is_table(self) -> bool:
        return self.ext in (".csv", ".tsv")


def read_raw(path: str | os.PathLike) -> RawFile:
    """Read a file (or a stream such as ``/dev/stdin``) once; gunzip it if gzipped.

    Raises:
        DataError: missing, a directory, unreadable, empty, binary or not UTF-8.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, not a SMILES file")
    try:
        stored = path.read_bytes()
    except OSError as err:
        raise DataError(f"{path}: cannot read file: {err}") from err
    data = stored
    if stored[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(stored)
        except (OSError, EOFError) as err:
            raise DataError(f"{path}: damaged gzip file: {err}") from err
    data = _as_utf8(data, path)
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    head = data[:65536]
    if b"\x00" in head:
        raise DataError(f"{path}: looks like a binary file (NUL bytes), not SMILES text")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as err:
        if err.start < len(head) - 4:  # not just a multi-byte character cut at the 64 KiB edge
            raise DataError(
                f"{path}: not UTF-8 text (byte {err.start}); is this a binary file?"
            ) from err
    if not data.strip():
        raise DataError(f"{path}: file is empty (or holds only whitespace)")
    return RawFile(path, data, suffixes[-1] if suffixes else "", hashlib.sha256(stored).hexdigest())


def _as_utf8(data: bytes, path: Path) -> bytes:
    """UTF-8 text without a byte-order mark: a UTF-8 BOM is dropped (it would hide a header), a
    UTF-16 file (marked by its BOM, as spreadsheet exports are) is converted."""
    if data[:3] == b"\xef\xbb\xbf":
        return data[3:]
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError as err:
            raise DataError(f"{path}: damaged UTF-16 text: {err}") from err
    return data


def text_lines(raw: RawFile) -> list[str]:
    """The file's lines (any newline convention), undecodable bytes replaced."""
    return raw.data.decode("utf-8", errors="replace").splitlines()


def first_fields(lines: Sequence[str]) -> list[str]:
    """The first whitespace-separated field of each line; a blank line gives ``""``."""
    return [line.split(maxsplit=1)[0] if line.strip() else "" for line in lines]


def read_table(raw: RawFile) -> pd.DataFrame:
    """A ``.csv``/``.tsv`` file as a DataFrame of strings (missing cells are ``""``)."""
    sep = "\t" if raw.ext == ".tsv" else ","
    try:
        return pd.read_csv(
            io.BytesIO(raw.data), sep=sep, dtype=str, keep_default_na=False, na_filter=False
        )
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as err:
        raise DataError(f"{raw.path}: cannot parse as {raw.ext[1:].upper()}: {err}") from err


def choose_column(columns: Sequence[Any], column: str | None, path: Any) -> str:
    """The SMILES column: ``column`` if given (else the first named like ``smiles``).

    Raises:
        DataError: the column is absent (the message lists the columns and a close match).
    """
    cols = [str(c) for c in columns]
    if column is None:  # a column named exactly like SMILES wins over one that merely contains it
        exact = [c for c in cols if c.strip().lower() in SMILES_COLUMN_NAMES]
        if exact:  # "smiles" itself first: with both SMILES and smiles, the lower-case one
            return "smiles" if "smiles" in exact else exact[0]
    if column is not None:
        if column in cols:
            return column
        lower = {c.lower(): c for c in cols}
        close = difflib.get_close_matches(column.lower(), list(lower), n=1)
        hint = f"; did you mean {lower[close[0]]!r}?" if close else ""
        raise DataError(f"{path}: no column {column!r}; columns present: {cols}{hint}")
    for name in cols:
        if "smiles" in name.lower():
            return name
    raise DataError(
        f"{path}: no SMILES column found (looked for a name like 'smiles'); columns present: "
        f"{cols}; choose one with column=..."
    )


def read_smiles(path: str | os.PathLike | RawFile, column: str | None = None) -> pd.Series:
    """Read SMILES from a ``.smi``/``.txt`` (first field per line) or ``.csv``/``.tsv`` file,
    optionally gzipped; a stream such as ``/dev/stdin`` is read as ``.smi``.

    Blank lines of a ``.smi`` file are kept as empty strings (``prepare`` counts them as ``empty``);
    a first line reading ``smiles`` is taken as a header.

    Args:
        path: the file (or a :class:`RawFile` already read).
        column: CSV column; default the first column named like ``smiles``.

    Returns:
        ``pd.Series`` of strings named ``"smiles"`` (missing CSV cells become ``""``).

    Raises:
        DataError: missing, empty, binary, header-only file, or the column is not there
            (the message lists the columns present).
    """
    raw = path if isinstance(path, RawFile) else read_raw(path)
    if raw.is_table:
        df = read_table(raw)
        name = choose_column(list(df.columns), column, raw.path)
        if len(df) == 0:
            raise DataError(f"{raw.path}: has a header {list(df.columns)} but no rows")
        return df[name].astype(object).rename("smiles").reset_index(drop=True)
    if column is not None:
        raise DataError(
            f"{raw.path}: column={column!r} given, but a {raw.ext or 'plain'} file has no columns"
        )
    lines = first_fields(text_lines(raw))
    values = without_header(lines)
    if len(values) < len(lines) and not values:
        raise DataError(f"{raw.path}: has a header line but no rows")
    if not any(values):
        raise DataError(f"{raw.path}: holds only blank lines")
    return pd.Series(values, name="smiles", dtype=object)


def read_samples(path: str | os.PathLike, column: str = "smiles") -> list[Any]:
    """Generated molecules, one per line or CSV row: blank lines and empty cells stay, as empty
    (invalid) samples, so that the sample count is the file's."""
    raw = read_raw(path)
    if raw.is_table:
        if column == "smiles":
            try:
                return read_smiles(raw, column="smiles").tolist()
            except DataError:
                return read_smiles(raw).tolist()  # e.g. a "SMILES" column
        return read_smiles(raw, column=column).tolist()
    return without_header(first_fields(text_lines(raw)))


def without_header(values: list[str]) -> list[str]:
    """The values without a first line that names the column (``smiles``, ``SMILES``...): a
    header is never a molecule."""
    return values[1:] if values and values[0].strip().lower() in SMILES_COLUMN_NAMES else values
