"""The book-keeping of a latent-space search (``molvae.optimize.search``): the region the model
knows (points whose log-density under the model's prior falls below a floor are refused before
they are decoded), greedy decoding of proposals, constraints checked before the objective is
called, one objective call per unique feasible molecule, and the counts the result reports.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import torch

from molvae.chem import PROPERTIES, fingerprint, passes_moses_filters, to_mol
from molvae.device import torch_generator

logger = logging.getLogger(__name__)


class Search:
    """Book-keeping shared by the search methods: decoding, constraints, the objective, the
    budget, every molecule seen (``seen``) and the counts ``optimize`` reports."""

    def __init__(self, gen, objective, budget, start, min_similarity, ranges, filters,
                 region, max_decodes, batch_size, seed, progress):  # fmt: skip
        self.gen, self.objective, self.budget = gen, objective, int(budget)
        self.ranges, self.filters, self.min_similarity = ranges, filters, min_similarity
        self.max_decodes = int(max_decodes)
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed)
        self.torch_gen = torch_generator(seed, gen.device)
        self.calls = self.failed = self.decodes = self.invalid = self.refused = 0
        self.infeasible = 0
        self.seen: dict[str, dict[str, Any]] = {}  # canonical SMILES -> record
        self.lowest = math.inf  # lowest objective value scored so far (for infeasible fitness)
        self.failures: list[dict[str, Any]] = []
        self.start_smiles, self.start_fp, self.start_z = None, None, None
        self.start_value, self.scale = None, None
        if start is not None:
            mu, logvar = gen.posterior(start)  # raises TokenizerError quoting the input
            self.start_z = mu.double().cpu().numpy()[None]
            # steps around a start are measured in its posterior standard deviations: the
            # informative dimensions are narrow, the others wide
            self.scale = (0.5 * logvar.double()).exp().cpu().numpy()
            self.start_smiles = start
            self.start_fp = fingerprint(start)
        self.prior = gen.prior if gen.prior is not None else None
        if self.scale is None:  # steps in the prior's own standard deviation per coordinate
            self.scale = (
                self.prior.marginal_std().cpu().numpy()
                if self.prior is not None
                else np.ones(gen.latent_dim)
            )
        self.floor = self._region_floor(region)
        from tqdm.auto import tqdm

        self.bar = tqdm(total=self.budget, desc="optimising", unit="call", disable=not progress)

    # the region the model knows ----------------------------------------------------------------
    def log_prior(self, z: torch.Tensor) -> torch.Tensor:
        if self.prior is not None:
            return self.prior.log_prob(z)
        return -0.5 * (z**2).sum(-1) - 0.5 * z.shape[-1] * math.log(2 * math.pi)

    def prior_draws(self, n: int) -> np.ndarray:
        if self.prior is not None:
            return self.prior.sample(n, generator=self.torch_gen).cpu().double().numpy()
        return self.rng.standard_normal((n, self.gen.latent_dim))

    def _region_floor(self, region: float | None) -> float:
        if region is None:
            return -math.inf
        draws = torch.as_tensor(self.prior_draws(2000))
        return float(np.quantile(self.log_prior(draws).numpy(), region))

    # scoring ----------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        """The budget is spent, or ``max_decodes`` points were decoded, or five times as many
        were proposed (refused points decode nothing: a search that proposes only those ends)."""
        return (
            self.calls >= self.budget
            or self.decodes >= self.max_decodes
            or self.decodes + self.refused >= 5 * self.max_decodes
        )

    def evaluate(
        self, z: np.ndarray, origin: str, sampled: bool = False
    ) -> list[dict[str, Any] | None]:
        """Score latent points ``(N, Z)``; one record per point (None: refused or invalid).
        ``sampled``: decode by sampling tokens (temperature 1) instead of greedily."""
        z = np.asarray(z, dtype=np.float64).reshape(-1, self.gen.latent_dim)
        logp = self.log_prior(torch.as_tensor(z)).numpy()
        inside = logp >= self.floor
        # refused points carry how far outside they are, so a search is pulled back in
        out: list[dict[str, Any] | None] = [
            None if ok else {"refused": float(self.floor - lp)} for ok, lp in zip(inside, logp)
        ]
        idx = np.flatnonzero(inside)
        self.refused += int((~inside).sum())
        if len(idx) == 0:
            return out
        self.decodes += len(idx)
        decoded = self.gen.decode(
            z[idx].astype(np.float32),
            method="multinomial" if sampled else "greedy",
            batch_size=self.batch_size,
            generator=self.torch_gen,
        )
        for i, canon in zip(idx, decoded.canonical):
            if canon is None:
                self.invalid += 1
                continue
            rec = self.seen.get(canon)
            if rec is None:
                mol = to_mol(canon)
                if mol is None:  # RDKit cannot read back its own canonical SMILES (rare)
                    self.invalid += 1
                    continue
                if self.done:
                    continue
                rec = self._score(canon, mol, z[i], origin)
            out[i] = rec
        return out

    def _score(self, smiles: str, mol: Any, z: np.ndarray, origin: str) -> dict[str, Any]:
        rec: dict[str, Any] = {"smiles": smiles, "z": z.astype(np.float32), "origin": origin,
                               "feasible": True, "violation": 0.0, "objective": None}  # fmt: skip
        if self.start_fp is not None:
            from molvae.chem import tanimoto

            rec["similarity"] = tanimoto(self.start_fp, fingerprint(mol))
            if self.min_similarity is not None and rec["similarity"] < self.min_similarity:
                rec["violation"] += self.min_similarity - rec["similarity"]
        for name, (lo, hi) in self.ranges.items():
            v = float(PROPERTIES[name](mol))
            rec[name] = v
            if not lo <= v <= hi:
                rec["violation"] += (lo - v if v < lo else v - hi) / max(abs(hi - lo), 1.0)
        if self.filters:  # a constraint: checked on every molecule (else only on those returned)
            rec["passes_filters"] = bool(passes_moses_filters(mol))
            if not rec["passes_filters"]:
                rec["violation"] += 1.0
        rec["feasible"] = rec["violation"] == 0.0
        if rec["feasible"]:  # the objective is called only on molecules that could be returned
            self.calls += 1
            rec["evaluation"] = self.calls
            try:
                rec["objective"], props = self.objective(smiles, mol)
                self.lowest = min(self.lowest, rec["objective"])
                rec.update(props)
            except Exception as err:  # a user's objective failing on one molecule: counted
                self.failed += 1
                rec["feasible"] = False
                rec["error"] = f"{type(err).__name__}: {err}"[:200]
                self.failures.append({"smiles": smiles, "error": rec["error"]})
                logger.debug("objective failed on %s: %s", smiles, rec["error"])
            self.bar.update(1)
        else:
            self.infeasible += 1
        self.seen[smiles] = rec
        return rec

    def fitness(self, rec: dict[str, Any] | None) -> float:
        """A number to maximise: the objective when feasible, else below every feasible value."""
        floor = (self.lowest if math.isfinite(self.lowest) else 0.0) - 1.0
        if rec is None:
            return floor - 10.0
        if "refused" in rec:
            return floor - 20.0 - rec["refused"]
        if rec["objective"] is None:
            return floor - 1.0 - rec["violation"]
        return rec["objective"]

    def best(self, k: int = 1) -> list[dict[str, Any]]:
        good = [r for r in self.seen.values() if r["objective"] is not None]
        return sorted(good, key=lambda r: -r["objective"])[:k]

    def initial_design(self, n: int, radius: float) -> None:
        if self.start_z is not None:
            self.evaluate(self.start_z, "start")
            # half the design decodes draws of q(z|start) by sampling tokens: close variants of
            # the start even where greedy decoding does not reconstruct it
            k = n // 2
            eps = self.rng.standard_normal((k, self.gen.latent_dim))
            self.evaluate(self.start_z + self.scale * eps, "posterior", sampled=True)
            z = self.start_z + radius * self.scale * self.rng.standard_normal(
                (n - k, self.gen.latent_dim)
            )
        else:
            z = self.prior_draws(n)
        self.evaluate(z, "initial")
