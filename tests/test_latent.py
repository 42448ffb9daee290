from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from molvae import latent


def test_lerp_and_slerp_endpoints():
    a, b = torch.randn(16), torch.randn(16)
    for fn in (latent.lerp, latent.slerp):
        path = fn(a, b, 7)
        assert path.shape == (7, 16)
        assert torch.allclose(path[0], a, atol=1e-5) and torch.allclose(path[-1], b, atol=1e-5)


def test_slerp_norm_profile_and_constant_angle_steps():
    a = torch.tensor([3.0, 0.0, 0.0])
    b = torch.tensor([0.0, 5.0, 0.0])
    path = latent.slerp(a, b, 11)
    norms = path.norm(dim=1)
    assert torch.allclose(norms, torch.linspace(3.0, 5.0, 11), atol=1e-5)  # norm changes linearly
    units = path / norms[:, None]
    angles = torch.arccos(torch.clamp((units[:-1] * units[1:]).sum(1), -1, 1))
    assert torch.allclose(
        angles, torch.full((10,), math.pi / 2 / 10), atol=1e-4
    )  # equal angular steps
    # a straight line between unit vectors sags towards the origin; slerp does not
    mid_lerp = latent.lerp(a / 3, b / 5, 3)[1].norm()
    assert mid_lerp < 0.75 and latent.slerp(a / 3, b / 5, 3)[1].norm() == pytest.approx(
        1.0, abs=1e-5
    )


def test_slerp_parallel_falls_back_to_lerp():
    a = torch.tensor([1.0, 1.0])
    assert torch.allclose(latent.slerp(a, 2 * a, 3), latent.lerp(a, 2 * a, 3))


def test_bad_arguments():
    z = torch.zeros(4)
    with pytest.raises(ValueError, match="steps"):
        latent.lerp(z, z, 1)
    with pytest.raises(ValueError, match="radius"):
        latent.perturb(z, 3, 0.0)
    with pytest.raises(ValueError, match="n must"):
        latent.perturb(z, 0, 0.5)


def test_perturb_is_seeded_and_scaled():
    z = torch.zeros(8)
    a = latent.perturb(z, 2000, 0.5, generator=torch.Generator().manual_seed(1))
    b = latent.perturb(z, 2000, 0.5, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    assert np.isclose(a.std().item(), 0.5, atol=0.02)
