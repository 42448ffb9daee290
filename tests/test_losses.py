from __future__ import annotations

import math

import pytest
import torch

from molvae.losses import kl_loss, kl_weight, reconstruction_loss, token_accuracy
from molvae.tokenizers import PAD


def test_reconstruction_is_summed_per_molecule_and_ignores_pad():
    logits = torch.zeros(2, 3, 5)  # uniform over 5 tokens
    targets = torch.tensor([[4, 4, 2], [4, 2, PAD]])
    expected = (3 + 2) * math.log(5) / 2
    assert reconstruction_loss(logits, targets).item() == pytest.approx(expected, rel=1e-6)


def test_kl_zero_at_prior_and_free_bits():
    mu, logvar = torch.zeros(4, 3), torch.zeros(4, 3)
    pen, actual = kl_loss(mu, logvar)
    assert pen.item() == 0 and actual.item() == 0
    pen, actual = kl_loss(mu, logvar, free_bits=0.5)
    assert pen.item() == pytest.approx(1.5) and actual.item() == 0
    mu = torch.ones(4, 3)
    assert kl_loss(mu, logvar)[1].item() == pytest.approx(1.5)  # 0.5 * mu^2 per dim, 3 dims


def test_schedules():
    assert kl_weight(0, "constant", 0.7) == 0.7
    assert kl_weight(0, "linear", 1.0, 0.0, 100) == 0.0
    assert kl_weight(50, "linear", 1.0, 0.0, 100) == pytest.approx(0.5)
    assert kl_weight(500, "linear", 1.0, 0.0, 100) == 1.0
    assert kl_weight(25, "cyclical", 1.0, 0.0, 100) == pytest.approx(0.5)
    assert kl_weight(75, "cyclical", 1.0, 0.0, 100) == 1.0
    assert kl_weight(100, "cyclical", 1.0, 0.0, 100) == 0.0  # a new cycle starts
    assert kl_weight(50, "sigmoid", 1.0, 0.0, 100) == pytest.approx(0.5)
    assert kl_weight(100, "sigmoid", 1.0, 0.0, 100) > 0.99
    with pytest.raises(ValueError):
        kl_weight(1, "exp", 1.0, 0.0, 10)


def test_token_accuracy():
    logits = torch.tensor([[[0.0, 0, 0, 0, 1], [0, 0, 1, 0, 0]]])
    assert token_accuracy(logits, torch.tensor([[4, PAD]])) == (1, 1)
