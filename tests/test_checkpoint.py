from __future__ import annotations

import os

import pytest
import torch

import molvae as mv
from molvae import checkpoint as ckpt
from molvae.config import ModelConfig
from molvae.model import MolVAE


@pytest.fixture()
def saved(tmp_path):
    tok = mv.SmilesTokenizer.build(["CCO", "c1ccccc1", "CCN"])
    model = MolVAE(
        ModelConfig(
            vocab_size=tok.vocab_size,
            embedding_dim=8,
            encoder_hidden_dim=8,
            latent_dim=4,
            decoder_hidden_dim=8,
            decoder_layers=1,
        )
    )
    path = ckpt.save(tmp_path / "m.pt", model, tok, metadata={"data": "unit test"})
    return path, model, tok


def test_round_trip_plain_data(saved):
    path, model, tok = saved
    raw = torch.load(path, weights_only=True)  # plain data: loads with the safe loader
    assert raw["format"] == "molvae-checkpoint" and raw["format_version"] == ckpt.FORMAT_VERSION
    assert raw["tokenizer"] == tok.to_dict()
    assert {"torch", "rdkit", "selfies", "molvae", "created"} <= set(raw["metadata"])
    c = ckpt.load(path)
    assert c.tokenizer == tok and c.metadata["data"] == "unit test"
    rebuilt = c.build_model()
    for k, v in model.state_dict().items():
        assert torch.equal(v, rebuilt.state_dict()[k])


def test_malicious_pickle_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pt"
    torch.save({"format": "molvae-checkpoint", "format_version": 1, "payload": Evil()}, path)
    with pytest.raises(mv.CheckpointError, match="pickled"):
        ckpt.load(path)
    with pytest.raises(mv.CheckpointError):
        mv.load(path)
    assert not marker.exists()


def test_truncated_and_corrupted(saved, tmp_path):
    path, _, _ = saved
    data = path.read_bytes()
    short = tmp_path / "short.pt"
    short.write_bytes(data[: len(data) // 2])
    with pytest.raises(mv.CheckpointError, match="truncated|corrupt|unreadable"):
        ckpt.load(short)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(mv.CheckpointError):
        ckpt.load(junk)
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(mv.CheckpointError):
        ckpt.load(empty)


def test_tampered_weights_fail_checksum(saved, tmp_path):
    path, _, _ = saved
    raw = torch.load(path, weights_only=True)
    name = next(iter(raw["state_dict"]))
    raw["state_dict"][name] = raw["state_dict"][name] + 1.0
    torch.save(raw, tmp_path / "t.pt")
    with pytest.raises(mv.CheckpointError, match="checksum"):
        ckpt.load(tmp_path / "t.pt")


def test_unknown_format_version_and_not_a_checkpoint(saved, tmp_path):
    path, _, _ = saved
    raw = torch.load(path, weights_only=True)
    torch.save({**raw, "format_version": 99}, tmp_path / "v.pt")
    with pytest.raises(mv.CheckpointError, match="format_version 99"):
        ckpt.load(tmp_path / "v.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(mv.CheckpointError, match="not a molvae checkpoint"):
        ckpt.load(tmp_path / "other.pt")


def test_missing_paths(tmp_path):
    with pytest.raises(mv.CheckpointError, match="no such"):
        ckpt.load(tmp_path / "none.pt")
    with pytest.raises(mv.CheckpointError, match="no such"):
        mv.load(tmp_path / "none")
    with pytest.raises(mv.CheckpointError, match="no best.pt"):
        mv.load(tmp_path)


def _memory_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_hostile_sizes_fail_before_any_allocation(saved, tmp_path):
    path, _, _ = saved
    raw = torch.load(path, weights_only=True)
    peak = _memory_mb()
    cases = {
        "big.pt": {**raw, "model_config": {**raw["model_config"], "decoder_hidden_dim": 8000}},
        "huge.pt": {**raw, "model_config": {**raw["model_config"], "latent_dim": 10**9}},
        "len.pt": {**raw, "train_config": {"max_len": 10**9}},
        "meta.pt": {**raw, "metadata": {"n_train": "many"}},
        "table.pt": {**raw, "train_config": [1, 2]},
    }
    expected = ["do not fit the model config", "latent_dim must be <=", "max_len must be 1..9000",
                "metadata['n_train'] must be int", "train_config must be a table"]  # fmt: skip
    for (name, payload), message in zip(cases.items(), expected):
        torch.save(payload, tmp_path / name)
        with pytest.raises(mv.CheckpointError, match=message.replace("[", r"\[")):
            mv.load(tmp_path / name)
    assert _memory_mb() - peak < 300  # the 8000-wide decoder alone would be ~1.5 GB


class Thing:  # a pickled object of this module's
    pass


def test_unpickling_failures_never_advise_weights_only_false(tmp_path):
    torch.save({"x": Thing()}, tmp_path / "obj.pt")
    (tmp_path / "junk.pt").write_bytes(b"\x80\x02garbage" * 10)
    with pytest.raises(mv.CheckpointError) as obj:
        ckpt.load(tmp_path / "obj.pt")
    with pytest.raises(mv.CheckpointError) as junk:
        ckpt.load(tmp_path / "junk.pt")
    assert "pickled Python objects" in str(obj.value) and "Thing" in str(obj.value)
    assert "corrupted" in str(junk.value) and "pickled" not in str(junk.value)
    for err in (obj.value, junk.value):
        assert "weights_only" not in str(err) and "\n" not in str(err)


def test_a_full_disk_while_saving_is_a_clear_error_and_keeps_the_old_file(saved, tmp_path):
    import subprocess
    import sys
    import textwrap

    path, _, _ = saved
    before = path.read_bytes()
    script = textwrap.dedent(f"""
        import resource, signal
        from molvae import checkpoint as ckpt
        c = ckpt.load({str(path)!r})
        model = c.build_model()
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (2000, 2000))
        try:
            ckpt.save({str(path)!r}, model, c.tokenizer)
        except OSError as err:
            print("OSError:", err)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert "OSError:" in proc.stdout and "disk full" in proc.stdout, proc.stdout + proc.stderr
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []
