"""Latent-space optimisation (molvae.optimize) on a small overfit model: the true objective is
evaluated on every returned molecule, constraints hold, failures are counted, seeds reproduce."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from molvae.chem import PROPERTIES, passes_moses_filters, tanimoto, to_mol
from molvae.cli.main import main
from molvae.exceptions import TokenizerError
from molvae.optimize import PropertyPredictor, parse_objective

from .helpers import fresh


@pytest.fixture(scope="module")
def fitted(overfit32):
    gen, data = overfit32
    return fresh(gen), list(data.smiles)


def test_parse_objective_expressions():
    o = parse_objective("qed - 0.1*sa")
    assert o.terms == [(1.0, "qed"), (-0.1, "sa")]
    assert parse_objective("-sa + 2 logp").terms == [(-1.0, "sa"), (2.0, "logp")]
    assert parse_objective({"qed": 2}).terms == [(2.0, "qed")]
    mol = to_mol("CCO")
    value, props = parse_objective("qed-0.1*sa")("CCO", mol)
    assert value == pytest.approx(PROPERTIES["qed"](mol) - 0.1 * PROPERTIES["sa"](mol))
    assert set(props) == {"qed", "sa"}


def test_parse_objective_errors():
    with pytest.raises(ValueError, match="unknown properties \\['qde'\\].*known.*qed"):
        parse_objective("qde")
    with pytest.raises(ValueError, match="position 4") as err:
        parse_objective("qed $ sa")
    assert "    ^" in str(err.value)
    with pytest.raises(ValueError, match="empty"):
        parse_objective(" ")


def test_cmaes_returns_truly_scored_unique_molecules(fitted):
    gen, _ = fitted
    best = gen.optimize("qed", n=10, budget=60, seed=0, progress=False)
    assert 0 < len(best) <= 10
    assert best.smiles.is_unique
    assert list(best.objective) == sorted(best.objective, reverse=True)
    for smi, value in zip(best.smiles, best.objective):  # the true objective, recomputed here
        assert value == pytest.approx(PROPERTIES["qed"](to_mol(smi)))
    a = best.attrs
    assert a["calls"] <= 60 and a["failed"] == 0 and a["method"] == "cmaes"
    assert best.evaluation.max() <= a["calls"]
    assert all(z.shape == (gen.latent_dim,) for z in best.z)
    again = gen.optimize("qed", n=10, budget=60, seed=0, progress=False)
    pd.testing.assert_frame_equal(best.drop(columns="z"), again.drop(columns="z"))


def test_start_similarity_ranges_and_filters_hold(fitted):
    gen, smiles = fitted
    start = smiles[0]
    best = gen.optimize(
        "logp",
        n=20,
        budget=40,
        start=start,
        min_similarity=0.3,
        constraints={"mw": (150, 500)},
        filters=True,
        sigma=1.0,
        seed=1,
        progress=False,
    )
    assert len(best) > 0
    for row in best.itertuples():
        mol = to_mol(row.smiles)
        assert row.similarity == pytest.approx(tanimoto(start, row.smiles))
        assert row.similarity >= 0.3
        assert 150 <= PROPERTIES["mw"](mol) <= 500
        assert passes_moses_filters(mol) and row.passes_filters
    assert best.attrs["start"] == start
    assert best.attrs["start_objective"] == pytest.approx(PROPERTIES["logp"](to_mol(start)))


def test_failing_objective_is_counted_and_search_goes_on(fitted):
    gen, _ = fitted
    seen = []

    def flaky(smi: str) -> float:
        seen.append(smi)
        if len(seen) % 3 == 0:
            raise RuntimeError("docking failed")
        if len(seen) % 3 == 1:
            return float("nan")
        return float(len(smi))

    best = gen.optimize(flaky, n=5, budget=30, method="random", seed=0, progress=False)
    a = best.attrs
    assert a["calls"] == len(seen)
    assert a["failed"] == sum(1 for i in range(1, len(seen) + 1) if i % 3 != 2)
    assert {f["error"].split(":")[0] for f in a["failures"]} <= {"RuntimeError", "ValueError"}
    assert all(math.isfinite(v) for v in best.objective)
    assert all(v == len(s) for s, v in zip(best.smiles, best.objective))


@pytest.mark.parametrize("method", ["gradient", "random"])
def test_other_methods(fitted, method):
    gen, _ = fitted
    best = gen.optimize("qed-0.1*sa", n=5, budget=40, method=method, seed=0, progress=False)
    assert 0 < len(best) <= 5 and best.attrs["calls"] <= 40
    for row in best.itertuples():
        mol = to_mol(row.smiles)
        assert row.objective == pytest.approx(row.qed - 0.1 * row.sa)
        assert row.qed == pytest.approx(PROPERTIES["qed"](mol))


def test_bad_inputs(fitted):
    gen, _ = fitted
    with pytest.raises(TokenizerError, match="cannot encode") as err:
        gen.optimize("qed", start="C1CC", progress=False)
    assert "C1CC" in str(err.value)
    with pytest.raises(ValueError, match="unknown method"):
        gen.optimize("qed", method="bayes", progress=False)
    with pytest.raises(ValueError, match="min_similarity needs a start"):
        gen.optimize("qed", min_similarity=0.4, progress=False)
    with pytest.raises(ValueError, match="unknown property 'colour'"):
        gen.optimize("qed", constraints={"colour": (0, 1)}, progress=False)


def test_property_predictor_fits_saves_and_loads(fitted, moses_sample, tmp_path):
    gen, _ = fitted
    pred = gen.fit_predictor(moses_sample[:300], properties=("mw", "heavy_atoms"), epochs=200)
    assert set(pred.report) == {"mw", "heavy_atoms"}
    assert all(math.isfinite(r["r2"]) and r["n"] == 30 for r in pred.report.values())
    pred.save(tmp_path / "p.pt")
    back = PropertyPredictor.load(tmp_path / "p.pt")
    z = gen.encode(moses_sample[:5])
    pd.testing.assert_frame_equal(pred.predict(z), back.predict(z))
    assert back.report == pred.report
    labels = pd.DataFrame({"y": np.arange(40, dtype=float)})
    own = gen.fit_predictor(moses_sample[:40], labels=labels, epochs=50)
    assert own.names == ["y"]
    with pytest.raises(ValueError, match="labels has 3 rows for 40"):
        gen.fit_predictor(moses_sample[:40], labels=labels[:3])


def test_cli_optimize(fitted, tmp_path, capsys):
    gen, smiles = fitted
    model = gen.save(tmp_path / "m.pt")
    out = tmp_path / "best.csv"
    argv = ["optimize", str(model), "--objective", "qed-0.1*sa", "--budget", "30", "-n", "5",
            "--range", "mw=100:", "-o", str(out), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    df = pd.read_csv(out)
    assert 0 < len(df) <= 5 and {"smiles", "objective", "qed", "sa", "mw", "z"} <= set(df.columns)
    assert (df.mw >= 100).all()
    assert len(df.z[0].split()) == gen.latent_dim
    assert "objective calls" in capsys.readouterr().out
    assert main(["optimize", str(model), "--objective", "qde", "-o", str(out)]) == 2
    assert "unknown properties ['qde']" in capsys.readouterr().err


def test_hostile_predictor_files_and_unusable_labels_are_refused(fitted, moses_sample, tmp_path):
    import torch

    gen, _ = fitted
    pred = gen.fit_predictor(moses_sample[:60], properties=("mw",), epochs=5)
    d = pred.to_dict()
    torch.save({**d, "hidden": 10**9}, tmp_path / "huge.pt")
    with pytest.raises(ValueError, match="hidden must be 1..65536"):
        PropertyPredictor.load(tmp_path / "huge.pt")
    torch.save({**d, "hidden": 512}, tmp_path / "lie.pt")
    with pytest.raises(ValueError, match="do not fit"):
        PropertyPredictor.load(tmp_path / "lie.pt")
    labels = pd.DataFrame({"y": [float("nan")] * 40})
    with pytest.raises(ValueError, match="only 0 of 40"):
        gen.fit_predictor(moses_sample[:40], labels=labels)
