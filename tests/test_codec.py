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


def test_posterior_is_public_and_raises_naming_the_input():
    gen = mv.load("moses-smiles", device="cpu")
    mu, logvar = gen.posterior("CCOc1ccccc1")
    assert mu.shape == logvar.shape == (gen.latent_dim,)
    np.testing.assert_allclose(mu.numpy(), gen.encode(["CCOc1ccccc1"])[0], atol=1e-5)
    with pytest.raises(mv.TokenizerError, match="C1CC"):
        gen.posterior("C1CC")


def test_encode_a_dataframe_reads_its_smiles_column():
    gen = mv.load("moses-smiles", device="cpu")
    frame = pd.DataFrame({"id": [1, 2], "smiles": ["CCO", "c1ccccc1"]})
    np.testing.assert_allclose(gen.encode(frame), gen.encode(["CCO", "c1ccccc1"]))
    with pytest.raises(ValueError, match="smiles"):
        gen.encode(pd.DataFrame({"id": [1]}))


def _texts(column) -> list:
    return [x if isinstance(x, str) else None for x in column]


def test_inputs_are_standardised_like_the_training_data_and_say_so():
    """The MOSES vocabulary has no stereo or charge tokens: a salt, a carboxylate and a chiral
    centre encode after standardising (and the row says what changed); ``standardize=False``
    keeps the strict behaviour, naming the token."""
    gen = mv.load("moses-smiles", device="cpu")
    assert gen.standardize and not gen.keeps_stereo
    given = ["C[C@H](N)C(=O)Oc1ccccc1", "CCOc1ccccc1.[Na+].[Cl-]", "CC(=O)[O-]", "CCOc1ccccc1"]
    z, info = gen.encode(given, details=True)
    assert np.isfinite(z).all() and info.reason.isna().all()
    assert _texts(info.standardized) == ["stereo", "fragment", "charge", None]
    plain = ["CC(N)C(=O)Oc1ccccc1", "CCOc1ccccc1", "CC(=O)O", "CCOc1ccccc1"]
    np.testing.assert_allclose(z, gen.encode(plain), atol=1e-5)
    rec = gen.reconstruct(given, n_decodes=1)
    assert _texts(rec.standardized) == _texts(info.standardized)
    assert _texts(gen.elbo(given).standardized) == _texts(info.standardized)
    strict = mv.load("moses-smiles", device="cpu", standardize=False)
    with pytest.raises(mv.TokenizerError, match=r"\[C@H\]"):
        strict.encode(given[0])
    _, info = strict.encode(given, details=True)
    assert info.reason.tolist()[:3] == ["unknown_token"] * 3 and info.standardized.isna().all()


def test_nitro_and_elements_outside_the_vocabulary_stay_refused():
    gen = mv.load("moses-smiles", device="cpu")
    _, info = gen.encode(["O=[N+]([O-])c1ccccc1", "CCP(C)C", "CCI"], details=True)
    assert info.reason.tolist() == ["unknown_token"] * 3


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
