"""molvae.codec: one decoding length for fit and load; one rule for validity everywhere."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import molvae as mv
from molvae.chem import canonical_pair
from molvae.codec import DEFAULT_MAX_LEN, Codec, decode_length

from .helpers import tiny_configs


def test_fit_and_load_decode_identically(tmp_path, moses_sample):
    m, t = tiny_configs(epochs=1, max_len=60)
    result = mv.fit(moses_sample[:64], m, t, out_dir=tmp_path / "run", progress=False)
    fitted, loaded = result.generator(), mv.load(tmp_path / "run")
    assert fitted.max_len == loaded.max_len == decode_length(60) == 62
    pd.testing.assert_frame_equal(
        fitted.sample(64, seed=5, batch_size=32), loaded.sample(64, seed=5, batch_size=32)
    )


def test_a_codec_without_length_metadata_uses_the_default(moses_sample):
    gen = mv.fit(moses_sample[:32], *tiny_configs(epochs=1), progress=False).generator()
    bare = Codec(gen.model, gen.tokenizer)
    assert bare.max_len == DEFAULT_MAX_LEN and decode_length(None) == DEFAULT_MAX_LEN


def test_sample_validity_is_evaluate_validity():
    """``gen.sample().valid`` and ``mv.evaluate()["valid"]`` follow one rule (the canonicaliser
    with its read-back check), also on strings no model would write."""
    gen = mv.load("moses-smiles", device="cpu")
    df = gen.sample(400, seed=0)
    junk = ["C1CC", "", "c1ccccc1C(", "CC(C)(C)(C)(C)C", "[Na+].[Cl-]"]
    strings = [*df.smiles, *junk]
    valid = [*df.valid, *(canonical_pair(s)[0] is not None for s in junk)]
    ref = df.canonical.dropna().tolist()[:100]
    m, counts = mv.evaluate(strings, reference={"R": ref}, train=None, details=True)
    assert m["valid"] == pytest.approx(np.mean(valid))
    assert counts["valid"] == sum(valid)


def test_auto_precision_is_bf16_only_where_the_device_has_it(monkeypatch, overfit32):
    from molvae import device

    gen, _ = overfit32
    monkeypatch.delenv("MOLVAE_PRECISION", raising=False)
    for native, expected in ((True, "bf16"), (False, "fp32")):
        monkeypatch.setattr(device, "cpu_has_bf16", lambda native=native: native)
        assert device.default_precision("cpu") == expected
        codec = Codec(gen.model, gen.tokenizer, precision="auto")
        assert codec.precision == expected
    monkeypatch.setenv("MOLVAE_PRECISION", "fp32")
    monkeypatch.setattr(device, "cpu_has_bf16", lambda: True)
    assert Codec(gen.model, gen.tokenizer).precision == "fp32"  # the override wins
    with pytest.raises(ValueError, match="precision must be one of"):
        Codec(gen.model, gen.tokenizer, precision="fp16")
