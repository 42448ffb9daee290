"""``fit()``: train a :class:`~molvae.model.MolVAE` on prepared data, with a run directory.

The run directory holds ``config.toml`` (the resolved configuration), ``metrics.csv`` (one row per
epoch), ``last.pt`` and ``best.pt`` (written atomically). ``resume=True`` continues the same run
from ``last.pt``: epoch, step, optimizer, RNG state, beta schedule and history, so an interrupted
run ends with the same weights as an uninterrupted one.

Example:
    >>> import molvae as mv
    >>> result = mv.fit(["CCO", "c1ccccc1O", ...], preset="small", out_dir="runs/demo", epochs=5)
    >>> result.history[["epoch", "val_recon", "val_kl", "recon_exact", "prior_valid"]]
"""

from __future__ import annotations

import csv
import logging
import math
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from molvae import checkpoint as ckpt
from molvae.config import ModelConfig, TrainConfig, load_config, to_toml
from molvae.data import PreparedData, batch_indices, prepare, prepare_file, read_smiles
from molvae.exceptions import ConfigError, DataError, TrainingError
from molvae.losses import kl_loss, kl_per_dim, kl_weight, reconstruction_loss, token_accuracy
from molvae.model import MolVAE, count_parameters

logger = logging.getLogger(__name__)

RUN_FILES = ("config.toml", "metrics.csv", "last.pt", "best.pt")


@dataclass
class FitResult:
    """What :func:`fit` returns: the best model (on CPU or the training device) and the run's record."""

    model: MolVAE
    tokenizer: Any
    history: pd.DataFrame
    run_dir: Path | None
    stopped_because: str

    @property
    def best_path(self) -> Path | None:
        return self.run_dir / "best.pt" if self.run_dir else None


def resolve_device(spec: str = "auto") -> torch.device:
    """``auto`` picks cuda, then mps, then cpu; an explicit device that is absent is an error."""
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(spec)
    except RuntimeError as err:
        raise ConfigError(f"unknown device {spec!r} (use auto, cpu, cuda, cuda:N or mps)") from err
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(
                f"device {spec!r} requested but CUDA is not available on this machine"
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ConfigError(
                f"device {spec!r} requested but only {torch.cuda.device_count()} CUDA device(s) exist"
            )
    if dev.type == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise ConfigError(f"device {spec!r} requested but MPS is not available on this machine")
    return dev


def lr_at(step: int, cfg: TrainConfig, total_steps: int) -> float:
    """Linear warm-up then cosine decay to ``lr * min_lr_ratio``."""
    if cfg.warmup_steps > 0 and step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    span = max(1, total_steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    return cfg.lr * (
        cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    )


def _load_data(cfg: TrainConfig, tokenizer: Any) -> PreparedData:
    if not cfg.data:
        raise ConfigError(
            "no training data: set train.data (a file or e.g. 'moses:train') or pass data="
        )
    from molvae.cli.prepare import resolve_data

    path = resolve_data(cfg.data)
    opts = {"max_len": cfg.max_len, "n_jobs": cfg.num_workers or (torch.get_num_threads() or 1)}
    if cfg.limit:
        # A seeded random sample, not the first rows: files such as MOSES's are ordered, and their
        # first rows are not representative (a model trained on them generalises far worse).
        smiles = read_smiles(path, column=cfg.column or None)
        if cfg.limit < len(smiles):
            smiles = smiles.sample(n=cfg.limit, random_state=cfg.seed).sort_index()
        return prepare(smiles, tokenizer, **opts)
    return prepare_file(path, tokenizer, column=cfg.column or None, **opts)


def _prepare_run_dir(out_dir: Path | None, resume: bool, overwrite: bool) -> None:
    if out_dir is None:
        if resume:
            raise ConfigError("resume=True needs the run directory (out_dir)")
        return
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"{out_dir}: exists and is not a directory")
    existing = [f for f in RUN_FILES if (out_dir / f).exists()]
    if resume:
        if not (out_dir / "last.pt").exists():
            raise ConfigError(f"{out_dir}: nothing to resume (no last.pt)")
        return
    if existing and not overwrite:
        raise ConfigError(
            f"{out_dir}: already holds a run ({', '.join(existing)}); use resume to continue it "
            "or overwrite to replace it"
        )
    for f in existing:
        (out_dir / f).unlink()
    out_dir.mkdir(parents=True, exist_ok=True)


def _rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "numpy": None}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@torch.no_grad()
def evaluate_model(
    model: MolVAE,
    val: PreparedData,
    cfg: TrainConfig,
    seed: int,
    batch_size: int = 512,
    autocast: Any = None,
) -> dict[str, float]:
    """Validation metrics: reconstruction NLL and KL per molecule, token accuracy, active units,
    exact-match reconstruction (greedy decode from mu) and prior-sample validity."""
    from molvae.chem import canonical

    model.eval()
    device = model.device
    gen = torch.Generator(device=device).manual_seed(seed)
    recon_sum, kl_sum, correct, counted, mus = 0.0, 0.0, 0, 0, []
    order = np.arange(len(val))
    ctx = autocast or torch.autocast(device.type, enabled=False)
    for start in range(0, len(val), batch_size):
        idx = order[start : start + batch_size]
        ids, lengths = (torch.from_numpy(a).to(device) for a in val.batch(idx))
        with ctx:
            mu, logvar = model.encode_params(ids, lengths)
            z = model.reparameterize(mu.float(), logvar.float(), generator=gen)
            logits, _ = model.decoder(model.embedding(ids[:, :-1]), z.to(mu.dtype))
        recon_sum += float(reconstruction_loss(logits, ids[:, 1:])) * len(idx)
        kl_sum += float(kl_per_dim(mu, logvar).sum()) * len(idx)
        c, n = token_accuracy(logits, ids[:, 1:])
        correct, counted = correct + c, counted + n
        mus.append(mu.float().cpu())
    mu_all = torch.cat(mus)  # (N, Z)
    active = int((mu_all.var(dim=0) > 0.01).sum()) if len(mu_all) > 1 else 0
    tok = val.tokenizer
    max_len = int(val.lengths.max()) + 10
    # exact reconstruction of validation molecules, greedy decoding from mu
    n_rec = min(cfg.recon_eval, len(val))
    exact = 0
    for start in range(0, n_rec, batch_size):
        idx = np.arange(start, min(n_rec, start + batch_size))
        ids, lengths = (torch.from_numpy(a).to(device) for a in val.batch(idx))
        with ctx:
            mu, _ = model.encode_params(ids, lengths)
            out, _, _ = model.decode(mu.float(), max_len=max_len, greedy=True)
        for i, row in zip(idx, out.cpu().tolist()):
            exact += canonical(tok.decode(row)) == val.smiles[i]
    # validity of prior samples
    n_prior = cfg.prior_eval
    valid = 0
    for start in range(0, n_prior, batch_size):
        b = min(batch_size, n_prior - start)
        z = torch.randn(b, model.cfg.latent_dim, device=device, generator=gen)
        with ctx:
            out, _, _ = model.decode(z, max_len=max_len, generator=gen, start_ids=tok.start_ids())
        for row in out.cpu().tolist():
            s = tok.decode(row)
            valid += bool(s) and canonical(s) is not None
    n = len(val)
    return {
        "val_recon": recon_sum / n,
        "val_kl": kl_sum / n,
        "val_elbo": (recon_sum + kl_sum) / n,
        "token_acc": correct / max(counted, 1),
        "active_units": active,
        "recon_exact": exact / max(n_rec, 1),
        "prior_valid": valid / max(n_prior, 1),
    }


def train_step(
    model: MolVAE,
    optimizer: torch.optim.Optimizer,
    ids: torch.Tensor,
    lengths: torch.Tensor,
    cfg: TrainConfig,
    lr: float,
    beta: float,
    autocast: Any,
) -> tuple[float, float, float]:
    """One optimisation step on a batch ``ids (B, T)``; returns ``(loss, recon, kl)`` as floats.

    A non-finite loss is returned without updating the weights.
    """
    for group in optimizer.param_groups:
        group["lr"] = lr
    with autocast:
        logits, mu, logvar = model(ids, lengths)  # (B, T-1, V), (B, Z), (B, Z)
    recon = reconstruction_loss(logits, ids[:, 1:])
    kl_pen, kl = kl_loss(mu, logvar, cfg.free_bits)
    loss = recon + beta * kl_pen
    if not torch.isfinite(loss):
        return float(loss.detach()), float(recon.detach()), float(kl.detach())
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if cfg.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
    optimizer.step()
    return float(loss.detach()), float(recon.detach()), float(kl.detach())


def _collapsed(metrics: dict[str, float], latent_dim: int) -> bool:
    return metrics["val_kl"] < 0.5 or metrics["active_units"] < 0.1 * latent_dim


def fit(
    data: PreparedData | Sequence[str] | pd.Series | None = None,
    model_config: ModelConfig | None = None,
    train_config: TrainConfig | None = None,
    out_dir: str | Path | None = None,
    *,
    preset: str | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    **train_overrides: Any,
) -> FitResult:
    """Train a GRU VAE.

    Args:
        data: prepared data, or SMILES (prepared here with ``train_config.tokenizer``); ``None``
            reads ``train_config.data`` (cached preparation).
        model_config, train_config: the configuration; default a ``preset`` or the dataclass defaults.
        out_dir: run directory (``config.toml``, ``metrics.csv``, ``last.pt``, ``best.pt``); ``None``
            trains in memory only.
        preset: a bundled preset name (``"small"``, ``"moses"``) used when configs are not given.
        resume: continue the run in ``out_dir`` from ``last.pt``.
        overwrite: replace a run already in ``out_dir``.
        progress: a tqdm bar per epoch.
        **train_overrides: ``TrainConfig`` fields to change (e.g. ``epochs=3, device="cpu"``).

    Returns:
        :class:`FitResult` with the best model (lowest validation ELBO), tokenizer and history.

    Raises:
        ConfigError: bad config, missing device, a run directory holding another run.
        DataError: no usable molecules.
        TrainingError: a non-finite loss (the message names the step; ``last.pt`` keeps the last good state).
    """
    from tqdm.auto import tqdm

    if model_config is None or train_config is None:
        m_default, t_default = (
            load_config(preset=preset) if preset else (ModelConfig(), TrainConfig())
        )
        model_config = model_config or m_default
        train_config = train_config or t_default
    if train_overrides:
        try:
            train_config = TrainConfig(**{**asdict(train_config), **train_overrides})
        except TypeError as err:
            raise ConfigError(f"unknown training option: {err}") from err
    cfg = train_config
    run_dir = Path(out_dir) if out_dir is not None else None
    _prepare_run_dir(run_dir, resume, overwrite)
    device = resolve_device(cfg.device)
    use_bf16 = cfg.amp == "bf16" or (cfg.amp == "auto" and device.type == "cuda")

    state: dict[str, Any] | None = None
    tokenizer: Any = cfg.tokenizer
    if resume:
        assert run_dir is not None
        last = ckpt.load(run_dir / "last.pt")
        state = last.train_state
        if not state:
            raise ConfigError(f"{run_dir / 'last.pt'}: holds no training state to resume")
        model_config = last.model_config
        tokenizer = last.tokenizer
        logger.info("resuming %s at epoch %d, step %d", run_dir, state["epoch"], state["step"])

    # ---- data -----------------------------------------------------------------------------------
    if isinstance(data, PreparedData):
        if resume and data.tokenizer != tokenizer:
            raise ConfigError(
                "data was prepared with a different tokenizer than the run being resumed"
            )
        prepared = data
    elif data is not None:
        prepared = prepare(data, tokenizer, max_len=cfg.max_len)
    else:
        prepared = _load_data(cfg, tokenizer)
    tokenizer = prepared.tokenizer
    if len(prepared) < 2:
        raise DataError(
            f"need at least 2 molecules to train (train + validation), got {len(prepared)}"
        )
    train, val = prepared.split(cfg.val_fraction, seed=cfg.seed)
    if len(val) > cfg.val_max:
        val = val.subset(np.arange(cfg.val_max))
    model_config = ModelConfig(**{**asdict(model_config), "vocab_size": tokenizer.vocab_size})

    # ---- model, optimizer -----------------------------------------------------------------------
    torch.manual_seed(cfg.seed)
    model = MolVAE(model_config).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(train) / cfg.batch_size)
    total_steps = cfg.epochs * steps_per_epoch
    if cfg.max_steps:
        total_steps = min(total_steps, cfg.max_steps)
    epoch, step, best, bad_epochs, history = 0, 0, math.inf, 0, []
    best_state: dict[str, torch.Tensor] | None = None
    if state is not None:
        if (run_dir / "best.pt").exists():
            best_state = ckpt.load(run_dir / "best.pt").state_dict
        model.load_state_dict(last.state_dict)
        optimizer.load_state_dict(state["optimizer"])
        epoch, step, best, bad_epochs = (
            state["epoch"],
            state["step"],
            state["best"],
            state["bad_epochs"],
        )
        history = list(state["history"])
        _set_rng_state(state["rng"])
    logger.info(
        "training %s parameters on %s (%s%s): %d train / %d val molecules, %d steps/epoch, %d steps",
        f"{count_parameters(model):,}",
        device,
        tokenizer.kind,
        ", bf16 autocast" if use_bf16 else "",
        len(train),
        len(val),
        steps_per_epoch,
        total_steps,
    )
    if run_dir is not None:
        (run_dir / "config.toml").write_text(to_toml(model_config, cfg))
        _write_history(run_dir / "metrics.csv", history)
    meta = {
        "data": cfg.data or "in-memory",
        "n_train": len(train),
        "n_val": len(val),
        "prepare_report": prepared.report.to_dict(),
    }

    def autocast() -> Any:
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16)

    def train_state() -> dict[str, Any]:
        return {
            "epoch": epoch,
            "step": step,
            "best": best,
            "bad_epochs": bad_epochs,
            "history": history,
            "optimizer": optimizer.state_dict(),
            "rng": _rng_state(),
        }

    started = time.monotonic()
    stopped = "epochs"
    while epoch < cfg.epochs and step < total_steps:
        model.train()
        batches = batch_indices(
            train.lengths,
            cfg.batch_size,
            shuffle=True,
            bucket=True,
            seed=cfg.seed * 100_003 + epoch,
        )
        sums = {"loss": 0.0, "recon": 0.0, "kl": 0.0, "n": 0}
        t_epoch = time.monotonic()
        bar = tqdm(
            total=min(len(batches), total_steps - step),
            desc=f"epoch {epoch + 1}/{cfg.epochs}",
            disable=not progress,
            leave=False,
        )
        beta = kl_weight(step, cfg.kl_schedule, cfg.kl_weight, cfg.kl_start, cfg.kl_warmup_steps)
        for idx in batches:
            if step >= total_steps:
                break
            ids, lengths = (
                torch.from_numpy(a).to(device, non_blocking=True) for a in train.batch(idx)
            )
            beta = kl_weight(
                step, cfg.kl_schedule, cfg.kl_weight, cfg.kl_start, cfg.kl_warmup_steps
            )
            loss, recon, kl = train_step(
                model, optimizer, ids, lengths, cfg, lr_at(step, cfg, total_steps), beta, autocast()
            )
            if not math.isfinite(loss):
                where = (
                    f"{run_dir / 'last.pt'}"
                    if run_dir and (run_dir / "last.pt").exists()
                    else "none written yet"
                )
                raise TrainingError(
                    f"loss became {loss} at step {step} (epoch {epoch + 1}); stopped. "
                    f"Last good checkpoint: {where}. Try a lower lr or grad_clip."
                )
            step += 1
            b = len(idx)
            sums["loss"] += loss * b
            sums["recon"] += recon * b
            sums["kl"] += kl * b
            sums["n"] += b
            bar.update()
            bar.set_postfix(recon=f"{recon:.2f}", kl=f"{kl:.2f}", beta=f"{beta:.3f}")
            if cfg.time_limit_minutes and time.monotonic() - started > cfg.time_limit_minutes * 60:
                stopped = "time_limit"
                break
        bar.close()
        train_seconds = time.monotonic() - t_epoch
        metrics = evaluate_model(model, val, cfg, seed=cfg.seed + epoch, autocast=autocast())
        n = max(sums["n"], 1)
        row = {
            "epoch": epoch + 1,
            "step": step,
            "lr": lr_at(max(step - 1, 0), cfg, total_steps),
            "beta": beta,
            "train_loss": sums["loss"] / n,
            "train_recon": sums["recon"] / n,
            "train_kl": sums["kl"] / n,
            **metrics,
            "epoch_seconds": train_seconds,
            "molecules_per_s": sums["n"] / max(train_seconds, 1e-9),
        }
        history.append(row)
        epoch += 1
        logger.info(
            "epoch %d: recon %.3f kl %.3f beta %.3f | val recon %.3f kl %.3f tok_acc %.3f active %d/%d "
            "exact %.1f%% prior-valid %.1f%% | %.0f mol/s",
            row["epoch"],
            row["train_recon"],
            row["train_kl"],
            beta,
            row["val_recon"],
            row["val_kl"],
            row["token_acc"],
            row["active_units"],
            model_config.latent_dim,
            100 * row["recon_exact"],
            100 * row["prior_valid"],
            row["molecules_per_s"],
        )
        if _collapsed(metrics, model_config.latent_dim):
            logger.warning(
                "posterior collapse: validation KL %.3f nats, %d of %d latent units active; the decoder "
                "is ignoring z (try free_bits, a slower kl warm-up or word_dropout)",
                metrics["val_kl"],
                metrics["active_units"],
                model_config.latent_dim,
            )
        improved = metrics["val_elbo"] < best
        if improved:
            best, bad_epochs = metrics["val_elbo"], 0
        else:
            bad_epochs += 1
        if run_dir is not None:
            tc = asdict(cfg)
            ckpt.save(
                run_dir / "last.pt",
                model,
                tokenizer,
                tc,
                train_state(),
                {**meta, "epoch": epoch, "step": step},
            )
            if improved:
                shutil.copyfile(run_dir / "last.pt", run_dir / ".best.pt.tmp")
                (run_dir / ".best.pt.tmp").replace(run_dir / "best.pt")
            _write_history(run_dir / "metrics.csv", history)
        if improved:
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if cfg.patience and bad_epochs >= cfg.patience:
            stopped = "early_stopping"
            logger.info("early stopping: no improvement for %d epochs", bad_epochs)
            break
        if stopped == "time_limit":
            logger.info("time limit of %.1f minutes reached", cfg.time_limit_minutes)
            break
    else:
        stopped = "max_steps" if step >= total_steps and epoch < cfg.epochs else "epochs"
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return FitResult(
        model=model,
        tokenizer=tokenizer,
        history=pd.DataFrame(history),
        run_dir=run_dir,
        stopped_because=stopped,
    )


def _write_history(path: Path, history: list[dict[str, Any]]) -> None:
    if not history:
        path.write_text("")
        return
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(history[0]))
        w.writeheader()
        w.writerows(history)
