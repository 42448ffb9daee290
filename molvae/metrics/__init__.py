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

import logging
import math
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from molvae.metrics.fcd import fcd_moments, frechet
from molvae.metrics.features import PROPERTY_KEYS, SetStats, set_stats
from molvae.metrics.reference import MOSES_SETS, REFERENCE_NAMES, reference_sets, reference_stats
from molvae.metrics.similarity import (
    cosine_similarity_counts,
    tanimoto_agg,
    tanimoto_max,
    tanimoto_mean,
)

logger = logging.getLogger(__name__)

MOSES_SAMPLES = 30_000  # samples per evaluation in MOSES's protocol (its README)

__all__ = [
    "MOSES_SETS",
    "PROPERTY_KEYS",
    "REFERENCE_NAMES",
    "cosine_similarity_counts",
    "evaluate",
    "metric_keys",
    "quick_signal",
    "reference_moments",
    "reference_stats",
    "tanimoto_agg",
    "tanimoto_max",
    "tanimoto_mean",
]


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
        gen: generated SMILES, one entry per sample (``None``, ``""`` and junk count as invalid;
            one string is one sample).
        reference: ``"moses"`` (test and scaffold-test sets, keys ``.../Test`` and ``.../TestSF``)
            or a dict ``{name: smiles}`` (keys ``FCD/<name>``...; properties use the first set).
        train: training SMILES for ``Novelty``; ``"auto"`` = the MOSES train set when
            ``reference="moses"``, else no novelty; ``None`` = no novelty.
        n_jobs: worker processes for RDKit work.
        device: torch device for ChemNet (FCD) and the Tanimoto products (SNN, IntDiv); RDKit
            features always run in worker processes.
        ks: the ``k`` of ``unique@k``.
        details: also return counts (samples, valid, invalid by reason, duplicates) and timings.

    Returns:
        dict with the MOSES keys; a metric that is undefined (no valid molecule, fewer than two for
        FCD, no scaffold) is ``None``.

    Raises:
        ValueError: an unknown reference name (lists the known ones).
    """
    from molvae.chem import canonical_forms, smiles_list

    t0 = time.perf_counter()
    refs = reference_sets(reference)
    values = smiles_list(gen)
    keys = metric_keys(list(refs), ks)
    result: dict[str, float | None] = dict.fromkeys(keys)
    forms, why = canonical_forms(values, n_jobs, progress=progress, desc="parse")
    reasons = Counter(reason for reason in why if reason is not None)
    valid = [c for c in forms if c is not None]
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
    result.update(_unique_at(valid, ks))

    if reference == "moses" and len(values) < MOSES_SAMPLES:
        logger.warning(
            "evaluate: %d samples; MOSES's protocol uses %d (FCD and Scaf depend on the sample "
            "size: compare only with figures for the same number of samples)",
            len(values),
            MOSES_SAMPLES,
        )
    ref_stats = _reference_stats(refs, reference, n_jobs, device, progress)
    seconds: dict[str, float] = {}
    clock = [t0]

    def lap(name: str) -> None:
        now = time.perf_counter()
        seconds[name] = round(now - clock[0], 2)
        clock[0] = now

    lap("parse_and_reference")
    g = set_stats(valid, n_jobs, progress, "features")
    lap("features")
    _torch_metrics(result, g, valid, ref_stats, device, lap)
    result["Novelty"] = _novelty(valid, train, reference)
    lap("novelty")
    result["Filters"] = float(np.mean(g.passes))
    first_ref = ref_stats[next(iter(ref_stats))]
    for k in PROPERTY_KEYS:
        result[k] = _wasserstein(first_ref.props[k], g.props[k])
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


def _unique_at(valid: list[str], ks: Sequence[int]) -> dict[str, float]:
    """``unique@k``: the share of distinct molecules among the first ``k`` valid ones (over all
    of them, with a warning, when there are fewer)."""
    out = {}
    for k in ks:
        if len(valid) < k:
            logger.warning("unique@%d: only %d valid molecules; computed over those", k, len(valid))
        first = valid[:k]
        out[f"unique@{k}"] = len(set(first)) / len(first)
    return out


def _reference_stats(
    refs: dict[str, Sequence[str]], reference: Any, n_jobs: int, device: str, progress: bool
) -> dict[str, SetStats]:
    """Each reference set's statistics (the MOSES sets' ship with molvae)."""
    return {
        name: reference_stats(
            smiles,
            n_jobs=n_jobs,
            device=device,
            progress=progress,
            name=name,
            shipped=_shipped_source(reference, name),
        )
        for name, smiles in refs.items()
    }


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
        g_mu, g_sigma = fcd_moments(valid, device)
    lap("fcd")
    for name, r in ref_stats.items():
        if len(valid) >= 2:
            result[f"FCD/{name}"] = _none_if_nan(frechet(g_mu, g_sigma, r.fcd_mu, r.fcd_sigma))
        result[f"SNN/{name}"] = float(np.mean(tanimoto_max(g.fps, r.fps, device=device)))
        result[f"Frag/{name}"] = _none_if_nan(cosine_similarity_counts(r.frags, g.frags))
        result[f"Scaf/{name}"] = _none_if_nan(cosine_similarity_counts(r.scafs, g.scafs))
    lap("snn_frag_scaf")
    div1, div2 = tanimoto_mean(g.fps, None, ps=(1, 2), device=device)
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


def _shipped_source(reference: Any, name: str) -> tuple[str, Any] | None:
    """``(split, bundled file)`` of a MOSES reference set, whose statistics ship with molvae."""
    if reference != "moses":
        return None
    from molvae import datasets

    split = MOSES_SETS[name]
    return split, datasets.path("moses", split)


def _wasserstein(u: np.ndarray, v: np.ndarray) -> float | None:
    """Wasserstein-1 distance of two samples (MOSES uses SciPy's too); ``None`` if one is empty."""
    from scipy.stats import wasserstein_distance

    if len(u) == 0 or len(v) == 0:
        return None
    return float(wasserstein_distance(u, v))


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


def quick_signal(
    samples: Sequence[Any],
    reference_moments: tuple[np.ndarray, np.ndarray] | None,
    device: str = "cpu",
) -> dict[str, float]:
    """A cheap distribution signal for training logs (a few thousand samples, a few seconds).

    ``valid``, ``unique`` (unique fraction of the valid canonical SMILES), ``filters`` (fraction
    of valid samples passing the MOSES filters) and ``fcd`` (Fréchet ChemNet Distance of the valid
    samples to ``reference_moments``, from :func:`reference_moments`; NaN with fewer than 2
    valid samples). Biased upwards at small sizes: compare runs at the same sample count.
    """
    from molvae.chem import canonical_forms, passes_moses_filters, to_mol

    canon = canonical_forms(list(samples), 1)[0]
    valid = [c for c in canon if c is not None]
    result = {
        "valid": len(valid) / max(len(canon), 1),
        "unique": len(set(valid)) / max(len(valid), 1),
        "filters": float(np.mean([passes_moses_filters(to_mol(c)) for c in valid]))
        if valid
        else math.nan,
        "fcd": math.nan,
    }
    if reference_moments is not None and len(valid) >= 2:
        mu, sigma = fcd_moments(valid, device)
        result["fcd"] = frechet(mu, sigma, *reference_moments)
    return result


def reference_moments(smiles: Sequence[str], device: str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """ChemNet moments of a reference set (e.g. the validation molecules) for :func:`quick_signal`."""
    from molvae.chem import canonical_forms

    canon = [c for c in canonical_forms(list(smiles), 1)[0] if c is not None]
    return fcd_moments(canon, device)
