"""What a training run measures after each epoch (:func:`validate`: teacher-forced NLL and KL,
token accuracy, active units, exact reconstruction, prior validity and, optionally, a
distribution signal), and how it reports it (:func:`log_epoch`)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch

from molvae.codec import Codec
from molvae.config import TrainConfig
from molvae.data import PreparedData
from molvae.device import autocast, torch_generator
from molvae.losses import active_units, collapsed, kl_per_dim, reconstruction_loss, token_accuracy
from molvae.model import MolVAE
from molvae.reconstruct import reconstruct
from molvae.sampling import sample
from molvae.tokenizers import Tokenizer

logger = logging.getLogger(__name__)


@torch.no_grad()
def validate(
    model: MolVAE,
    tokenizer: Tokenizer,
    val: PreparedData,
    cfg: TrainConfig,
    seed: int,
    bf16: bool = False,
    batch_size: int = 512,
    val_moments: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, float]:
    """Validation metrics; measures only, never changes the model or the global RNG.

    Teacher-forced reconstruction NLL and KL per molecule (z ~ q(z|x) from a seeded generator),
    token accuracy and active units; then, through a :class:`~molvae.codec.Codec`
    (the same decoding as ``gen.reconstruct`` and ``gen.sample``): exact reconstruction of the
    first ``cfg.recon_eval`` validation molecules (greedy from mu) and the validity of
    ``cfg.prior_eval`` prior samples. With ``cfg.dist_eval`` and ``val_moments`` (ChemNet moments
    of the validation molecules), a distribution signal on that many N(0, I) samples: ``val_fcd``
    (FCD to the validation molecules), ``prior_filters`` (MOSES filters), ``prior_unique``.
    """
    model.eval()
    rng = torch_generator(seed, model.device)
    recon_sum, kl_sum, correct, counted, mus = 0.0, 0.0, 0, 0, []
    for start in range(0, len(val), batch_size):
        idx = np.arange(start, min(len(val), start + batch_size))
        ids, lengths = (torch.from_numpy(a).to(model.device) for a in val.batch(idx))
        with autocast(model.device, bf16):
            logits, mu, logvar = model(ids, lengths, generator=rng)  # (B, T-1, V), (B, Z), (B, Z)
        recon_sum += float(reconstruction_loss(logits, ids[:, 1:])) * len(idx)
        kl_sum += float(kl_per_dim(mu, logvar).sum()) * len(idx)
        c, k = token_accuracy(logits, ids[:, 1:])
        correct, counted = correct + c, counted + k
        mus.append(mu.float().cpu())
    codec = Codec.from_training(model, tokenizer, cfg.max_len, precision="fp32")
    n_rec = min(cfg.recon_eval, len(val))
    exact = (
        reconstruct(codec, val.smiles[:n_rec], n_decodes=1).attrs["exact_match"] if n_rec else 0.0
    )
    prior_valid = (
        float(sample(codec, cfg.prior_eval, seed=seed).valid.mean()) if cfg.prior_eval else 0.0
    )
    dist = {}
    if cfg.dist_eval and val_moments is not None:
        from molvae.metrics import quick_signal

        samples = sample(codec, cfg.dist_eval, seed=seed + 1, prior="standard")
        q = quick_signal(samples.smiles, val_moments, device=str(model.device))
        dist = {"val_fcd": q["fcd"], "prior_filters": q["filters"], "prior_unique": q["unique"]}
    model.train()
    n = len(val)
    return {
        "val_recon": recon_sum / n,
        "val_kl": kl_sum / n,
        "val_elbo": (recon_sum + kl_sum) / n,
        "token_acc": correct / max(counted, 1),
        "active_units": active_units(torch.cat(mus)),
        "recon_exact": exact,
        "prior_valid": prior_valid,
        **dist,
    }


def log_epoch(row: dict[str, Any], latent_dim: int) -> None:
    logger.info(
        "epoch %d: recon %.3f kl %.3f beta %.3f | val recon %.3f kl %.3f tok_acc %.3f active %d/%d "
        "exact %.1f%% prior-valid %.1f%% | %.0f mol/s",
        row["epoch"],
        row["train_recon"],
        row["train_kl"],
        row["beta"],
        row["val_recon"],
        row["val_kl"],
        row["token_acc"],
        row["active_units"],
        latent_dim,
        100 * row["recon_exact"],
        100 * row["prior_valid"],
        row["molecules_per_s"],
    )
    if "val_fcd" in row:
        logger.info(
            "epoch %d prior samples: FCD/val %.2f, MOSES filters %.1f%%, unique %.1f%%",
            row["epoch"],
            row["val_fcd"],
            100 * row["prior_filters"],
            100 * row["prior_unique"],
        )
    if collapsed(row["val_kl"], row["active_units"], latent_dim):
        logger.warning(
            "posterior collapse: validation KL %.3f nats, %d of %d latent units active; the decoder "
            "is ignoring z (try free_bits, a slower kl warm-up or word_dropout)",
            row["val_kl"],
            row["active_units"],
            latent_dim,
        )
