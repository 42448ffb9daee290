"""Walking the latent space: linear and spherical interpolation, perturbations around a point
(pure tensor operations), and the walks a Codec offers: :func:`interpolate`, :func:`neighbors`
and :func:`traverse` (one unit at a time).

Example:
    >>> import torch
    >>> from molvae.latent import slerp
    >>> a, b = torch.randn(64), torch.randn(64)
    >>> path = slerp(a, b, steps=10)        # (10, 64), path[0] == a, path[-1] == b
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from molvae.checks import check_count
from molvae.constants import MAX_PATH_STEPS

if TYPE_CHECKING:  # pragma: no cover
    from molvae.codec import Codec

logger = logging.getLogger(__name__)


def interpolation_times(steps: int) -> torch.Tensor:
    """``steps`` evenly spaced values of t from 0 to 1 inclusive: ``(steps,)``."""
    steps = check_count("steps", steps, low=2, high=MAX_PATH_STEPS)
    return torch.linspace(0.0, 1.0, steps)


def lerp(a: torch.Tensor, b: torch.Tensor, steps: int) -> torch.Tensor:
    """Straight line from ``a (Z,)`` to ``b (Z,)``: ``(steps, Z)``."""
    t = interpolation_times(steps).to(a.dtype)[:, None]  # (S, 1)
    return (1 - t) * a[None, :] + t * b[None, :]


def slerp(a: torch.Tensor, b: torch.Tensor, steps: int, eps: float = 1e-7) -> torch.Tensor:
    """Spherical interpolation from ``a (Z,)`` to ``b (Z,)``: ``(steps, Z)``.

    Moves along the great circle between the directions of ``a`` and ``b`` while the norm changes
    linearly from ``|a|`` to ``|b|``, so intermediate points keep the typical norm of prior samples
    (a straight line between two points of norm ~sqrt(Z) passes through the low-density centre).
    Falls back to :func:`lerp` for (anti)parallel endpoints.
    """
    t = interpolation_times(steps).to(a.dtype)  # (S,)
    na, nb = a.norm(), b.norm()
    if na < eps or nb < eps:
        return lerp(a, b, steps)
    ua, ub = a / na, b / nb
    cos = torch.clamp(torch.dot(ua, ub), -1.0, 1.0)
    omega = torch.arccos(cos)
    if torch.sin(omega).abs() < 1e-6:
        return lerp(a, b, steps)
    so = torch.sin(omega)
    dirs = (
        torch.sin((1 - t) * omega)[:, None] * ua + torch.sin(t * omega)[:, None] * ub
    ) / so  # (S, Z), unit
    norms = (1 - t) * na + t * nb  # (S,)
    return dirs * norms[:, None]


def perturb(
    z: torch.Tensor, n: int, radius: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``n`` points around ``z (Z,)``: ``z + radius * eps`` with ``eps ~ N(0, I)``: ``(n, Z)``."""
    if radius <= 0:
        raise ValueError(f"radius must be > 0, got {radius!r}")
    if n <= 0:
        raise ValueError(f"n must be > 0, got {n!r}")
    eps = torch.randn(n, z.shape[-1], generator=generator, device=z.device, dtype=z.dtype)
    return z[None, :] + radius * eps


def interpolate(
    gen: Codec,
    a: str,
    b: str,
    steps: int = 10,
    method: str = "linear",
    decode: str = "greedy",
    drop_duplicates: bool = False,
    seed: int | None = 0,
) -> pd.DataFrame:
    """Decode ``steps`` points on the path between the encodings (mu) of ``a`` and ``b``.

    Args:
        gen: the model.
        a, b: the endpoints (SMILES).
        method: ``"linear"`` (:func:`lerp`) or ``"slerp"`` (:func:`slerp`).
        decode: ``"greedy"``, ``"beam"`` or ``"multinomial"``.
        drop_duplicates: remove consecutive repeats of the same molecule.

    Returns:
        DataFrame with ``step``, ``t``, ``smiles``, ``valid``, ``sim_a`` and ``sim_b`` (Tanimoto to
        the endpoints).

    Raises:
        ValueError: ``steps < 2`` or an unknown method; TokenizerError: an endpoint the model
            cannot encode (the message names the reason or token).
    """
    from molvae.chem import fingerprint, tanimoto

    if method not in ("linear", "slerp"):
        raise ValueError(f"method must be 'linear' or 'slerp', got {method!r}")
    times = interpolation_times(steps)  # validates steps
    za, zb = gen.encode(a), gen.encode(b)  # (1, Z) each; raise for a bad endpoint
    path = (slerp if method == "slerp" else lerp)(
        torch.from_numpy(za[0]), torch.from_numpy(zb[0]), steps
    )
    dec = gen.decode(path.numpy(), method=decode, seed=seed)
    fa, fb = fingerprint(a), fingerprint(b)
    smiles = [c if isinstance(c, str) else s for c, s in zip(dec.canonical, dec.smiles)]
    valid = dec.valid.to_numpy()
    out = pd.DataFrame(
        {
            "step": np.arange(steps),
            "t": times.numpy(),
            "smiles": smiles,
            "valid": valid,
            "sim_a": [tanimoto(fa, s) if v else np.nan for s, v in zip(smiles, valid)],
            "sim_b": [tanimoto(fb, s) if v else np.nan for s, v in zip(smiles, valid)],
        }
    )
    if drop_duplicates:
        out = out[out.smiles.ne(out.smiles.shift())].reset_index(drop=True)
    return out


def neighbors(
    gen: Codec,
    smiles: str,
    n: int = 50,
    radius: float = 0.5,
    max_draws: int | None = None,
    batch_size: int = 500,
    seed: int | None = 0,
) -> pd.DataFrame:
    """Unique valid molecules decoded (greedily) from random perturbations of the encoding of
    ``smiles``, ranked by Tanimoto similarity to it.

    Draws ``z = mu + radius * eps`` in batches until ``n`` unique valid molecules other than the
    query are found or ``max_draws`` (default ``50 * n``) is spent; ``df.attrs`` records the draws
    used and whether the budget ran out (also logged).

    Returns:
        DataFrame with ``smiles``, ``tanimoto``, ``distance`` (latent distance to the query's mu)
        and ``draws`` (how many draws decoded to this molecule), sorted by ``tanimoto``.

    Raises:
        ValueError: ``n <= 0`` or ``radius <= 0``; TokenizerError: a query the model cannot encode.
    """
    from molvae.chem import canonical, fingerprint, tanimoto
    from molvae.device import torch_generator

    n = check_count("n", n)
    if not (np.isfinite(radius) and radius > 0):
        raise ValueError(f"radius must be a finite number > 0, got {radius!r}")
    max_draws = max_draws or 50 * n
    mu = torch.from_numpy(gen.encode(smiles)[0])  # (Z,); raises for a bad query
    query = canonical(smiles)
    fq = fingerprint(query)
    rng = torch_generator(seed)
    found: dict[str, list[float]] = {}
    draws = 0
    while len(found) < n and draws < max_draws:
        b = min(batch_size, max_draws - draws)
        z = perturb(mu, b, radius, generator=rng)  # (b, Z)
        dec = gen.decode(z.numpy(), method="greedy")
        dist = (z - mu[None]).norm(dim=1).numpy()
        for c, d in zip(dec.canonical, dist):
            if isinstance(c, str) and c != query:
                found.setdefault(c, []).append(float(d))
        draws += b
    exhausted = len(found) < n
    if exhausted:
        logger.warning(
            "neighbors: found %d of %d unique valid molecules in %d draws (budget spent)",
            len(found),
            n,
            draws,
        )
    df = pd.DataFrame(
        {
            "smiles": list(found),
            "tanimoto": [tanimoto(fq, s) for s in found],
            "distance": [min(d) for d in found.values()],
            "draws": [len(d) for d in found.values()],
        }
    )
    df = (
        df.sort_values(["tanimoto", "distance"], ascending=[False, True])
        .head(n)
        .reset_index(drop=True)
    )
    df.attrs.update({"draws": draws, "budget": max_draws, "exhausted": exhausted})
    return df


def traverse(
    gen: Codec,
    start: str | np.ndarray | None = None,
    dims: Sequence[int] | None = None,
    steps: int = 7,
    span: float = 2.0,
    decode: str = "greedy",
    seed: int | None = 0,
) -> pd.DataFrame:
    """Walk single latent units: for each unit in ``dims``, decode ``steps`` points that differ
    from ``start`` only in that unit, from ``-span`` to ``+span`` latent units around its value.

    Args:
        gen: the model.
        start: a molecule (its posterior mean is the start), a latent point ``(Z,)``, or None
            (the origin, the standard prior's mean).
        dims: the units to walk (default: all of them).
        steps: points per unit (>= 2), evenly spaced, the start's own value in the middle for an
            odd number.
        span: how far to go either way, in latent units (the standard prior has unit spread).

    Returns:
        DataFrame with ``dim``, ``step``, ``offset`` (added to the unit), ``z`` (the unit's
        value), ``smiles`` (canonical when valid, else as decoded) and ``valid``; rows by unit, then step.

    Raises:
        ValueError: a unit outside ``0..latent_dim-1``, ``steps < 2``, a span that is not a finite
            number > 0, a start of the wrong shape or not finite; TokenizerError: a start molecule
            the model cannot encode.
    """
    z0 = _start_point(gen, start)
    n_dims = gen.latent_dim
    dims = list(range(n_dims)) if dims is None else list(dims)
    bad = [
        d
        for d in dims
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or not 0 <= d < n_dims
    ]
    if bad or not dims:
        raise ValueError(f"dims must be unit indices in 0..{n_dims - 1}, got {bad or dims}")
    interpolation_times(steps)  # the same bounds on steps
    if (
        isinstance(span, bool)
        or not isinstance(span, (int, float))
        or not (math.isfinite(span) and span > 0)
    ):
        raise ValueError(f"span must be a finite number > 0, got {span!r}")
    offsets = np.linspace(-span, span, int(steps)).astype(np.float32)
    z = np.repeat(z0[None], len(dims) * len(offsets), axis=0)  # (D * S, Z)
    rows = np.arange(len(z))
    dim_of = np.repeat(np.asarray(dims, dtype=int), len(offsets))
    z[rows, dim_of] += np.tile(offsets, len(dims))
    dec = gen.decode(z, method=decode, seed=seed)
    return pd.DataFrame(
        {
            "dim": dim_of,
            "step": np.tile(np.arange(len(offsets)), len(dims)),
            "offset": np.tile(offsets, len(dims)),
            "z": z[rows, dim_of],
            "smiles": [c if isinstance(c, str) else s for c, s in zip(dec.canonical, dec.smiles)],
            "valid": dec.valid.to_numpy(),
        }
    )


def _start_point(gen: Codec, start: str | np.ndarray | None) -> np.ndarray:
    """The latent point ``(Z,)`` float32 a traversal starts from."""
    if start is None:
        return np.zeros(gen.latent_dim, dtype=np.float32)
    if isinstance(start, str):
        return gen.encode(start)[0].astype(np.float32)  # raises for a molecule it cannot read
    z = np.asarray(start, dtype=np.float32)
    if z.shape != (gen.latent_dim,) or not np.isfinite(z).all():
        raise ValueError(
            f"start must be a SMILES or a finite latent point of shape ({gen.latent_dim},), "
            f"got shape {z.shape}"
        )
    return z
