"""``fit()``: train a :class:`~molvae.model.MolVAE`, reading like nanoGPT's ``train.py``.

The pieces, each in one place: the configuration (``molvae.config``), the run directory, its
policy and what survives a restart (``molvae.rundir``), the training data
(``molvae.data.training_data``), one step and one epoch of optimisation and the one decision of
why training stops (``molvae.loop``), validation through the codec's own decoding
(``molvae.validation``), and where a run starts from (``molvae.start``: a new model, a resumed
run or a parent's weights, with its lineage from ``molvae.lineage``).
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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from molvae import checkpoint as ckpt
from molvae import lineage, start
from molvae.anomaly import MAX_STORED_SCORES, METADATA_KEY, MIN_CALIBRATION, calibrate_anomaly
from molvae.codec import Codec
from molvae.config import ModelConfig, TrainConfig, to_toml
from molvae.constants import DECODE_METHODS
from molvae.data import PreparedData, training_data
from molvae.device import resolve_device, use_bf16
from molvae.distributed import World
from molvae.exceptions import ConfigError
from molvae.loop import StopRequest, stop_reason, train_epoch
from molvae.model import MolVAE, count_parameters
from molvae.prior import GaussianMixturePrior
from molvae.rundir import RunDir, RunState
from molvae.tokenizers import Tokenizer
from molvae.validation import log_epoch, validate

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
    max_len: int | None = None  # the training data's max_len (tokens)
    anomaly: dict | None = None  # the anomaly calibration (``molvae.anomaly``), None if too few val
    sampling: dict | None = None  # the decoding inherited from an ``init`` parent (e.g. greedy)

    def generator(self) -> Any:
        """The trained model, its tokenizer and learned prior as a
        :class:`~molvae.generator.Generator` that decodes as ``mv.load`` of its checkpoint does."""
        from molvae.generator import Generator

        meta = {k: v for k, v in (("anomaly", self.anomaly), ("sampling", self.sampling)) if v}
        return Generator.from_training(
            self.model, self.tokenizer, self.max_len, prior=self.prior, metadata=meta or None
        )

    @property
    def best_path(self) -> Path | None:
        """``best.pt`` of the run directory, or None when there is none (in-memory run)."""
        if self.run_dir is None or not (self.run_dir / "best.pt").exists():
            return None
        return self.run_dir / "best.pt"


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
        learned prior (``result.generator()`` puts them together). ``stopped_because`` says why
        training ended: ``epochs``, ``max_steps``, ``time_limit``, ``early_stopping``, or
        ``interrupted (SIGTERM)`` / ``interrupted (SIGINT)`` (a first signal during training
        ends the epoch after the current step and saves it; see :class:`molvae.loop.StopRequest`).

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
    model_config, cfg = start.configure(
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
    tok = last.tokenizer if last else parent.checkpoint.tokenizer if parent else None
    prepared = training_data(data, cfg, tok)
    if world.main:
        world.barrier()
    tokenizer = prepared.tokenizer
    train, val = prepared.split(cfg.val_fraction, seed=cfg.seed)
    val = val.subset(np.arange(min(len(val), cfg.val_max)))
    model_config = ModelConfig(**{**asdict(model_config), "vocab_size": tokenizer.vocab_size})

    # ---- model, optimizer, state --------------------------------------------------------------
    model, optimizer, total_steps = start.build(model_config, cfg, device, len(train))
    if world.active:  # each rank draws its own z noise; the result depends on seed + world size
        torch.manual_seed(cfg.seed + 1_000_003 * world.rank)
    state, best_weights = start.restore(model, optimizer, last, parent, run, world)
    earlier, origin = start.lineage_start(last, parent)
    world.barrier()  # every rank has read last.pt before rank 0 writes anything
    if run is not None:  # only now, with data and configuration proved valid, is the folder changed
        run.open_for(to_toml(model_config, cfg), state.history)
    net = world.wrap(model, device)
    logger.info(
        "training %s parameters on %s (%s%s%s): %d train / %d val molecules, %d steps",
        f"{count_parameters(model):,}", device, tokenizer.kind, ", bf16" if bf16 else "",
        f", {world.size} processes" if world.active else "", len(train), len(val), total_steps,
    )  # fmt: skip
    meta = {"data": cfg.data or "in-memory", "n_train": len(train), "n_val": len(val),
            "prepare_report": prepared.report.to_dict(), "world_size": world.size}  # fmt: skip
    meta.update(_inherited_sampling(last, parent))
    val_moments = _val_moments(val, cfg, world, device)

    # ---- the loop ---------------------------------------------------------------------------
    deadline = time.monotonic() + (cfg.time_limit_minutes * 60 or math.inf)
    stopped = stop_reason(state, cfg, total_steps, timed_out=False)
    piece_of = lineage.piece_recorder(origin, meta, device, bf16)
    with StopRequest() as stop:  # a first SIGTERM or Ctrl-C ends the epoch cleanly, saved
        while stopped is None:
            epoch_start = time.monotonic()
            stats = train_epoch(model, optimizer, train, cfg, state, total_steps, bf16, deadline,
                                progress, world, net, stop)  # fmt: skip
            timed_out, interrupted = stats.pop("timed_out"), stats.pop("interrupted")
            improved = _close_epoch(
                model, tokenizer, val, cfg, state, stats, bf16, val_moments, world
            )
            if improved:
                best_weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
            state.wall_seconds += time.monotonic() - epoch_start
            lineage_now = lineage.record(earlier, piece_of(state))
            _save_epoch(run, model, optimizer, tokenizer, cfg, state, improved, meta, lineage_now,
                        world)  # fmt: skip
            stopped = stop_reason(state, cfg, total_steps, timed_out, interrupted)
    logger.info("training stopped: %s after %d epochs, %d steps", stopped, state.epoch, state.step)

    if best_weights is not None:
        model.load_state_dict(best_weights)
    model.eval()
    prior, calibration = _finish(model, tokenizer, train, val, cfg, run, world)
    return FitResult(
        model, tokenizer, pd.DataFrame(state.history), Path(out_dir) if out_dir else None,
        stopped, prior, cfg.max_len, calibration, meta.get("sampling"),
    )  # fmt: skip


def _finish(
    model: MolVAE,
    tokenizer: Tokenizer,
    train: PreparedData,
    val: PreparedData,
    cfg: TrainConfig,
    run: RunDir | None,
    world: World,
) -> tuple[Any, Any]:
    """Rank 0 fits the learned prior and the anomaly calibration of the trained model; then every
    rank leaves together. (A rank that tore down gloo while rank 0 still worked here aborted now
    and then: "terminate called without an active exception", 1 of 50 stress runs.)"""
    prior = _fit_prior(model, tokenizer, train, cfg, run) if world.main else None
    calibration = _calibrate(model, tokenizer, val, cfg.kl_weight, run) if world.main else None
    world.barrier()
    return prior, calibration


def _inherited_sampling(
    last: ckpt.Checkpoint | None, parent: lineage.Parent | None
) -> dict[str, Any]:
    """The decoding the model being continued stores (``init``: the parent's, ``resume``: the
    run's own), so that a model fine-tuned from a greedy one decodes greedily too (and one from a
    beam-search model with the same width)."""
    source = parent.checkpoint if parent is not None else last
    stored = (source.metadata.get("sampling") or {}) if source else {}
    if stored.get("method") not in DECODE_METHODS:
        return {}
    return {"sampling": {k: stored[k] for k in ("method", "beam_width") if k in stored}}


def _save_epoch(
    run: RunDir | None,
    model: MolVAE,
    optimizer: torch.optim.Optimizer,
    tokenizer: Tokenizer,
    cfg: TrainConfig,
    state: RunState,
    improved: bool,
    meta: dict[str, Any],
    lineage_now: dict[str, Any],
    world: World,
) -> None:
    """Write the epoch's checkpoints (``last.pt``, and ``best.pt`` when ``improved``) and
    ``metrics.csv`` (rank 0), with every rank's RNG state so that a resumed run draws the same
    numbers; then wait for every rank."""
    rank_rng = world.gather(torch.get_rng_state()) if world.active else None
    if run is not None:
        train_state = {**state.to_dict(rank_rng), "optimizer": optimizer.state_dict()}
        info = {**meta, "epoch": state.epoch, "step": state.step, "lineage": lineage_now}
        run.save_epoch(improved, model, tokenizer, asdict(cfg), train_state, info)
        run.write_history(state.history)
    world.barrier()


def _close_epoch(
    model: MolVAE,
    tokenizer: Tokenizer,
    val: PreparedData,
    cfg: TrainConfig,
    state: RunState,
    stats: dict[str, Any],
    bf16: bool,
    val_moments: Any,
    world: World,
) -> bool:
    """Validate (rank 0; every rank records the same row), record and log the epoch; True when
    its validation ELBO is the best yet."""
    state.molecules += stats["molecules"]  # also a metrics.csv column: learning curves
    metrics = None
    if world.main:
        metrics = validate(
            model, tokenizer, val, cfg, cfg.seed + state.epoch, bf16, val_moments=val_moments
        )
    improved = state.record({**stats, **world.broadcast(metrics)})
    if world.main:
        log_epoch(state.history[-1], model.cfg.latent_dim)
    return improved


def _fit_prior(
    model: MolVAE, tokenizer: Tokenizer, train: PreparedData, cfg: TrainConfig, run: RunDir | None
) -> GaussianMixturePrior | None:
    """Fit the learned prior on the best weights and store it in ``best.pt`` (see molvae.prior)."""
    n = min(cfg.prior_fit_size, len(train))
    if cfg.prior == "none" or (cfg.prior == "gmm" and n < 2 * cfg.prior_components):
        return None
    rows = np.random.default_rng(cfg.seed).choice(len(train), n, replace=False)
    codec = Codec(model, tokenizer, precision="fp32")  # stored with the model: float32
    prior = codec.fit_prior(
        [train.smiles[i] for i in rows],
        cfg.prior_components,
        method=cfg.prior,
        spread=cfg.prior_spread,
        seed=cfg.seed,
    )
    if run is not None and run.best.exists():
        ckpt.set_prior(run.best, prior.to_dict())
    return prior


def _calibrate(
    model: MolVAE, tokenizer: Tokenizer, val: PreparedData, beta: float, run: RunDir | None
) -> dict | None:
    """Calibrate the anomaly threshold on the validation molecules (``molvae.anomaly``) and store
    it in ``best.pt``; None (logged) when there are too few of them."""
    if len(val) < MIN_CALIBRATION:
        logger.info(
            "no anomaly threshold stored: %d validation molecules (at least %d needed); add one "
            "later with gen.calibrate_anomaly(held_out_smiles)", len(val), MIN_CALIBRATION,
        )  # fmt: skip
        return None
    codec = Codec(model, tokenizer, precision="fp32")  # stored with the model: float32
    n = min(len(val), MAX_STORED_SCORES)
    cal = calibrate_anomaly(
        codec, list(val.smiles[:n]), source=f"{n:,} validation molecules", beta=beta
    )
    if run is not None and run.best.exists():
        ckpt.set_metadata(run.best, {METADATA_KEY: cal.to_dict()})
    return cal.to_dict()


def _val_moments(val: PreparedData, cfg: TrainConfig, world: World, device: torch.device) -> Any:
    """ChemNet moments of the validation molecules for the per-epoch FCD signal (rank 0)."""
    if not (cfg.dist_eval and world.main):
        return None
    from molvae.metrics import reference_moments

    return reference_moments(val.smiles, device=str(device))
