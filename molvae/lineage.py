"""Training that starts from another model (``fit(init=...)``, ``molvae train --init``): the parent's
weights, tokenizer and recipe, and the record of every piece of training behind a checkpoint.

Two uses: *transfer learning* (fine-tune a bundled model on a focused set of a few hundred to a
few thousand molecules) and *long trainings in pieces* (a batch scheduler's jobs of a few hours,
each continuing the last one's checkpoint). A piece starts with a fresh optimizer and a short
learning-rate warm-up, at the parent's final beta (no second KL ramp), and with the parent's
learned-prior settings; the network must be the parent's (a differing field is refused by name).

Every checkpoint ``fit`` writes carries ``metadata["lineage"]``: ``pieces`` (one dict per piece of
training, oldest first: parent sha256, data, steps, molecules seen, wall seconds, hardware) and
``total`` (their sums), so a model trained in five pieces on two machines still says what it took.

Example:
    >>> import molvae as mv
    >>> result = mv.fit(focused_smiles, init="moses-smiles", out_dir="runs/focused", epochs=20)
    >>> mv.load("runs/focused").metadata["lineage"]["total"]["molecules_seen"]
"""

from __future__ import annotations

import logging
import os
import platform
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from molvae import checkpoint as ckpt
from molvae.config import ModelConfig, TrainConfig
from molvae.device import cpu_has_bf16
from molvae.exceptions import ConfigError

logger = logging.getLogger(__name__)

FINE_TUNE_WARMUP = 20  # learning-rate warm-up steps for a fresh optimizer on trained weights


@dataclass
class Parent:
    """The model a training starts from: its checkpoint, file sha256 and earlier pieces."""

    checkpoint: ckpt.Checkpoint
    sha256: str
    name: str
    pieces: list[dict[str, Any]]

    @classmethod
    def load(cls, model: str | os.PathLike) -> Parent:
        """A bundled name, a checkpoint file or a run directory (its ``best.pt``).

        Raises:
            CheckpointError: unknown name, missing, damaged or pickled file (as ``mv.load``).
        """
        from molvae.files import file_sha256 as sha256

        path = ckpt.resolve(model)
        c = ckpt.load(path)
        digest = sha256(path)
        return cls(c, digest, str(model), earlier_pieces(c))

    def train_config(self) -> TrainConfig:
        """The parent's recipe, set to continue: same tokenizer, length, beta, free bits and
        learned-prior settings (those of the prior the parent actually stores); a fresh short
        warm-up and no KL ramp; no step, time or sample limits; device and precision automatic."""
        known = {f for f in TrainConfig.__dataclass_fields__}
        saved = {k: v for k, v in (self.checkpoint.train_config or {}).items() if k in known}
        base = TrainConfig(**saved)
        cfg = replace(
            base,
            max_steps=0,
            time_limit_minutes=0.0,
            limit=0,
            epochs=TrainConfig().epochs,
            warmup_steps=min(base.warmup_steps, FINE_TUNE_WARMUP),
            kl_start=base.kl_weight,
            kl_warmup_steps=0,
            device="auto",
            amp="auto",
            num_workers=0,
            tokenizer=self.checkpoint.tokenizer.kind,
        )
        prior = self.checkpoint.prior
        if prior is not None:  # the prior it ships with, which may differ from its train config
            info = prior.get("info") or {}
            method = info.get("method", cfg.prior)
            cfg = replace(
                cfg,
                prior=method if method in ("posterior", "gmm") else cfg.prior,
                prior_spread=float(prior.get("spread", cfg.prior_spread)),
                prior_components=int(info.get("n_components", cfg.prior_components)),
            )
        return cfg

    def check_network(self, model_config: ModelConfig) -> None:
        """Refuse a network that differs from the parent's, naming the first field that does."""
        check_same_network(model_config, self.checkpoint.model_config, f"use --init {self.name}")

    def check_tokenizer(self, kind: str) -> None:
        if kind != self.checkpoint.tokenizer.kind:
            raise ConfigError(
                f"cannot start from {self.name}: train.tokenizer is {kind!r} here but "
                f"{self.checkpoint.tokenizer.kind!r} in the parent model"
            )


def check_same_network(
    mine: ModelConfig,
    theirs: ModelConfig,
    what: str,
    where: str = "the parent",
    advice: str = "use the parent's network (omit the model config) or start a new model",
) -> None:
    """``ConfigError`` naming the first field (other than ``vocab_size``) where they differ."""
    a, b = asdict(mine), asdict(theirs)
    for name in a:
        if name != "vocab_size" and a[name] != b[name]:
            raise ConfigError(
                f"cannot {what}: model.{name} is {a[name]!r} here but {b[name]!r} in {where}; "
                f"{advice}"
            )


def earlier_pieces(c: ckpt.Checkpoint) -> list[dict[str, Any]]:
    """The pieces of training behind checkpoint ``c``: its own lineage, or for a checkpoint
    written before lineage existed, one piece rebuilt from its config, state and card."""
    lineage = c.metadata.get("lineage")
    if isinstance(lineage, dict) and isinstance(lineage.get("pieces"), list):
        return [dict(p) for p in lineage["pieces"]]
    tc, card = c.train_config or {}, c.metadata.get("card") or {}
    step = int(
        (c.train_state or {}).get("step") or c.metadata.get("step") or card.get("steps") or 0
    )
    minutes = card.get("train_minutes")
    return [
        {
            "parent_sha256": None,
            "data": tc.get("data") or c.metadata.get("data"),
            "n_train": c.metadata.get("n_train"),
            "steps": step,
            "molecules_seen": step * int(tc.get("batch_size") or 0),
            "seconds": None if minutes is None else round(float(minutes) * 60, 1),
            "hardware": card.get("hardware"),
            "note": "rebuilt from a checkpoint written before lineage was recorded",
        }
    ]


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``), or what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware(device: torch.device, bf16: bool = False) -> str:
    """What a piece ran on, in words: the GPU's name, or the CPU's (with AVX512-BF16 where it has
    native bf16: the two CPU kinds train at very different speeds) and its torch threads; then
    the training precision."""
    precision = "bf16 autocast" if bf16 else "float32"
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}, {precision}"
    n = torch.get_num_threads()
    kind = " with AVX512-BF16" if cpu_has_bf16() else ""
    return f"{cpu_name()} CPU{kind}, {n} torch thread{'s' if n != 1 else ''}, {precision}"


def record(earlier: list[dict[str, Any]], piece: dict[str, Any]) -> dict[str, Any]:
    """``metadata["lineage"]``: the earlier pieces, this one, and their totals."""
    pieces = [*earlier, piece]
    seconds = [p.get("seconds") for p in pieces]
    total = {
        "pieces": len(pieces),
        "steps": sum(int(p.get("steps") or 0) for p in pieces),
        "molecules_seen": sum(int(p.get("molecules_seen") or 0) for p in pieces),
        # None when an old piece's time is unknown: a total that leaves it out would mislead
        "seconds": None if None in seconds else round(sum(seconds), 1),
    }
    return {"pieces": pieces, "total": total}


def check_continuation(
    model_config: ModelConfig,
    train_config: TrainConfig,
    last: ckpt.Checkpoint | None,
    parent: Parent | None,
) -> None:
    """Refuse a resume or an ``init`` whose network or tokenizer differs from the run's or the
    parent's, naming the field (``ConfigError``)."""
    if last is not None:
        check_same_network(
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


ORIGIN_KEYS = ("parent_sha256", "widened_from")  # where a piece starts: kept through a resume


def origin_of(record: dict[str, Any]) -> dict[str, Any]:
    """Where a piece starts, from a piece record or a parent's metadata: ``parent_sha256``
    (``None`` for a first piece) and ``widened_from`` when present."""
    origin = {k: record[k] for k in ORIGIN_KEYS if record.get(k) is not None}
    return {"parent_sha256": None, **origin}


def piece_recorder(
    origin: dict[str, Any], meta: dict[str, Any], device: torch.device, bf16: bool = False
) -> Any:
    """A function from a run's state (``molvae.rundir.RunState``) to this piece's lineage record
    (what :func:`record` appends to the earlier pieces) at the end of an epoch. ``origin`` is
    where the piece starts (:func:`origin_of`); ``meta`` is the run's metadata (``data``,
    ``n_train``, ``world_size``)."""
    fixed = {**origin, "data": meta["data"], "n_train": meta["n_train"],
             "hardware": hardware(device, bf16), "world_size": meta["world_size"]}  # fmt: skip

    def piece(state: Any) -> dict[str, Any]:
        return {**fixed, "steps": state.step, "molecules_seen": state.molecules,
                "seconds": round(state.wall_seconds, 1)}  # fmt: skip

    return piece
