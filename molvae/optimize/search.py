"""Property-guided search of the latent space: ``gen.optimize(...)`` and ``molvae optimize``.

A search proposes latent points, decodes each greedily, and scores the decoded molecule with the
*true* objective (never a surrogate): property names from :data:`molvae.chem.PROPERTIES` with
weights (``"qed - 0.1*sa"``), or any Python callable ``SMILES -> float`` (a docking score, a QSAR
model). The budget is the number of objective calls; a molecule is scored once (repeats are looked
up), and constraints (similarity to a start molecule, property ranges, the MOSES filters) are
checked before the objective is called, so an expensive objective is never spent on a molecule
that could not be returned.

Methods:

- ``"cmaes"``: CMA-ES over z (the ``cmaes`` package), from the start molecule's code or the best
  of an initial design drawn from the model's prior; restarts with a wider step when a run stalls.
- ``"gradient"``: a surrogate MLP fitted from z to the objective values seen so far
  (:class:`PropertyPredictor`), gradient ascent on it from the best points found, the true
  objective scored along the paths, the surrogate refitted as data arrive.
- ``"random"``: draws from the prior (or around the start molecule): the baseline.

All methods keep the search where the model knows molecules: a point whose log-density under the
model's prior (the learned prior when there is one, else N(0, I)) falls below the ``region``
quantile of the prior's own draws is refused before it is decoded.

Example:
    >>> best = gen.optimize("qed", n=10, budget=500, seed=0)          # doctest: +SKIP
    >>> best = gen.optimize(my_docking, start="CCO", min_similarity=0.4)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from molvae.checks import check_count, check_number
from molvae.chem import passes_moses_filters, to_mol
from molvae.constants import SEARCH_METHODS
from molvae.optimize.bookkeeping import Search
from molvae.optimize.objective import check_ranges, parse_objective
from molvae.optimize.predictor import PropertyPredictor

if TYPE_CHECKING:  # pragma: no cover
    from molvae.codec import Codec

logger = logging.getLogger(__name__)

METHODS = SEARCH_METHODS  # the older name


def _run_cmaes(s: Search, sigma: float, population: int | None, n_init: int) -> None:
    """CMA-ES with restarts that adapt to what the last run ran into: a run whose generations fall
    mostly outside the model's region restarts with half the step (it was too long there); a run
    whose generations decode only molecules already seen (converged: the whole step lies inside
    one molecule's basin of greedy decoding) restarts with a longer step around another of the
    best molecules, or a fresh prior draw, instead of decoding the same molecule again."""
    from cmaes import CMA

    s.initial_design(n_init, sigma)
    restarts, sigma_now = 0, sigma
    while not s.done:
        top = s.best(8)
        if s.start_z is not None and (restarts == 0 or not top):
            mean = s.start_z[0]
        elif top and (s.start_z is not None or restarts % 4 != 3):
            mean = top[restarts % len(top)]["z"].astype(np.float64)  # around one of the best
        else:
            mean = s.prior_draws(1)[0]  # every fourth restart elsewhere (no start: explore)
        opt = CMA(mean=mean, sigma=sigma_now, population_size=population,
                  cov=np.diag(s.scale**2), seed=int(s.rng.integers(2**31)))  # fmt: skip
        best_before = s.fitness(top[0]) if top else -math.inf
        stale = outside = dry = 0
        while not s.done and stale < 8 and outside < 3 and dry < 3:
            xs = np.stack([opt.ask() for _ in range(opt.population_size)])
            known = len(s.seen)
            recs = s.evaluate(xs, f"cmaes{restarts}")
            opt.tell([(x, -s.fitness(r)) for x, r in zip(xs, recs)])
            best = s.best(1)
            now = s.fitness(best[0]) if best else -math.inf
            stale = 0 if now > best_before else stale + 1
            best_before = max(best_before, now)
            refused = sum(1 for r in recs if r is not None and "refused" in r)
            outside = outside + 1 if refused > len(recs) // 2 else 0
            dry = dry + 1 if len(s.seen) == known else 0  # nothing new decoded
            if opt.should_stop():
                break
        restarts += 1
        if outside >= 3:
            sigma_now = max(sigma_now / 2, sigma / 16)
        elif dry >= 3:
            sigma_now = min(sigma_now * 1.5, sigma * 4)
        else:  # alternate local and wider restarts
            sigma_now = sigma * (1.5 if restarts % 2 else 1.0)


def _run_gradient(s: Search, sigma: float, n_init: int, steps: int, lr: float, top_k: int) -> None:
    s.initial_design(n_init, sigma)
    rounds = 0
    while not s.done:
        data = [r for r in s.seen.values() if r["objective"] is not None]
        if len(data) < 8:  # not enough to fit a surrogate: explore more
            s.initial_design(max(n_init // 2, 16), sigma * 1.5)
            rounds += 1
            if rounds > 50:
                break
            continue
        z = np.stack([r["z"] for r in data])
        y = np.array([r["objective"] for r in data])[:, None]
        surrogate = PropertyPredictor(s.gen.latent_dim, ["objective"], hidden=128)
        surrogate.fit(z, y, epochs=200, seed=int(s.rng.integers(2**31)), val_fraction=0.0)
        starts = np.stack([r["z"] for r in s.best(top_k)])
        zt = torch.tensor(starts, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.Adam([zt], lr=lr)
        surrogate.double()
        calls_before = s.calls
        for step in range(steps):
            opt.zero_grad()
            pred = surrogate(zt).squeeze(-1)
            # stay where the model knows molecules: a hinge on the prior's log-density
            penalty = torch.relu(s.floor - s.log_prior(zt)) if math.isfinite(s.floor) else 0.0
            (-(pred - penalty).sum()).backward()
            opt.step()
            if step % 2 == 1:
                jitter = 0.05 * s.rng.standard_normal(zt.shape)
                s.evaluate(zt.detach().numpy() + jitter, f"gradient{rounds}")
                if s.done:
                    break
        if s.calls == calls_before:  # the paths found nothing new: explore around the best
            best = s.best(top_k)
            z0 = np.stack([r["z"] for r in best]) if best else s.prior_draws(top_k)
            scale = sigma * s.scale
            s.evaluate(z0 + scale * s.rng.standard_normal(z0.shape), f"explore{rounds}")
        rounds += 1


def _run_random(s: Search, sigma: float) -> None:
    while not s.done:
        n = 64
        if s.start_z is not None:
            z = s.start_z + sigma * s.scale * s.rng.standard_normal((n, s.gen.latent_dim))
        else:  # the baseline: draws of the prior itself
            z = s.prior_draws(n)
        s.evaluate(z, "random")


def optimize(
    gen: Codec,
    objective: Any,
    n: int = 100,
    budget: int = 2000,
    method: str = "cmaes",
    start: str | None = None,
    min_similarity: float | None = None,
    constraints: Mapping[str, Any] | None = None,
    filters: bool = False,
    region: float | None = 0.01,
    sigma: float | None = None,
    population: int | None = None,
    n_init: int | None = None,
    max_decodes: int | None = None,
    seed: int = 0,
    progress: bool = True,
) -> pd.DataFrame:
    """Search the latent space for molecules that maximise ``objective``.

    Args:
        objective: property expression (``"qed"``, ``"penalized_logp"``, ``"qed - 0.1*sa"``), a
            mapping ``{property: weight}``, or a callable ``SMILES -> float`` (higher is better).
            A callable that raises or returns NaN/inf counts that molecule as failed (reported in
            ``attrs["failed"]`` and ``attrs["failures"]``) and the search goes on.
        n: how many of the best unique molecules to return.
        budget: objective calls (each unique feasible molecule is scored once).
        method: ``"cmaes"``, ``"gradient"`` or ``"random"`` (see the module docstring).
        start: a SMILES to start from (its code is the search's centre); also the reference of
            ``similarity`` and ``min_similarity``.
        min_similarity: Tanimoto (Morgan r=2, 2048 bits) to ``start`` that a result must reach.
        constraints: ``{property: (low, high)}`` ranges a result must satisfy (None = open).
        filters: results must pass the MOSES filters (``passes_filters`` is reported either way).
        region: quantile of the prior's log-density below which points are refused (None: off).
        sigma: CMA-ES initial step and exploration radius (default 1.0): in the prior's standard
            deviation of each latent coordinate (the learned prior's, when the model has one), or
            with ``start`` in that molecule's posterior standard deviations per coordinate.
        population: CMA-ES population (default ``budget / 40`` within 16..48: one batch of
            decoding per generation).
        n_init: size of the initial design (default ``min(budget // 4, 200)``).
        max_decodes: stop after this many decoded points even if the budget is not spent
            (default ``50 * budget``).
        seed: the search is reproducible for a given seed (and deterministic objective).

    Returns:
        DataFrame sorted best first: ``smiles`` (canonical), ``objective``, the objective's and the
        constraints' properties, ``similarity`` (with ``start``), ``passes_filters``,
        ``evaluation`` (the call that found it), ``origin``, ``z`` (the latent point, a float32
        array). ``attrs``: ``calls``, ``failed``, ``failures``, ``decodes``, ``invalid``,
        ``refused``, ``infeasible``, ``method``, ``objective``, ``start_objective``.

    Raises:
        ValueError: unknown method, property or objective expression; bad bounds.
        TokenizerError: a ``start`` that cannot be encoded (the message points at the token).
    """
    if method not in SEARCH_METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {list(SEARCH_METHODS)}")
    budget, n = check_count("budget", budget), check_count("n", n)
    if min_similarity is not None and start is None:
        raise ValueError("min_similarity needs a start molecule")
    if min_similarity is not None:
        min_similarity = check_number("min_similarity", min_similarity, 0.0, 1.0)
    if sigma is None:
        sigma = 1.0
    sigma = check_number("sigma", sigma, 0.0, 10.0, low_open=True)
    if region is not None:
        region = check_number("region", region, 0.0, 0.999)
    n_init = None if n_init is None else check_count("n_init", n_init)
    # larger generations decode in one batch (the small network's decoding time is per call, not
    # per molecule): 48 for budgets of 2,000 calls and more, 16 for small ones
    population = (
        max(16, min(48, budget // 40))
        if population is None
        else check_count("population", population, low=2)
    )
    max_decodes = None if max_decodes is None else check_count("max_decodes", max_decodes)
    obj = parse_objective(objective)
    ranges = check_ranges(constraints)
    n_init = int(n_init if n_init is not None else max(min(budget // 4, 200), 8))
    s = Search(gen, obj, budget, start, min_similarity, ranges, filters, region,
                max_decodes or 50 * budget, 500, seed, progress)  # fmt: skip
    try:
        if method == "cmaes":
            _run_cmaes(s, sigma, population, n_init)
        elif method == "gradient":
            _run_gradient(s, sigma, n_init, steps=20, lr=0.05, top_k=16)
        else:
            _run_random(s, sigma)
    finally:
        s.bar.close()
    s.start_value = _start_value(s, obj)
    rows = s.best(n)
    table = _result_table(s, rows, obj, ranges, method)
    logger.info(
        "optimize %s (%s): %d objective calls (%d failed), %d decoded points (%d invalid, %d "
        "infeasible), %d refused outside the prior's region; best %s",
        obj.label, method, s.calls, s.failed, s.decodes, s.invalid, s.infeasible, s.refused,
        f"{rows[0]['objective']:.3f}" if rows else "none",
    )  # fmt: skip
    return table


def _start_value(s: Search, obj: Any) -> float | None:
    """The objective of the start molecule (None without one, or where it cannot be scored):
    informative only, so a failure is not an error."""
    if s.start_smiles is None:
        return None
    from molvae.chem import canonical

    rec = s.seen.get(canonical(s.start_smiles) or "")
    if rec is not None:
        return rec["objective"]
    try:
        return obj(canonical(s.start_smiles), to_mol(s.start_smiles))[0]
    except Exception:
        return None


def _result_table(
    s: Search, rows: list[dict[str, Any]], obj: Any, ranges: dict[str, Any], method: str
) -> pd.DataFrame:
    """The best records as ``optimize`` returns them, with the search's counts in ``attrs``."""
    for r in rows:
        if "passes_filters" not in r:
            r["passes_filters"] = bool(passes_moses_filters(to_mol(r["smiles"])))
    keep = ["smiles", "objective", *obj.properties, *ranges]
    if s.start_fp is not None:
        keep.append("similarity")
    keep += ["passes_filters", "evaluation", "origin", "z"]
    keep = list(dict.fromkeys(keep))
    table = pd.DataFrame([{k: r.get(k) for k in keep} for r in rows], columns=keep)
    table.attrs.update(
        method=method,
        objective=obj.label,
        calls=s.calls,
        failed=s.failed,
        failures=s.failures[:100],
        decodes=s.decodes,
        invalid=s.invalid,
        refused=s.refused,
        infeasible=s.infeasible,
        start=s.start_smiles,
        start_objective=s.start_value,
    )
    return table
