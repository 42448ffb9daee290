"""The run directory and its policy: create, refuse, overwrite, lock; write the configuration and
history; save ``last.pt``; promote ``best.pt``.

A run directory holds ``config.toml``, ``metrics.csv``, ``last.pt`` and ``best.pt``. Every file is
written atomically (``molvae.files.atomic_write``). At the end of an epoch ``last.pt`` is written
first (the commit point ``--resume`` continues from), then, if the epoch improved, copied to
``best.pt``. A process killed between the two leaves a ``best.pt`` older than the best epoch that
``last.pt`` records; opening the run to resume detects this (:meth:`RunDir.repair_best`) and
promotes ``last.pt``, so a killed run never ends without its ``best.pt``.

Example:
    >>> with RunDir("runs/x", resume=False, overwrite=False) as run:   # locked until the block ends
    ...     run.start()                                                # after data + config checks
    ...     run.write_config("...")
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from molvae.exceptions import ConfigError
from molvae.files import atomic_write, remove_stale_temps

if TYPE_CHECKING:  # pragma: no cover
    from molvae.distributed import World

logger = logging.getLogger(__name__)

RUN_FILES = ("config.toml", "metrics.csv", "last.pt", "best.pt")
LOCK_FILE = ".lock"


class RunDir:
    """One training run's folder.

    Opening it (``with RunDir(...)``) checks the policy and takes an exclusive lock, but changes
    nothing: a second process training into the same folder is refused at once, and a run given
    ``overwrite=True`` is only deleted by :meth:`start`, which ``fit`` calls after the data and the
    configuration proved valid.

    Args:
        path: the folder.
        resume: continue the run held there (it must hold ``last.pt``).
        overwrite: replace the run held there.

    Raises:
        ConfigError: the folder is a file, holds another run (without ``resume``/``overwrite``),
            holds nothing to resume, or is being used by another training process.
    """

    def __init__(self, path: str | os.PathLike, resume: bool = False, overwrite: bool = False):
        self.path = Path(path)
        self.resume = resume
        self.overwrite = overwrite
        self._lock: Any = None

    def __enter__(self) -> RunDir:
        p = self.path
        if p.exists() and not p.is_dir():
            raise ConfigError(f"{p}: exists and is not a directory")
        existing = self.existing()
        resumable = (p / "last.pt").exists()
        if self.resume and not resumable:
            started = (
                f"the run there ({', '.join(existing)}) stopped before its first checkpoint "
                "(last.pt is written at the end of each epoch, or at --time-limit)"
                if existing
                else "no run there yet"
            )
            raise ConfigError(
                f"{p}: nothing to resume: {started}; start it again with overwrite (--overwrite)"
            )
        if not self.resume and existing and not self.overwrite:
            raise ConfigError(
                f"{p}: already holds a run ({', '.join(existing)}); use resume (--resume) to "
                "continue it or overwrite (--overwrite) to replace it"
                if resumable
                else f"{p}: already holds a run that stopped before its first checkpoint "
                f"({', '.join(existing)}; no last.pt to resume from); use overwrite "
                "(--overwrite) to start it again"
            )
        p.mkdir(parents=True, exist_ok=True)
        self._acquire()
        for tmp in remove_stale_temps(p):
            logger.warning("removed %s, left by an interrupted write", tmp)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._release()

    def existing(self) -> list[str]:
        """Run files present in the folder."""
        return [f for f in RUN_FILES if (self.path / f).exists()]

    def start(self) -> None:
        """Begin writing: with ``overwrite``, delete the previous run's files now."""
        if self.resume:
            return
        for name in self.existing():
            (self.path / name).unlink()

    # ---- files ------------------------------------------------------------------------------------
    @property
    def last(self) -> Path:
        return self.path / "last.pt"

    @property
    def best(self) -> Path:
        return self.path / "best.pt"

    def open_for(self, config_toml: str, history: list[dict[str, Any]]) -> None:
        """:meth:`start` the run and write its configuration and the history so far."""
        self.start()
        self.write_config(config_toml)
        self.write_history(history)

    def write_config(self, text: str) -> None:
        with atomic_write(self.path / "config.toml") as f:
            f.write(text)

    def write_history(self, history: list[dict[str, Any]]) -> None:
        """``metrics.csv``: one row per epoch (empty file before the first epoch)."""
        import csv

        with atomic_write(self.path / "metrics.csv", "w", newline="") as f:
            if history:
                w = csv.DictWriter(f, fieldnames=list(history[0]))
                w.writeheader()
                w.writerows(history)

    def save_epoch(self, improved: bool, *parts: Any) -> None:
        """Write the epoch's checkpoint to ``last.pt``, then promote it to ``best.pt`` if ``improved``.

        Args:
            improved: the epoch set a new best validation score.
            *parts: what :func:`molvae.checkpoint.save` takes after the path (model, tokenizer,
                train config, train state, metadata).
        """
        from molvae import checkpoint

        checkpoint.save(self.last, *parts)
        if improved:
            self.promote_best()

    def promote_best(self) -> None:
        """Copy ``last.pt`` to ``best.pt`` atomically."""
        import shutil

        with open(self.last, "rb") as src, atomic_write(self.best, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)

    def repair_best(self, best_epoch: int, last_epoch: int) -> bool:
        """Make ``best.pt`` hold epoch ``best_epoch`` when a kill interrupted its promotion.

        Returns True when ``last.pt`` (which is that epoch) was promoted. A ``best.pt`` lost
        otherwise (deleted by hand) is reported, and the next improving epoch writes a new one.
        """
        from molvae import checkpoint

        if best_epoch < 1:
            return False
        held = None
        if self.best.exists():
            try:
                held = checkpoint.load(self.best).metadata.get("epoch")
            except Exception as err:  # a damaged best.pt is replaced, never trusted
                logger.warning("%s is unreadable (%s)", self.best, err)
        if held == best_epoch:
            return False
        if best_epoch == last_epoch:
            logger.warning(
                "%s did not hold the best epoch (%s, expected %d): an interrupted run; promoting %s",
                self.best,
                held,
                best_epoch,
                self.last,
            )
            self.promote_best()
            return True
        logger.warning(
            "%s does not hold the best epoch %d (it holds %s); it will be rewritten when an epoch "
            "improves",
            self.best,
            best_epoch,
            held,
        )
        return False

    # ---- the lock -----------------------------------------------------------------------------------
    def _acquire(self) -> None:
        path = self.path / LOCK_FILE
        f = open(path, "a+")  # noqa: SIM115 - held open for the whole run
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no advisory locks, run unlocked
            self._lock = f
            return
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            f.close()
            raise ConfigError(
                f"{self.path}: another training process ({holder}) is using this run directory; "
                "wait for it to finish or choose another --out"
            ) from None
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()}\n")
        f.flush()
        self._lock = f

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing the file releases the flock
            self._lock = None


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
