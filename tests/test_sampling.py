"""molvae.sampling: raw samples, and N valid (unique) molecules on request."""

from __future__ import annotations

import pandas as pd
import pytest

import molvae as mv
from molvae.exceptions import SamplingError

from .helpers import tiny_configs


@pytest.fixture(scope="module")
def bundled():
    return mv.load("moses-smiles", device="cpu")


@pytest.fixture(scope="module")
def weak(tmp_path_factory, moses_sample):
    """A model trained for a few steps: almost nothing it samples is valid."""
    m, t = tiny_configs(epochs=1, max_steps=2)
    return mv.fit(moses_sample[:64], m, t, progress=False).generator()


def test_valid_only_keeps_the_valid_rows_of_the_same_stream(bundled):
    ok = bundled.sample(150, seed=0, batch_size=200, valid_only=True)
    assert len(ok) == 150 and ok.valid.all()
    draws = ok.attrs["draws"]
    assert draws > 150 and draws % 200 == 0  # drew whole batches until it had enough
    raw = bundled.sample(draws, seed=0, batch_size=200)
    assert ok.attrs["valid_draws"] == int(raw.valid.sum())
    pd.testing.assert_frame_equal(ok, raw[raw.valid].head(150).reset_index(drop=True))


def test_unique_implies_valid_and_drops_repeats(bundled):
    df = bundled.sample(100, seed=1, batch_size=100, unique=True, temperature=0.3)
    assert len(df) == 100 and df.valid.all() and df.canonical.is_unique


def test_raw_sampling_is_unchanged_and_reports_its_draws(bundled):
    # hot multinomial sampling, so that the raw rows surely hold invalid ones (~10%): the
    # default decoding is ~98% valid, and 120 of its samples can all be valid
    df = bundled.sample(120, seed=2, batch_size=50, method="multinomial", temperature=1.5)
    assert len(df) == 120 and df.attrs["draws"] == 120
    assert df.attrs["valid_draws"] == int(df.valid.sum()) and not df.valid.all()


def test_a_model_that_yields_too_few_stops_after_max_draws(weak):
    with pytest.raises(SamplingError, match="in 96 draws") as err:
        weak.sample(10_000, seed=0, batch_size=32, valid_only=True, max_draws=96)
    assert err.value.draws == 96
    kept = err.value.samples
    assert kept is None or (kept.valid.all() and len(kept) < 10_000)
    with pytest.raises(ValueError, match="max_draws"):
        weak.sample(5, valid_only=True, max_draws=0)


def test_sample_to_csv_valid_only_counts_its_draws(bundled, tmp_path):
    out = tmp_path / "s.csv"
    stats = bundled.sample_to_csv(out, 60, seed=3, batch_size=40, valid_only=True, unique=True)
    df = pd.read_csv(out)
    assert stats["n"] == len(df) == 60 and df.valid.all() and df.canonical.is_unique
    assert stats["draws"] >= 80 and 0 < stats["valid"] < 1
    with pytest.raises(SamplingError):
        bundled.sample_to_csv(tmp_path / "none.csv", 500, seed=3, batch_size=40,
                              valid_only=True, max_draws=40)  # fmt: skip
    assert not (tmp_path / "none.csv").exists()  # nothing half-written


def test_cli_valid_only(tmp_path):
    from molvae.cli.main import main

    out = tmp_path / "v.csv"
    assert main(["sample", "-n", "40", "--seed", "0", "--valid-only", "--unique",
                 "--no-progress", "-o", str(out)]) == 0  # fmt: skip
    df = pd.read_csv(out)
    assert len(df) == 40 and df.valid.all() and df.canonical.is_unique
    bad = tmp_path / "bad.csv"
    assert main(["sample", "-n", "400", "--seed", "0", "--valid-only", "--max-draws", "50",
                 "--batch-size", "50", "--no-progress", "-o", str(bad)]) != 0  # fmt: skip
    assert not bad.exists()


@pytest.fixture(scope="module")
def selfies():
    gen = mv.load("moses-selfies", device="cpu")
    assert gen.default_method == "beam"  # the bundled default; these tests filter the raw stream
    gen.default_method = "multinomial"
    return gen


def _per_token(gen, n, seed, batch_size):
    """The raw stream's NLL per token, computed independently of molvae.sampling."""
    import torch

    from molvae.device import torch_generator

    g, out = torch_generator(seed, gen.device), []
    source = gen.z_source("auto")
    deck = gen.prior.deck(g) if source == "learned" else None  # one draw of components per run
    for start in range(0, n, batch_size):
        b = min(batch_size, n - start)
        rows, nll = gen.decode_ids(gen.draw_z(b, source, g, deck), "multinomial", 1.0,
                                   None, g, b)  # fmt: skip
        out += [v / len(r) for r, v in zip(rows, nll.tolist())]
    return torch.tensor(out).numpy()


def test_max_nll_per_token_keeps_the_likely_rows_of_the_same_stream(selfies):
    raw = selfies.sample(400, seed=4, batch_size=200)
    per_token = _per_token(selfies, 400, 4, 200)
    limit = float(pd.Series(per_token).median())
    kept = selfies.sample(100, seed=4, batch_size=200, max_nll_per_token=limit)
    assert len(kept) == 100 and kept.valid.all()
    expected = raw[(per_token <= limit) & raw.valid.to_numpy()].head(100).reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, expected)
    assert kept.nll.mean() < raw.nll.mean()  # the likely half


def test_nll_threshold_is_the_quantile_of_the_raw_samples(selfies):
    limit = selfies.nll_threshold(0.7, n=600, seed=5, batch_size=300)
    per_token = _per_token(selfies, 600, 5, 300)
    assert abs((per_token <= limit).mean() - 0.7) < 0.01
    for bad in (0, 1.5, float("nan")):
        with pytest.raises(ValueError, match="keep"):
            selfies.nll_threshold(bad, n=10)


def test_max_nll_per_token_bad_values_and_too_strict(selfies):
    for bad in (float("nan"), 0, -1.0, float("inf")):
        with pytest.raises(ValueError, match="max_nll_per_token"):
            selfies.sample(5, max_nll_per_token=bad)
    with pytest.raises(SamplingError, match=r"NLL per token <= 1e-06.*raise max_nll_per_token"):
        selfies.sample(50, seed=0, batch_size=100, max_nll_per_token=1e-6, max_draws=200)


def test_cli_keep_likely(tmp_path, capsys):
    from molvae.cli.main import main

    out = tmp_path / "l.smi"
    assert main(["sample", "moses-selfies", "-n", "30", "--seed", "0", "--keep-likely", "0.5",
                 "--batch-size", "100", "--no-progress", "-o", str(out)]) == 0  # fmt: skip
    assert len(out.read_text().split()) == 30
    assert "keeps 50% of the raw samples" in capsys.readouterr().out
    both = ["sample", "-n", "5", "--keep-likely", "0.5", "--max-nll-per-token", "1", "-o",
            str(tmp_path / "x.csv")]  # fmt: skip
    assert main(both) == 2 and not (tmp_path / "x.csv").exists()
    assert main(["sample", "-n", "5", "--max-nll-per-token", "nan", "-o",
                 str(tmp_path / "y.csv")]) == 2  # fmt: skip


def test_auto_method_is_the_models_own_and_survives_save(weak, tmp_path):
    assert weak.default_method == "multinomial"
    plain = weak.sample(40, seed=4, batch_size=20)
    pd.testing.assert_frame_equal(
        plain, weak.sample(40, seed=4, batch_size=20, method="multinomial")
    )
    weak.default_method = "greedy"
    try:
        greedy = weak.sample(40, seed=4, batch_size=20)
        pd.testing.assert_frame_equal(
            greedy, weak.sample(40, seed=4, batch_size=20, method="greedy")
        )
        assert not greedy.equals(plain)
        weak.save(tmp_path / "g.pt")
    finally:
        weak.default_method = "multinomial"
    again = mv.load(tmp_path / "g.pt", device="cpu")
    assert again.default_method == "greedy"
    pd.testing.assert_frame_equal(again.sample(40, seed=4, batch_size=20), greedy)
    with pytest.raises(ValueError, match="method must be one of"):
        weak.default_method = "sampled"


def test_a_temperature_means_sampling_on_a_greedy_model(weak, tmp_path, caplog):
    """A temperature is never silently lost: "auto" on a greedy model samples multinomially."""
    weak.save(tmp_path / "w.pt")
    gen = mv.load(tmp_path / "w.pt", device="cpu")
    gen.default_method = "greedy"
    with caplog.at_level("INFO", logger="molvae.codec"):
        cool = gen.sample(40, seed=4, batch_size=20, temperature=0.7)
    assert "temperature 0.7 given: sampling multinomially" in caplog.text
    pd.testing.assert_frame_equal(
        cool, gen.sample(40, seed=4, batch_size=20, temperature=0.7, method="multinomial")
    )
    assert not cool.equals(gen.sample(40, seed=4, batch_size=20))  # T = 1: the model's greedy
    caplog.clear()
    with caplog.at_level("WARNING", logger="molvae.codec"):
        gen.sample(5, seed=4, temperature=0.7, method="greedy")  # explicit: greedy, but said
    assert "has no effect with greedy decoding" in caplog.text


def test_a_stored_method_that_is_not_one_is_refused_on_load(weak, tmp_path):
    from molvae import checkpoint as ckpt
    from molvae.exceptions import CheckpointError

    path = weak.save(tmp_path / "m.pt")
    for bad in ({"method": "top-k"}, "greedy", {"beam_width": 0}, {"beam_width": 2.5}):
        payload = ckpt.read_plain(path)
        payload["metadata"]["sampling"] = bad
        ckpt.write_plain(payload, path)
        with pytest.raises(CheckpointError, match="sampling"):
            mv.load(path, device="cpu")


def test_beam_search_as_the_models_own_decoding(weak, tmp_path, caplog):
    weak.save(tmp_path / "w.pt")
    gen = mv.load(tmp_path / "w.pt", device="cpu")
    assert gen.beam_width == 3
    beam = gen.sample(40, seed=4, batch_size=20, method="beam")
    greedy = gen.sample(40, seed=4, batch_size=20, method="greedy")
    assert (beam.nll <= greedy.nll + 1e-3).mean() > 0.9 and beam.nll.mean() < greedy.nll.mean()
    gen.beam_width = 1  # width 1 is greedy decoding (up to float rounding in bf16)
    one = gen.sample(40, seed=4, batch_size=20, method="beam")
    assert (one.smiles == greedy.smiles).mean() > 0.9
    gen.default_method, gen.beam_width = "beam", 5
    wide = gen.sample(40, seed=4, batch_size=20)
    gen.save(tmp_path / "b.pt")
    again = mv.load(tmp_path / "b.pt", device="cpu")
    assert (again.default_method, again.beam_width) == ("beam", 5)
    pd.testing.assert_frame_equal(again.sample(40, seed=4, batch_size=20), wide)
    with caplog.at_level("INFO", logger="molvae.codec"):
        cool = again.sample(40, seed=4, batch_size=20, temperature=0.7)
    assert "sampling multinomially (this model decodes by beam" in caplog.text
    pd.testing.assert_frame_equal(
        cool, again.sample(40, seed=4, batch_size=20, temperature=0.7, method="multinomial")
    )
    for bad in (0, 65, 2.5, True, "3"):
        with pytest.raises(ValueError, match="beam_width"):
            again.beam_width = bad


def test_cli_beam_width(weak, tmp_path):
    from molvae.cli.main import main

    path = weak.save(tmp_path / "w.pt")
    args = ["sample", str(path), "-n", "30", "--seed", "2", "--method", "beam", "--no-progress"]
    assert main([*args, "--beam-width", "1", "-o", str(tmp_path / "one.csv")]) == 0
    assert main([*args, "--beam-width", "4", "-o", str(tmp_path / "four.csv")]) == 0
    one, four = pd.read_csv(tmp_path / "one.csv"), pd.read_csv(tmp_path / "four.csv")
    assert len(one) == len(four) == 30 and four.nll.mean() < one.nll.mean()
    assert main([*args, "--beam-width", "65", "-o", str(tmp_path / "x.csv")]) == 2
