from __future__ import annotations

import pandas as pd
import pytest

import molvae as mv

from .helpers import tiny_configs


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, moses_sample):
    out = tmp_path_factory.mktemp("gen") / "run"
    m, t = tiny_configs(epochs=1)
    mv.fit(moses_sample[:64], m, t, out_dir=out, progress=False)
    return out


def test_sample_frame(run_dir):
    gen = mv.load(run_dir)
    df = gen.sample(50, seed=1, batch_size=16)
    assert list(df.columns) == ["smiles", "valid", "canonical", "nll"] and len(df) == 50
    assert df.valid.dtype == bool and (df.nll > 0).all()
    assert (df.canonical.notna() == df.valid).all()


def test_same_seed_same_samples_also_after_save_load(run_dir, tmp_path):
    gen = mv.load(run_dir)
    a = gen.sample(40, seed=7, batch_size=16)
    b = gen.sample(40, seed=7, batch_size=16)
    pd.testing.assert_frame_equal(a, b)
    path = gen.save(tmp_path / "copy.pt")
    c = mv.load(path).sample(40, seed=7, batch_size=16)
    pd.testing.assert_frame_equal(a, c)
    assert not gen.sample(40, seed=8, batch_size=16).smiles.equals(a.smiles)


def test_greedy_decoding_depends_only_on_z(run_dir):
    gen = mv.load(run_dir)
    a = gen.sample(8, method="greedy", seed=3)
    b = gen.sample(
        8, method="greedy", seed=3, temperature=0.5
    )  # temperature has no effect on greedy
    assert a.smiles.tolist() == b.smiles.tolist()


def test_bad_sampling_arguments(run_dir):
    gen = mv.load(run_dir)
    for kwargs in (
        {"n": 0},
        {"n": -3},
        {"n": 5, "temperature": 0},
        {"n": 5, "temperature": -1.0},
        {"n": 5, "method": "top-k"},
        {"n": 5, "method": "beam", "temperature": float("nan")},
        {"n": 5, "batch_size": 0},
    ):
        with pytest.raises(ValueError):
            gen.sample(**kwargs)


def test_sample_to_csv_streams_in_chunks(run_dir, tmp_path):
    gen = mv.load(run_dir)
    out = tmp_path / "big.csv"
    stats = gen.sample_to_csv(out, 250, seed=3, batch_size=64)
    df = pd.read_csv(out)
    assert len(df) == 250 and {"smiles", "valid"} <= set(df.columns)
    assert stats["valid"] == pytest.approx(df.valid.mean())
    in_memory = gen.sample(250, seed=3, batch_size=64)
    assert df.valid.tolist() == in_memory.valid.tolist()


@pytest.mark.parametrize("n_jobs", [0, 2])
def test_interrupted_sample_to_csv_leaves_no_file(run_dir, tmp_path, monkeypatch, n_jobs):
    """Ctrl-C in the middle of a long sampling run: no file under the output name (nothing that
    looks complete) and no temporary file left behind; an existing file is kept as it was; no
    RDKit worker outlives the run."""
    import multiprocessing as mp

    gen = mv.load(run_dir)
    decode, calls = gen.decode_ids, []

    def decode_then_interrupt(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return decode(*args, **kwargs)

    monkeypatch.setattr(gen, "decode_ids", decode_then_interrupt)
    out = tmp_path / "samples.csv"
    with pytest.raises(KeyboardInterrupt):
        gen.sample_to_csv(out, 1000, seed=0, batch_size=100, n_jobs=n_jobs)
    assert len(calls) == 3 and list(tmp_path.iterdir()) == []
    out.write_text("smiles,valid\nCCO,True\n")
    calls.clear()
    with pytest.raises(KeyboardInterrupt):
        gen.sample_to_csv(out, 1000, seed=0, batch_size=100, n_jobs=n_jobs)
    assert out.read_text() == "smiles,valid\nCCO,True\n" and list(tmp_path.iterdir()) == [out]
    assert not mp.active_children()


def test_selfies_model_never_emits_empty_or_invalid(tmp_path, moses_sample):
    m, t = tiny_configs(epochs=1, tokenizer="selfies")
    res = mv.fit(moses_sample[:64], m, t, out_dir=tmp_path / "sf", progress=False)
    gen = mv.load(tmp_path / "sf")
    assert res.tokenizer.kind == "selfies"
    df = gen.sample(300, seed=0, batch_size=100)
    assert (df.smiles.str.len() > 0).all()
    assert df.valid.all()
    # SELFIES -> SMILES decoding and RDKit in worker processes: the same samples
    pd.testing.assert_frame_equal(gen.sample(300, seed=0, batch_size=100, n_jobs=2), df)


def test_bf16_decoding(moses_sample):
    """precision="bf16" runs the decoder steps in bf16: the same molecules come back from an
    overfit model, seeded sampling reproduces, and an unknown precision is refused."""
    from .helpers import overfit_generator

    smiles = moses_sample[:24]
    gen, _ = overfit_generator(smiles, steps=300)
    exact32 = gen.reconstruct(smiles, n_decodes=1).match.mean()
    gen.precision = "bf16"
    exact16 = gen.reconstruct(smiles, n_decodes=1).match.mean()
    assert exact32 >= 0.9 and exact16 >= exact32 - 2 / len(smiles)
    a, b = gen.sample(30, seed=4), gen.sample(30, seed=4)
    pd.testing.assert_frame_equal(a, b)
    assert a.nll.dtype == "float32" and (a.nll > 0).all()
    for bad in ("fp16", "float32", None):
        with pytest.raises(ValueError, match="precision"):
            gen.precision = bad
    assert gen.precision == "bf16"


def test_load_with_precision(run_dir):
    gen = mv.load(run_dir, precision="bf16")
    assert gen.precision == "bf16" and mv.load(run_dir).precision == "fp32"
    with pytest.raises(ValueError, match="precision"):
        mv.load(run_dir, precision="half")


def test_rdkit_workers_beside_decoding_give_the_same_samples(run_dir):
    """iter_samples/sample with RDKit checks in worker processes: the same frames as in-process
    checks; a consumer that stops early leaves no worker behind."""
    import multiprocessing as mp

    gen = mv.load(run_dir)
    serial = list(gen.iter_samples(250, seed=2, batch_size=64, n_jobs=0))
    parallel = list(gen.iter_samples(250, seed=2, batch_size=64, n_jobs=2))
    assert [len(p) for p in parallel] == [64, 64, 64, 58]
    for a, b in zip(serial, parallel):
        pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(
        gen.sample(100, seed=5, n_jobs=2), gen.sample(100, seed=5, n_jobs=0)
    )
    it = gen.iter_samples(1000, seed=2, batch_size=50, n_jobs=2)
    next(it)
    it.close()  # shuts the pool down
    assert not mp.active_children()


def test_reconstruct_equals_decoding_the_encoding(moses_sample):
    """reconstruct skips RDKit for decodings that repeat the input's tokens; its result must
    equal decoding the encodings and comparing canonical forms, for matches and misses alike."""
    import numpy as np

    from molvae.chem import canonical, tanimoto

    from .helpers import overfit_generator

    seen, unseen = moses_sample[:24], moses_sample[200:216]
    gen, _ = overfit_generator(seen, steps=300)
    values = unseen[:8] + seen + [None, "C1CC"] + unseen[8:]
    rec = gen.reconstruct(values, n_decodes=1)
    ok = rec.reason.isna().to_numpy()
    dec = gen.decode(gen.encode([v for v, o in zip(values, ok) if o]), "greedy")
    expected = [c if isinstance(c, str) else s for c, s in zip(dec.canonical, dec.smiles)]
    assert rec.reconstruction[ok].tolist() == expected
    canon = [canonical(v) for v, o in zip(values, ok) if o]
    assert rec.match[ok].tolist() == [e == c for e, c in zip(expected, canon)]
    sims = [tanimoto(c, e) for e, c in zip(expected, canon)]
    np.testing.assert_array_equal(rec.tanimoto[ok].to_numpy(), np.array(sims))
    assert 0 < rec.match[ok].mean() < 1  # both kinds of rows are exercised
    assert rec.reason.tolist()[32:34] == ["not_a_string", "unparseable"]
    # n_decodes > 1: z ~ q(z|x) drawn per input in input order, the most frequent decoding kept
    post = gen.posteriors(values)
    mu, logvar = post.mu, post.logvar
    rec3 = gen.reconstruct(values, n_decodes=3, seed=4)
    rows = np.flatnonzero(ok)
    eps = np.random.default_rng(4).standard_normal((len(rows), 3, gen.latent_dim))
    z = (mu[rows, None] + np.exp(0.5 * logvar[rows, None]) * eps).astype(np.float32)
    dec3 = gen.decode(z.reshape(-1, gen.latent_dim), "greedy")
    text = [c if isinstance(c, str) else s for c, s in zip(dec3.canonical, dec3.smiles)]
    for j, k in enumerate(rows):
        draws = text[3 * j : 3 * j + 3]
        assert rec3.frequency[k] == max(draws.count(d) for d in draws) / 3
        assert draws.count(rec3.reconstruction[k]) == max(draws.count(d) for d in draws)
        top, target = rec3.reconstruction[k], canonical(values[k])
        assert rec3.tanimoto[k] == (1.0 if top == target else tanimoto(target, top)) or (
            np.isnan(rec3.tanimoto[k]) and np.isnan(tanimoto(target, top))
        )
