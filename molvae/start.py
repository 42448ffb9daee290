"""Where a training run starts: a new model, a resumed run (``last.pt``, ``resume=True``) or
another model's weights (``init=``, ``molvae.lineage``). :func:`configure` settles the run's
configuration (refusing a continuation that changes the network), :func:`build` makes the seeded
model and optimizer, :func:`restore` puts back what the run continues from, and
:func:`lineage_start` says which pieces of training came before it. ``molvae.train.fit`` calls
them in that order.
"""

from __future__ import annotations

import contextlib
import logging
import math
from typing import Any

import torch

from molvae import checkpoint as ckpt
from molvae import lineage
from molvae.config import ModelConfig, TrainConfig, resolve_configs
from molvae.distributed import World
from molvae.exceptions import CheckpointError
from molvae.model import MolVAE
from molvae.rundir import RunDir, RunState

logger = logging.getLogger(__name__)


def configure(
    model_config: ModelConfig | None,
    train_config: TrainConfig | None,
    preset: str | None,
    overrides: dict[str, Any],
    last: ckpt.Checkpoint | None,
    parent: lineage.Parent | None,
) -> tuple[ModelConfig, TrainConfig]:
    """The run's configuration (``molvae.config.resolve_configs``): a resumed run's own, or the
    parent's network and continuation recipe for ``init``; refused where they differ."""
    if last is not None:
        inherited = (last.model_config, TrainConfig(**(last.train_config or {})))
    elif parent is not None and not preset:
        inherited = (parent.checkpoint.model_config, parent.train_config())
    else:
        inherited = None
    model_config, cfg = resolve_configs(
        model_config, train_config, None if last else preset, overrides, inherited
    )
    lineage.check_continuation(model_config, cfg, last, parent)
    return model_config, cfg


def build(
    model_config: ModelConfig, cfg: TrainConfig, device: torch.device, n_train: int
) -> tuple[MolVAE, torch.optim.Optimizer, int]:
    """The seeded model, its optimizer and the run's total optimisation steps."""
    torch.manual_seed(cfg.seed)
    model = MolVAE(model_config).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    total_steps = cfg.epochs * math.ceil(n_train / cfg.batch_size)
    return model, optimizer, min(total_steps, cfg.max_steps) if cfg.max_steps else total_steps


def restore(
    model: MolVAE,
    optimizer: torch.optim.Optimizer,
    last: ckpt.Checkpoint | None,
    parent: lineage.Parent | None,
    run: RunDir | None,
    world: World,
) -> tuple[RunState, dict[str, torch.Tensor] | None]:
    """Put a resumed run's weights, optimizer and state back (and its best weights), or load the
    parent's weights for ``init``; a new run starts from a fresh state."""
    if last is not None:
        model.load_state_dict(last.state_dict)
        optimizer.load_state_dict(last.train_state["optimizer"])
        state, best_weights = RunState.from_dict(last.train_state, world), None
        if run is not None:
            run.repair_best(state.best_epoch, state.epoch)
            with contextlib.suppress(CheckpointError):  # reported by repair_best
                best_weights = ckpt.load(run.best).state_dict
        logger.info("resuming %s at epoch %d, step %d", last.path.parent, state.epoch, state.step)
        return state, best_weights
    if parent is not None:
        model.load_state_dict(parent.checkpoint.state_dict)
        logger.info(
            "starting from %s (sha256 %s..., %d earlier piece(s) of training)",
            parent.name, parent.sha256[:12], len(parent.pieces),
        )  # fmt: skip
    return RunState(), None


def lineage_start(
    last: ckpt.Checkpoint | None, parent: lineage.Parent | None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The pieces of training before this run, and where this piece starts (``parent_sha256``,
    the model it started from, and ``widened_from`` when that model was a widened network:
    ``scripts/widen_model.py`` records it, and a piece grown from it keeps it)."""
    if last is not None:  # a resumed run: its own record, less the piece this run is
        recorded = (last.metadata.get("lineage") or {}).get("pieces") or [{}]
        return [dict(p) for p in recorded[:-1]], lineage.origin_of(recorded[-1])
    if parent is not None:
        widened = parent.checkpoint.metadata.get("widened_from")
        return parent.pieces, lineage.origin_of(
            {"parent_sha256": parent.sha256, "widened_from": widened}
        )
    return [], lineage.origin_of({})
