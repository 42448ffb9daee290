"""Named datasets: the bundled MOSES splits, a user's own file, ZINC-250k downloaded into a cache.

Example:
    >>> import molvae as mv
    >>> df = mv.datasets.load("moses", split="test")
    >>> len(df), list(df.columns)
    (176074, ['smiles'])
"""

from __future__ import annotations

import hashlib
import logging
import os
import urllib.request
from pathlib import Path

import pandas as pd

from molvae.data.cache import cache_dir
from molvae.data.io import read_smiles
from molvae.exceptions import DataError
from molvae.files import atomic_write

logger = logging.getLogger(__name__)

MOSES_SPLITS = {
    "train": ("train.csv.gz", 1_584_663),
    "test": ("test.csv.gz", 176_074),
    "test_scaffolds": ("test_scaffolds.csv.gz", 176_225),
}
NAMES = ("moses", "zinc250k")
ZINC250K_URL = (
    "https://raw.githubusercontent.com/aspuru-guzik-group/chemical_vae/master/models/"
    "zinc_properties/250k_rndm_zinc_drugs_clean_3.csv"
)


def data_root() -> Path:
    """Folder holding the bundled data: ``$MOLVAE_DATA``, the installed copy, or the repo's ``datasets/``."""
    env = os.environ.get("MOLVAE_DATA")
    candidates = [Path(env)] if env else []
    here = Path(__file__).resolve().parent
    candidates += [here / "_datasets", here.parent / "datasets"]
    for c in candidates:
        if (c / "moses").is_dir():
            return c
    raise DataError(
        "bundled datasets not found (looked in " + ", ".join(str(c) for c in candidates) + "); "
        "set MOLVAE_DATA to the folder holding moses/"
    )


def path(name: str, split: str = "train") -> Path:
    """Path of a bundled dataset file, e.g. ``path("moses", "test")``."""
    if name != "moses":
        raise DataError(
            f"no bundled dataset {name!r}; bundled: ['moses'] (zinc250k downloads: zinc250k())"
        )
    if split not in MOSES_SPLITS:
        raise DataError(f"moses has no split {split!r}; splits: {list(MOSES_SPLITS)}")
    return data_root() / "moses" / MOSES_SPLITS[split][0]


def resolve(spec: str | os.PathLike) -> Path:
    """A data spec as a file path: ``"moses:train"`` (``name:split``) names a bundled file;
    anything else (an existing file that happens to contain a colon included) is a path.

    Raises:
        DataError: an unknown dataset or split (the message lists the known ones).
    """
    text = str(spec)
    if ":" in text and not Path(text).exists():
        name, split = text.split(":", 1)
        if name in NAMES:
            return path(name, split)
        if len(name) > 1:  # not a Windows drive letter such as C:
            raise DataError(
                f"unknown dataset {name!r} in {text!r}; bundled: moses:train, moses:test, "
                "moses:test_scaffolds (or give a file path)"
            )
    return Path(text)


def load(name: str, split: str = "train") -> pd.DataFrame:
    """Load a named dataset as a DataFrame with a ``smiles`` column.

    Args:
        name: ``"moses"`` (bundled, splits ``train``/``test``/``test_scaffolds``) or ``"zinc250k"``
            (downloaded once into the cache; ``split`` is ignored).

    Raises:
        DataError: unknown name or split (the message lists the known ones).
    """
    if name == "zinc250k":
        return zinc250k()
    if name not in NAMES:
        raise DataError(f"unknown dataset {name!r}; known datasets: {list(NAMES)}")
    return read_smiles(path(name, split)).to_frame()


def load_file(file: str | os.PathLike, column: str | None = None) -> pd.DataFrame:
    """A user's ``.smi``/``.txt``/``.csv``/``.csv.gz`` file as a DataFrame with a ``smiles`` column."""
    return read_smiles(file, column=column).to_frame()


def download(url: str, dest: Path, sha256: str | None = None, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest`` atomically (temp file + rename), checking ``sha256`` if given."""
    h = hashlib.sha256()
    try:
        logger.info("downloading %s -> %s", url, dest)
        with urllib.request.urlopen(url, timeout=timeout) as resp, atomic_write(dest, "wb") as out:
            while block := resp.read(1 << 20):
                h.update(block)
                out.write(block)
            if sha256 is not None and h.hexdigest() != sha256:
                raise DataError(
                    f"{url}: checksum mismatch (got {h.hexdigest()}, expected {sha256})"
                )
    except OSError as err:  # URLError is an OSError
        raise DataError(f"cannot download {url}: {err}") from err
    return dest


def zinc250k(
    url: str = ZINC250K_URL, cache: Path | None = None, sha256: str | None = None
) -> pd.DataFrame:
    """ZINC-250k (the chemical VAE's set): downloaded once into ``<cache>/zinc250k.csv``.

    The file's SMILES carry a trailing newline inside quotes; it is stripped. Columns: ``smiles``
    plus the file's ``logP``, ``qed`` and ``SAS``.
    """
    dest = (cache or cache_dir()) / "zinc250k.csv"
    if not dest.exists():
        download(url, dest, sha256=sha256)
    df = pd.read_csv(dest)
    if "smiles" not in df.columns:
        raise DataError(f"{dest}: no 'smiles' column; columns present: {list(df.columns)}")
    df["smiles"] = df["smiles"].astype(str).str.strip()
    return df
