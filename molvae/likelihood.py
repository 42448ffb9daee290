"""How likely the model finds molecules: the per-molecule terms of the negative ELBO.

Example:
    >>> import molvae as mv
    >>> mv.load("moses-smiles").elbo(["CCOc1ccccc1", "C"])[["recon_nll", "kl", "neg_elbo"]]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from molvae.checks import check_count
from molvae.chem import smiles_list
from molvae.codec import Codec
from molvae.device import torch_generator
from molvae.losses import kl_per_molecule


def elbo(
    codec: Codec,
    smiles: str | Sequence[Any],
    n_samples: int = 1,
    seed: int = 0,
    batch_size: int = 500,
) -> pd.DataFrame:
    """Per-molecule negative ELBO terms (nats): ``recon_nll`` = -log p(x|z), z ~ q(z|x) averaged
    over ``n_samples``; ``kl`` = KL(q(z|x) || N(0, I)); ``neg_elbo`` = their sum, an anomaly
    score (high for molecules unlike the training data). Rows that cannot be encoded are NaN
    with a ``reason``; ``standardized`` says what standardising an input changed."""
    n_samples = check_count("n_samples", n_samples)
    values = smiles_list(smiles)
    recon = np.full(len(values), np.nan)
    kl = np.full(len(values), np.nan)
    inputs = codec.inputs(values)
    gen = torch_generator(seed, codec.device)
    model = codec.model
    for rows, ids, lengths in codec.batches(inputs.ids, batch_size):
        with torch.no_grad(), codec.autocast():
            mu, logvar = model.encode_params(ids, lengths)
            mu, logvar = mu.float(), logvar.float()
            nll = torch.zeros(len(rows), device=codec.device)
            for _ in range(n_samples):
                z = model.reparameterize(mu, logvar, generator=gen)
                nll += model.sequence_nll(ids, lengths, z)
        recon[rows] = (nll / n_samples).cpu().numpy()
        kl[rows] = kl_per_molecule(mu, logvar).cpu().numpy()
    return pd.DataFrame(
        {
            "smiles": pd.Series(values, dtype=object),
            "recon_nll": recon,
            "kl": kl,
            "neg_elbo": recon + kl,
            "reason": inputs.reasons,
            "standardized": inputs.changes,
        }
    )
