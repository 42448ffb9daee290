"""Fréchet ChemNet Distance: ChemNet activations (the ``fcd`` package's weights), their moments
and the Fréchet distance between two Gaussians."""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

_CHEMNET = None
FCD_PAD = 350  # ChemNet's input length (``fcd``'s default; longer SMILES lengthen every input)


def chemnet() -> Any:
    global _CHEMNET
    if _CHEMNET is None:
        import fcd

        _CHEMNET = fcd.load_ref_model()
    return _CHEMNET


def fcd_vocab() -> list[str] | None:
    """ChemNet's 35-symbol vocabulary as the installed fcd defines it (an fcd internal), or
    ``None`` when this fcd release lays its internals out differently."""
    try:
        from fcd import utils

        vocab = list(utils.__dict__["__vocab"])
        return vocab if callable(utils.tokenize) and "X" in vocab else None
    except (ImportError, KeyError, AttributeError, TypeError):
        return None


def chemnet_inputs(smiles: list[str], pad_len: int, vocab: list[str]) -> Any:
    """ChemNet's input for a batch, built as ``fcd.utils.SmilesDataset`` builds it (one-hot of
    ``smiles + "."`` over fcd's 35-symbol vocabulary, unknown symbols as ``X``, zero-padded to
    ``pad_len``, divided by 35) but vectorised: ``(B, 35, pad_len)`` float32."""
    import torch
    from fcd import utils

    index = {t: i for i, t in enumerate(vocab)}
    unk = index["X"]
    rows, cols = [], []
    for b, s in enumerate(smiles):
        ids = [index.get(t, unk) for t in utils.tokenize(s + ".")]
        rows += [b] * len(ids)
        cols += [len(vocab) * p + i for p, i in enumerate(ids)]
    x = torch.zeros(len(smiles), pad_len * len(vocab))
    x[rows, cols] = float(np.float64(1.0) / len(vocab))  # the float64 1/35, rounded to float32
    return x.view(len(smiles), pad_len, len(vocab)).transpose(1, 2)


def fcd_moments(
    smiles: list[str], device: str, batch_size: int = 128
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of ChemNet's penultimate activations over ``smiles`` (duplicates
    counted, each distinct SMILES run once), the values ``fcd.get_predictions`` gives."""
    import torch

    unique, counts = np.unique(np.asarray(smiles, dtype=object), return_counts=True)
    pad_len = max(FCD_PAD, max(len(s) for s in unique) + 1)
    if pad_len != FCD_PAD:
        logger.warning(
            "FCD: a SMILES longer than %d characters pads every ChemNet input to %d (as the fcd "
            "package does); FCD values are then not comparable with the usual ones",
            FCD_PAD - 1,
            pad_len,
        )
    model = chemnet().to(device)
    vocab = fcd_vocab()
    if vocab is None:  # another fcd layout: its own (slower) loader
        import warnings

        import fcd

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            act = fcd.get_predictions(
                model, list(unique), batch_size=batch_size, n_jobs=0, device=device
            )
    else:
        act = np.empty((len(unique), 512), dtype=np.float32)
        with torch.no_grad():
            for i in range(0, len(unique), batch_size):
                x = chemnet_inputs(list(unique[i : i + batch_size]), pad_len, vocab).to(device)
                act[i : i + len(x)] = model(x).cpu().numpy()  # (b, 512)
    mu = (counts @ act.astype(np.float64)) / counts.sum()
    return mu, np.cov(act.T, fweights=counts)


def frechet(
    mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray, eps: float = 1e-6
) -> float:
    """Fréchet distance between N(mu1, s1) and N(mu2, s2): ``|mu1 - mu2|^2 + Tr(s1 + s2 -
    2 sqrt(s1 s2))``, step for step as ``fcd.calculatefrechet_distance`` and fcd_torch (Dougal
    Sutherland's stable form, an ``eps`` ridge when the product's root is singular). Kept here
    because fcd passes SciPy's ``sqrtm(disp=...)``, which SciPy 1.18 removes."""
    from scipy import linalg

    if not all(np.isfinite(a).all() for a in (mu1, s1, mu2, s2)):
        # a set of one molecule has no covariance (NaN); SciPy's sqrtm of a NaN matrix never
        # returns and ignores Ctrl-C, so an undefined FCD is NaN at once
        return math.nan
    diff = mu1 - mu2
    covmean = linalg.sqrtm(s1.dot(s2))
    if not np.isfinite(covmean).all() or not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
        offset = np.eye(s1.shape[0]) * eps
        covmean = linalg.sqrtm((s1 + offset).dot(s2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"FCD: imaginary component {np.max(np.abs(covmean.imag))}")
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))
