"""How a batch is drawn: length-bucketed random batches and their padding.

Molecules are shuffled, cut into pools of ``pool_batches`` batches, each pool sorted by length and
cut into batches, and the batch order shuffled again: batches stay random but carry little padding.
"""

from __future__ import annotations

import numpy as np

from molvae.tokenizers import BOS, EOS, PAD


def batch_indices(
    lengths: np.ndarray,
    batch_size: int,
    shuffle: bool = True,
    bucket: bool = True,
    seed: int | None = 0,
    pool_batches: int = 64,
    drop_last: bool = False,
) -> list[np.ndarray]:
    """Split ``range(len(lengths))`` into batches, grouping similar lengths to cut padding.

    Args:
        lengths: ``(N,)`` tokens per molecule.
        batch_size: molecules per batch (the last may be smaller unless ``drop_last``).
        shuffle: random order (seeded by ``seed``); else input order.
        bucket: sort by length inside pools of ``pool_batches`` batches.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    n = len(lengths)
    rng = np.random.default_rng(seed)
    order = rng.permutation(n) if shuffle else np.arange(n)
    if bucket:
        pool = batch_size * pool_batches
        parts = []
        for i in range(0, n, pool):
            chunk = order[i : i + pool]
            parts.append(chunk[np.argsort(lengths[chunk], kind="stable")])
        order = np.concatenate(parts) if parts else order
    batches = [order[i : i + batch_size] for i in range(0, n, batch_size)]
    if drop_last and batches and len(batches[-1]) < batch_size:
        batches.pop()
    if shuffle and bucket:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def pad_batch(
    tokens: np.ndarray, offsets: np.ndarray, index: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Gather molecules ``index`` from flat storage into ``ids (B, T)`` int64
    (``<bos> ... <eos> <pad>...``) and ``lengths (B,)`` (with ``<bos>``/``<eos>``)."""
    starts = offsets[index]
    body = offsets[index + 1] - starts  # (B,)
    width = int(body.max(initial=0))
    cols = np.arange(width)
    mask = cols[None, :] < body[:, None]  # (B, W)
    gathered = (
        tokens[np.minimum(starts[:, None] + cols[None, :], max(len(tokens) - 1, 0))]
        if len(tokens)
        else np.zeros((len(index), width), dtype=np.int64)
    )
    out = np.full((len(index), width + 2), PAD, dtype=np.int64)
    out[:, 0] = BOS
    out[:, 1 : width + 1] = np.where(mask, gathered, PAD)
    out[np.arange(len(index)), body + 1] = EOS
    return out, body + 2


def padding_fraction(lengths: np.ndarray, batches: list[np.ndarray]) -> float:
    """Mean fraction of pad tokens per batch."""
    fracs = []
    for b in batches:
        lb = lengths[b]
        fracs.append(1.0 - lb.sum() / (len(lb) * lb.max()))
    return float(np.mean(fracs)) if fracs else 0.0
