"""A learned prior: a Gaussian mixture fitted to the aggregate posterior, stored as plain data.

A VAE's decoder is only good where the encoder puts training molecules. With the small KL weights
that keep reconstruction usable, those codes fill a thin part of N(0, I), and most prior draws
decode to molecules unlike the data (the recipe issue's measurements). Sampling instead from a
model of the *aggregate posterior* q(z) = mean over x of q(z|x) keeps samples on the data manifold
without giving up reconstruction ("two-stage" VAE sampling; Dai & Wipf 2019, Ghosh et al. 2020).

:class:`GaussianMixturePrior` is fitted by expectation-maximisation on draws ``z ~ q(z|x)`` of
training molecules (full covariances, k-means++ initialisation, a small ridge on each covariance).
It is a handful of tensors (``K * Z * Z`` floats: 0.5 MB for 32 components of 64 dimensions) that
the checkpoint stores next to the weights and loads with ``weights_only=True``.

Example:
    >>> gen.fit_prior(train_smiles[:20000])             # or trained by ``fit`` automatically
    >>> gen.sample(10000, prior="learned")
"""

from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass, field
from typing import Any

import torch

from molvae.constants import MAX_SPREAD
from molvae.device import torch_generator

logger = logging.getLogger(__name__)

KIND = "gaussian_mixture"


@dataclass
class GaussianMixturePrior:
    """``p(z) = sum_k weights[k] N(z; means[k], spread^2 * scale_tril[k] @ scale_tril[k].T)``.

    Shapes: ``weights (K,)``, ``means (K, Z)``, ``scale_tril (K, Z, Z)`` (lower-triangular
    Cholesky factors of full covariances, from :meth:`fit`) or ``(K, Z)`` (standard deviations of
    diagonal ones, from :meth:`from_posteriors`). ``spread`` widens every component when sampling
    (1: as fitted). ``info`` records how it was made (plain data).
    """

    weights: torch.Tensor
    means: torch.Tensor
    scale_tril: torch.Tensor
    info: dict[str, Any] = field(default_factory=dict)
    spread: float = 1.0

    def __post_init__(self) -> None:
        k, z = self.means.shape
        if not math.isfinite(self.spread) or self.spread <= 0:
            raise ValueError(f"spread must be a positive finite number, got {self.spread!r}")
        if self.weights.shape != (k,) or self.scale_tril.shape not in ((k, z, z), (k, z)):
            raise ValueError(
                f"inconsistent mixture: weights {tuple(self.weights.shape)}, means "
                f"{tuple(self.means.shape)}, scale_tril {tuple(self.scale_tril.shape)}"
            )
        if not all(torch.isfinite(t).all() for t in (self.weights, self.means, self.scale_tril)):
            raise ValueError("mixture parameters hold NaN or infinite values")

    @property
    def diagonal(self) -> bool:
        return self.scale_tril.ndim == 2

    @property
    def n_components(self) -> int:
        return int(self.means.shape[0])

    @property
    def dim(self) -> int:
        return int(self.means.shape[1])

    def deck(self, generator: torch.Generator | None = None) -> ComponentDeck:
        """A :class:`ComponentDeck` over this mixture's weights: pass it to every :meth:`sample`
        call of one sampling run so that its batches together are one stratified draw."""
        return ComponentDeck(self.weights, generator)

    def sample(
        self,
        n: int,
        generator: torch.Generator | None = None,
        device: torch.device | str = "cpu",
        scale: float | None = None,
        deck: ComponentDeck | None = None,
    ) -> torch.Tensor:
        """``n`` draws ``(n, Z)`` on ``device``; ``scale`` multiplies each component's standard
        deviations (default: the prior's ``spread``). The components come from ``deck`` (default:
        a fresh one for this call), so ``n`` draws use ``n`` different components where the
        mixture has that many equal weights (see :class:`ComponentDeck`)."""
        scale = self.spread if scale is None else float(scale)
        if not (math.isfinite(scale) and 0 < scale <= MAX_SPREAD):
            raise ValueError(f"spread must be a number > 0 and <= {MAX_SPREAD:g}, got {scale!r}")
        dev = torch.device(device)
        gen_dev = generator.device if generator is not None else dev
        comp = (deck if deck is not None else self.deck(generator)).take(n)  # (n,)
        eps = torch.randn(n, self.dim, device=gen_dev, generator=generator)  # (n, Z)
        comp, eps = comp.to(dev), eps.to(dev)
        L = self.scale_tril.to(dev, torch.float32)[comp]  # (n, Z, Z) or (n, Z)
        noise = L * eps if self.diagonal else (L @ eps.unsqueeze(-1)).squeeze(-1)
        return self.means.to(dev, torch.float32)[comp] + scale * noise

    @functools.cached_property
    def _diagonal_terms(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``1/s^2 (Z, K)``, ``-2 mu/s^2 (Z, K)`` and the per-component constant ``(K,)`` of the
        diagonal log-density, in float64, computed once (a search asks for it thousands of times)."""
        L, mu = self.scale_tril.double(), self.means.double()
        inv = L.pow(-2)  # (K, Z)
        const = (
            -0.5 * (mu.pow(2) * inv).sum(1)
            - L.log().sum(1)
            - 0.5 * self.dim * math.log(2 * math.pi)
            + self.weights.double().log()
        )
        return inv.T.contiguous(), (-2 * mu * inv).T.contiguous(), const

    def marginal_std(self) -> torch.Tensor:
        """Standard deviation of each latent coordinate under the mixture at ``spread`` 1:
        ``(Z,)``: the scale in which a search's steps are measured."""
        w = self.weights.double() / self.weights.double().sum()
        mu = self.means.double()
        mean = w @ mu
        var_within = (
            w @ self.scale_tril.double().pow(2)
            if self.diagonal
            else w @ self.scale_tril.double().pow(2).sum(-1)
        )
        return (var_within + w @ (mu - mean).pow(2)).sqrt()

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """``log p(z)`` for ``z (N, Z)`` at ``spread`` 1: ``(N,)``."""
        if self.diagonal:  # (N, K) by matrix products: sum_d (z_d - mu_kd)^2 / s_kd^2 expanded
            inv_t, lin_t, const = self._diagonal_terms
            zd = z.double()
            comp = -0.5 * (zd.pow(2) @ inv_t + zd @ lin_t) + const  # (N, K)
            return torch.logsumexp(comp, dim=1).to(z.dtype)
        L = self.scale_tril.double()
        return torch.logsumexp(
            _component_log_prob(z.double(), self.means.double(), L) + self.weights.double().log(),
            dim=1,
        ).to(z.dtype)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a checkpoint (tensors, numbers, strings)."""
        return {
            "kind": KIND,
            "weights": self.weights.float().cpu(),
            "means": self.means.float().cpu(),
            "scale_tril": self.scale_tril.float().cpu(),
            "spread": float(self.spread),
            "info": dict(self.info),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GaussianMixturePrior:
        if not isinstance(d, dict) or d.get("kind") != KIND:
            kind = d.get("kind") if isinstance(d, dict) else type(d).__name__
            raise ValueError(f"not a {KIND} prior: {kind!r}")
        return cls(  # float32 whatever the stored precision (bundled models may store float16)
            weights=torch.as_tensor(d["weights"]).float(),
            means=torch.as_tensor(d["means"]).float(),
            scale_tril=torch.as_tensor(d["scale_tril"]).float(),
            info=d.get("info", {}),
            spread=float(d.get("spread", 1.0)),
        )

    @classmethod
    def from_posteriors(
        cls,
        mu: torch.Tensor,
        logvar: torch.Tensor,
        n_components: int = 4000,
        spread: float = 1.0,
        seed: int = 0,
    ) -> GaussianMixturePrior:
        """The aggregate posterior itself: an equal-weight mixture of the posteriors
        ``q(z|x) = N(mu, diag(exp(logvar)))`` of ``n_components`` random molecules among the rows
        of ``mu (N, Z)``/``logvar (N, Z)``. ``spread`` > 1 widens each posterior when sampling,
        which trades closeness to the training molecules for novelty."""
        mu, logvar = torch.as_tensor(mu).float().cpu(), torch.as_tensor(logvar).float().cpu()
        ok = torch.isfinite(mu).all(dim=1) & torch.isfinite(logvar).all(dim=1)
        mu, logvar = mu[ok], logvar[ok]
        if len(mu) == 0:
            raise ValueError("from_posteriors needs at least one finite posterior")
        if int(n_components) < 1:
            raise ValueError(f"n_components must be >= 1, got {n_components}")
        k = min(int(n_components), len(mu))
        rows = torch.randperm(len(mu), generator=torch_generator(seed))[:k]
        info = {"method": "posterior", "n_components": k, "n_available": int(len(mu)),
                "seed": int(seed)}  # fmt: skip
        logger.info("learned prior: the posteriors of %d training molecules (spread %g)", k, spread)
        return cls(
            torch.full((k,), 1.0 / k), mu[rows], torch.exp(0.5 * logvar[rows]), info, float(spread)
        )

    @classmethod
    def fit(
        cls,
        z: torch.Tensor,
        n_components: int = 32,
        max_iter: int = 200,
        tol: float = 1e-4,
        reg: float = 1e-4,
        seed: int = 0,
        held_out: float = 0.1,
    ) -> GaussianMixturePrior:
        """Expectation-maximisation on ``z (N, Z)``.

        ``reg`` is added to every covariance's diagonal (relative to the data's mean variance);
        ``held_out`` of the rows are kept aside and their mean log-likelihood is reported in
        ``info`` (compare it across ``n_components``). Stops when the training log-likelihood per
        point improves by less than ``tol``.
        """
        z = torch.as_tensor(z).double().cpu()
        if z.ndim != 2 or not torch.isfinite(z).all():
            raise ValueError(f"z must be a finite (N, Z) array, got shape {tuple(z.shape)}")
        gen = torch_generator(seed)
        order = torch.randperm(len(z), generator=gen)
        n_hold = int(len(z) * held_out) if len(z) >= 20 else 0
        train, hold = z[order[n_hold:]], z[order[:n_hold]]
        K = int(n_components)
        if not 1 <= K <= len(train):
            raise ValueError(f"n_components must be between 1 and {len(train)}, got {K}")
        N, Z = train.shape
        ridge = reg * float(train.var(dim=0).mean()) * torch.eye(Z, dtype=torch.float64)
        means = _kmeans_pp(train, K, gen)  # (K, Z)
        cov = torch.cov(train.T).expand(K, Z, Z).clone() + ridge  # (K, Z, Z)
        weights = torch.full((K,), 1.0 / K, dtype=torch.float64)
        prev, ll, iterations = -math.inf, -math.inf, 0
        for _ in range(max_iter):
            iterations += 1
            L = torch.linalg.cholesky(cov)
            logp = _component_log_prob(train, means, L) + weights.log()  # (N, K)
            norm = torch.logsumexp(logp, dim=1, keepdim=True)  # (N, 1)
            ll = float(norm.mean())
            resp = (logp - norm).exp()  # (N, K)
            nk = resp.sum(dim=0)  # (K,)
            dead = nk < 1e-3 * N / K
            if dead.any():  # re-seed empty components on the worst-explained points
                worst = torch.topk(-norm.squeeze(1), int(dead.sum())).indices
                resp[:, dead] = 0.0
                resp[worst, torch.nonzero(dead).squeeze(1)] = 1.0
                nk = resp.sum(dim=0)
            weights = nk / nk.sum()
            means = (resp.T @ train) / nk[:, None]
            cov = (
                torch.stack(
                    [
                        ((train - means[k]) * resp[:, k : k + 1]).T @ (train - means[k])
                        for k in range(K)
                    ]
                )
                / nk[:, None, None]
                + ridge
            )  # (K, Z, Z)
            if ll - prev < tol and not dead.any():
                break
            prev = ll
        L = torch.linalg.cholesky(cov)
        held = (
            float(
                torch.logsumexp(_component_log_prob(hold, means, L) + weights.log(), dim=1).mean()
            )
            if len(hold)
            else math.nan
        )
        info = {
            "method": "em",
            "n_fit": int(N),
            "n_components": K,
            "iterations": iterations,
            "train_loglik": ll,
            "held_out_loglik": held,
            "reg": reg,
            "seed": int(seed),
        }
        logger.info(
            "learned prior: %d components over %d latent points, %d EM iterations, "
            "log-likelihood %.2f (held out %.2f)",
            K, N, iterations, ll, held,
        )  # fmt: skip
        return cls(weights.float(), means.float(), L.float(), info)


class ComponentDeck:
    """Mixture components dealt in stratified passes, like cards from shuffled decks.

    Each pass holds ``K`` component indices: ``floor(K * w_k)`` of component ``k``, the remaining
    places filled by a weighted draw from the remainders ``K * w_k - floor(K * w_k)``, the whole
    shuffled; :meth:`take` deals from the current pass and opens the next when it runs out. Every
    dealt index is still component ``k`` with probability ``w_k``, but the counts are no longer
    random: drawn independently (multinomially), 10,000 draws from 20,000 equal components fall
    on the same component about 2,500 times, and a decoder that reconstructs its training
    molecules turns most of those into repeated molecules (docs/recipe.md, "Stratified
    components"); dealt, they fall on 10,000 different components. For equal weights (the
    posterior prior) each pass is a random permutation of the components.
    """

    def __init__(self, weights: torch.Tensor, generator: torch.Generator | None = None) -> None:
        self.generator = generator
        self.device = generator.device if generator is not None else torch.device("cpu")
        w = weights.detach().cpu().double()
        expected = w / w.sum() * len(w)  # (K,) places per pass; 1 each for equal weights
        floor = (expected + 1e-9).floor()  # not 0 where rounding gives 0.999...
        self.floor = floor.long().to(self.device)
        self.remainder = (expected - floor).clamp_min(0).float().to(self.device)
        self._pass = torch.empty(0, dtype=torch.long, device=self.device)

    def _new_pass(self) -> torch.Tensor:
        k = len(self.floor)
        counts = self.floor.clone()
        rest = k - int(counts.sum())
        if rest > 0:
            extra = torch.multinomial(self.remainder, rest, replacement=True,
                                      generator=self.generator)  # fmt: skip
            counts += torch.bincount(extra, minlength=k)
        idx = torch.repeat_interleave(torch.arange(k, device=self.device), counts)
        return idx[torch.randperm(len(idx), generator=self.generator, device=self.device)]

    def take(self, n: int) -> torch.Tensor:
        """The next ``n`` component indices ``(n,)``."""
        parts, need = [], int(n)
        while need > 0:
            if len(self._pass) == 0:
                self._pass = self._new_pass()
            parts.append(self._pass[:need])
            self._pass = self._pass[need:]
            need -= len(parts[-1])
        if not parts:
            return torch.empty(0, dtype=torch.long, device=self.device)
        return torch.cat(parts)


def _component_log_prob(z: torch.Tensor, means: torch.Tensor, L: torch.Tensor) -> torch.Tensor:
    """``log N(z_n; means_k, L_k L_k^T)`` for every point and component: ``(N, K)``."""
    Z = z.shape[1]
    out = []
    for k in range(len(means)):  # one component at a time: memory O(N * Z), not O(K * N * Z)
        sol = torch.linalg.solve_triangular(L[k], (z - means[k]).T, upper=False)  # (Z, N)
        logdet = 2 * torch.log(torch.diagonal(L[k])).sum()
        out.append(-0.5 * ((sol**2).sum(dim=0) + logdet + Z * math.log(2 * math.pi)))  # (N,)
    return torch.stack(out, dim=1)


def _kmeans_pp(x: torch.Tensor, k: int, gen: torch.Generator) -> torch.Tensor:
    """k-means++ seeding: ``k`` rows of ``x``, each drawn in proportion to its squared distance
    from the rows already chosen."""
    first = int(torch.randint(len(x), (1,), generator=gen))
    centers = [x[first]]
    d2 = ((x - centers[0]) ** 2).sum(dim=1)
    for _ in range(1, k):
        probs = d2 / d2.sum() if float(d2.sum()) > 0 else torch.full_like(d2, 1 / len(d2))
        nxt = int(torch.multinomial(probs, 1, generator=gen))
        centers.append(x[nxt])
        d2 = torch.minimum(d2, ((x - x[nxt]) ** 2).sum(dim=1))
    return torch.stack(centers)


def fit_prior(
    mu: Any,
    logvar: Any,
    n_components: int = 4000,
    method: str = "posterior",
    spread: float = 1.0,
    seed: int = 0,
) -> GaussianMixturePrior:
    """A learned prior from the posteriors ``mu``, ``logvar`` ``(N, Z)`` of training molecules
    (rows with NaN, i.e. molecules that could not be encoded, are left out).

    ``method="posterior"``: the aggregate posterior, an equal mixture of the posteriors of
    ``n_components`` of the molecules; ``"gmm"``: ``n_components`` full-covariance Gaussians
    fitted by EM to draws z ~ q(z|x) (needs at least twice as many molecules). ``spread`` widens
    each component when sampling.
    """
    from molvae.constants import PRIOR_FITS

    if method not in PRIOR_FITS:
        raise ValueError(f"method must be one of {list(PRIOR_FITS)}, got {method!r}")
    mu, logvar = torch.as_tensor(mu), torch.as_tensor(logvar)
    ok = torch.isfinite(mu).all(dim=1)
    mu, logvar = mu[ok], logvar[ok]
    if method == "posterior":
        return GaussianMixturePrior.from_posteriors(
            mu, logvar, n_components, spread=spread, seed=seed
        )
    if len(mu) < 2 * n_components:
        raise ValueError(
            f"fit_prior needs at least {2 * n_components} encodable molecules for "
            f"{n_components} components, got {len(mu)}"
        )
    z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=torch_generator(seed))
    prior = GaussianMixturePrior.fit(z, n_components, seed=seed)
    prior.spread = float(spread)
    return prior
