"""molvae: a GRU variational autoencoder for molecules over SMILES and SELFIES.

Example:
    >>> import molvae as mv
    >>> data = mv.prepare(mv.datasets.load("moses", split="test").smiles[:1000], "smiles")
"""

import importlib
from typing import TYPE_CHECKING

# Names that need torch are imported on first use, so `import molvae` stays fast (~0.3 s) and
# cannot fail on a torch problem until torch is actually needed.
_LAZY = {
    "datasets": "molvae.datasets",
    "PreparedData": "molvae.data",
    "PrepareReport": "molvae.data",
    "prepare": "molvae.data",
    "prepare_file": "molvae.data",
    "read_smiles": "molvae.data",
    "ModelConfig": "molvae.config",
    "TrainConfig": "molvae.config",
    "load_config": "molvae.config",
    "Generator": "molvae.generator",
    "load": "molvae.generator",
    "pretrained": "molvae.bundled",
    "MolVAE": "molvae.model",
    "score": "molvae.chem",
    "draw_grid": "molvae.viz",
    "draw_interpolation": "molvae.viz",
    "latent_map": "molvae.viz",
    "property_histograms": "molvae.viz",
    "heatmap": "molvae.viz",
    "latent_report": "molvae.report",
    "LatentReport": "molvae.report",
    "evaluate": "molvae.metrics",
    "FitResult": "molvae.train",
    "fit": "molvae.train",
    "SelfiesTokenizer": "molvae.tokenizers",
    "SmilesTokenizer": "molvae.tokenizers",
    "SmilesCharTokenizer": "molvae.tokenizers",
    "Tokenizer": "molvae.tokenizers",
    "TOKENIZERS": "molvae.tokenizers",
    "Vocabulary": "molvae.tokenizers",
    "build_tokenizer": "molvae.tokenizers",
    "tokenizer_from_dict": "molvae.tokenizers",
}

from molvae.exceptions import (  # noqa: E402
    CheckpointError,
    ConfigError,
    DataError,
    MolvaeError,
    SamplingError,
    TokenizerError,
    TrainingError,
)
from molvae.version import __version__  # noqa: E402

if TYPE_CHECKING:  # pragma: no cover
    from molvae import datasets
    from molvae.bundled import pretrained
    from molvae.chem import score
    from molvae.config import ModelConfig, TrainConfig, load_config
    from molvae.data import PreparedData, PrepareReport, prepare, prepare_file, read_smiles
    from molvae.generator import Generator, load
    from molvae.metrics import evaluate
    from molvae.model import MolVAE
    from molvae.report import LatentReport, latent_report
    from molvae.tokenizers import (
        TOKENIZERS,
        SelfiesTokenizer,
        SmilesCharTokenizer,
        SmilesTokenizer,
        Tokenizer,
        Vocabulary,
        build_tokenizer,
        tokenizer_from_dict,
    )
    from molvae.train import FitResult, fit
    from molvae.viz import draw_grid, draw_interpolation, heatmap, latent_map, property_histograms


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'molvae' has no attribute {name!r}")
    mod = importlib.import_module(module)
    value = mod if module.endswith(name) else getattr(mod, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "CheckpointError",
    "ConfigError",
    "DataError",
    "FitResult",
    "Generator",
    "LatentReport",
    "ModelConfig",
    "MolVAE",
    "MolvaeError",
    "PrepareReport",
    "PreparedData",
    "SamplingError",
    "SelfiesTokenizer",
    "SmilesCharTokenizer",
    "SmilesTokenizer",
    "TOKENIZERS",
    "Tokenizer",
    "TokenizerError",
    "TrainConfig",
    "TrainingError",
    "Vocabulary",
    "__version__",
    "build_tokenizer",
    "datasets",
    "draw_grid",
    "draw_interpolation",
    "evaluate",
    "fit",
    "heatmap",
    "latent_map",
    "latent_report",
    "load",
    "load_config",
    "prepare",
    "prepare_file",
    "pretrained",
    "property_histograms",
    "read_smiles",
    "score",
    "tokenizer_from_dict",
]
