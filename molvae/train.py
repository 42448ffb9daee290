"""``fit()``: train a :class:`~molvae.model.MolVAE`, reading like nanoGPT's ``train.py``.

The pieces, each in one place: the configuration (``molvae.config``), the run directory and its
policy (``molvae.rundir.RunDir``), what survives a restart (:class:`RunState`), one epoch of
optimisation (:func:`train_epoch`), validation through the Generator's own decoding
(:func:`validate`), and the one decision of why training stops (:func:`stop_reason`).
``resume=True`` continues the same run from ``last.pt``: epoch, step, optimizer, RNG state, beta
schedule and history, so an interrupted run ends with the same weights as an uninterrupted one.

Example:
    >>> import molvae as mv
    >>> result = mv.fit(["CCO", "c1ccccc1O", ...], preset="small", out_dir="runs/demo", epochs=5)
    >>> result.history[["epoch", "val_recon", "val_kl", "recon_exact", "prior_valid"]]
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from molvae import checkpoint as ckpt
from molvae import lineage
from molvae.config import ModelConfig, TrainConfig, load_config, to_toml
from molvae.data import PreparedData, batch_indices, prepare, prepare_file, read_smiles
from molvae.device import autocast, resolve_device, use_bf16
from molvae.distributed import World
from molvae.exceptions import CheckpointError, ConfigError, DataError, TrainingError
from molvae.generator import Generator
from molvae.losses import (
    active_units,
    collapsed,
    kl_loss,
    kl_per_dim,
    kl_weight,
    reconstruction_loss,
    token_accuracy,
)
from molvae.model import MolVAE, count_parameters
from molvae.prior import GaussianMixturePrior
from molvae.rundir import RunDir
from molvae.tokenizers import Tokenizer

logger = logging.getLogger(__name__)


@dataclass
class FitResult:
    """What :func:`fit` returns: the best model (on the training device) and the run's record."""

    model: MolVAE
    tokenizer: Tokenizer
    history: pd.DataFrame
    run_dir: Path | None
    stopped_because: str
    prior: GaussianMixturePrior | None = None

    def generator(self) -> Generator:
        """The trained model, its tokenizer and learned prior as a :class:`Generator`."""
        return Generator(self.model, self.tokenizer, prior=self.prior)

    @property
    def best_path(self) -> Path | None:
        """``best.pt`` of the run directory, or None when there is none (in-memory run)."""
        if self.run_dir is None or not (self.run_dir / "best.pt").exists():
            return None
        return self.run_dir / "best.pt"


@dataclass
class RunState:
    """Everything about a run's progress that must survive a restart (saved in ``last.pt``)."""

    epoch: int = 0
    step: int = 0
    best: float = math.inf  # lowest validation ELBO so far
    best_epoch: int = 0  # the epoch that reached it (0: none yet)
    bad_epochs: int = 0  # epochs since the best one
    history: list[dict[str, Any]] = field(default_factory=list)
    rng: dict[str, Any] = field(default_factory=dict)
    molecules: int = 0  # training molecules seen (every epoch, all ranks)
    wall_seconds: float = 0.0  # epochs' wall time: training, validation and checkpoints

    def record(self, row: dict[str, Any]) -> bool:
        """Close an epoch: append its history row; True when its validation ELBO is the best yet."""
        self.epoch += 1
        self.history.append({"epoch": self.epoch, "step": self.step, **row})
        improved = row["val_elbo"] < self.best
        if improved:
            self.best, self.best_epoch, self.bad_epochs = row["val_elbo"], self.epoch, 0
        else:
            self.bad_epochs += 1
        return improved

    def to_dict(self, rank_rng: list[torch.Tensor] | None = None) -> dict[str, Any]:
        """Plain data for ``last.pt``; ``rank_rng``: every rank's CPU RNG state (distributed)."""
        rng: dict[str, Any] = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        if rank_rng is not None:
            rng["ranks"] = rank_rng
        return {**asdict(self), "rng": rng}

    @classmethod
    def from_dict(cls, d: dict[str, Any], world: World | None = None) -> RunState:
        """Restore the state and put the RNGs back where they were (each rank its own)."""
        ranks = d["rng"].get("ranks")
        if world is not None and world.active:
            if ranks is None or len(ranks) != world.size:
                raise ConfigError(
                    f"cannot resume: the run was trained with {len(ranks) if ranks else 1} "
                    f"process(es), this launch has {world.size}; resume with the same world size"
                )
            torch.set_rng_state(ranks[world.rank])
        elif ranks is not None and len(ranks) > 1:
            raise ConfigError(
                f"cannot resume: the run was trained with {len(ranks)} processes (torchrun); "
                "resume it with the same --nproc_per_node"
            )
        else:
            torch.set_rng_state(d["rng"]["torch"])
        if d["rng"].get("cuda") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(d["rng"]["cuda"])
        keys = ("epoch", "step", "best", "bad_epochs")
        best_epoch = d.get("best_epoch", 0)  # absent from checkpoints written before 0.1.1
        return cls(
            **{k: d[k] for k in keys},
            best_epoch=best_epoch,
            history=list(d["history"]),
            rng=d["rng"],
            molecules=int(d.get("molecules", 0)),  # absent before lineage was recorded
            wall_seconds=float(d.get("wall_seconds", 0.0)),
        )


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
) -> dict[str, Any]:
    """One pass over length-bucketed batches (ends early at ``total_steps`` or ``deadline``).

    Advances ``state.step``; returns the epoch's mean loss terms, its last beta and lr, its
    throughput and whether the deadline cut it short. Distributed (``world``, ``net`` the DDP
    wrapper of ``model``): every rank draws the same global batches and trains on its share.

    Raises:
        TrainingError: the loss became NaN or infinite (the message names the step).
    """
    from tqdm.auto import tqdm

    world = world or World()
    net = net or model
    model.train()
    batches = batch_indices(
        train.lengths,
        cfg.batch_size,
        shuffle=True,
        bucket=True,
        seed=cfg.seed * 100_003 + state.epoch,
    )
    if world.active:  # a global batch too small to give every rank a molecule is skipped
        batches = [b for b in batches if len(b) >= world.size]
    sums = {"loss": 0.0, "recon": 0.0, "kl": 0.0}
    n, timed_out, beta = 0, False, beta_at(state.step, cfg)
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
        late = time.monotonic() > deadline
        if world.active and math.isfinite(deadline):  # every rank stops at the same step
            late = world.reduce_step([], [late], model.device)[1][0]
        if late:
            timed_out = True
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
    }


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
    token accuracy and active units; then, through the :class:`~molvae.generator.Generator`
    (the same decoding as ``gen.reconstruct`` and ``gen.sample``): exact reconstruction of the
    first ``cfg.recon_eval`` validation molecules (greedy from mu) and the validity of
    ``cfg.prior_eval`` prior samples. With ``cfg.dist_eval`` and ``val_moments`` (ChemNet moments
    of the validation molecules), a distribution signal on that many N(0, I) samples: ``val_fcd``
    (FCD to the validation molecules), ``prior_filters`` (MOSES filters), ``prior_unique``.
    """
    model.eval()
    rng = torch.Generator(device=model.device).manual_seed(seed)
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
    gen = Generator(model, tokenizer, metadata={"max_len": cfg.max_len + 2})
    n_rec = min(cfg.recon_eval, len(val))
    exact = gen.reconstruct(val.smiles[:n_rec], n_decodes=1).attrs["exact_match"] if n_rec else 0.0
    prior_valid = (
        float(gen.sample(cfg.prior_eval, seed=seed).valid.mean()) if cfg.prior_eval else 0.0
    )
    dist = {}
    if cfg.dist_eval and val_moments is not None:
        from molvae.metrics import quick_signal

        samples = gen.sample(cfg.dist_eval, seed=seed + 1, prior="standard")
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


def stop_reason(state: RunState, cfg: TrainConfig, total_steps: int, timed_out: bool) -> str | None:
    """The one place that decides whether training ends after an epoch, and why."""
    if timed_out:
        return "time_limit"
    if cfg.patience and state.bad_epochs >= cfg.patience:
        return "early_stopping"
    if state.epoch >= cfg.epochs:
        return "epochs"
    if state.step >= total_steps:
        return "max_steps"
    return None


def fit(
    data: PreparedData | Sequence[str] | pd.Series | None = None,
    model_config: ModelConfig | None = None,
    train_config: TrainConfig | None = None,
    out_dir: str | Path | None = None,
    *,
    preset: str | None = None,
    init: str | os.PathLike | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    **train_overrides: Any,
) -> FitResult:
    """Train a GRU VAE.

    Args:
        data: prepared data, or SMILES (prepared here with ``train_config.tokenizer``); ``None``
            reads ``train_config.data`` (cached preparation).
        model_config, train_config: the configuration; default a ``preset``, the run's own (when
            resuming) or the dataclass defaults.
        out_dir: run directory (``config.toml``, ``metrics.csv``, ``last.pt``, ``best.pt``); ``None``
            trains in memory only.
        preset: a bundled preset name (``"small"``, ``"moses"``) used when configs are not given.
        init: start from this model (a bundled name, checkpoint or run directory): its weights,
            tokenizer and recipe with a fresh optimizer, a short warm-up and no second KL ramp
            (``molvae.lineage``); its network is used unless a config is given, which must match.
            Fine-tuning on a focused set, or the next piece of a long training.
        resume: continue the run in ``out_dir`` from ``last.pt``.
        overwrite: replace a run already in ``out_dir`` (only once data and config proved valid).
        progress: a tqdm bar per epoch.
        **train_overrides: ``TrainConfig`` fields to change (e.g. ``epochs=3, device="cpu"``).

    Under ``torchrun`` (``WORLD_SIZE > 1``) every process runs ``fit`` with the same arguments and
    trains its share of each global batch with DistributedDataParallel; see ``molvae.distributed``.
    At the end, unless ``prior="none"``, a learned prior (``molvae.prior``) is fitted on
    ``prior_fit_size`` training molecules and stored in ``best.pt``.

    Returns:
        :class:`FitResult` with the best model (lowest validation ELBO), tokenizer, history and
        learned prior (``result.generator()`` puts them together).

    Raises:
        ConfigError: bad config, missing device, a run directory holding another run or used by
            another process, a resume whose model config or tokenizer differs from the run's,
            ``init`` with a network or tokenizer that differs from the parent's, or with resume.
        CheckpointError: ``init`` names an unknown model or a damaged file.
        DataError: no usable molecules.
        TrainingError: a non-finite loss (the message names the step; ``last.pt`` keeps the last good state).
    """
    if resume and out_dir is None:
        raise ConfigError("resume=True needs the run directory (out_dir)")
    if resume and init is not None:
        raise ConfigError(
            "give init (start a new run from a model) or resume (continue this run), not both"
        )
    world = World.from_env()  # torchrun's RANK/WORLD_SIZE; one process otherwise
    run = RunDir(out_dir, resume, overwrite) if out_dir is not None and world.main else None
    try:
        with run or contextlib.nullcontext():
            return _fit(data, model_config, train_config, out_dir, preset, init, resume, progress,
                        train_overrides, world, run)  # fmt: skip
    finally:
        world.close()


def _fit(
    data: Any,
    model_config: ModelConfig | None,
    train_config: TrainConfig | None,
    out_dir: str | Path | None,
    preset: str | None,
    init: str | os.PathLike | None,
    resume: bool,
    progress: bool,
    train_overrides: dict[str, Any],
    world: World,
    run: RunDir | None,
) -> FitResult:
    last = ckpt.load(Path(out_dir) / "last.pt") if resume else None  # type: ignore[arg-type]
    parent = lineage.Parent.load(init) if init is not None else None
    model_config, cfg = _resolve_configs(
        model_config, train_config, preset, train_overrides, last, parent
    )
    world.check(cfg.batch_size)
    device = world.device(resolve_device(cfg.device))
    bf16 = use_bf16(cfg.amp, device)
    progress = progress and world.main
    world.init(device)

    # ---- data: checked before anything of an old run is touched (rank 0 fills the cache first) ---
    if not world.main:
        world.barrier()
    inherited = last.tokenizer if last else parent.checkpoint.tokenizer if parent else None
    prepared = _prepare_data(data, cfg, inherited)
    if world.main:
        world.barrier()
    tokenizer = prepared.tokenizer
    train, val = prepared.split(cfg.val_fraction, seed=cfg.seed)
    val = val.subset(np.arange(min(len(val), cfg.val_max)))
    model_config = ModelConfig(**{**asdict(model_config), "vocab_size": tokenizer.vocab_size})

    # ---- model, optimizer, state --------------------------------------------------------------
    torch.manual_seed(cfg.seed)
    model = MolVAE(model_config).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    total_steps = cfg.epochs * math.ceil(len(train) / cfg.batch_size)
    total_steps = min(total_steps, cfg.max_steps) if cfg.max_steps else total_steps
    state, best_weights = RunState(), None
    if world.active:  # each rank draws its own z noise; the result depends on seed + world size
        torch.manual_seed(cfg.seed + 1_000_003 * world.rank)
    if last is not None:
        model.load_state_dict(last.state_dict)
        optimizer.load_state_dict(last.train_state["optimizer"])
        state = RunState.from_dict(last.train_state, world)
        if run is not None:
            run.repair_best(state.best_epoch, state.epoch)
            with contextlib.suppress(CheckpointError):  # reported by repair_best
                best_weights = ckpt.load(run.best).state_dict
        logger.info("resuming %s at epoch %d, step %d", out_dir, state.epoch, state.step)
    elif parent is not None:
        model.load_state_dict(parent.checkpoint.state_dict)
        logger.info(
            "starting from %s (sha256 %s..., %d earlier piece(s) of training)",
            parent.name, parent.sha256[:12], len(parent.pieces),
        )  # fmt: skip
    earlier, parent_sha = _lineage_start(last, parent)
    world.barrier()  # every rank has read last.pt before rank 0 writes anything
    if run is not None:
        run.start()
        run.write_config(to_toml(model_config, cfg))
        run.write_history(state.history)
    net = model
    if world.active:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)
    logger.info(
        "training %s parameters on %s (%s%s%s): %d train / %d val molecules, %d steps",
        f"{count_parameters(model):,}", device, tokenizer.kind, ", bf16" if bf16 else "",
        f", {world.size} processes" if world.active else "", len(train), len(val), total_steps,
    )  # fmt: skip
    meta = {"data": cfg.data or "in-memory", "n_train": len(train), "n_val": len(val)}
    meta["prepare_report"] = prepared.report.to_dict()
    meta["world_size"] = world.size

    val_moments = None
    if cfg.dist_eval and world.main:
        from molvae.metrics import reference_moments

        val_moments = reference_moments(val.smiles, device=str(device))

    # ---- the loop ---------------------------------------------------------------------------
    deadline = time.monotonic() + (cfg.time_limit_minutes * 60 or math.inf)
    stopped = stop_reason(state, cfg, total_steps, timed_out=False)
    hardware = lineage.hardware(device)
    while stopped is None:
        epoch_start = time.monotonic()
        stats = train_epoch(
            model, optimizer, train, cfg, state, total_steps, bf16, deadline, progress, world, net
        )
        state.molecules += stats["molecules"]  # also a metrics.csv column: learning curves
        metrics = None
        if world.main:  # rank 0 validates; every rank records the same row
            metrics = validate(
                model, tokenizer, val, cfg, cfg.seed + state.epoch, bf16, val_moments=val_moments
            )
        metrics = world.broadcast(metrics)
        timed_out = stats.pop("timed_out")
        improved = state.record({**stats, **metrics})
        if world.main:
            _log_epoch(state.history[-1], model_config.latent_dim)
        if improved:
            best_weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
        rank_rng = world.gather(torch.get_rng_state()) if world.active else None
        state.wall_seconds += time.monotonic() - epoch_start
        if run is not None:
            train_state = {**state.to_dict(rank_rng), "optimizer": optimizer.state_dict()}
            piece = {
                "parent_sha256": parent_sha, "data": meta["data"], "n_train": len(train),
                "steps": state.step, "molecules_seen": state.molecules,
                "seconds": round(state.wall_seconds, 1), "hardware": hardware,
                "world_size": world.size,
            }  # fmt: skip
            info = {**meta, "epoch": state.epoch, "step": state.step,
                    "lineage": lineage.record(earlier, piece)}  # fmt: skip
            run.save_epoch(improved, model, tokenizer, asdict(cfg), train_state, info)
            run.write_history(state.history)
        world.barrier()
        stopped = stop_reason(state, cfg, total_steps, timed_out)
    logger.info("training stopped: %s after %d epochs, %d steps", stopped, state.epoch, state.step)

    if best_weights is not None:
        model.load_state_dict(best_weights)
    model.eval()
    prior = _fit_prior(model, tokenizer, train, cfg, run) if world.main else None
    return FitResult(
        model, tokenizer, pd.DataFrame(state.history), Path(out_dir) if out_dir else None,
        stopped, prior,
    )  # fmt: skip


def _fit_prior(
    model: MolVAE, tokenizer: Tokenizer, train: PreparedData, cfg: TrainConfig, run: RunDir | None
) -> GaussianMixturePrior | None:
    """Fit the learned prior on the best weights and store it in ``best.pt`` (see molvae.prior)."""
    n = min(cfg.prior_fit_size, len(train))
    if cfg.prior == "none" or (cfg.prior == "gmm" and n < 2 * cfg.prior_components):
        return None
    rows = np.random.default_rng(cfg.seed).choice(len(train), n, replace=False)
    gen = Generator(model, tokenizer)
    prior = gen.fit_prior(
        [train.smiles[i] for i in rows],
        cfg.prior_components,
        method=cfg.prior,
        spread=cfg.prior_spread,
        seed=cfg.seed,
    )
    if run is not None and run.best.exists():
        ckpt.set_prior(run.best, prior.to_dict())
    return prior


def _lineage_start(
    last: ckpt.Checkpoint | None, parent: lineage.Parent | None
) -> tuple[list[dict[str, Any]], str | None]:
    """The pieces of training before this run, and the sha256 of the model it started from."""
    if last is not None:  # a resumed run: its own record, less the piece this run is
        recorded = (last.metadata.get("lineage") or {}).get("pieces") or [{}]
        return [dict(p) for p in recorded[:-1]], recorded[-1].get("parent_sha256")
    if parent is not None:
        return parent.pieces, parent.sha256
    return [], None


def _resolve_configs(
    model_config: ModelConfig | None,
    train_config: TrainConfig | None,
    preset: str | None,
    overrides: dict[str, Any],
    last: ckpt.Checkpoint | None,
    parent: lineage.Parent | None = None,
) -> tuple[ModelConfig, TrainConfig]:
    """The run's configuration: given > preset > the resumed run's own > the parent's (``init``)
    > defaults, then overrides. A resume or an ``init`` whose model config or tokenizer differs
    from the run's or the parent's is refused, naming the field."""
    if last is not None:
        saved_train = TrainConfig(**(last.train_config or {}))
        defaults = (last.model_config, saved_train)
    elif parent is not None and not preset:
        defaults = (parent.checkpoint.model_config, parent.train_config())
    elif preset:
        defaults = load_config(preset=preset)
    else:
        defaults = (ModelConfig(), TrainConfig())
    model_config = model_config or defaults[0]
    train_config = train_config or defaults[1]
    if overrides:
        try:
            train_config = TrainConfig(**{**asdict(train_config), **overrides})
        except TypeError as err:
            raise ConfigError(f"unknown training option: {err}") from err
    if last is not None:
        lineage.check_same_network(
            model_config, last.model_config, f"resume {last.path.parent}", "the run",
            "resume with the run's config or start a new run",
        )  # fmt: skip
        if train_config.tokenizer != last.tokenizer.kind:
            raise ConfigError(
                f"cannot resume {last.path.parent}: train.tokenizer is {train_config.tokenizer!r} "
                f"here but {last.tokenizer.kind!r} in the run"
            )
    elif parent is not None:
        parent.check_network(model_config)
        parent.check_tokenizer(train_config.tokenizer)
    return model_config, train_config


def _prepare_data(data: Any, cfg: TrainConfig, tokenizer: Tokenizer | None) -> PreparedData:
    """The training molecules, prepared with the resumed run's tokenizer or ``cfg.tokenizer``."""
    from molvae import datasets

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


def _log_epoch(row: dict[str, Any], latent_dim: int) -> None:
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
