"""Anomaly scores (molvae.anomaly): parts, calibration stored with the model, bad rows, the CLI."""

from __future__ import annotations

import math

import numpy as np
import pytest

import molvae as mv
from molvae import checkpoint as ckpt
from molvae.anomaly import (
    COLUMNS,
    Calibration,
    CalibrationError,
    calibration,
    nearest_similarity,
)
from molvae.cli.main import main

from .helpers import fresh, tiny_configs

OUTLIER = "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCC"  # a long chain: nothing like the training molecules


@pytest.fixture(scope="module")
def fitted(overfit32):
    gen, data = overfit32
    return fresh(gen), list(data.smiles)


@pytest.fixture(scope="module")
def calibrated(fitted):
    gen, smiles = fresh(fitted[0]), fitted[1]
    gen.calibrate_anomaly(smiles, quantile=0.95, source="the 32 training molecules")
    return gen, smiles


def test_uncalibrated_model_says_how_to_calibrate(fitted):
    gen, smiles = fitted
    gen.metadata.pop("anomaly", None)
    with pytest.raises(CalibrationError, match=r"calibrate_anomaly\(held_out_smiles\)"):
        gen.anomaly(smiles[:2])


def test_outlier_scores_above_threshold_and_rows_keep_their_order(calibrated):
    gen, smiles = calibrated
    queries = [smiles[0], OUTLIER, "C[Se]C", None, "C1CC", smiles[1]]
    df = gen.anomaly(queries)
    assert list(df.columns) == COLUMNS and list(df.smiles) == queries
    assert df.attrs["quantile"] == 0.95
    threshold = df.attrs["threshold"]
    assert df.anomaly[1] > threshold and df.outlier[1] and df.percentile[1] == 100
    assert df.anomaly[0] < df.anomaly[1] and not df.outlier[0] and df.exact[0]
    # unreadable rows: maximally unusual, with their reason, parts NaN
    assert [df.reason[k] for k in (2, 3, 4)] == ["unknown_token", "not_a_string", "unparseable"]
    assert all(math.isinf(df.anomaly[k]) and df.outlier[k] for k in (2, 3, 4))
    assert df.neg_elbo[2:5].isna().all() and df.exact[2:5].isna().all()
    assert df.reason[[0, 1, 5]].isna().all()
    assert (
        df.n_tokens[[0, 1]] == [len(gen.tokenizer.encode(s)) - 1 for s in (smiles[0], OUTLIER)]
    ).all()


def test_score_is_the_beta_weighted_elbo_per_token(calibrated, fitted):
    gen, smiles = calibrated
    df = gen.anomaly(smiles[:4])
    assert df.attrs["score"] == "beta_elbo_per_token"  # beta 1: this model has no kl_weight
    assert np.allclose(df.anomaly, (df.recon_nll + df.kl) / df.n_tokens)
    other = fresh(fitted[0])
    other.metadata["kl_weight"] = 0.1  # as mv.load sets it from the training config
    assert other.calibrate_anomaly(smiles).beta == 0.1
    assert np.allclose(
        other.anomaly(smiles[:4]).anomaly, (df.recon_nll + 0.1 * df.kl) / df.n_tokens
    )
    assert np.allclose(df.neg_elbo, gen.elbo(smiles[:4]).neg_elbo, rtol=1e-4)  # same seed, same z


def test_empty_input_gives_an_empty_frame(calibrated):
    gen, _ = calibrated
    df = gen.anomaly([])
    assert len(df) == 0 and list(df.columns) == COLUMNS


def test_reference_adds_the_nearest_neighbour_baseline(calibrated):
    gen, smiles = calibrated
    df = gen.anomaly([smiles[0], OUTLIER, "C1CC"], reference=smiles)
    assert df.nn_similarity[0] == pytest.approx(1.0)
    assert df.nn_similarity[1] < 0.5 and np.isnan(df.nn_similarity[2])
    with pytest.raises(ValueError, match="no reference molecule"):
        nearest_similarity(["CCO"], ["C1CC"])


def test_calibration_is_saved_with_the_model(calibrated, tmp_path):
    gen, smiles = calibrated
    gen.save(tmp_path / "m.pt")
    loaded = mv.load(tmp_path / "m.pt")
    assert calibration(loaded).threshold == calibration(gen).threshold
    a, b = gen.anomaly(smiles[:5]), loaded.anomaly(smiles[:5])
    assert np.allclose(a.anomaly, b.anomaly, rtol=1e-5) and (a.percentile == b.percentile).all()


def test_malformed_stored_calibrations_are_refused(calibrated, tmp_path):
    gen, smiles = calibrated
    good = calibration(gen).to_dict()
    bad = [
        {**good, "threshold": float("nan")},
        {**good, "score": "import os"},
        {**good, "scores": []},
        {**good, "scores": [0.0] * 3000},
        {**good, "quantile": 1.5},
        {**good, "beta": float("nan")},
        {**good, "version": 99},
        "a string",
        {k: v for k, v in good.items() if k != "threshold"},
    ]
    for data in bad:
        with pytest.raises(CalibrationError, match="malformed anomaly calibration"):
            Calibration.from_dict(data)
    gen.save(tmp_path / "m.pt")
    ckpt.set_metadata(tmp_path / "m.pt", {"anomaly": bad[0]})
    with pytest.raises(CalibrationError):
        mv.load(tmp_path / "m.pt").anomaly(smiles[:1])


def test_calibration_arguments_are_checked(fitted):
    gen, smiles = fitted
    for kwargs, message in [
        ({"quantile": 1.0}, "quantile"),
        ({"quantile": float("nan")}, "quantile"),
        ({"score": "nope"}, "score must be one of"),
        ({"beta": -1.0}, "beta"),
        ({"beta": float("inf")}, "beta"),
    ]:
        with pytest.raises(ValueError, match=message):
            gen.calibrate_anomaly(smiles, **kwargs)
    with pytest.raises(ValueError, match="at least 20 molecules"):
        gen.calibrate_anomaly(smiles[:10] + ["C1CC"] * 20)


def test_fit_stores_a_threshold_from_its_validation_molecules(tmp_path, moses_sample):
    m, t = tiny_configs(epochs=1, val_fraction=0.25)
    res = mv.fit(moses_sample[:100], m, t, out_dir=tmp_path / "run", progress=False)
    stored = ckpt.load(tmp_path / "run" / "best.pt").metadata["anomaly"]
    assert stored["n"] == 25 and stored["source"] == "25 validation molecules"
    assert stored["beta"] == t.kl_weight
    assert res.generator().anomaly(["CCO"]).attrs["threshold"] == stored["threshold"]
    assert mv.load(tmp_path / "run").anomaly(["CCO"]).attrs["threshold"] == stored["threshold"]


def test_fit_on_too_few_molecules_stores_no_threshold(tmp_path, moses_sample, caplog):
    m, t = tiny_configs(epochs=1, val_fraction=0.2)
    with caplog.at_level("INFO"):
        mv.fit(moses_sample[:40], m, t, out_dir=tmp_path / "run", progress=False)
    assert "anomaly" not in ckpt.load(tmp_path / "run" / "best.pt").metadata
    assert "no anomaly threshold stored" in caplog.text


def test_cli_calibrates_and_scores(fitted, tmp_path, capsys):
    gen, smiles = fitted
    gen.metadata.pop("anomaly", None)
    gen.save(tmp_path / "m.pt")
    held = tmp_path / "held.smi"
    held.write_text("\n".join(smiles) + "\n")
    queries = tmp_path / "q.smi"
    queries.write_text(f"{smiles[0]}\n{OUTLIER}\nC[Se]C\n")
    assert (
        main(["anomaly", str(tmp_path / "m.pt"), str(queries), "-o", str(tmp_path / "x.csv")]) == 2
    )
    assert "calibrate" in capsys.readouterr().err
    cal = tmp_path / "cal.pt"
    assert (
        main(["anomaly", str(tmp_path / "m.pt"), str(held), "--calibrate", "--save", str(cal)]) == 0
    )
    out = tmp_path / "a.csv"
    assert main(["anomaly", str(cal), str(queries), "-o", str(out), "--reference", str(held)]) == 0
    import pandas as pd

    df = pd.read_csv(out)
    assert list(df.outlier) == [False, True, True] and df.reason[2] == "unknown_token"
    assert "nn_similarity" in df.columns
    assert "2 of 3 molecules above the threshold" in capsys.readouterr().out
    assert main(["anomaly", str(cal), str(held), "--calibrate"]) == 2
    assert "--save" in capsys.readouterr().err
