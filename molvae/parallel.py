"""Process-parallel map over chunks, shared by data preparation, scoring and the metrics."""

from __future__ import annotations

import multiprocessing as mp
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any


def chunked(values: Sequence[Any], size: int) -> list[list[Any]]:
    """``values`` cut into lists of at most ``size`` items, in order."""
    return [list(values[i : i + size]) for i in range(0, len(values), size)]


def map_chunks(
    fn: Callable[[Any], Any], chunks: list[Any], n_jobs: int, progress: bool, desc: str
) -> list[Any]:
    """``[fn(c) for c in chunks]`` over ``n_jobs`` worker processes (in this process when
    ``n_jobs <= 1`` or there is one chunk), results in input order, with a tqdm bar by chunk.

    Workers fork on Linux, so whatever the parent loaded (RDKit tables, SMARTS) is inherited.
    """
    from tqdm.auto import tqdm

    bar = tqdm(total=len(chunks), desc=desc, unit="chunk", disable=not progress)
    try:
        if n_jobs <= 1 or len(chunks) <= 1:
            out = []
            for c in chunks:
                out.append(fn(c))
                bar.update()
            return out
        ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
        with ProcessPoolExecutor(max_workers=n_jobs, mp_context=ctx) as pool:
            out = []
            for r in pool.map(fn, chunks):
                out.append(r)
                bar.update()
            return out
    finally:
        bar.close()
