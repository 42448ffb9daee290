"""Pure tensor operations on latent points: prior samples, linear and spherical interpolation,
perturbations around a point.

Example:
    >>> import torch
    >>> from molvae.latent import slerp
    >>> a, b = torch.randn(64), torch.randn(64)
    >>> path = slerp(a, b, steps=10)        # (10, 64), path[0] == a, path[-1] == b
"""

from __future__ import annotations

import torch


def interpolation_times(steps: int) -> torch.Tensor:
    """``steps`` evenly spaced values of t from 0 to 1 inclusive: ``(steps,)``."""
    if not isinstance(steps, int) or steps < 2:
        raise ValueError(f"steps must be an integer >= 2, got {steps!r}")
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


def sample_prior(
    n: int, dim: int, generator: torch.Generator | None = None, device: str | torch.device = "cpu"
) -> torch.Tensor:
    """``n`` draws from the standard normal prior: ``(n, dim)``."""
    return torch.randn(n, dim, generator=generator, device=device)
