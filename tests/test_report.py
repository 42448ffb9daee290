"""The latent report (molvae.report): tables, files, bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import molvae as mv
from molvae.cli.main import main
from molvae.report import ridge_r2

from .helpers import fresh


@pytest.fixture(scope="module")
def gen(overfit32):
    return fresh(overfit32[0])


@pytest.fixture(scope="module")
def report(gen, moses_sample):
    return mv.latent_report(gen, moses_sample[:200], properties=["rings", "heavy_atoms"],
                            starts=3, steps=5)  # fmt: skip


def test_tables_have_one_row_per_unit_property_and_walk(gen, report):
    z = gen.latent_dim
    assert list(report.units.columns) == ["dim", "kl", "mu_variance", "active"]
    assert len(report.units) == z and (report.units.kl >= 0).all()
    assert report.summary["active_units"] == int((report.units.kl > 0.01).sum())
    assert report.summary["n_molecules"] == 200 and report.summary["latent_dim"] == z
    assert list(report.probes.property) == ["rings", "heavy_atoms"]
    assert report.correlations.shape == (z, 2)
    assert np.all(np.abs(report.correlations.to_numpy()) <= 1 + 1e-9)
    for _, row in report.probes.iterrows():  # the top unit is the most correlated one
        corr = report.correlations[row.property].abs()
        assert row.top_dim == int(corr.idxmax()) and row.r2 <= 1
    assert len(report.traversals) == 2 * 3 * 5  # properties x starts x steps
    assert set(report.monotonicity.columns) >= {"property", "dim", "rho", "rho_heavy_atoms"}
    assert report.monotonicity.rho.between(-1, 1).all()


def test_save_writes_tables_pictures_and_markdown(report, tmp_path):
    out = report.save(tmp_path / "r")
    names = {p.name for p in out.iterdir()}
    assert {"units.csv", "probes.csv", "correlations.csv", "traversals.csv", "monotonicity.csv",
            "summary.json", "report.md", "correlations.png", "traversal_rings.png",
            "traversal_heavy_atoms.png"} <= names  # fmt: skip
    assert (
        json.loads((out / "summary.json").read_text())["latent_dim"] == report.summary["latent_dim"]
    )
    assert "active units" in (out / "report.md").read_text()
    assert pd.read_csv(out / "units.csv").shape[0] == report.summary["latent_dim"]


def test_ridge_probe_recovers_a_linear_property():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 8))
    y = 2 * x[:, 0] - x[:, 3] + 0.01 * rng.normal(size=500)
    assert ridge_r2(x[:400], y[:400], x[400:], y[400:]) > 0.99
    assert ridge_r2(x[:400], rng.normal(size=400), x[400:], rng.normal(size=100)) < 0.1


def test_bad_input(gen):
    with pytest.raises(ValueError, match="unknown properties"):
        mv.latent_report(gen, ["CCO"] * 30, properties=["nope"])
    with pytest.raises(ValueError, match="more than once"):
        mv.latent_report(gen, ["CCO"] * 30, properties=["qed", "qed"])
    with pytest.raises(ValueError, match="at least 20 readable"):
        mv.latent_report(gen, ["CCO", "C1CC", "C[Se]C"])


def test_cli_writes_the_report(gen, moses_sample, tmp_path, capsys):
    gen.save(tmp_path / "m.pt")
    smi = tmp_path / "in.smi"
    smi.write_text("\n".join(moses_sample[:60]) + "\n")
    out = tmp_path / "rep"
    args = ["latent-report", str(tmp_path / "m.pt"), "--input", str(smi), "--properties",
            "rings", "--starts", "2", "--steps", "3", "--no-pictures", "-o", str(out)]  # fmt: skip
    assert main(args) == 0
    assert (out / "report.md").exists() and not (out / "correlations.png").exists()
    assert "units active" in capsys.readouterr().out
    (tmp_path / "file").write_text("x")
    assert main([*args[:-1], str(tmp_path / "file")]) == 2
    assert "is a file" in capsys.readouterr().err
