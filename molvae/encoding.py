"""Molecules to latent points: ``encode`` (many or one) and ``posterior`` (one molecule).

Both read their inputs through the codec's one input path (:meth:`molvae.codec.Codec.inputs`
for many, :func:`molvae.inputs.read_one` for one) and encode under the codec's precision. In a
batch a row that cannot be encoded is NaN with its reason; a single input that cannot be raises
``TokenizerError`` quoting it. :class:`molvae.generator.Generator` has both as methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from molvae.chem import smiles_list
from molvae.codec import Codec
from molvae.inputs import read_one


def posterior(codec: Codec, smiles: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``mu (Z,)``, ``logvar (Z,)`` of one molecule (float32, on the codec's device).

    Raises:
        TokenizerError: the molecule cannot be encoded; the message quotes the input and names
            the reason or the token (and its position) the vocabulary lacks.
    """
    return posterior_changes(codec, smiles)[:2]


def posterior_changes(codec: Codec, smiles: str) -> tuple[torch.Tensor, torch.Tensor, str | None]:
    """:func:`posterior` and what standardising the molecule changed (one pass)."""
    ids, changes = read_one(smiles, codec.tokenizer, codec.standardize, codec.keeps_stereo)
    ids = torch.tensor([ids], device=codec.device)
    with torch.no_grad(), codec.autocast():
        mu, logvar = codec.model.encode_params(ids, torch.tensor([ids.shape[1]]))
    return mu[0].float(), logvar[0].float(), changes


def encode(
    codec: Codec,
    smiles: str | Sequence[Any],
    sample: bool = False,
    seed: int | None = None,
    details: bool = False,
    batch_size: int = 1000,
) -> np.ndarray | tuple[np.ndarray, pd.DataFrame]:
    """Latent points of molecules: ``mu`` (or a draw from q(z|x) with ``sample=True``).

    Args:
        smiles: one SMILES, a list or Series of them (a DataFrame: its ``smiles`` column).
        sample: draw ``z ~ q(z|x)`` instead of returning the mean.
        seed: seed for ``sample=True``.
        details: also return a DataFrame with ``smiles``, ``reason`` (None when encoded) and
            ``standardized`` (what standardising the input changed, None when nothing).

    Returns:
        ``(N, latent_dim)`` float32 array. In the batch form a row that cannot be encoded is
        NaN and its reason is logged (and given by ``details=True``), never fatal.

    Raises:
        TokenizerError: a single SMILES that cannot be encoded (the message names the token).
    """
    if isinstance(smiles, str):
        mu, logvar, change = posterior_changes(codec, smiles)
        mu_np, lv_np, reasons = mu.cpu().numpy()[None], logvar.cpu().numpy()[None], [None]
        values: list[Any] = [smiles]
        changes = [change]
    else:
        values = smiles_list(smiles)
        post = codec.posteriors(values, batch_size)
        mu_np, lv_np, reasons = post.mu, post.logvar, post.inputs.reasons
        changes = post.inputs.changes
    z = mu_np
    if sample:
        rng = np.random.default_rng(seed)
        z = (mu_np + np.exp(0.5 * lv_np) * rng.standard_normal(mu_np.shape)).astype(np.float32)
    if details:
        frame = {"smiles": pd.Series(values, dtype=object), "reason": reasons}
        return z, pd.DataFrame({**frame, "standardized": changes})
    return z
