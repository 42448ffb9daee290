"""scripts/widen_model.py: a wider decoder that computes what its parent computed, and learns."""

from __future__ import annotations

import sys
from dataclasses import replace

import pytest
import torch

import molvae as mv
from molvae import checkpoint as ckpt
from molvae.config import ModelConfig
from molvae.files import file_sha256
from molvae.losses import reconstruction_loss
from molvae.model import MolVAE
from molvae.tokenizers import pad_rows

from .helpers import TINY_MODEL, load_script


@pytest.fixture(scope="module")
def wm():
    return load_script("widen_model")


@pytest.fixture(scope="module")
def tokenizer():
    return ckpt.load(ckpt.resolve("moses-smiles")).tokenizer


def parent_model(tokenizer, layers: int) -> MolVAE:
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=tokenizer.vocab_size, **{**TINY_MODEL, "decoder_layers": layers})
    return MolVAE(cfg).eval()


@pytest.mark.parametrize("layers", [1, 2])
def test_the_wider_decoder_gives_the_parents_logits(wm, tokenizer, moses_sample, layers):
    parent = parent_model(tokenizer, layers)
    child = wm.widen(parent, 96, seed=3)
    assert child.cfg == replace(parent.cfg, decoder_hidden_dim=96)
    assert child.decoder.gru.weight_hh_l0.shape == (3 * 96, 96)
    diff = wm.max_logit_difference(parent.double(), child.double(), tokenizer, moses_sample[:40])
    assert diff < 1e-10
    # the encoder is the parent's, so the latent space and a learned prior still fit
    for name, t in parent.encoder.state_dict().items():
        assert torch.equal(t, child.encoder.state_dict()[name])


def test_the_new_units_get_gradients(wm, tokenizer, moses_sample):
    child = wm.widen(parent_model(tokenizer, 2), 96).train()
    ids = [tokenizer.encode(s) for s in moses_sample[:16]]
    batch = torch.from_numpy(pad_rows(ids))
    logits, _, _ = child(batch, torch.tensor([len(r) for r in ids]))
    reconstruction_loss(logits, batch[:, 1:]).backward()
    # the output columns that read the new units start at zero but learn at once
    assert child.decoder.out.weight[:, 64:].abs().max() == 0
    assert child.decoder.out.weight.grad[:, 64:].abs().max() > 0


def test_a_narrower_size_is_refused(wm, tokenizer):
    with pytest.raises(SystemExit, match="must exceed"):
        wm.widen(parent_model(tokenizer, 1), 64)


def test_the_script_writes_a_checkpoint_that_records_its_parent(
    wm, tokenizer, moses_sample, tmp_path, monkeypatch
):
    src, out, check = tmp_path / "parent.pt", tmp_path / "wide.pt", tmp_path / "check.smi"
    ckpt.save(src, parent_model(tokenizer, 2), tokenizer, metadata={"lineage": {"pieces": []}})
    check.write_text("\n".join(moses_sample[:50]) + "\n")
    argv = [str(src), "--decoder-hidden", "80", "--check", str(check), "-o", str(out)]
    monkeypatch.setattr(sys, "argv", ["widen_model.py", *argv])
    wm.main()
    gen = mv.load(out)
    assert gen.model.cfg.decoder_hidden_dim == 80
    assert gen.metadata["widened_from"]["decoder_hidden_dim"] == 64
    assert gen.metadata["widened_from"]["sha256"] == file_sha256(src)


def test_a_piece_grown_from_a_widened_file_records_the_widening(
    wm, moses_sample, tmp_path, monkeypatch
):
    """``fit(init=wide.pt)`` writes new metadata; its piece record keeps ``widened_from`` (also
    through a resume), and the next piece, which starts from a plain checkpoint, does not."""
    from .helpers import tiny_configs

    m, t = tiny_configs(epochs=1)
    mv.fit(moses_sample[:200], m, t, out_dir=tmp_path / "parent", progress=False)
    src, wide, check = tmp_path / "parent" / "best.pt", tmp_path / "wide.pt", tmp_path / "c.smi"
    check.write_text("\n".join(moses_sample[:20]) + "\n")
    argv = [str(src), "--decoder-hidden", "80", "--check", str(check), "-o", str(wide)]
    monkeypatch.setattr(sys, "argv", ["widen_model.py", *argv])
    wm.main()
    data = moses_sample[200:400]
    mv.fit(data, init=wide, out_dir=tmp_path / "grown", epochs=1, progress=False)
    mv.fit(data, out_dir=tmp_path / "grown", resume=True, epochs=2, progress=False)
    pieces = ckpt.load(tmp_path / "grown" / "last.pt").metadata["lineage"]["pieces"]
    assert len(pieces) == 2 and "widened_from" not in pieces[0]
    assert pieces[1]["parent_sha256"] == file_sha256(wide)
    assert pieces[1]["widened_from"]["sha256"] == file_sha256(src)
    assert pieces[1]["widened_from"]["decoder_hidden_dim"] == 64
    mv.fit(data, init=tmp_path / "grown", out_dir=tmp_path / "next", epochs=1, progress=False)
    pieces = ckpt.load(tmp_path / "next" / "best.pt").metadata["lineage"]["pieces"]
    assert [("widened_from" in p) for p in pieces] == [False, True, False]
