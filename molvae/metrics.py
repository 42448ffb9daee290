"""MOSES-compatible distribution metrics over a generated set of SMILES.

``evaluate(gen)`` returns exactly the MOSES keys with MOSES's definitions (Polykovskiy et al. 2020;
molecularsets/moses 0.3.1 ``get_all_metrics``):

* ``valid``: fraction of samples RDKit parses (an empty string or ``None`` counts as invalid).
* ``unique@k``: unique canonical SMILES among the first ``k`` valid samples.
* ``FCD/<set>``: Fréchet ChemNet Distance (the maintained ``fcd`` package and its ChemNet weights).
* ``SNN/<set>``: mean over valid samples of the max Tanimoto similarity to the reference set
  (Morgan radius 2, 1024 bits).
* ``Frag/<set>``, ``Scaf/<set>``: cosine similarity of BRICS-fragment counts and of
  Bemis-Murcko scaffold counts (scaffolds with at least 2 rings).
* ``IntDiv``, ``IntDiv2``: ``1 - mean(T^p)^(1/p)`` over all pairs of valid samples, p = 1, 2.
* ``Filters``: fraction of valid samples passing MOSES's filters (MCF, PAINS, atoms, charges).
* ``Novelty``: fraction of unique valid samples absent from the training set.
* ``logP``, ``SA``, ``QED``, ``weight``: Wasserstein-1 distance to the first reference set.

As in MOSES, everything after ``valid`` and ``unique@k`` is computed on the valid samples in
canonical form, duplicates included. Reference statistics are computed once and cached on disk
(keyed by the reference molecules' content), so a second evaluation reuses them.

Speed without changing a value: each distinct molecule is featurised and run through ChemNet
once (duplicates are weighted in); SNN never builds the similarity matrix (popcount groups over
an exact int8 product, :func:`tanimoto_max`); IntDiv computes the symmetric matrix's upper
blocks once for both powers; QED and the MOSES filters use exact shortcuts in ``molvae.chem``.
On 2 CPU cores the 10,000-molecule evaluation is ChemNet's fp32 LSTM, the int8 SNN products and
the RDKit features in about equal parts (``details=True`` reports the seconds of each stage).

Example:
    >>> import molvae as mv
    >>> m = mv.evaluate(samples.smiles, reference="moses", n_jobs=2)
    >>> m["valid"], m["FCD/Test"]
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

REFERENCE_NAMES = ("moses",)
MOSES_SETS = {"Test": "test", "TestSF": "test_scaffolds"}
PROPERTY_KEYS = ("logP", "SA", "QED", "weight")
STATS_VERSION = 1
FP_BITS = 1024


# ---- per-molecule features (run in worker processes) ------------------------------------------
def _features_chunk(args: tuple[list[str], bool]) -> list[tuple[Any, ...]]:
    """(canonical, packed fingerprint, fragments, scaffold, passes filters, logP, SA, QED, weight)
    for each valid canonical SMILES; the filters (the costliest part) only when asked for.
    Every value is the one MOSES computes (``moses.metrics.utils``): the same RDKit calls, with
    logP computed once for logP and QED."""
    from rdkit import Chem, rdBase
    from rdkit.Chem import AllChem, Crippen, Descriptors, rdFingerprintGenerator
    from rdkit.Chem.Scaffolds import MurckoScaffold

    from molvae.chem import passes_moses_filters, qed, sa_score, to_mol

    smiles, with_filters = args
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=FP_BITS)
    out = []
    with rdBase.BlockLogs():
        for s in smiles:
            mol = to_mol(s)
            fp = np.packbits(gen.GetFingerprintAsNumPy(mol).astype(np.uint8))
            frags = Chem.MolToSmiles(AllChem.FragmentOnBRICSBonds(mol)).split(".")
            try:
                scaf_mol = MurckoScaffold.GetScaffoldForMol(mol)
                scaf = Chem.MolToSmiles(scaf_mol)
                if not scaf or scaf_mol.GetRingInfo().NumRings() < 2:
                    scaf = None
            except (ValueError, RuntimeError):
                scaf = None
            logp = Crippen.MolLogP(mol)
            passes = passes_moses_filters(mol) if with_filters else None
            out.append(
                (
                    s,
                    fp,
                    frags,
                    scaf,
                    passes,
                    logp,
                    sa_score(mol),
                    qed(mol, logp=logp),
                    Descriptors.MolWt(mol),
                )
            )
    return out


def _canonical_chunk(values: list[Any]) -> list[tuple[str | None, str | None]]:
    from rdkit import Chem, rdBase

    from molvae.chem import parse

    out = []
    with rdBase.BlockLogs():
        for v in values:
            mol, reason = parse(v)
            out.append((Chem.MolToSmiles(mol), None) if mol is not None else (None, reason))
    return out


@dataclass
class SetStats:
    """Everything the metrics need about one set of valid canonical molecules."""

    n: int
    fps: np.ndarray  # (N, 128) uint8, packed Morgan bits
    frags: Counter
    scafs: Counter
    passes: np.ndarray  # (N,) bool
    props: dict[str, np.ndarray]  # PROPERTY_KEYS -> (N,)
    fcd_mu: np.ndarray | None = None  # (512,)
    fcd_sigma: np.ndarray | None = None  # (512, 512)


def _set_stats(
    smiles: list[str], n_jobs: int, progress: bool, desc: str, filters: bool = True
) -> SetStats:
    """Features of every molecule of ``smiles`` (duplicates included, as MOSES counts them); each
    distinct molecule is computed once."""
    from molvae._parallel import chunked, map_chunks
    from molvae.chem import warm_up

    unique = list(dict.fromkeys(smiles))
    warm_up()  # before the workers fork, so that they inherit the SA table and SMARTS screens
    chunks = [(c, filters) for c in chunked(unique, 1000)]
    rows = [r for part in map_chunks(_features_chunk, chunks, n_jobs, progress, desc) for r in part]
    where = {s: i for i, s in enumerate(unique)}
    idx = np.array([where[s] for s in smiles], dtype=np.int64)  # (N,) row of each molecule
    mult = np.bincount(idx, minlength=len(unique)) if len(unique) else np.zeros(0, np.int64)
    frags: Counter = Counter()
    scafs: Counter = Counter()
    for r, k in zip(rows, mult.tolist()):
        for f in r[2]:
            frags[f] += k
        if r[3] is not None:
            scafs[r[3]] += k
    fps = np.stack([r[1] for r in rows]) if rows else np.zeros((0, FP_BITS // 8), np.uint8)
    passes = np.array([bool(r[4]) for r in rows], dtype=bool)  # all False without filters
    return SetStats(
        n=len(smiles),
        fps=fps[idx],
        frags=frags,
        scafs=scafs,
        passes=passes[idx] if len(rows) else passes,
        props={
            k: np.array([r[5 + i] for r in rows], dtype=np.float64)[idx] if rows else np.zeros(0)
            for i, k in enumerate(PROPERTY_KEYS)
        },
    )


# ---- FCD --------------------------------------------------------------------------------------
_CHEMNET = None
FCD_PAD = 350  # ChemNet's input length (``fcd``'s default; longer SMILES lengthen every input)


def _chemnet() -> Any:
    global _CHEMNET
    if _CHEMNET is None:
        import fcd

        _CHEMNET = fcd.load_ref_model()
    return _CHEMNET


def _fcd_vocab() -> list[str] | None:
    """ChemNet's 35-symbol vocabulary as the installed fcd defines it (an fcd internal), or
    ``None`` when this fcd release lays its internals out differently."""
    try:
        from fcd import utils

        vocab = list(utils.__dict__["__vocab"])
        return vocab if callable(utils.tokenize) and "X" in vocab else None
    except (ImportError, KeyError, AttributeError, TypeError):
        return None


def _chemnet_inputs(smiles: list[str], pad_len: int, vocab: list[str]) -> Any:
    """ChemNet's input for a batch, built as ``fcd.utils.SmilesDataset`` builds it (one-hot of
    ``smiles + "."`` over fcd's 35-symbol vocabulary, unknown symbols as ``X``, zero-padded to
    ``pad_len``, divided by 35) but vectorised: ``(B, 35, pad_len)`` float32."""
    import torch
    from fcd import utils

    index = {t: i for i, t in enumerate(vocab)}
    unk = index["X"]
    rows, cols = [], []
    for b, s in enumerate(smiles):
        ids = [index.get(t, unk) for t in utils.tokenize(s + ".")]
        rows += [b] * len(ids)
        cols += [len(vocab) * p + i for p, i in enumerate(ids)]
    x = torch.zeros(len(smiles), pad_len * len(vocab))
    x[rows, cols] = float(np.float64(1.0) / len(vocab))  # the float64 1/35, rounded to float32
    return x.view(len(smiles), pad_len, len(vocab)).transpose(1, 2)


def _fcd_moments(
    smiles: list[str], device: str, batch_size: int = 128
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of ChemNet's penultimate activations over ``smiles`` (duplicates
    counted, each distinct SMILES run once), the values ``fcd.get_predictions`` gives."""
    import torch

    unique, counts = np.unique(np.asarray(smiles, dtype=object), return_counts=True)
    pad_len = max(FCD_PAD, max(len(s) for s in unique) + 1)
    if pad_len != FCD_PAD:
        logger.warning(
            "FCD: a SMILES longer than %d characters pads every ChemNet input to %d (as the fcd "
            "package does); FCD values are then not comparable with the usual ones",
            FCD_PAD - 1,
            pad_len,
        )
    model = _chemnet().to(device)
    vocab = _fcd_vocab()
    if vocab is None:  # another fcd layout: its own (slower) loader
        import warnings

        import fcd

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            act = fcd.get_predictions(
                model, list(unique), batch_size=batch_size, n_jobs=0, device=device
            )
    else:
        act = np.empty((len(unique), 512), dtype=np.float32)
        with torch.no_grad():
            for i in range(0, len(unique), batch_size):
                x = _chemnet_inputs(list(unique[i : i + batch_size]), pad_len, vocab).to(device)
                act[i : i + len(x)] = model(x).cpu().numpy()  # (b, 512)
    mu = (counts @ act.astype(np.float64)) / counts.sum()
    return mu, np.cov(act.T, fweights=counts)


def _frechet(
    mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray, eps: float = 1e-6
) -> float:
    """Fréchet distance between N(mu1, s1) and N(mu2, s2): ``|mu1 - mu2|^2 + Tr(s1 + s2 -
    2 sqrt(s1 s2))``, step for step as ``fcd.calculate_frechet_distance`` and fcd_torch (Dougal
    Sutherland's stable form, an ``eps`` ridge when the product's root is singular). Kept here
    because fcd passes SciPy's ``sqrtm(disp=...)``, which SciPy 1.18 removes."""
    from scipy import linalg

    diff = mu1 - mu2
    covmean = linalg.sqrtm(s1.dot(s2))
    if not np.isfinite(covmean).all() or not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
        offset = np.eye(s1.shape[0]) * eps
        covmean = linalg.sqrtm((s1 + offset).dot(s2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"FCD: imaginary component {np.max(np.abs(covmean.imag))}")
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


# ---- similarity math --------------------------------------------------------------------------
def _bits(fps: np.ndarray) -> Any:
    """Packed fingerprints ``(N, 128) uint8`` -> ``(N, 1024)`` int8 tensor of 0/1."""
    import torch

    return torch.from_numpy(np.unpackbits(np.ascontiguousarray(fps), axis=1).view(np.int8))


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
        try:
            probe = torch.ones(17, 8, dtype=torch.int8)
            _INT_MM = bool((torch._int_mm(probe, probe.T) == 8).all())
        except (AttributeError, RuntimeError, NotImplementedError):
            _INT_MM = False
    if _INT_MM and a.device.type == "cpu":
        return torch._int_mm(a, b_t)
    return a.float() @ b_t.float()


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


def tanimoto_max(gen_fps: np.ndarray, ref_fps: np.ndarray, block: int = 8192) -> np.ndarray:
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
    ref = _bits(ref_fps)  # (M, K) int8
    ref_count = ref.sum(1, dtype=torch.int32)  # (M,)
    order = torch.argsort(ref_count, stable=True)
    ref, ref_count = ref[order], ref_count[order]
    for i in range(0, len(gen_fps), block):
        g = _bits(gen_fps[i : i + block])  # (n, K)
        g_count = g.sum(1).float()  # (n,)
        g_t = g.T.contiguous()  # (K, n)
        best = torch.zeros(len(g))  # (n,) float32
        for j in range(0, len(ref), block):
            inter = _intersections(ref[j : j + block], g_t)  # (m, n) exact counts
            best = _group_max(inter, ref_count[j : j + block], g_count, best)
        out[i : i + len(g)] = best.numpy()
    return out


def tanimoto_mean(
    gen_fps: np.ndarray,
    ref_fps: np.ndarray | None = None,
    ps: Sequence[int] = (1,),
    block: int = 4096,
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
    acc = torch.zeros(len(ps), len(gen_fps), dtype=torch.float64)  # (P, N) sums over the reference
    ref = _bits(ref_fps)  # (M, K)
    ref_count = ref.sum(1).float()  # (M,)
    gen = ref if symmetric else _bits(gen_fps)  # (N, K)
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
    out = acc.numpy() / len(ref_fps)
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


def wasserstein_1d(u: np.ndarray, v: np.ndarray) -> float:
    """Wasserstein-1 distance between two samples (as ``scipy.stats.wasserstein_distance``)."""
    u, v = np.sort(np.asarray(u, float)), np.sort(np.asarray(v, float))
    if len(u) == 0 or len(v) == 0:
        return float("nan")
    values = np.sort(np.concatenate([u, v]))
    deltas = np.diff(values)
    u_cdf = np.searchsorted(u, values[:-1], "right") / len(u)
    v_cdf = np.searchsorted(v, values[:-1], "right") / len(v)
    return float(np.sum(np.abs(u_cdf - v_cdf) * deltas))


# ---- reference statistics and their cache ------------------------------------------------------
def _stats_path(key: str) -> Path:
    from molvae.data import cache_dir

    return cache_dir() / "reference" / f"{key}.npz"


def _save_stats(stats: SetStats, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = json.dumps(
        {"v": STATS_VERSION, "n": stats.n, "frags": stats.frags, "scafs": stats.scafs}
    )
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        np.savez(
            f,
            fps=stats.fps,
            passes=stats.passes,
            fcd_mu=stats.fcd_mu,
            fcd_sigma=stats.fcd_sigma,
            meta=np.array(meta),
            **{f"prop_{k}": v for k, v in stats.props.items()},
        )
    os.replace(tmp, path)


def _load_stats(path: Path) -> SetStats | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            if meta["v"] != STATS_VERSION:
                return None
            return SetStats(
                n=meta["n"],
                fps=z["fps"],
                frags=Counter(meta["frags"]),
                scafs=Counter(meta["scafs"]),
                passes=z["passes"],
                props={k: z[f"prop_{k}"] for k in PROPERTY_KEYS},
                fcd_mu=z["fcd_mu"],
                fcd_sigma=z["fcd_sigma"],
            )
    except Exception as err:  # a damaged cache is recomputed, never trusted
        logger.warning("ignoring unreadable reference cache %s: %s", path, err)
        return None


def reference_stats(
    smiles: Sequence[Any],
    n_jobs: int = 1,
    device: str = "cpu",
    cache: bool = True,
    progress: bool = False,
    name: str = "reference",
) -> SetStats:
    """Statistics of a reference set (valid molecules only, canonicalised), cached on disk."""
    from molvae._parallel import chunked, map_chunks

    values = list(smiles)
    key = hashlib.sha256(("\n".join(map(str, values)) + f"|v{STATS_VERSION}").encode()).hexdigest()[
        :24
    ]
    path = _stats_path(key)
    if cache and path.exists():
        stats = _load_stats(path)
        if stats is not None:
            logger.info("reference %s: cached statistics %s", name, path)
            return stats
    t0 = time.perf_counter()
    canon = [
        c
        for part in map_chunks(
            _canonical_chunk, chunked(values, 5000), n_jobs, progress, f"{name}: parse"
        )
        for c, _ in part
        if c is not None
    ]
    if not canon:
        raise ValueError(f"reference set {name!r} holds no valid molecule")
    # Filters is a metric of the generated set only: skip the costly filter matching here.
    stats = _set_stats(canon, n_jobs, progress, f"{name}: features", filters=False)
    stats.fcd_mu, stats.fcd_sigma = _fcd_moments(canon, device)
    logger.info(
        "reference %s: statistics of %d molecules in %.0f s",
        name,
        len(canon),
        time.perf_counter() - t0,
    )
    if cache:
        try:
            _save_stats(stats, path)
        except OSError as err:
            logger.warning("could not cache reference statistics at %s: %s", path, err)
    return stats


def _reference_sets(reference: str | dict[str, Sequence[Any]]) -> dict[str, list[Any]]:
    if isinstance(reference, dict):
        if not reference:
            raise ValueError("reference dict is empty; give {name: smiles, ...}")
        return {str(k): list(v) for k, v in reference.items()}
    if reference != "moses":
        raise ValueError(
            f"unknown reference {reference!r}; known references: {list(REFERENCE_NAMES)} "
            "(or a dict of name -> SMILES)"
        )
    from molvae import datasets

    return {key: datasets.load("moses", split).smiles.tolist() for key, split in MOSES_SETS.items()}


# ---- the metric set --------------------------------------------------------------------------------
def metric_keys(ref_names: Sequence[str], ks: Sequence[int] = (1000, 10000)) -> list[str]:
    keys = ["valid", *[f"unique@{k}" for k in ks]]
    for metric in ("FCD", "SNN", "Frag", "Scaf"):
        keys += [f"{metric}/{name}" for name in ref_names]
    return [*keys, "IntDiv", "IntDiv2", "Filters", "Novelty", *PROPERTY_KEYS]


def evaluate(
    gen: Sequence[Any],
    reference: str | dict[str, Sequence[Any]] = "moses",
    train: Sequence[str] | str | None = "auto",
    n_jobs: int = 1,
    device: str = "cpu",
    ks: Sequence[int] = (1000, 10000),
    progress: bool = False,
    details: bool = False,
) -> dict[str, float | None] | tuple[dict[str, float | None], dict[str, Any]]:
    """MOSES metrics of a generated set.

    Args:
        gen: generated SMILES, one entry per sample (``None``, ``""`` and junk count as invalid).
        reference: ``"moses"`` (test and scaffold-test sets, keys ``.../Test`` and ``.../TestSF``)
            or a dict ``{name: smiles}`` (keys ``FCD/<name>``...; properties use the first set).
        train: training SMILES for ``Novelty``; ``"auto"`` = the MOSES train set when
            ``reference="moses"``, else no novelty; ``None`` = no novelty.
        n_jobs: worker processes for RDKit work.
        device: torch device for ChemNet (FCD).
        ks: the ``k`` of ``unique@k``.
        details: also return counts (samples, valid, invalid by reason, duplicates) and timings.

    Returns:
        dict with the MOSES keys; a metric that is undefined (no valid molecule, fewer than two for
        FCD, no scaffold) is ``None``.

    Raises:
        ValueError: an unknown reference name (lists the known ones).
    """
    from molvae._parallel import chunked, map_chunks

    t0 = time.perf_counter()
    refs = _reference_sets(reference)
    values = list(gen.tolist() if hasattr(gen, "tolist") else gen)
    keys = metric_keys(list(refs), ks)
    result: dict[str, float | None] = dict.fromkeys(keys)
    parsed = [
        r
        for part in map_chunks(_canonical_chunk, chunked(values, 5000), n_jobs, progress, "parse")
        for r in part
    ]
    reasons = Counter(reason for _, reason in parsed if reason is not None)
    valid = [c for c, _ in parsed if c is not None]
    counts: dict[str, Any] = {
        "samples": len(values),
        "valid": len(valid),
        "invalid": dict(reasons),
        "duplicates": len(valid) - len(set(valid)),
    }
    if not values:
        logger.warning("evaluate: empty input; every metric is undefined")
        return (result, counts) if details else result
    result["valid"] = len(valid) / len(values)
    if not valid:
        logger.warning(
            "evaluate: no valid molecule among %d samples; other metrics are undefined", len(values)
        )
        return (result, counts) if details else result
    for k in ks:
        if len(valid) < k:
            logger.warning("unique@%d: only %d valid molecules; computed over those", k, len(valid))
        first = valid[:k]
        result[f"unique@{k}"] = len(set(first)) / len(first)

    ref_stats = {
        name: reference_stats(smiles, n_jobs=n_jobs, device=device, progress=progress, name=name)
        for name, smiles in refs.items()
    }
    seconds: dict[str, float] = {}
    clock = [t0]

    def lap(name: str) -> None:
        now = time.perf_counter()
        seconds[name] = round(now - clock[0], 2)
        clock[0] = now

    lap("parse_and_reference")
    g = _set_stats(valid, n_jobs, progress, "features")
    lap("features")
    _torch_metrics(result, g, valid, ref_stats, device, lap)
    result["Novelty"] = _novelty(valid, train, reference)
    lap("novelty")
    result["Filters"] = float(np.mean(g.passes))
    first_ref = ref_stats[next(iter(ref_stats))]
    for k in PROPERTY_KEYS:
        result[k] = wasserstein_1d(first_ref.props[k], g.props[k])
    seconds["total"] = round(time.perf_counter() - t0, 2)
    counts["seconds"] = seconds
    logger.info(
        "evaluate: %d samples, %d valid, invalid %s, %d duplicates, %.1f s",
        len(values),
        len(valid),
        dict(reasons),
        counts["duplicates"],
        counts["seconds"]["total"],
    )
    return (result, counts) if details else result


def _torch_metrics(
    result: dict[str, float | None],
    g: SetStats,
    valid: list[str],
    ref_stats: dict[str, SetStats],
    device: str,
    lap: Any,
) -> None:
    """FCD, SNN, Frag, Scaf and IntDiv into ``result``."""
    if len(valid) >= 2:
        g_mu, g_sigma = _fcd_moments(valid, device)
    lap("fcd")
    for name, r in ref_stats.items():
        if len(valid) >= 2:
            result[f"FCD/{name}"] = _frechet(g_mu, g_sigma, r.fcd_mu, r.fcd_sigma)
        result[f"SNN/{name}"] = float(np.mean(tanimoto_max(g.fps, r.fps)))
        result[f"Frag/{name}"] = _none_if_nan(cosine_similarity_counts(r.frags, g.frags))
        result[f"Scaf/{name}"] = _none_if_nan(cosine_similarity_counts(r.scafs, g.scafs))
    lap("snn_frag_scaf")
    div1, div2 = tanimoto_mean(g.fps, None, ps=(1, 2))
    result["IntDiv"] = 1 - float(np.mean(div1))
    result["IntDiv2"] = 1 - float(np.mean(div2))
    lap("intdiv")


def _novelty(valid: list[str], train: Sequence[str] | str | None, reference: Any) -> float | None:
    """Fraction of the unique valid samples absent from the training set (``None``: no train)."""
    train_set = _train_set(train, reference)
    if train_set is None:
        return None
    unique = set(valid)
    return len(unique - train_set) / len(unique)


def _none_if_nan(x: float) -> float | None:
    return None if x is None or math.isnan(x) else x


def _train_set(train: Sequence[str] | str | None, reference: Any) -> set[str] | None:
    if train is None:
        return None
    if isinstance(train, str):
        if train != "auto":
            from molvae.data import read_smiles

            return set(read_smiles(train).tolist())
        if reference != "moses":
            logger.info("Novelty needs a training set (train=...); left undefined")
            return None
        from molvae import datasets

        return set(datasets.load("moses", "train").smiles.tolist())
    return set(train)
