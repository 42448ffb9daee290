from __future__ import annotations

import sys

import pandas as pd
import pytest
import torch

import molvae as mv
from molvae import checkpoint as ckpt
from molvae.chem import canonical
from molvae.exceptions import CheckpointError
from molvae.prior import GaussianMixturePrior

from .helpers import load_script, overfit_generator, tiny_configs

SMILES = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccccc1", "CCN(CC)CC", "O=C(O)c1ccccc1", "CC(C)Cc1ccccc1"]


def two_clusters(n=2000, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, 4, generator=g) * 0.5 + 4.0
    b = torch.randn(n // 3, 4, generator=g) * 1.5 - 4.0
    return torch.cat([a, b])


def test_em_recovers_a_two_component_mixture():
    prior = GaussianMixturePrior.fit(two_clusters(), n_components=2, seed=0)
    order = prior.means[:, 0].argsort()
    means, weights = prior.means[order], prior.weights[order]
    assert torch.allclose(means[:, 0], torch.tensor([-4.0, 4.0]), atol=0.2)
    assert torch.allclose(weights, torch.tensor([0.25, 0.75]), atol=0.03)
    cov = prior.scale_tril[order] @ prior.scale_tril[order].transpose(1, 2)
    assert torch.allclose(
        torch.diagonal(cov, dim1=1, dim2=2), torch.tensor([[2.25], [0.25]]), rtol=0.2
    )
    # one component fits worse on held-out points than two
    one = GaussianMixturePrior.fit(two_clusters(), n_components=1, seed=0)
    assert prior.info["held_out_loglik"] > one.info["held_out_loglik"] + 0.5


def test_sampling_is_seeded_and_follows_the_mixture():
    prior = GaussianMixturePrior.fit(two_clusters(), n_components=2, seed=0)
    a = prior.sample(4000, generator=torch.Generator().manual_seed(3))
    b = prior.sample(4000, generator=torch.Generator().manual_seed(3))
    assert a.shape == (4000, 4) and torch.equal(a, b)
    assert abs(float((a[:, 0] > 0).float().mean()) - 0.75) < 0.03
    assert prior.log_prob(a[:5]).shape == (5,)


def test_deck_deals_equal_components_once_per_pass_and_unequal_ones_by_weight():
    g = torch.Generator().manual_seed(0)
    deck = GaussianMixturePrior(
        torch.full((50,), 0.02), torch.randn(50, 3), torch.ones(50, 3)
    ).deck(g)
    first = torch.cat([deck.take(20), deck.take(30)])  # two batches of one run: one pass
    assert sorted(first.tolist()) == list(range(50))
    second = deck.take(75)  # the next pass, then half of a third
    assert sorted(second[:50].tolist()) == list(range(50)) and len(set(second[50:].tolist())) == 25
    assert not torch.equal(first, second[:50])  # each pass shuffled anew
    # unequal weights: 0.125 x 8 places per pass = 1 each of the first, 4.8 of the second...
    w = torch.tensor([0.125, 0.6, 0.275])
    deck = GaussianMixturePrior(w, torch.zeros(3, 2), torch.ones(3, 2)).deck(g)
    counts = torch.bincount(deck.take(8000), minlength=3).double() / 8000
    assert torch.allclose(counts, w.double(), atol=0.01)
    assert len(deck.take(0)) == 0


def test_sampling_from_posteriors_meets_each_component_once():
    """The learned prior's draws within one run use different components (the repeats that
    independent draws would make are what stratification removes)."""
    mu, logvar = torch.randn(40, 4), torch.full((40, 4), -2.0)
    prior = GaussianMixturePrior.from_posteriors(mu, logvar, n_components=40)
    g = torch.Generator().manual_seed(1)
    deck = prior.deck(g)
    z = torch.cat(
        [prior.sample(15, g, scale=1e-6, deck=deck), prior.sample(25, g, scale=1e-6, deck=deck)]
    )
    nearest = (z[:, None] - prior.means[None]).norm(dim=-1).argmin(dim=1)
    assert sorted(nearest.tolist()) == list(range(40))
    one_call = prior.sample(40, torch.Generator().manual_seed(1), scale=1e-6)  # a deck of its own
    assert len(set((one_call[:, None] - prior.means[None]).norm(dim=-1).argmin(1).tolist())) == 40


def test_plain_data_round_trip_and_bad_input():
    prior = GaussianMixturePrior.fit(two_clusters(), n_components=2, seed=0)
    back = GaussianMixturePrior.from_dict(prior.to_dict())
    assert torch.equal(back.means, prior.means) and back.info == prior.info
    with pytest.raises(ValueError, match="not a gaussian_mixture"):
        GaussianMixturePrior.from_dict({"kind": "flow"})
    with pytest.raises(ValueError, match="finite"):
        GaussianMixturePrior.fit(torch.tensor([[float("nan"), 0.0]] * 30))
    with pytest.raises(ValueError, match="n_components"):
        GaussianMixturePrior.fit(torch.randn(30, 2), n_components=0)


@pytest.fixture(scope="module")
def overfit():
    gen, _ = overfit_generator(SMILES, steps=150)
    return gen


def test_generator_learned_prior_sampling_save_and_load(overfit, tmp_path):
    gen = overfit
    gen.prior = None
    with pytest.raises(ValueError, match="no learned prior"):
        gen.sample(4, prior="learned")
    with pytest.raises(ValueError, match="prior must be one of"):
        gen.sample(4, prior="flow")
    gen.fit_prior(SMILES * 10, n_components=2, method="gmm", seed=0)
    a = gen.sample(20, seed=1, prior="learned")
    b = gen.sample(20, seed=1)  # auto: the learned prior
    c = gen.sample(20, seed=1, prior="standard")
    pd.testing.assert_frame_equal(a, b)
    assert not a.smiles.equals(c.smiles)
    # learned-prior samples of a model that memorised six molecules are mostly those molecules
    assert a.canonical.isin([canonical(s) for s in SMILES]).mean() > 0.5
    path = gen.save(tmp_path / "m.pt")
    loaded = mv.load(path, device="cpu")
    assert loaded.prior is not None and torch.equal(loaded.prior.means, gen.prior.means)
    pd.testing.assert_frame_equal(loaded.sample(20, seed=1), a)
    assert "prior=learned" in repr(loaded)


def test_tampered_prior_is_refused(overfit, tmp_path):
    gen = overfit
    gen.fit_prior(SMILES * 10, n_components=2, method="gmm", seed=0)
    path = gen.save(tmp_path / "m.pt")
    payload = torch.load(path, weights_only=True)
    payload["prior"]["means"] += 1.0
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="prior does not match its checksum"):
        mv.load(path)


def test_fit_stores_a_learned_prior_in_best_pt(tmp_path, moses_sample):
    m, t = tiny_configs(epochs=1, prior="gmm", prior_components=2, prior_fit_size=40)
    res = mv.fit(moses_sample[:96], m, t, out_dir=tmp_path / "run", progress=False)
    assert res.prior is not None and res.prior.n_components == 2
    assert res.prior.info["n_fit"] == 36  # 40 minus the 10% held out
    assert ckpt.load(tmp_path / "run" / "best.pt").prior is not None
    gen = mv.load(tmp_path / "run")
    assert gen.prior is not None and len(gen.sample(8, seed=0)) == 8
    assert res.generator().prior is res.prior


def test_distribution_signal_in_training_history(tmp_path, moses_sample):
    m, t = tiny_configs(epochs=1, dist_eval=16)
    res = mv.fit(moses_sample[:96], m, t, progress=False)
    row = res.history.iloc[-1]
    assert {"val_fcd", "prior_filters", "prior_unique"} <= set(res.history.columns)
    assert 0.0 <= row["prior_unique"] <= 1.0


def test_quick_signal_values(moses_sample):
    from molvae.metrics import quick_signal, reference_moments

    ref = list(moses_sample[:200])
    moments = reference_moments(ref)
    same = quick_signal(ref, moments)
    assert same["valid"] == 1.0 and same["unique"] == 1.0 and abs(same["fcd"]) < 1e-3
    mixed = quick_signal(["CCO", "CCO", "C[Xx]", "", "C1=CC=CC=C1C(=O)[O-]"], moments)
    assert mixed["valid"] == pytest.approx(0.6) and mixed["unique"] == pytest.approx(2 / 3)
    assert mixed["filters"] == pytest.approx(2 / 3)  # the carboxylate is charged
    assert mixed["fcd"] > 5
    assert quick_signal(["C[Xx]"], moments)["fcd"] != quick_signal(["C[Xx]"], moments)["fcd"]  # NaN


def test_posterior_mixture_prior(overfit, tmp_path):
    gen = overfit
    prior = gen.fit_prior(SMILES * 3, n_components=5, spread=1.5, seed=0)
    assert prior.diagonal and prior.n_components == 5 and prior.spread == 1.5
    assert prior.info["method"] == "posterior" and prior.info["n_available"] == 18
    mu = gen.encode(SMILES)
    assert all(
        any(torch.allclose(m, torch.from_numpy(r), atol=1e-4) for r in mu) for m in prior.means
    )
    g = torch.Generator().manual_seed(0)
    z = prior.sample(2000, generator=g, scale=1e-6)  # at zero width: exactly the stored means
    dist = (z[:, None] - prior.means[None]).norm(dim=-1)  # (2000, 5)
    assert dist.min(dim=1).values.max() < 1e-3
    loaded = mv.load(gen.save(tmp_path / "p.pt"), device="cpu")
    assert loaded.prior.spread == 1.5 and loaded.prior.diagonal
    pd.testing.assert_frame_equal(loaded.sample(10, seed=2), gen.sample(10, seed=2))
    assert prior.log_prob(torch.from_numpy(mu)).shape == (6,)
    with pytest.raises(ValueError, match="spread"):
        GaussianMixturePrior.from_posteriors(torch.zeros(3, 2), torch.zeros(3, 2), spread=0.0)
    with pytest.raises(ValueError, match="method"):
        gen.fit_prior(SMILES, method="flow")


def test_prior_sweep_refuses_more_components_than_molecules_encoded(monkeypatch, capsys):
    """The posterior prior has at most one component per encoded molecule: asking the sweep for
    more used to print the requested size beside a smaller prior."""
    sweep = load_script("prior_sweep")
    argv = ["prior_sweep.py", "moses-smiles", "--components", "4000,30000", "--fit-size", "20000"]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as stop:
        sweep.main()
    assert stop.value.code == 2
    assert (
        "--fit-size 20000 encodes fewer molecules than 30000 components" in capsys.readouterr().err
    )
