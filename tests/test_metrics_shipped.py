"""The MOSES reference statistics shipped in the package: equal to freshly computed ones, and never
used when damaged, tampered with or stale."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

import molvae as mv
from molvae.metrics import features, reference, shipped, store


@pytest.fixture(scope="module")
def test_set() -> list[str]:
    return mv.datasets.load("moses", "test").smiles.tolist()


def test_shipped_statistics_match_fresh_ones_on_a_subset(test_set):
    stats = shipped.load("test", mv.datasets.path("moses", "test"))
    assert stats is not None, "shipped statistics missing or invalid"
    assert stats.n == len(test_set)
    assert stats.fcd_mu.shape == (512,) and np.allclose(stats.fcd_sigma, stats.fcd_sigma.T)
    pick = np.random.default_rng(0).choice(len(test_set), 300, replace=False)
    subset = [test_set[i] for i in pick]
    fresh = features.set_stats(subset, n_jobs=1, progress=False, desc="t", filters=False)
    for key in features.PROPERTY_KEYS:  # each fresh value is one of the shipped ones, exactly
        shipped_values = stats.props[key]
        at = np.searchsorted(shipped_values, fresh.props[key])
        assert (shipped_values[np.minimum(at, len(shipped_values) - 1)] == fresh.props[key]).all()
    for name in ("frags", "scafs"):
        ship, new = getattr(stats, name), getattr(fresh, name)
        assert all(ship[k] >= c for k, c in new.items()), name
    shipped_fps = {row.tobytes() for row in stats.fps}
    assert all(row.tobytes() in shipped_fps for row in fresh.fps)
    assert len(shipped_fps) == len(stats.fps) > 175_000
    sf = shipped.load("test_scaffolds", mv.datasets.path("moses", "test_scaffolds"))
    assert sf is not None and sf.n == 176_225 and not sf.props
    info = shipped.manifest()
    for split in ("test", "test_scaffolds"):
        entry = info["sets"][split]
        assert entry["source_sha256"] == mv.data.file_sha256(mv.datasets.path("moses", split))
    size = sum(p.stat().st_size for p in shipped.data_dir().iterdir())
    assert size < 12e6


def test_shipped_format_round_trips_exactly(tmp_path, moses_sample):
    fresh = reference.compute_stats(moses_sample[:120], 1, "cpu", False, "t")
    store.save(fresh, tmp_path / "x.npz.xz", with_properties=True)
    back = store.read(tmp_path / "x.npz.xz")
    assert back.n == fresh.n and back.frags == fresh.frags and back.scafs == fresh.scafs
    assert np.array_equal(back.fcd_mu, fresh.fcd_mu)
    assert np.array_equal(back.fcd_sigma, fresh.fcd_sigma)
    assert np.array_equal(back.fps, np.unique(fresh.fps, axis=0))
    for key in features.PROPERTY_KEYS:
        assert np.array_equal(back.props[key], np.sort(fresh.props[key]))


def test_damaged_tampered_or_stale_statistics_are_rebuilt(tmp_path, monkeypatch, caplog):
    smiles = mv.datasets.load("moses", "test").smiles[:80].tolist()
    source = tmp_path / "ref.smi"
    source.write_text("\n".join(smiles) + "\n")
    folder = tmp_path / "shipped"
    shipped.build({"ref": (source, True)}, folder=folder)
    monkeypatch.setattr(shipped, "data_dir", lambda: folder)
    good = reference.reference_stats(smiles, shipped=("ref", source), cache=False)
    fresh = reference.compute_stats(smiles, 1, "cpu", False, "ref")
    assert np.array_equal(good.fps, np.unique(fresh.fps, axis=0)) and good.frags == fresh.frags
    npz = folder / "moses_ref.npz.xz"
    original = npz.read_bytes()

    def rebuilt_with_warning(match: str) -> None:
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            stats = reference.reference_stats(smiles, shipped=("ref", source), cache=False)
        assert match in caplog.text, caplog.text
        assert stats.frags == fresh.frags and np.array_equal(stats.fcd_mu, fresh.fcd_mu)

    npz.write_bytes(original[:-20] + b"x" * 20)  # tampered with
    rebuilt_with_warning("does not match its sha256")
    npz.write_bytes(original[: len(original) // 2])  # truncated
    rebuilt_with_warning("does not match its sha256")
    info = json.loads((folder / "manifest.json").read_text())
    info["sets"]["ref"]["sha256"] = mv.data.file_sha256(npz)  # damaged, but the checksum agrees
    (folder / "manifest.json").write_text(json.dumps(info))
    rebuilt_with_warning("unreadable")
    shipped.build({"ref": (source, True)}, folder=folder)
    original = npz.read_bytes()
    npz.unlink()
    rebuilt_with_warning("missing")
    npz.write_bytes(original)
    source.write_text("\n".join(smiles) + "\nCCO\n")  # the source changed: stale
    rebuilt_with_warning("stale")
    source.write_text("\n".join(smiles) + "\n")
    (folder / "manifest.json").write_text("{not json")
    rebuilt_with_warning("no readable")
    doc = {"format_version": 1, "sets": {}}
    (folder / "manifest.json").write_text(json.dumps(doc))
    rebuilt_with_warning("no shipped reference statistics")


def test_evaluate_warns_below_mosess_sample_size(moses_sample, caplog, monkeypatch):
    from molvae import metrics

    calls = []
    monkeypatch.setattr(metrics, "reference_stats", lambda *a, **k: calls.append(k) or 1 / 0)
    with caplog.at_level(logging.WARNING), pytest.raises(ZeroDivisionError):
        mv.evaluate(moses_sample[:50], reference="moses")
    assert "MOSES's protocol uses 30000" in caplog.text
    assert calls[0]["shipped"][0] == "test"


@pytest.mark.needs_gpu
def test_similarity_and_fcd_on_gpu_equal_cpu(moses_sample):
    from molvae.metrics import fcd, similarity

    st = features.set_stats(moses_sample[:2000], 1, False, "t", filters=False)
    ref = features.set_stats(moses_sample[2000:5000], 1, False, "t", filters=False)
    cpu = similarity.tanimoto_max(st.fps, ref.fps)
    gpu = similarity.tanimoto_max(st.fps, ref.fps, device="cuda")
    assert np.array_equal(cpu, gpu)
    a = similarity.tanimoto_mean(st.fps, None, ps=(1, 2))
    b = similarity.tanimoto_mean(st.fps, None, ps=(1, 2), device="cuda")
    assert np.allclose(a, b, rtol=1e-6, atol=1e-9)
    mu_c, s_c = fcd.fcd_moments(moses_sample[:500], "cpu")
    mu_g, s_g = fcd.fcd_moments(moses_sample[:500], "cuda")
    assert fcd.frechet(mu_c, s_c, mu_g, s_g) < 1e-3


@pytest.mark.slow
def test_shipped_statistics_equal_a_full_rebuild(test_set):
    """Every shipped value of the test set against a rebuild from the bundled file (~8 min)."""
    stats = shipped.load("test", mv.datasets.path("moses", "test"))
    fresh = reference.compute_stats(test_set, 2, "cpu", False, "test")
    assert stats.n == fresh.n and stats.frags == fresh.frags and stats.scafs == fresh.scafs
    assert np.array_equal(stats.fps, np.unique(fresh.fps, axis=0))
    for key in features.PROPERTY_KEYS:
        assert np.array_equal(stats.props[key], np.sort(fresh.props[key]))
    assert np.allclose(stats.fcd_mu, fresh.fcd_mu, rtol=1e-9, atol=1e-12)
    assert np.allclose(stats.fcd_sigma, fresh.fcd_sigma, rtol=1e-9, atol=1e-12)
