"""The ELBO per molecule, KL weight (beta) schedules and free bits.

Reconstruction is summed over a molecule's tokens and KL over latent dimensions, both averaged
over the batch. Averaging reconstruction per *token* while summing KL per *molecule* (as MOSES
does) inflates the KL term by the sequence length and is one cause of posterior collapse.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from molvae.tokenizers import PAD

KL_SCHEDULES = ("constant", "linear", "cyclical", "sigmoid")
ACTIVE_UNIT_VARIANCE = (
    0.01  # a latent unit is active when Var_x(E[z|x]) exceeds this (Burda et al.)
)


def reconstruction_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy summed over tokens, averaged over molecules.

    Args:
        logits: ``(B, T, V)``.
        targets: ``(B, T)`` token ids; ``<pad>`` positions are ignored.
    """
    ce = F.cross_entropy(logits.float().transpose(1, 2), targets, ignore_index=PAD, reduction="sum")
    return ce / targets.shape[0]


def kl_elements(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``KL(q(z|x) || N(0, I))`` of each molecule and latent dimension: ``(B, Z)`` in nats.

    The one KL formula of the package; the functions below reduce it.
    """
    mu, logvar = mu.float(), logvar.float()
    return 0.5 * (logvar.exp() + mu.pow(2) - 1.0 - logvar)


def kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL per latent dimension averaged over the batch: ``(Z,)`` in nats."""
    return kl_elements(mu, logvar).mean(dim=0)


def kl_per_molecule(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL of each molecule summed over latent dimensions: ``(B,)`` in nats."""
    return kl_elements(mu, logvar).sum(dim=1)


def kl_loss(
    mu: torch.Tensor, logvar: torch.Tensor, free_bits: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """KL summed over latent dims, averaged over the batch: ``(penalised, actual)``.

    With ``free_bits > 0`` each dimension's batch-mean KL below ``free_bits`` nats is not penalised
    (Kingma et al. 2016), which keeps units from collapsing early in training.
    """
    per_dim = kl_per_dim(mu, logvar)  # (Z,)
    actual = per_dim.sum()
    if free_bits > 0:
        return torch.clamp(per_dim, min=free_bits).sum(), actual
    return actual, actual


def kl_weight(
    step: int, schedule: str, weight: float, start: float = 0.0, warmup_steps: int = 0
) -> float:
    """Beta at optimisation step ``step``.

    * ``constant``: ``weight`` throughout.
    * ``linear``: ``start`` -> ``weight`` over ``warmup_steps``, then ``weight``.
    * ``cyclical``: cycles of ``warmup_steps``; rises linearly over the first half of each cycle
      and holds ``weight`` for the second half (Fu et al. 2019).
    * ``sigmoid``: logistic rise centred at ``warmup_steps / 2`` reaching ~``weight`` at ``warmup_steps``.
    """
    if schedule not in KL_SCHEDULES:
        raise ValueError(f"unknown kl schedule {schedule!r}; schedules: {list(KL_SCHEDULES)}")
    if schedule == "constant" or warmup_steps <= 0:
        return weight
    if schedule == "linear":
        return start + (weight - start) * min(1.0, step / warmup_steps)
    if schedule == "cyclical":
        phase = (step % warmup_steps) / warmup_steps
        return start + (weight - start) * min(1.0, 2.0 * phase)
    if schedule == "sigmoid":
        x = 12.0 * (step / warmup_steps - 0.5)
        return start + (weight - start) / (1.0 + math.exp(-x))
    raise ValueError(f"unknown kl schedule {schedule!r}; schedules: {list(KL_SCHEDULES)}")


def token_accuracy(logits: torch.Tensor, targets: torch.Tensor) -> tuple[int, int]:
    """``(correct, counted)`` teacher-forced next-token predictions, ignoring padding."""
    mask = targets != PAD
    correct = (logits.argmax(dim=-1) == targets) & mask
    return int(correct.sum()), int(mask.sum())


def active_units(mu: torch.Tensor) -> int:
    """Latent units whose posterior mean varies across molecules: ``Var(mu[:, j]) > 0.01``.

    Args:
        mu: ``(N, Z)`` posterior means of N molecules (N >= 2, else 0).
    """
    if mu.shape[0] < 2:
        return 0
    return int((mu.float().var(dim=0) > ACTIVE_UNIT_VARIANCE).sum())


def collapsed(kl: float, n_active: int, latent_dim: int) -> bool:
    """Posterior collapse: under half a nat of KL per molecule, or fewer than 10% active units."""
    return kl < 0.5 or n_active < 0.1 * latent_dim
