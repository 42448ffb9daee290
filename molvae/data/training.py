"""The molecules a training run learns from: given SMILES or prepared data, or the run's
configured file or dataset (a seeded random subset with ``limit``), prepared and cached."""

from __future__ import annotations

from typing import Any

import torch

from molvae import datasets
from molvae.data.cache import prepare_file
from molvae.data.io import read_smiles
from molvae.data.prepare import PreparedData, prepare
from molvae.exceptions import ConfigError, DataError
from molvae.tokenizers import Tokenizer


def training_data(data: Any, cfg: Any, tokenizer: Tokenizer | None) -> PreparedData:
    """The training molecules of a run: ``data`` (prepared, or SMILES prepared here) or
    ``cfg.data`` (a file or a dataset name, e.g. ``moses:train``; a seeded random ``cfg.limit``
    of it), with ``tokenizer`` (a resumed run's or a parent model's) or ``cfg.tokenizer``.

    Raises:
        ConfigError: no data given, or prepared data with another tokenizer than the run's.
        DataError: fewer than 2 usable molecules.
    """
    tok: Any = tokenizer or cfg.tokenizer
    opts = {"max_len": cfg.max_len, "n_jobs": cfg.num_workers or (torch.get_num_threads() or 1)}
    if isinstance(data, PreparedData):
        if tokenizer is not None and data.tokenizer != tokenizer:
            raise ConfigError(
                "data was prepared with a different tokenizer than the run being resumed"
            )
        prepared = data
    elif data is not None:
        prepared = prepare(data, tok, max_len=cfg.max_len)
    elif not cfg.data:
        raise ConfigError(
            "no training data: set train.data (a file or e.g. 'moses:train') or pass data="
        )
    elif cfg.limit:
        # A seeded random sample, not the first rows: files such as MOSES's are ordered, and their
        # first rows are not representative (a model trained on them generalises far worse).
        smiles = read_smiles(datasets.resolve(cfg.data), column=cfg.column or None)
        if cfg.limit < len(smiles):
            smiles = smiles.sample(n=cfg.limit, random_state=cfg.seed).sort_index()
        prepared = prepare(smiles, tok, **opts)
    else:
        prepared = prepare_file(datasets.resolve(cfg.data), tok, column=cfg.column or None, **opts)
    if len(prepared) < 2:
        raise DataError(
            f"need at least 2 molecules to train (train + validation), got {len(prepared)}"
        )
    return prepared
