"""Helpers shared by the latent-space subcommands."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def load_generator(model: str, device: str | None) -> Any:
    from molvae.generator import load

    return load(model, device=device)


def read_input(path: str, column: str | None = None) -> list:
    """SMILES of a .smi/.txt/.csv(.gz) file; an empty file is a clear error (DataError)."""
    from molvae.data import read_smiles

    return read_smiles(Path(path), column=column).tolist()


def add_model_args(p: Any) -> None:
    p.add_argument("model", help="run directory or checkpoint file")
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda if available)")


def as_cli_error(fn: Any) -> Any:
    """Turn ValueError from the API (bad steps, n, radius, ...) into a one-line CLI error."""
    import functools

    from molvae.exceptions import MolvaeError

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ValueError as err:
            if isinstance(err, MolvaeError):
                raise
            raise MolvaeError(str(err)) from err

    return wrapper
