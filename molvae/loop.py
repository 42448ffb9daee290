"""One optimisation step (:func:`train_step`: forward, ELBO, backward, clipping, AdamW), one
epoch over length-bucketed batches (:func:`train_epoch`), the learning-rate and beta schedules,
the one decision of why training stops (:func:`stop_reason`), and :class:`StopRequest`, which
turns a first SIGTERM or Ctrl-C into a clean stop at the next step."""

from __future__ import annotations

import logging
import math
import signal
import threading
import time
from typing import Any

import numpy as np
import torch

from molvae.config import TrainConfig
from molvae.data import PreparedData, batch_indices
from molvae.device import autocast
from molvae.distributed import World
from molvae.exceptions import TrainingError
from molvae.losses import kl_loss, kl_weight, reconstruction_loss
from molvae.model import MolVAE
from molvae.rundir import RunState

logger = logging.getLogger(__name__)

#: Under torchrun without a time limit, the ranks agree on a signal every this many steps.
SIGNAL_CHECK_EVERY = 16


class StopRequest:
    """While active (``with StopRequest() as stop:``), the first SIGTERM or SIGINT (a batch
    scheduler's notice, ``kill``, Ctrl-C, a notebook's interrupt) only records its name in
    ``stop.requested``: the loop ends the epoch after the current step, validates and saves it as at
    a time limit, and training returns normally. The previous handlers are back from that moment
    on, so a second signal acts as it would have (Ctrl-C twice: stop at once). Outside the main
    thread, where Python cannot install handlers, it does nothing."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.requested: str | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def __exit__(self, *exc: object) -> None:
        self._restore()

    def _handle(self, signum: int, frame: object) -> None:
        self.requested = signal.Signals(signum).name
        self._restore()
        logger.warning(
            "%s received: training stops after this step and saves the run (send it again to "
            "stop at once; --resume or --init continues)",
            self.requested,
        )

    def _restore(self) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous = {}


def lr_at(step: int, cfg: TrainConfig, total_steps: int) -> float:
    """Linear warm-up then cosine decay to ``lr * min_lr_ratio``."""
    if cfg.warmup_steps > 0 and step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    span = max(1, total_steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    return cfg.lr * (
        cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    )


def beta_at(step: int, cfg: TrainConfig) -> float:
    return kl_weight(step, cfg.kl_schedule, cfg.kl_weight, cfg.kl_start, cfg.kl_warmup_steps)


def train_step(
    model: MolVAE,
    optimizer: torch.optim.Optimizer,
    ids: torch.Tensor,
    lengths: torch.Tensor,
    cfg: TrainConfig,
    lr: float,
    beta: float,
    autocast: Any,
    world: World | None = None,
) -> tuple[float, float, float]:
    """One optimisation step on a batch ``ids (B, T)``; returns ``(loss, recon, kl)`` as floats
    (averaged over the ranks when distributed; ``model`` may be DDP-wrapped).

    A non-finite loss (on any rank) is returned without updating the weights.
    """
    for group in optimizer.param_groups:
        group["lr"] = lr
    with autocast:
        logits, mu, logvar = model(ids, lengths)  # (B, T-1, V), (B, Z), (B, Z)
    recon = reconstruction_loss(logits, ids[:, 1:])
    kl_pen, kl = kl_loss(mu, logvar, cfg.free_bits)
    loss = recon + beta * kl_pen
    values = torch.stack([loss.detach(), recon.detach(), kl.detach()]).float().tolist()  # one sync
    if world is not None and world.active:
        values, _ = world.reduce_step(values, [], ids.device)  # NaN on any rank -> NaN mean
    if not math.isfinite(values[0]):
        return values[0], values[1], values[2]
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if cfg.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
    optimizer.step()
    return values[0], values[1], values[2]


def epoch_batches(
    train: PreparedData, cfg: TrainConfig, epoch: int, world: World
) -> list[np.ndarray]:
    """The epoch's shuffled, length-bucketed global batches of row indices, the same on every
    rank (seeded by ``cfg.seed`` and the epoch). Distributed, a global batch too small to give
    every rank a molecule is skipped."""
    batches = batch_indices(
        train.lengths, cfg.batch_size, shuffle=True, bucket=True, seed=cfg.seed * 100_003 + epoch
    )
    if world.active:
        batches = [b for b in batches if len(b) >= world.size]
    return batches


def _stop_now(
    world: World, deadline: float, step: int, stop: StopRequest | None, device: torch.device
) -> tuple[bool, bool]:
    """``(late, signalled)`` after a step: past the deadline, or a signal caught by ``stop``.
    Distributed, every rank stops at the same step: the ranks agree at every step when there is
    a deadline, else every ``SIGNAL_CHECK_EVERY`` steps (a signal waits for the next check)."""
    late = time.monotonic() > deadline
    signalled = stop is not None and stop.requested is not None
    if world.active and (math.isfinite(deadline) or step % SIGNAL_CHECK_EVERY == 0):
        late, signalled = world.reduce_step([], [late, signalled], device)[1]
    elif world.active:
        signalled = False  # agreed on at the next check
    return late, signalled


def train_epoch(
    model: MolVAE,
    optimizer: torch.optim.Optimizer,
    train: PreparedData,
    cfg: TrainConfig,
    state: RunState,
    total_steps: int,
    bf16: bool,
    deadline: float,
    progress: bool,
    world: World | None = None,
    net: torch.nn.Module | None = None,
    stop: StopRequest | None = None,
) -> dict[str, Any]:
    """One pass over length-bucketed batches (ends early at ``total_steps``, ``deadline`` or a
    signal caught by ``stop``).

    Advances ``state.step``; returns the epoch's mean loss terms, its last beta and lr, its
    throughput, whether the deadline cut it short and the signal that did (``interrupted``).
    Distributed (``world``, ``net`` the DDP wrapper of ``model``): every rank draws the same
    global batches and trains on its share.

    Raises:
        TrainingError: the loss became NaN or infinite (the message names the step).
    """
    from tqdm.auto import tqdm

    world = world or World()
    net = net or model
    model.train()
    batches = epoch_batches(train, cfg, state.epoch, world)
    sums = {"loss": 0.0, "recon": 0.0, "kl": 0.0}
    n, timed_out, interrupted, beta = 0, False, None, beta_at(state.step, cfg)
    t0 = time.monotonic()
    bar = tqdm(
        total=min(len(batches), total_steps - state.step),
        desc=f"epoch {state.epoch + 1}/{cfg.epochs}",
        disable=not progress or not world.main,
        leave=False,
    )
    for idx in batches:
        if state.step >= total_steps:
            break
        ids, lengths = (
            torch.from_numpy(a).to(model.device, non_blocking=True)
            for a in train.batch(world.share(idx))
        )
        beta = beta_at(state.step, cfg)
        lr = lr_at(state.step, cfg, total_steps)
        loss, recon, kl = train_step(
            net, optimizer, ids, lengths, cfg, lr, beta, autocast(model.device, bf16), world
        )
        if not math.isfinite(loss):
            raise TrainingError(
                f"loss became {loss} at step {state.step} (epoch {state.epoch + 1}); stopped. "
                "The run directory's last.pt holds the last good epoch. Try a lower lr or grad_clip."
            )
        state.step += 1
        for key, value in (("loss", loss), ("recon", recon), ("kl", kl)):
            sums[key] += value * len(idx)
        n += len(idx)
        bar.update()
        bar.set_postfix(recon=f"{recon:.2f}", kl=f"{kl:.2f}", beta=f"{beta:.3f}")
        late, signalled = _stop_now(world, deadline, state.step, stop, model.device)
        if late or signalled:
            timed_out = late
            if signalled:
                interrupted = (stop.requested if stop else None) or "signal on another rank"
            break
    bar.close()
    seconds = time.monotonic() - t0
    return {
        "lr": lr_at(max(state.step - 1, 0), cfg, total_steps),
        "beta": beta,
        **{f"train_{k}": v / max(n, 1) for k, v in sums.items()},
        "epoch_seconds": seconds,
        "molecules_per_s": n / max(seconds, 1e-9),
        "molecules": n,
        "timed_out": timed_out,
        "interrupted": interrupted,
    }


@torch.no_grad()
def stop_reason(
    state: RunState,
    cfg: TrainConfig,
    total_steps: int,
    timed_out: bool,
    interrupted: str | None = None,
) -> str | None:
    """The one place that decides whether training ends after an epoch, and why."""
    if interrupted:
        return f"interrupted ({interrupted})"
    if timed_out:
        return "time_limit"
    if cfg.patience and state.bad_epochs >= cfg.patience:
        return "early_stopping"
    if state.epoch >= cfg.epochs:
        return "epochs"
    if state.step >= total_steps:
        return "max_steps"
    return None
