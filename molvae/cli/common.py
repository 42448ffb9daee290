"""Helpers shared by the subcommands: model arguments, input files, outputs that are checked
before the work starts and written atomically."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any


def add_model_args(p: argparse.ArgumentParser) -> None:
    """The one way a command takes a model: an optional first argument (a run directory, a
    checkpoint file or a bundled name; the bundled default model when left out) and --device."""
    p.add_argument(
        "model",
        nargs="?",
        default=None,
        help="run directory, checkpoint file, or bundled model name (see molvae models; "
        "default: the bundled default model)",
    )
    p.add_argument(
        "--device",
        type=device_arg,
        default=None,
        help="cpu, cuda, ... (default: cuda if available)",
    )


def device_arg(text: str) -> str:
    """argparse type: a device this machine has (checked before any work; torch is imported)."""
    from molvae.device import resolve_device
    from molvae.exceptions import ConfigError

    try:
        resolve_device(text)
    except ConfigError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def model_or_default(model: str | None) -> str:
    """The model a command was given, or the bundled default model (logged) when none was."""
    if model is not None:
        return model
    import logging

    from molvae import bundled

    name = bundled.default_name()
    logging.getLogger("molvae.cli").info("no model given: using the bundled model %r", name)
    return name


def load_generator(model: str | None, device: str | None, precision: str = "auto") -> Any:
    """The command's model (:func:`model_or_default`) as a Generator."""
    from molvae.generator import load

    return load(model_or_default(model), device=device, precision=precision)


def read_input(path: str, column: str | None = None) -> list:
    """SMILES of a .smi/.txt/.csv(.gz) file or a stream; an empty file is a clear DataError."""
    from molvae.data import read_smiles

    return read_smiles(Path(path), column=column).tolist()


IMAGE = (".png", ".svg")


def output(
    path: str | os.PathLike | None,
    *inputs: str | os.PathLike | None,
    kind: str | tuple[str, ...] | None = None,
) -> Path | None:
    """Check an output path before any work is done: its folder is created now, and a path that
    cannot be written (a folder, a parent that is a file), that is one of the command's ``inputs``
    (it would be overwritten by the results) or whose suffix is not of its ``kind`` (``"table"``:
    :func:`molvae.files.table_format`; or a tuple of suffixes) fails at once, not after the work."""
    from molvae.files import check_writable, is_stream, table_format

    if path is None:
        return None
    for given in inputs:
        if given is not None and _same_file(path, given):
            raise ValueError(f"-o {path} is the input file {given}: write the results elsewhere")
    if kind == "table":
        table_format(path)
    elif kind is not None and not is_stream(path) and not str(path).lower().endswith(tuple(kind)):
        raise ValueError(f"{path}: unknown suffix; use {' or '.join(kind)}")
    return check_writable(path)


def _same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def write_table(df: Any, path: str | os.PathLike) -> None:
    """A DataFrame in the format of ``path``'s suffix, atomically (never a half-written file)."""
    from molvae import files

    files.write_table(df, path)


def write_text(text: str, path: str | os.PathLike) -> None:
    from molvae.files import atomic_write

    with atomic_write(path, "w") as f:
        f.write(text)


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text}")
    return value
