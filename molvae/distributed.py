"""Training on several processes with PyTorch's own launcher: ``torchrun`` + DistributedDataParallel.

``torchrun --nproc_per_node=N -m molvae train ...`` starts N copies of the same command with
``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE`` set; :func:`fit` reads them through :class:`World`:

* every rank draws the same length-bucketed *global* batches (same seed) and trains on its own
  share of each (``batch[rank::world_size]``), so the global batch is ``batch_size`` whatever the
  world size, and DDP averages the gradients;
* rank 0 alone validates, logs and writes the run directory; the validation row is broadcast, so
  every rank takes the same decisions (best epoch, early stopping, end);
* a non-finite loss or the time limit on any rank stops or skips the step on every rank (one
  small all-reduce per step), so no rank is left waiting in a collective;
* each rank's RNG state is saved in ``last.pt``, so ``--resume`` continues every rank exactly; the
  result depends only on the seed and the world size.

Backends: NCCL for CUDA, gloo for CPU (what the CI test uses). Several machines: torchrun's
``--nnodes`` and ``--rdzv-endpoint`` (see the README).
"""

from __future__ import annotations

import datetime
import logging
import os
from dataclasses import dataclass
from typing import Any

import torch

from molvae.exceptions import ConfigError

logger = logging.getLogger(__name__)


@dataclass
class World:
    """This process's place among the training processes (one process: rank 0 of 1)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    owns_group: bool = False  # this object created the process group (and destroys it)

    @classmethod
    def from_env(cls) -> World:
        """Read torchrun's ``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` (absent: a single process)."""
        try:
            size = int(os.environ.get("WORLD_SIZE", "1"))
            rank = int(os.environ.get("RANK", "0"))
            local = int(os.environ.get("LOCAL_RANK", str(rank)))
        except ValueError as err:
            raise ConfigError(
                f"bad torchrun environment (RANK/WORLD_SIZE/LOCAL_RANK): {err}"
            ) from err
        if size < 1 or not 0 <= rank < size:
            raise ConfigError(f"bad torchrun environment: RANK={rank}, WORLD_SIZE={size}")
        return cls(rank, size, local)

    @property
    def active(self) -> bool:
        return self.size > 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    def device(self, device: torch.device) -> torch.device:
        """One GPU per process: ``cuda:LOCAL_RANK`` when training on CUDA without an index."""
        if self.active and device.type == "cuda" and device.index is None:
            if self.local_rank >= torch.cuda.device_count():
                raise ConfigError(
                    f"LOCAL_RANK {self.local_rank} but only {torch.cuda.device_count()} CUDA "
                    "device(s) on this machine: use --nproc_per_node <= the number of GPUs"
                )
            return torch.device("cuda", self.local_rank)
        return device

    def check(self, batch_size: int) -> None:
        """Refuse a world size that does not divide the global batch (before anything is written)."""
        if self.active and batch_size % self.size:
            raise ConfigError(
                f"batch_size {batch_size} is not divisible by the world size {self.size}: each "
                f"process trains on batch_size / world_size molecules; choose a multiple of "
                f"{self.size}"
            )

    def init(self, device: torch.device, timeout_minutes: float = 30.0) -> None:
        """Join the process group (NCCL on CUDA, gloo on CPU); a no-op for one process."""
        if not self.active:
            return
        import torch.distributed as dist

        backend = "nccl" if device.type == "cuda" else "gloo"
        available = {"nccl": dist.is_nccl_available, "gloo": dist.is_gloo_available}
        if not dist.is_available() or not available[backend]():
            raise ConfigError(
                f"distributed training on {device.type} needs the {backend} backend, which this "
                "PyTorch build lacks"
            )
        if device.type == "cuda":
            torch.cuda.set_device(device)
        if not dist.is_initialized():
            dist.init_process_group(backend, timeout=datetime.timedelta(minutes=timeout_minutes))
            self.owns_group = True
        logger.info("rank %d of %d joined the %s process group", self.rank, self.size, backend)

    def wrap(self, model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        """The module the training step calls: DistributedDataParallel around ``model`` under
        torchrun, ``model`` itself otherwise."""
        if not self.active:
            return model
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(
            model, device_ids=[device] if device.type == "cuda" else None
        )

    def close(self) -> None:
        if self.owns_group:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()
            self.owns_group = False

    def share(self, batch: Any) -> Any:
        """This rank's share of a global batch of indices."""
        return batch[self.rank :: self.size] if self.active else batch

    def reduce_step(self, values: list[float], flags: list[bool], device: torch.device):
        """Mean of ``values`` and any-of ``flags`` over the ranks, in one all-reduce."""
        if not self.active:
            return values, flags
        import torch.distributed as dist

        t = torch.tensor([*values, *map(float, flags)], dtype=torch.float64, device=device)
        dist.all_reduce(t)
        out = t.tolist()
        n = len(values)
        return [v / self.size for v in out[:n]], [f > 0 for f in out[n:]]

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank."""
        if not self.active:
            return obj
        import torch.distributed as dist

        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, obj: Any) -> list[Any]:
        """Every rank's ``obj``, in rank order, on every rank."""
        if not self.active:
            return [obj]
        import torch.distributed as dist

        out: list[Any] = [None] * self.size
        dist.all_gather_object(out, obj)
        return out

    def barrier(self) -> None:
        if self.active:
            import torch.distributed as dist

            dist.barrier()


def shard_seed(seed: int | None, rank: int, size: int) -> int | None:
    """Rank ``rank``'s seed, derived from ``seed`` and the world size (``None`` stays random)."""
    if seed is None:
        return None
    import numpy as np

    return int(np.random.SeedSequence([int(seed), size]).spawn(size)[rank].generate_state(1)[0])


def sample_to_csv(gen: Any, path: str | os.PathLike, n: int, seed: int | None, world: World,
                  **options: Any) -> dict[str, float]:  # fmt: skip
    """Distributed sampling: rank ``r`` writes ``n / world_size`` samples (the first ``n % size``
    ranks one more) with its derived seed to ``<path>.rank<r>``; rank 0 then concatenates the shards
    in rank order into ``path`` (atomically, in the format of its suffix) and removes them. Same
    seed and world size, same file. Returns the whole file's ``{"n", "valid"}`` on every rank."""
    from pathlib import Path

    import pandas as pd

    from molvae.files import table_format, table_writer

    path = Path(path)
    table_format(path)
    mine = n // world.size + (1 if world.rank < n % world.size else 0)
    shard = path.with_name(f"{path.name}.rank{world.rank}.csv")
    stats = {"n": 0, "valid": 0.0}
    if mine:
        stats = gen.sample_to_csv(shard, mine, seed=shard_seed(seed, world.rank, world.size),
                                  **options)  # fmt: skip
    counts = world.gather((stats["n"], stats["valid"] * stats["n"]))
    world.barrier()
    if world.main:
        shards = [path.with_name(f"{path.name}.rank{r}.csv") for r in range(world.size)]
        with table_writer(path) as out:
            for s in shards:
                if s.exists():
                    for part in pd.read_csv(s, chunksize=100_000, keep_default_na=False,
                                            na_values=[""]):  # fmt: skip
                        out.write(part)
        for s in shards:
            s.unlink(missing_ok=True)
    world.barrier()
    total = sum(c[0] for c in counts)
    return {"n": total, "valid": sum(c[1] for c in counts) / max(total, 1)}
