"""How latent points become checked molecules, as plain functions: the checks of decoding
arguments and of latent points, the decoding length of a model, and the frame every decoding
verb returns (``smiles``, ``valid``, ``canonical``, ``nll``). :class:`molvae.codec.Codec`
decodes with them; ``molvae.sampling`` and the CLI check their arguments with them before any
work starts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from molvae.constants import (
    DECODE_METHODS,
    DEFAULT_MAX_LEN,
    LENGTH_MARGIN,
    MAX_ABS_Z,
    MAX_DECODE_LEN,
    MAX_TEMPERATURE,
    PRECISION_NAMES,
)

SAMPLE_COLUMNS = ["smiles", "valid", "canonical", "nll"]
PRECISIONS = dict(zip(PRECISION_NAMES, (None, torch.bfloat16)))  # precision -> dtype of the steps


def decode_length(train_max_len: int | None) -> int:
    """Most tokens decoded per molecule for a model trained with ``max_len`` (None: unknown)."""
    return int(train_max_len) + LENGTH_MARGIN if train_max_len else DEFAULT_MAX_LEN


def check_decoding_args(
    temperature: float, method: str, max_len: int | None = None, batch_size: int = 1
) -> None:
    """Raise ``ValueError`` for a temperature that is not a usable positive number (0.001 to
    1,000), an unknown method, a max_len outside 1..10,000 or a batch_size below 1."""
    if method != "auto" and method not in DECODE_METHODS:
        raise ValueError(f"method must be one of {['auto', *DECODE_METHODS]}, got {method!r}")
    t = float(temperature)
    if not (np.isfinite(t) and 1e-3 <= t <= MAX_TEMPERATURE):
        # below 1e-3 the softmax of logits / t overflows float32; use method="greedy" for t -> 0;
        # above 1,000 every token is equally likely already
        raise ValueError(
            f"temperature must be a number from 0.001 to {MAX_TEMPERATURE:g} (method='greedy' "
            f"for the limit 0), got {temperature!r}"
        )
    if max_len is not None and (
        isinstance(max_len, bool) or not 1 <= float(max_len) <= MAX_DECODE_LEN
    ):
        raise ValueError(f"max_len must be from 1 to {MAX_DECODE_LEN:,} tokens, got {max_len!r}")
    if isinstance(batch_size, bool) or int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")


def check_latent(z: torch.Tensor) -> None:
    """Raise ``ValueError`` naming the rows of ``z (N, Z)`` that are not finite or beyond
    ``MAX_ABS_Z`` (they would reach the sampler as NaN probabilities)."""
    bad = ~(torch.isfinite(z) & (z.abs() <= MAX_ABS_Z)).all(dim=1)
    if bool(bad.any()):
        rows = torch.nonzero(bad).flatten().tolist()
        shown = ", ".join(map(str, rows[:10])) + (", ..." if len(rows) > 10 else "")
        raise ValueError(
            f"z has {len(rows)} row(s) with NaN, infinite or |value| > {MAX_ABS_Z:g} "
            f"coordinates (rows {shown})"
        )


def sample_frame(smiles: list[str], canonical: list[str | None], nll: Any) -> pd.DataFrame:
    """The decoded-molecules frame: ``smiles``, ``valid``, ``canonical``, ``nll``."""
    if not smiles:
        return pd.DataFrame({c: [] for c in SAMPLE_COLUMNS})
    return pd.DataFrame(
        {
            "smiles": smiles,
            "valid": [c is not None for c in canonical],
            "canonical": canonical,
            "nll": nll,
        }
    )
