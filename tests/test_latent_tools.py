"""Encode / reconstruct / interpolate / neighbours / ELBO / pictures with a small overfit model."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

import molvae as mv
from molvae.chem import canonical
from molvae.cli.main import main

from .helpers import fresh


@pytest.fixture(scope="module")
def fitted(overfit32):
    gen, data = overfit32
    return fresh(gen), data.smiles


def test_encode_shapes_and_bad_rows(fitted, caplog):
    gen, smiles = fitted
    z = gen.encode(smiles[:3])
    assert z.shape == (3, gen.latent_dim) and np.isfinite(z).all()
    assert np.allclose(gen.encode(smiles[0]), z[:1], atol=1e-5)
    zs = gen.encode(smiles[:3], sample=True, seed=0)
    assert not np.allclose(zs, z) and np.allclose(zs, gen.encode(smiles[:3], sample=True, seed=0))
    with caplog.at_level("WARNING"):
        z, info = gen.encode([smiles[0], "C1CC", "C[Se]C", None], details=True)
    assert np.isnan(z[1:]).all() and np.isfinite(z[0]).all()
    reasons = [r if isinstance(r, str) else None for r in info.reason]
    assert reasons == [None, "unparseable", "unknown_token", "not_a_string"]
    assert "3 of 4" in caplog.text and "[Se]" in caplog.text


def test_single_unrepresentable_smiles_names_the_token(fitted):
    gen, _ = fitted
    with pytest.raises(mv.TokenizerError, match=r"\[Se\]"):
        gen.encode("C[Se]C")
    with pytest.raises(mv.TokenizerError, match="RDKit cannot parse"):
        gen.interpolate("C1CC", "CCO")


def test_reconstruct_returns_the_inputs(fitted):
    gen, smiles = fitted
    df = gen.reconstruct(smiles, n_decodes=1)
    assert df.attrs["exact_match"] == 1.0 and df.match.all()
    assert (df.tanimoto == 1.0).all() and (df.frequency == 1.0).all()
    df = gen.reconstruct([smiles[0], "C[Se]C"], n_decodes=5)
    assert list(df.columns) == [
        "smiles",
        "reconstruction",
        "match",
        "frequency",
        "tanimoto",
        "reason",
        "standardized",
    ]
    assert pd.isna(df.reason[0]) and df.reason[1] == "unknown_token"
    assert 0 < df.frequency[0] <= 1


def test_decode_frame(fitted):
    gen, smiles = fitted
    df = gen.decode(gen.encode(smiles[:4]))
    assert [canonical(s) for s in df.smiles] == smiles[:4]
    with pytest.raises(ValueError, match="shape"):
        gen.decode(np.zeros((2, 3)))


def test_interpolation_endpoints_and_columns(fitted):
    gen, smiles = fitted
    for method in ("linear", "slerp"):
        path = gen.interpolate(smiles[0], smiles[1], steps=6, method=method)
        assert list(path.columns) == ["step", "t", "smiles", "valid", "sim_a", "sim_b"]
        assert path.smiles.iloc[0] == smiles[0] and path.smiles.iloc[-1] == smiles[1]
        assert path.sim_a.iloc[0] == 1.0 and path.sim_b.iloc[-1] == 1.0
        assert path.t.iloc[0] == 0.0 and path.t.iloc[-1] == 1.0
    short = gen.interpolate(smiles[0], smiles[1], steps=12, drop_duplicates=True)
    assert (short.smiles != short.smiles.shift()).all()
    with pytest.raises(ValueError, match="steps"):
        gen.interpolate(smiles[0], smiles[1], steps=1)


def test_neighbors_unique_valid_sorted(fitted):
    gen, smiles = fitted
    df = gen.neighbors(smiles[0], n=10, radius=1.0, seed=0)
    assert list(df.columns) == ["smiles", "tanimoto", "distance", "draws"]
    assert df.smiles.is_unique and smiles[0] not in set(df.smiles)
    assert all(canonical(s) == s for s in df.smiles)
    assert df.tanimoto.is_monotonic_decreasing
    assert df.attrs["draws"] <= df.attrs["budget"]
    tiny = gen.neighbors(smiles[0], n=1000, radius=0.01, max_draws=100, seed=0)
    assert tiny.attrs["exhausted"] and tiny.attrs["draws"] == 100
    with pytest.raises(ValueError, match="n must"):
        gen.neighbors(smiles[0], n=0)
    with pytest.raises(ValueError, match="radius"):
        gen.neighbors(smiles[0], radius=0)


def test_elbo_ranks_training_molecule_below_outlier(fitted):
    gen, smiles = fitted
    df = gen.elbo([smiles[0], "CCCCCCCCCCCCCCCCCCCCCCCC", "C[Se]C"])
    assert list(df.columns) == ["smiles", "recon_nll", "kl", "neg_elbo", "reason", "standardized"]
    assert df.neg_elbo[0] < df.neg_elbo[1]
    assert np.isnan(df.neg_elbo[2]) and df.reason[2] == "unknown_token"


def _is_png(path):
    data = path.read_bytes()
    return len(data) > 1000 and data[:8] == b"\x89PNG\r\n\x1a\n"


def test_pictures_write_png(fitted, tmp_path):
    gen, smiles = fitted
    mv.draw_grid(smiles[:6], legends=list(range(6)), path=tmp_path / "grid.png")
    assert _is_png(tmp_path / "grid.png")
    svg = mv.draw_grid(smiles[:3], path=tmp_path / "grid.svg")
    assert "<svg" in (tmp_path / "grid.svg").read_text() and svg
    path = gen.interpolate(smiles[0], smiles[1], steps=5)
    mv.draw_interpolation(path, path=tmp_path / "strip.png")
    assert _is_png(tmp_path / "strip.png")
    frame = pd.DataFrame({"smiles": smiles, "activity": np.arange(len(smiles), dtype=float)})
    out = mv.latent_map(gen, frame, color_by="activity", path=tmp_path / "map.png")
    assert _is_png(tmp_path / "map.png") and len(out) == len(smiles)
    mv.latent_map(gen, smiles, color_by="qed", path=tmp_path / "map_qed.png")
    assert _is_png(tmp_path / "map_qed.png")
    summary = mv.property_histograms(
        smiles[:16], smiles[16:], properties=["qed", "logp"], path=tmp_path / "h.png"
    )
    assert _is_png(tmp_path / "h.png") and list(summary.property) == ["qed", "logp"]


def test_invalid_molecules_are_drawn_with_their_caption(tmp_path):
    svg = mv.draw_grid(["CCO", "C1CC"], legends=["ok", "ring"], path=tmp_path / "g.svg")
    assert "ring (invalid)" in svg and "ring (invalid)" in (tmp_path / "g.svg").read_text()
    png = mv.draw_grid(["CCO", "C1CC"], path=tmp_path / "g.png")
    cell = png.crop((png.size[0] // 2, 0, png.size[0], png.size[1]))  # the invalid molecule's
    assert any(p[:3] != (255, 255, 255) for p in cell.getdata())  # its caption, not a blank


def test_picture_bad_inputs(fitted, monkeypatch):
    gen, smiles = fitted
    with pytest.raises(ValueError, match="qed"):
        mv.latent_map(gen, smiles, color_by="colour")
    with pytest.raises(ValueError, match="empty"):
        mv.draw_grid([])
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(mv.MolvaeError, match=r"molvae\[viz\]"):
        mv.latent_map(gen, smiles, color_by="qed")


def test_cli_latent_commands(fitted, tmp_path, capsys):
    gen, smiles = fitted
    model = gen.save(tmp_path / "m.pt")
    f = tmp_path / "in.smi"
    f.write_text("\n".join(smiles[:8]) + "\n")
    assert main(["encode", str(model), str(f), "-o", str(tmp_path / "z.npy")]) == 0
    assert np.load(tmp_path / "z.npy").shape == (8, gen.latent_dim)
    assert (
        main(["reconstruct", str(model), str(f), "--n-decodes", "1", "-o", str(tmp_path / "r.csv")])
        == 0
    )
    assert pd.read_csv(tmp_path / "r.csv").match.all()
    assert (
        main(
            [
                "interpolate",
                str(model),
                smiles[0],
                smiles[1],
                "--steps",
                "4",
                "--method",
                "slerp",
                "-o",
                str(tmp_path / "p.csv"),
                "--png",
                str(tmp_path / "p.png"),
            ]
        )
        == 0
    )
    assert _is_png(tmp_path / "p.png")
    assert (
        main(
            [
                "neighbors",
                str(model),
                smiles[0],
                "-n",
                "5",
                "--radius",
                "1.0",
                "-o",
                str(tmp_path / "nb.csv"),
                "--png",
                str(tmp_path / "nb.png"),
            ]
        )
        == 0
    )
    assert (
        main(["map", str(model), str(f), "--color-by", "qed", "-o", str(tmp_path / "map.png")]) == 0
    )
    assert main(["draw", str(f), "-o", str(tmp_path / "g.png")]) == 0
    assert all(_is_png(tmp_path / n) for n in ("map.png", "g.png"))
    capsys.readouterr()
    # bad input: one-line errors
    assert (
        main(
            [
                "interpolate",
                str(model),
                smiles[0],
                smiles[1],
                "--steps",
                "1",
                "-o",
                str(tmp_path / "x.csv"),
            ]
        )
        == 2
    )
    assert "steps" in capsys.readouterr().err
    assert main(["neighbors", str(model), smiles[0], "-n", "0", "-o", str(tmp_path / "x.csv")]) == 2
    assert (
        main(["neighbors", str(model), smiles[0], "--radius", "-1", "-o", str(tmp_path / "x.csv")])
        == 2
    )
    empty = tmp_path / "empty.smi"
    empty.write_text("")
    assert main(["encode", str(model), str(empty), "-o", str(tmp_path / "z.npy")]) == 2
    assert "empty" in capsys.readouterr().err
    assert (
        main(["map", str(model), str(f), "--color-by", "nope", "-o", str(tmp_path / "m.png")]) == 2
    )
    assert "qed" in capsys.readouterr().err
    assert (
        main(["interpolate", str(model), "C[Se]C", smiles[1], "-o", str(tmp_path / "x.csv")]) == 2
    )
    assert "[Se]" in capsys.readouterr().err


def test_traverse_walks_one_unit_at_a_time(fitted):
    gen, smiles = fitted
    df = gen.traverse(smiles[0], dims=[0, 3], steps=5, span=1.5)
    assert list(df.columns) == ["dim", "step", "offset", "z", "smiles", "valid"]
    assert len(df) == 10 and list(df.dim) == [0] * 5 + [3] * 5
    assert np.allclose(df.offset[:5], np.linspace(-1.5, 1.5, 5))
    mu = gen.encode(smiles[0])[0]
    assert np.allclose(df.z[:5], mu[0] + np.linspace(-1.5, 1.5, 5), atol=1e-5)
    # the middle step is the start itself: greedy decoding of the mean gives the molecule back
    assert df.smiles[2] == canonical(smiles[0])
    assert len(gen.traverse(None, steps=2)) == 2 * gen.latent_dim
    assert len(gen.traverse(mu, dims=[1], steps=3)) == 3


def test_traverse_refuses_bad_arguments(fitted):
    gen, smiles = fitted
    z = gen.latent_dim
    for kwargs, message in [
        ({"dims": [z]}, "dims must be unit indices"),
        ({"dims": [-1]}, "dims must be unit indices"),
        ({"dims": []}, "dims must be unit indices"),
        ({"dims": [True]}, "dims must be unit indices"),
        ({"steps": 1}, "steps"),
        ({"span": float("nan")}, "span"),
        ({"span": 0}, "span"),
    ]:
        with pytest.raises(ValueError, match=message):
            gen.traverse(smiles[0], **kwargs)
    with pytest.raises(ValueError, match="finite latent point"):
        gen.traverse(np.full(z, np.nan))
    with pytest.raises(ValueError, match="finite latent point"):
        gen.traverse(np.zeros(z + 1))
    with pytest.raises(mv.TokenizerError, match=r"\[Se\]"):
        gen.traverse("C[Se]C")
