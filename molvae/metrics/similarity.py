"""Exact Tanimoto aggregates over packed Morgan fingerprints (SNN, IntDiv) and the cosine
similarity of count vectors (Frag, Scaf)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np


def _bits(fps: np.ndarray, device: Any = "cpu") -> Any:
    """Packed fingerprints ``(N, 128) uint8`` -> ``(N, 1024)`` int8 tensor of 0/1 on ``device``."""
    import torch

    bits = torch.from_numpy(np.unpackbits(np.ascontiguousarray(fps), axis=1).view(np.int8))
    return bits.to(device)


_INT_MM: bool | None = None


def _intersections(a: Any, b_t: Any) -> Any:
    """Exact bit-intersection counts ``a @ b_t``: ``a (n, K)`` and ``b_t (K, m)`` int8 0/1.

    An int8 x int8 -> int32 product (VNNI / AMX on x86, exact); where this torch build lacks
    ``torch._int_mm`` on CPU, a float32 product, exact too (integers far below 2**24).
    Returns ``(n, m)`` int32 or float32.
    """
    import torch

    global _INT_MM
    if _INT_MM is None:
        _INT_MM = _int_mm_pays()
    if _INT_MM and a.device.type == "cpu":
        return torch._int_mm(a, b_t)
    return a.float() @ b_t.float()


def _int_mm_pays() -> bool:
    """Whether ``torch._int_mm`` works on this CPU and is faster than a float32 product.

    With VNNI/AMX it is; on a CPU without them (an AVX2-only AMD EPYC, seen here) torch falls back
    to a reference kernel about 60x slower than float32, which turned a 10,000-sample SNN into an
    hour. An x86 Linux CPU whose flags name neither VNNI nor AMX is decided without timing; else
    once per process by the best of five timings of each on a (128, 1024) x (1024, 128) product,
    int8 winning only by a clear margin (one timing on a busy machine once picked the slow kernel:
    a 1,000-sample evaluate in a notebook took 400 s instead of 30)."""
    import time

    import torch

    if not _cpu_may_have_int8_kernels():
        return False
    try:
        probe = torch.ones(17, 8, dtype=torch.int8)
        if not bool((torch._int_mm(probe, probe.T) == 8).all()):
            return False
        a = (torch.arange(128 * 1024).reshape(128, 1024) % 7 == 0).to(torch.int8)
        b_t = a.T.contiguous()
        seconds = {}
        for name, fn in (("int", lambda: torch._int_mm(a, b_t)),
                         ("float", lambda: a.float() @ b_t.float())):  # fmt: skip
            fn()  # warm-up
            times = []
            for _ in range(5):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
            seconds[name] = min(times)
        return seconds["int"] < 0.8 * seconds["float"]
    except (AttributeError, RuntimeError, NotImplementedError):
        return False


def _cpu_may_have_int8_kernels() -> bool:
    """False for an x86 Linux CPU whose flags list no VNNI/AMX instructions; True otherwise (or
    where the flags cannot be read: the timing decides)."""
    import platform

    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        return True
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return "vnni" in line or "amx" in line
    except OSError:
        pass
    return True


def _group_max(inter: Any, ref_count: Any, g_count: Any, best: Any) -> Any:
    """Fold one block of intersections ``inter (m, n)`` (reference rows sorted by popcount
    ``ref_count (m,)``) into the running max Tanimoto ``best (n,)`` of the generated molecules
    (popcounts ``g_count (n,)`` float32). Inside a popcount group ``b``, ``I / (a + b - I)`` rises
    with ``I``, so one integer max per group and one float32 division per (molecule, group) give
    exactly the max MOSES takes over the element-wise similarities (0/0 counts as 1)."""
    import torch

    counts, sizes = torch.unique_consecutive(ref_count, return_counts=True)
    s = 0
    for b, size in zip(counts.tolist(), sizes.tolist()):
        m = inter[s : s + size].amax(0).float()  # (n,) best intersection in the group
        s += size
        t = m / (g_count + b - m)  # float32, as MOSES: 0/0 -> nan -> 1
        best = torch.maximum(best, t.nan_to_num_(nan=1.0))
    return best


def tanimoto_max(
    gen_fps: np.ndarray, ref_fps: np.ndarray, block: int = 8192, device: Any = "cpu"
) -> np.ndarray:
    """Per generated molecule, the max Tanimoto similarity to any reference molecule (as MOSES's
    ``average_agg_tanimoto(..., agg="max")``, a 0/0 similarity counting as 1). Exact.

    No element-wise similarity matrix: with the reference sorted by popcount, bit intersections
    from an int8 product are reduced per popcount group (:func:`_group_max`). Inputs are packed
    bits ``(N, 128) uint8``; returns float64 ``(N,)``.
    """
    import torch

    out = np.zeros(len(gen_fps))
    if len(gen_fps) == 0 or len(ref_fps) == 0:
        return out
    ref = _bits(ref_fps, device)  # (M, K) int8
    ref_count = ref.sum(1, dtype=torch.int32)  # (M,)
    order = torch.argsort(ref_count, stable=True)
    ref, ref_count = ref[order], ref_count[order]
    for i in range(0, len(gen_fps), block):
        g = _bits(gen_fps[i : i + block], device)  # (n, K)
        g_count = g.sum(1).float()  # (n,)
        g_t = g.T.contiguous()  # (K, n)
        best = torch.zeros(len(g), device=ref.device)  # (n,) float32
        for j in range(0, len(ref), block):
            inter = _intersections(ref[j : j + block], g_t)  # (m, n) exact counts
            best = _group_max(inter, ref_count[j : j + block], g_count, best)
        out[i : i + len(g)] = best.cpu().numpy()
    return out


def tanimoto_mean(
    gen_fps: np.ndarray,
    ref_fps: np.ndarray | None = None,
    ps: Sequence[int] = (1,),
    block: int = 4096,
    device: Any = "cpu",
) -> np.ndarray:
    """Per generated molecule and power ``p``: ``mean_j(T_ij ** p) ** (1 / p)`` over the reference
    (MOSES's ``agg="mean"``). All powers come from one pass. ``ref_fps=None`` means the set
    against itself (IntDiv, self-pairs included as in MOSES): the similarity matrix is symmetric,
    so only the blocks on and above the diagonal are computed. Returns float64 ``(len(ps), N)``."""
    import torch

    symmetric = ref_fps is None
    ref_fps = gen_fps if ref_fps is None else ref_fps
    out = np.zeros((len(ps), len(gen_fps)))
    if len(gen_fps) == 0 or len(ref_fps) == 0:
        return out
    ref = _bits(ref_fps, device)  # (M, K)
    acc = torch.zeros(len(ps), len(gen_fps), dtype=torch.float64, device=ref.device)  # (P, N)
    ref_count = ref.sum(1).float()  # (M,)
    gen = ref if symmetric else _bits(gen_fps, device)  # (N, K)
    gen_count = ref_count if symmetric else gen.sum(1).float()  # (N,)
    for i in range(0, len(gen_fps), block):
        g_t = gen[i : i + block].T.contiguous()  # (K, n)
        g_count = gen_count[i : i + block]  # (n,)
        for j in range(i if symmetric else 0, len(ref), block):
            inter = _intersections(ref[j : j + block], g_t).float()  # (m, n)
            union = ref_count[j : j + block, None] + g_count[None, :] - inter
            t = inter.div_(union).nan_to_num_(nan=1.0)  # (m, n) Tanimoto, in place
            for k, p in enumerate(ps):
                tp = t if p == 1 else t.pow(p)
                acc[k, i : i + len(g_count)] += tp.sum(0)  # float32 per block, as MOSES
                if symmetric and j != i:  # the mirrored block (j, i) adds to the rows j
                    acc[k, j : j + len(tp)] += tp.sum(1)
    out = acc.cpu().numpy() / len(ref_fps)
    return out ** (1.0 / np.asarray(ps, dtype=np.float64))[:, None]


def tanimoto_agg(
    gen_fps: np.ndarray, ref_fps: np.ndarray, agg: str = "max", p: int = 1, block: int = 4096
) -> np.ndarray:
    """Per generated molecule: max (``agg="max"``) or ``mean(T^p)^(1/p)`` (``agg="mean"``) of the
    Tanimoto similarity to every reference molecule. Inputs are packed bits ``(N, 128) uint8``."""
    if agg == "max":
        return tanimoto_max(gen_fps, ref_fps, block=block)
    if agg == "mean":
        return tanimoto_mean(gen_fps, ref_fps, ps=(p,), block=block)[0]
    raise ValueError(f"agg must be 'max' or 'mean', not {agg!r}")


def cosine_similarity_counts(ref: Counter, gen: Counter) -> float:
    """``1 - cosine distance`` of two count vectors over the union of keys (MOSES's cos_similarity)."""
    if not ref or not gen:
        return float("nan")
    keys = set(ref) | set(gen)
    r = np.array([ref.get(k, 0) for k in keys], dtype=np.float64)
    g = np.array([gen.get(k, 0) for k in keys], dtype=np.float64)
    return float(np.dot(r, g) / (np.linalg.norm(r) * np.linalg.norm(g)))
