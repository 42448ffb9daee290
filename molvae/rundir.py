"""The run directory and its policy: create, refuse, overwrite, lock; write the configuration and
history; save ``last.pt``; promote ``best.pt``.

A run directory holds ``config.toml``, ``metrics.csv``, ``last.pt`` and ``best.pt``. Every file is
written atomically (``molvae.files.atomic_write``). ``best.pt`` is written *before* ``last.pt`` at
the end of an epoch, so ``last.pt`` is the commit point: a process killed at any moment leaves a
run that ``--resume`` continues to the same result, and a ``best.pt`` that exists whenever
``last.pt`` records a best epoch.

Example:
    >>> with RunDir("runs/x", resume=False, overwrite=False) as run:   # locked until the block ends
    ...     run.start()                                                # after data + config checks
    ...     run.write_config("...")
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from molvae.exceptions import ConfigError
from molvae.files import atomic_write, remove_stale_temps

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
        if self.resume and not (p / "last.pt").exists():
            raise ConfigError(f"{p}: nothing to resume (no last.pt)")
        if not self.resume and existing and not self.overwrite:
            raise ConfigError(
                f"{p}: already holds a run ({', '.join(existing)}); use resume to continue it "
                "or overwrite to replace it"
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
        """Write the epoch's checkpoints: ``best.pt`` first when ``improved``, then ``last.pt``.

        Args:
            improved: the epoch set a new best validation score.
            *parts: what :func:`molvae.checkpoint.save` takes after the path (model, tokenizer,
                train config, train state, metadata).
        """
        from molvae import checkpoint

        if improved:
            checkpoint.save(self.best, *parts)
        checkpoint.save(self.last, *parts)

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
