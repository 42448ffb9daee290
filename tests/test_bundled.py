"""Bundled pretrained models: lookup by name, checksums, cards, the CLI; and the shipped files."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import molvae as mv
from molvae import bundled
from molvae.cli.main import main
from molvae.exceptions import CheckpointError

from .helpers import load_script, tiny_configs

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory, moses_sample):
    """A tiny trained model saved as a checkpoint (the bundling mechanics do not need quality)."""
    model_cfg, train_cfg = tiny_configs(epochs=1)
    result = mv.fit(moses_sample[:64], model_cfg, train_cfg, progress=False)
    path = tmp_path_factory.mktemp("m") / "tiny.pt"
    result.generator().save(path)
    return path


@pytest.fixture
def models_dir(tmp_path, tiny_model, monkeypatch):
    d = tmp_path / "models"
    d.mkdir()
    data = tiny_model.read_bytes()
    (d / "tiny-smiles.pt").write_bytes(data)
    card = {"tokenizer": "smiles", "parameters": 1234, "metrics": {"valid": 0.5, "FCD/Test": 9.0}}
    manifest = {
        "default": "tiny-smiles",
        "models": {
            "tiny-smiles": {
                "file": "tiny-smiles.pt",
                "sha256": hashlib.sha256(data).hexdigest(),
                "bytes": len(data),
                "summary": "a tiny test model",
                "card": card,
            }
        },
    }
    (d / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setenv("MOLVAE_MODELS_DIR", str(d))
    return d


def test_load_by_name_and_table(models_dir):
    gen = mv.load("tiny-smiles", device="cpu")
    assert len(gen.sample(5, seed=0)) == 5
    table = mv.pretrained()
    assert list(table.name) == ["tiny-smiles"]
    row = table.iloc[0]
    assert row.default and row.tokenizer == "smiles" and row.parameters == 1234
    assert row.valid == 0.5 and row["FCD/Test"] == 9.0
    assert bundled.default_name() == "tiny-smiles"
    assert row.pieces == 1 and row.molecules_seen is None  # no lineage: one piece


def test_table_sums_a_model_trained_in_pieces(models_dir):
    path = models_dir / "manifest.json"
    data = json.loads(path.read_text())
    card = data["models"]["tiny-smiles"]["card"]
    card.update(steps=50, train_minutes=2.0)  # the last piece's
    total = {"pieces": 3, "steps": 150, "molecules_seen": 19200, "seconds": 390.0}
    card["lineage"] = {"pieces": [{}, {}, {}], "total": total}
    path.write_text(json.dumps(data))
    row = mv.pretrained().iloc[0]
    assert (row.steps, row.train_minutes) == (50, 2.0)
    assert (row.pieces, row.molecules_seen, row.total_minutes) == (3, 19200, 6.5)
    total["seconds"] = None  # a piece whose time is unknown: no partial sum
    path.write_text(json.dumps(data))
    assert pd.isna(mv.pretrained().iloc[0].total_minutes)


def test_unknown_name_lists_the_bundled(models_dir):
    with pytest.raises(
        CheckpointError, match=r"unknown model 'moses-smilez'.*bundled: tiny-smiles"
    ):
        mv.load("moses-smilez")


def test_tampered_or_missing_file_is_refused_never_replaced(models_dir):
    f = models_dir / "tiny-smiles.pt"
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0xFF
    f.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="fails its checksum"):
        mv.load("tiny-smiles")
    f.unlink()
    with pytest.raises(CheckpointError, match="is missing"):
        mv.load("tiny-smiles")


def test_paths_still_win_and_empty_installation(tmp_path, tiny_model, monkeypatch):
    monkeypatch.setenv("MOLVAE_MODELS_DIR", str(tmp_path / "nothing"))
    assert mv.load(str(tiny_model), device="cpu").latent_dim == 8
    assert mv.pretrained().empty
    with pytest.raises(CheckpointError, match="bundles no pretrained model"):
        bundled.default_name()
    with pytest.raises(CheckpointError, match="bundled: none in this installation"):
        mv.load("moses-smiles")
    with pytest.raises(CheckpointError, match="no such checkpoint file"):
        mv.load(str(tmp_path / "missing.pt"))


def test_cli_models_and_default_sample(models_dir, tmp_path, capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "tiny-smiles" in out and "a tiny test model" in out
    assert main(["models", "--check"]) == 0
    assert "checksums match" in capsys.readouterr().out
    assert main(["models", "tiny-smiles"]) == 0
    assert json.loads(capsys.readouterr().out)["parameters"] == 1234
    assert main(["models", "nope"]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err
    out_csv = tmp_path / "s.csv"
    assert main(["sample", "-n", "7", "-o", str(out_csv), "--no-progress"]) == 0
    assert len(pd.read_csv(out_csv)) == 7
    smi = tmp_path / "in.smi"
    smi.write_text("CCO\nc1ccccc1\n")
    assert main(["encode", "tiny-smiles", str(smi), "-o", str(tmp_path / "z.npy")]) == 0
    assert np.load(tmp_path / "z.npy").shape == (2, 8)


def test_a_renamed_model_still_loads_by_its_old_name(models_dir, caplog):
    path = models_dir / "manifest.json"
    data = json.loads(path.read_text())
    data["renamed"] = {"old-tiny": "tiny-smiles", "gone": "not-bundled"}
    path.write_text(json.dumps(data))
    with caplog.at_level("INFO", logger="molvae.bundled"):
        gen = mv.load("old-tiny", device="cpu")
    assert "'old-tiny' is now called 'tiny-smiles'" in caplog.text
    assert gen.sample(3, seed=0).equals(mv.load("tiny-smiles", device="cpu").sample(3, seed=0))
    assert bundled.card("old-tiny")["parameters"] == 1234
    assert list(mv.pretrained().name) == ["tiny-smiles"]  # aliases are not listed as models
    with pytest.raises(CheckpointError, match="unknown model 'gone'"):  # alias of nothing
        mv.load("gone")
    data["renamed"] = ["old-tiny"]
    path.write_text(json.dumps(data))
    with pytest.raises(CheckpointError, match="'renamed' must map old model names"):
        mv.load("tiny-smiles")


def test_bundle_model_rename_keeps_weights_and_card(models_dir, tmp_path):
    """scripts/bundle_model.py --rename: new file and card name, same weights, old name an alias."""
    manifest = models_dir / "manifest.json"
    data = json.loads(manifest.read_text())
    shipped = json.loads((ROOT / "molvae/models/manifest.json").read_text())
    real_card = shipped["models"][shipped["default"]]["card"]  # all that MODELS.md shows
    data["models"]["tiny-smiles"]["card"] = {**real_card, "name": "tiny-smiles"}
    manifest.write_text(json.dumps(data))
    before = mv.load("tiny-smiles", device="cpu")
    md = tmp_path / "MODELS.md"
    script = ROOT / "scripts" / "bundle_model.py"
    cmd = [
        sys.executable,
        str(script),
        "tiny-smiles",
        "tiny-new",
        "--rename",
        "--models-md",
        str(md),
    ]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    data = json.loads(manifest.read_text())
    assert set(data["models"]) == {"tiny-new"} and data["default"] == "tiny-new"
    assert data["renamed"] == {"tiny-smiles": "tiny-new"}
    assert not (models_dir / "tiny-smiles.pt").exists()
    entry = data["models"]["tiny-new"]
    assert entry["file"] == "tiny-new.pt" and entry["card"]["name"] == "tiny-new"
    after = mv.load("tiny-new", device="cpu")
    assert after.metadata["card"]["name"] == "tiny-new"
    for (k, a), b in zip(before.model.state_dict().items(), after.model.state_dict().values()):
        assert torch.equal(a, b), k
    assert mv.load("tiny-smiles", device="cpu").metadata["card"]["name"] == "tiny-new"
    assert "`tiny-smiles` (now `tiny-new`)" in md.read_text()
    again = subprocess.run(cmd, capture_output=True, text=True)  # the old name is no model now
    assert again.returncode != 0 and "'tiny-smiles' is not a bundled model" in again.stderr
    command = entry["card"]["command"]
    assert command == real_card["command"]  # kept unless replaced
    # renamed again, with the command and summary that follow the model; both aliases follow it
    subprocess.run([sys.executable, str(script), "tiny-new", "tiny-third", "--rename",
                    "--command", "train --init tiny-third", "--summary", "the third name",
                    "--models-md", str(md)], check=True, capture_output=True)  # fmt: skip
    data = json.loads(manifest.read_text())
    assert data["renamed"] == {"tiny-smiles": "tiny-third", "tiny-new": "tiny-third"}
    entry = data["models"]["tiny-third"]
    assert entry["summary"] == "the third name"
    assert entry["card"]["command"] == "train --init tiny-third"
    third = mv.load("tiny-third", device="cpu")
    assert third.metadata["card"]["command"] == "train --init tiny-third"
    assert third.metadata["card"]["metrics"] == real_card["metrics"]
    bad = subprocess.run([sys.executable, str(script), "-", "tiny-new", "--render-only", "--default",
                          "--models-md", str(md)], capture_output=True, text=True)  # fmt: skip
    assert bad.returncode != 0 and "'tiny-new' is not a bundled model" in bad.stderr  # an alias


# ---- the files this repository ships ------------------------------------------------------------
SHIPPED = (
    json.loads((ROOT / "molvae/models/manifest.json").read_text())["models"]
    if (ROOT / "molvae/models/manifest.json").exists()
    else {}
)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_model_verifies_and_samples(name, monkeypatch):
    monkeypatch.delenv("MOLVAE_MODELS_DIR", raising=False)
    entry = SHIPPED[name]
    path = bundled.path(name)  # sha256 checked
    assert path.stat().st_size == entry["bytes"] <= 12 * 1024 * 1024
    gen = mv.load(name, device="cpu")
    assert gen.prior is not None  # sampled from its learned prior by default
    card = gen.metadata["card"]
    assert card["metrics"] == entry["card"]["metrics"]
    assert card["name"] == name
    assert card["tokenizer"] == gen.tokenizer.kind
    s = gen.sample(200, seed=0)
    assert s.valid.mean() > 0.3


def test_models_md_matches_the_manifest():
    if not SHIPPED:
        pytest.skip("no bundled models in this checkout")
    text = (ROOT / "MODELS.md").read_text()
    for name, entry in SHIPPED.items():
        m = entry["card"]["metrics"]
        row = next(line for line in text.splitlines() if line.startswith(f"| `{name}` |"))
        assert f"{m['FCD/Test']:.3f}" in row and f"{m['valid']:.3f}" in row
        assert entry["sha256"] in text
        assert re.search(rf"## `{re.escape(name)}`", text)


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"sha256": "0" * 64}, "lacks a text 'file'"),
        ({"file": 5, "sha256": "0" * 64}, "lacks a text 'file'"),
        ({"file": "../x.pt", "sha256": "0" * 64}, "outside the models folder"),
        ({"file": "x.pt", "sha256": "0" * 64, "card": [1]}, "'card' that is not a table"),
        ("x.pt", "is not a table"),
    ],
)
def test_a_malformed_manifest_entry_is_a_clear_error(tmp_path, monkeypatch, entry, message):
    (tmp_path / "manifest.json").write_text(json.dumps({"default": "m", "models": {"m": entry}}))
    monkeypatch.setenv("MOLVAE_MODELS_DIR", str(tmp_path))
    with pytest.raises(CheckpointError, match=re.escape(message)):
        bundled.path("m")


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_model_has_the_config_that_reproduces_its_network(name):
    """scripts/pretrained/NAME.toml (its first piece) builds the network the bundled file holds,
    or, for a model grown later by scripts/widen_model.py (recorded in the card's command), the
    network that widening makes of it."""
    import dataclasses

    from molvae.config import load_config

    model_cfg, train_cfg = load_config(ROOT / "scripts" / "pretrained" / f"{name}.toml")
    card = SHIPPED[name]["card"]
    grown = re.findall(r"widen_model\.py \S+ --decoder-hidden (\d+)", card.get("command", ""))
    if grown:
        model_cfg = dataclasses.replace(model_cfg, decoder_hidden_dim=int(grown[-1]))
    shipped = {k: v for k, v in card["model_config"].items() if k != "vocab_size"}
    assert {k: getattr(model_cfg, k) for k in shipped} == shipped
    assert train_cfg.tokenizer == card["tokenizer"]


def test_the_card_names_a_piece_grown_from_a_widened_decoder():
    bm = load_script("bundle_model")
    piece = {"data": "moses:train", "steps": 10, "molecules_seen": 1280, "seconds": 60.0,
             "hardware": "a CPU"}  # fmt: skip
    wide = {**piece, "widened_from": {"decoder_hidden_dim": 256, "sha256": "ab"}}
    lineage = {"pieces": [piece, wide, piece],
               "total": {"pieces": 3, "steps": 30, "molecules_seen": 3840, "seconds": 180.0}}  # fmt: skip
    lines = bm.lineage_lines(lineage)
    assert lines[0] == "- **Lineage**: 3 pieces, 30 steps, 3,840 molecules seen, 3 min"
    assert ["widened" in line for line in lines[1:]] == [False, True, False]
    assert "its 256-unit decoder widened" in lines[2]
