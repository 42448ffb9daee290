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
    df = bundled.sample(120, seed=2, batch_size=50)
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
