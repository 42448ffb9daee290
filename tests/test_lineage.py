"""fit(init=...) / molvae train --init: starting from a model, the lineage record, the refusals."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest
import torch

import molvae as mv
from molvae import checkpoint as ckpt
from molvae.bundled import sha256
from molvae.device import cpu_has_bf16
from molvae.lineage import Parent

from .helpers import tiny_configs


@pytest.fixture(scope="module")
def parent_run(tmp_path_factory, moses_sample):
    """A tiny model trained on general MOSES molecules, with its run directory."""
    out = tmp_path_factory.mktemp("parent") / "run"
    m, t = tiny_configs(epochs=3, prior="posterior", prior_components=20, prior_spread=1.2)
    mv.fit(moses_sample[:400], m, t, out_dir=out, progress=False)
    return out


def focused(moses_sample, n=96):
    """A focused set: MOSES molecules with a chlorine."""
    return [s for s in moses_sample if "Cl" in s][:n]


def mean_neg_elbo(model_path, smiles) -> float:
    gen = mv.load(model_path, device="cpu")
    return float(np.nanmean(gen.elbo(smiles, n_samples=4, seed=0)["neg_elbo"]))


def test_fine_tuning_moves_the_model_toward_the_focused_set(tmp_path, parent_run, moses_sample):
    target = focused(moses_sample)
    held_out, train = target[:16], target[16:]
    res = mv.fit(train, init=parent_run, out_dir=tmp_path / "ft", epochs=6, val_fraction=0.2,
                 progress=False)  # fmt: skip
    assert res.stopped_because == "epochs"
    before, after = mean_neg_elbo(parent_run, held_out), mean_neg_elbo(tmp_path / "ft", held_out)
    assert after < before - 1.0, (before, after)  # held-out focused molecules became likelier
    # it started from the parent's weights, not from scratch: epoch 1 already beats a fresh model
    m, t = tiny_configs(epochs=1, val_fraction=0.2)
    fresh = mv.fit(train, m, t, progress=False).history
    assert res.history.val_recon.iloc[0] < fresh.val_recon.iloc[0]


def test_init_inherits_network_tokenizer_recipe_and_prior(tmp_path, parent_run, moses_sample):
    parent = ckpt.load(parent_run / "best.pt")
    res = mv.fit(focused(moses_sample), init=parent_run, out_dir=tmp_path / "ft", epochs=1,
                 progress=False)  # fmt: skip
    child = ckpt.load(tmp_path / "ft" / "best.pt")
    assert child.model_config == parent.model_config
    assert child.tokenizer.to_dict() == parent.tokenizer.to_dict()
    tc = child.train_config
    assert tc["kl_weight"] == parent.train_config["kl_weight"]
    assert tc["kl_start"] == tc["kl_weight"] and tc["kl_warmup_steps"] == 0  # no second ramp
    assert tc["warmup_steps"] <= 20 and tc["batch_size"] == parent.train_config["batch_size"]
    assert tc["prior"] == "posterior" and tc["prior_spread"] == pytest.approx(1.2)
    assert res.prior is not None and res.prior.spread == pytest.approx(1.2)
    # the first step's beta is the parent's final beta
    assert res.history.beta.iloc[0] == pytest.approx(parent.train_config["kl_weight"])


def test_init_keeps_the_parents_decoding(tmp_path, parent_run, moses_sample):
    """A model fine-tuned from one that decodes greedily decodes greedily too (checkpoint and
    in memory), as it samples from the parent's kind of prior."""
    gen = mv.load(parent_run, device="cpu")
    gen.default_method = "greedy"
    gen.save(tmp_path / "greedy.pt")
    res = mv.fit(focused(moses_sample), init=tmp_path / "greedy.pt", out_dir=tmp_path / "ft",
                 epochs=1, progress=False)  # fmt: skip
    assert mv.load(tmp_path / "ft", device="cpu").default_method == "greedy"
    assert res.generator().default_method == "greedy"
    plain = mv.fit(focused(moses_sample), init=parent_run, epochs=1, progress=False)
    assert plain.generator().default_method == "multinomial"
    gen.default_method, gen.beam_width = "beam", 5
    gen.save(tmp_path / "beam.pt")
    beam = mv.fit(focused(moses_sample), init=tmp_path / "beam.pt", epochs=1, progress=False)
    assert (beam.generator().default_method, beam.generator().beam_width) == ("beam", 5)


def test_lineage_adds_up_over_pieces(tmp_path, parent_run, moses_sample):
    first = ckpt.load(parent_run / "best.pt").metadata["lineage"]
    assert first["total"]["pieces"] == 1 and first["pieces"][0]["parent_sha256"] is None
    assert first["total"]["molecules_seen"] > 0 and first["total"]["seconds"] > 0
    hw = first["pieces"][0]["hardware"]  # CPU kind, threads and precision, as the card shows them
    assert re.fullmatch(
        r".+ CPU( with AVX512-BF16)?, \d+ torch threads?, (float32|bf16 autocast)", hw
    )
    assert ("with AVX512-BF16" in hw) == cpu_has_bf16()
    recipe = Parent.load(parent_run).train_config()  # continue on other data: the config's data
    mv.fit(None, None, replace(recipe, data="moses:test", limit=200, epochs=1), init=parent_run,
           out_dir=tmp_path / "p2", progress=False)  # fmt: skip
    mv.fit(None, None, replace(recipe, data="moses:test", limit=150, epochs=2),
           init=tmp_path / "p2", out_dir=tmp_path / "p3", progress=False)  # fmt: skip
    third = ckpt.load(tmp_path / "p3" / "best.pt")
    lin = third.metadata["lineage"]
    assert [p["parent_sha256"] for p in lin["pieces"]] == [
        None, sha256(parent_run / "best.pt"), sha256(tmp_path / "p2" / "best.pt")
    ]  # fmt: skip
    for key in ("steps", "molecules_seen"):
        assert lin["total"][key] == sum(p[key] for p in lin["pieces"])
    assert lin["total"]["seconds"] == pytest.approx(
        sum(p["seconds"] for p in lin["pieces"]), abs=0.2
    )
    assert lin["pieces"][-1]["steps"] == third.train_state["step"]
    # molecules seen: the training molecules of every epoch (2 epochs of this piece's train split)
    assert lin["pieces"][-1]["molecules_seen"] == 2 * lin["pieces"][-1]["n_train"]


def test_resumed_piece_keeps_its_lineage(tmp_path, parent_run, moses_sample):
    out = tmp_path / "ft"
    mv.fit(focused(moses_sample), init=parent_run, out_dir=out, epochs=1, progress=False)
    mv.fit(focused(moses_sample), out_dir=out, resume=True, epochs=2, progress=False)
    lin = ckpt.load(out / "last.pt").metadata["lineage"]
    assert len(lin["pieces"]) == 2 and lin["pieces"][1]["parent_sha256"] == sha256(
        parent_run / "best.pt"
    )
    assert ckpt.load(out / "last.pt").train_state["epoch"] == 2


def test_refusals(tmp_path, parent_run, moses_sample):
    data = focused(moses_sample)
    with pytest.raises(mv.ConfigError, match="model.decoder_hidden_dim is 128 here but 64"):
        m, t = tiny_configs()
        m.decoder_hidden_dim = 128
        mv.fit(data, m, t, init=parent_run, progress=False)
    with pytest.raises(mv.ConfigError, match="train.tokenizer is 'selfies' here but 'smiles'"):
        mv.fit(data, init=parent_run, tokenizer="selfies", progress=False)
    with pytest.raises(mv.CheckpointError, match="no-such-model"):
        mv.fit(data, init="no-such-model", progress=False)
    damaged = tmp_path / "damaged.pt"
    damaged.write_bytes((parent_run / "best.pt").read_bytes()[:5000])
    with pytest.raises(mv.CheckpointError, match="truncated or corrupted"):
        mv.fit(data, init=damaged, progress=False)
    with pytest.raises(mv.ConfigError, match="not both"):
        mv.fit(data, init=parent_run, out_dir=tmp_path / "x", resume=True, progress=False)


def test_unknown_tokens_are_counted_not_fatal(tmp_path, parent_run, moses_sample):
    """A focused set with atoms the parent's vocabulary lacks: those rows are dropped and counted."""
    data = focused(moses_sample, 60) + ["CC[Se]CC", "ICc1ccccc1", "C[C@H](N)C(=O)O"]
    mv.fit(data, init=parent_run, out_dir=tmp_path / "ft", epochs=1, progress=False)
    report = ckpt.load(tmp_path / "ft" / "best.pt").metadata["prepare_report"]
    assert report["kept"] == 60 and sum(report["dropped"].values()) == 3


def test_parent_of_a_checkpoint_without_lineage(tmp_path, parent_run):
    """Checkpoints written before lineage existed (the bundled ones) get one rebuilt piece."""
    payload = torch.load(parent_run / "best.pt", weights_only=True)
    del payload["metadata"]["lineage"]
    old = tmp_path / "old.pt"
    torch.save(payload, old)
    parent = Parent.load(old)
    assert len(parent.pieces) == 1 and parent.pieces[0]["steps"] == payload["train_state"]["step"]
    assert parent.pieces[0]["molecules_seen"] == payload["train_state"]["step"] * 16


def test_cli_init(tmp_path, parent_run, moses_sample):
    from molvae.cli.main import main

    f = tmp_path / "focused.smi"
    f.write_text("\n".join(focused(moses_sample)) + "\n")
    rc = main(["train", "--init", str(parent_run), "--data", str(f), "--epochs", "1",
               "--device", "cpu", "--out", str(tmp_path / "ft"), "--no-progress"])  # fmt: skip
    assert rc == 0
    assert len(ckpt.load(tmp_path / "ft" / "best.pt").metadata["lineage"]["pieces"]) == 2
    # argparse: --init and --resume exclude each other
    assert (
        main(["train", "--init", str(parent_run), "--resume", "--out", str(tmp_path / "ft")]) == 2
    )
