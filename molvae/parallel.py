"""The one process pool: worker processes for RDKit work (data preparation, sampling checks,
scoring, the metrics), how many to use, and a process-parallel map over chunks.

Workers fork on Linux, so whatever the parent loaded (RDKit tables, SMARTS, a tokenizer) is
inherited; elsewhere they spawn.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

MAX_JOBS = 8  # RDKit workers by default; more rarely pays (results cross a pipe)


def default_jobs() -> int:
    """Worker processes for RDKit work: the CPUs this process may use, at most ``MAX_JOBS``,
    shared with the other processes of a torchrun job on this machine (``LOCAL_WORLD_SIZE``)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    local = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1))
    return max(1, min(MAX_JOBS, (cpus or 1) // local))


def process_pool(
    n_jobs: int, initializer: Callable[..., None] | None = None, initargs: tuple = ()
) -> ProcessPoolExecutor:
    """A pool of ``n_jobs`` worker processes (fork on Linux, spawn elsewhere); use it as a
    context manager or shut it down."""
    ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    return ProcessPoolExecutor(
        max_workers=n_jobs, mp_context=ctx, initializer=initializer, initargs=initargs
    )


def chunked(values: Sequence[Any], size: int) -> list[list[Any]]:
    """``values`` cut into lists of at most ``size`` items, in order."""
    return [list(values[i : i + size]) for i in range(0, len(values), size)]


def map_chunks(
    fn: Callable[[Any], Any], chunks: list[Any], n_jobs: int, progress: bool, desc: str
) -> list[Any]:
    """``[fn(c) for c in chunks]`` over ``n_jobs`` worker processes (in this process when
    ``n_jobs <= 1`` or there is one chunk), results in input order, with a tqdm bar by chunk."""
    from tqdm.auto import tqdm

    bar = tqdm(total=len(chunks), desc=desc, unit="chunk", disable=not progress)
    try:
        if n_jobs <= 1 or len(chunks) <= 1:
            out = []
            for c in chunks:
                out.append(fn(c))
                bar.update()
            return out
        with process_pool(n_jobs) as pool:
            out = []
            for r in pool.map(fn, chunks):
                out.append(r)
                bar.update()
            return out
    finally:
        bar.close()
