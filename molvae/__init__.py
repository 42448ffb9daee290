"""molvae: a GRU variational autoencoder for molecules over SMILES and SELFIES.

Example:
    >>> import molvae as mv
    >>> data = mv.prepare(mv.datasets.load("moses", split="test").smiles[:1000], "smiles")
"""

from molvae import datasets
from molvae.data import PreparedData, PrepareReport, prepare, prepare_file, read_smiles
from molvae.exceptions import CheckpointError, ConfigError, DataError, MolvaeError, TokenizerError
from molvae.tokenizers import (
    SelfiesTokenizer,
    SmilesTokenizer,
    Vocabulary,
    build_tokenizer,
    tokenizer_from_dict,
)

__version__ = "0.1.0"

__all__ = [
    "CheckpointError",
    "ConfigError",
    "DataError",
    "MolvaeError",
    "PrepareReport",
    "PreparedData",
    "SelfiesTokenizer",
    "SmilesTokenizer",
    "TokenizerError",
    "Vocabulary",
    "__version__",
    "build_tokenizer",
    "datasets",
    "prepare",
    "prepare_file",
    "read_smiles",
    "tokenizer_from_dict",
]
