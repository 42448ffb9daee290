from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import molvae as mv
from molvae import checkpoint as ckpt
from molvae import loop
from molvae import train as train_mod

from .helpers import tiny_configs


@pytest.fixture(scope="module")
def small_set(moses_sample):
    return moses_sample[:96]


def test_fit_writes_run_directory(tmp_path, small_set):
    m, t = tiny_configs()
    res = mv.fit(small_set, m, t, out_dir=tmp_path / "run", progress=False)
    run = tmp_path / "run"
    assert {"config.toml", "metrics.csv", "last.pt", "best.pt"} <= {p.name for p in run.iterdir()}
    hist = pd.read_csv(run / "metrics.csv")
    expected = {
        "epoch",
        "step",
        "lr",
        "beta",
        "train_recon",
        "train_kl",
        "val_recon",
        "val_kl",
        "token_acc",
        "active_units",
        "recon_exact",
        "prior_valid",
    }
    assert expected <= set(hist.columns) and len(hist) == 2
    assert res.stopped_because == "epochs"
    loaded_m, loaded_t = mv.load_config(run / "config.toml")
    assert loaded_m.vocab_size == res.tokenizer.vocab_size and loaded_t == t
    meta = ckpt.load(run / "best.pt").metadata
    assert meta["n_train"] + meta["n_val"] == 96


def test_run_dir_with_other_run_is_refused(tmp_path, small_set):
    m, t = tiny_configs(epochs=1)
    mv.fit(small_set, m, t, out_dir=tmp_path, progress=False)
    with pytest.raises(mv.ConfigError, match="already holds a run"):
        mv.fit(small_set, m, t, out_dir=tmp_path, progress=False)
    mv.fit(small_set, m, t, out_dir=tmp_path, overwrite=True, progress=False)


def test_resume_matches_uninterrupted(tmp_path, small_set, monkeypatch):
    m, t = tiny_configs(epochs=3)
    mv.fit(small_set, m, t, out_dir=tmp_path / "a", progress=False)

    real = train_mod.validate
    calls = {"n": 0}

    def interrupt_in_third_epoch(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(train_mod, "validate", interrupt_in_third_epoch)
    with pytest.raises(KeyboardInterrupt):
        mv.fit(small_set, m, t, out_dir=tmp_path / "b", progress=False)
    monkeypatch.setattr(train_mod, "validate", real)
    assert ckpt.load(tmp_path / "b" / "last.pt").train_state["epoch"] == 2
    mv.fit(small_set, m, t, out_dir=tmp_path / "b", resume=True, progress=False)
    a = ckpt.load(tmp_path / "a" / "last.pt")
    b = ckpt.load(tmp_path / "b" / "last.pt")
    assert a.train_state["step"] == b.train_state["step"]
    for k, v in a.state_dict.items():
        assert torch.equal(v, b.state_dict[k]), k
    assert len(pd.read_csv(tmp_path / "b" / "metrics.csv")) == 3


def test_resume_without_run_is_an_error(tmp_path, small_set):
    m, t = tiny_configs()
    with pytest.raises(mv.ConfigError, match="nothing to resume"):
        mv.fit(small_set, m, t, out_dir=tmp_path, resume=True, progress=False)


def test_a_run_stopped_before_its_first_checkpoint_says_the_same_both_ways(tmp_path, small_set):
    (tmp_path / "config.toml").write_text("")  # what a run killed in epoch 1 leaves
    (tmp_path / "metrics.csv").write_text("")
    m, t = tiny_configs()
    for resume in (True, False):
        with pytest.raises(mv.ConfigError, match="before its first checkpoint") as err:
            mv.fit(small_set, m, t, out_dir=tmp_path, resume=resume, progress=False)
        assert "--overwrite" in str(err.value) and "use resume" not in str(err.value)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, small_set, monkeypatch):
    m, t = tiny_configs(epochs=3)
    real = loop.reconstruction_loss
    steps = {"n": 0}

    def nan_after_first_epoch(logits, targets):
        steps["n"] += 1
        out = real(logits, targets)
        return out * float("nan") if steps["n"] > 6 else out

    monkeypatch.setattr(loop, "reconstruction_loss", nan_after_first_epoch)
    with pytest.raises(mv.TrainingError, match=r"at step \d+"):
        mv.fit(small_set, m, t, out_dir=tmp_path, progress=False)
    last = ckpt.load(tmp_path / "last.pt")  # still loads: the last good state
    assert last.train_state["epoch"] >= 1
    assert all(torch.isfinite(v).all() for v in last.state_dict.values() if v.is_floating_point())


def test_all_invalid_data_and_missing_cuda(tmp_path):
    m, t = tiny_configs()
    with pytest.raises(mv.DataError, match="no molecule survived"):
        mv.fit(["xx", "C1CC", None], m, t, progress=False)
    if not torch.cuda.is_available():
        with pytest.raises(mv.ConfigError, match="CUDA is not available"):
            mv.fit(["CCO", "CCN"], m, tiny_configs(device="cuda")[1], progress=False)


def test_max_steps_and_bf16_autocast_run(small_set):
    m, t = tiny_configs(max_steps=3, amp="bf16")
    res = mv.fit(small_set, m, t, progress=False)
    assert res.history["step"].iloc[-1] == 3 and res.stopped_because == "max_steps"
    assert np.isfinite(res.history["val_recon"]).all()


def test_lr_schedule_warmup_then_cosine():
    _, t = tiny_configs(lr=1.0, warmup_steps=10, min_lr_ratio=0.1)
    assert loop.lr_at(0, t, 110) == pytest.approx(0.1)
    assert loop.lr_at(9, t, 110) == pytest.approx(1.0)
    assert loop.lr_at(60, t, 110) == pytest.approx(0.55)
    assert loop.lr_at(110, t, 110) == pytest.approx(0.1)


@pytest.mark.needs_gpu
def test_cuda_training_with_bf16(small_set):
    m, t = tiny_configs(device="cuda", max_steps=5)
    res = mv.fit(small_set, m, t, progress=False)
    assert res.model.device.type == "cuda"


def _signal_at(monkeypatch, steps: dict[int, list[int]]):
    """Make the training loop send itself signals: ``{step: [signals]}`` after that step's update."""
    import os

    real = loop.train_step
    count = {"n": 0}

    def step_then_signal(*args, **kwargs):
        out = real(*args, **kwargs)
        count["n"] += 1
        for sig in steps.get(count["n"], []):
            os.kill(os.getpid(), sig)
        return out

    monkeypatch.setattr(loop, "train_step", step_then_signal)


def test_sigterm_stops_cleanly_and_the_run_resumes(tmp_path, small_set, monkeypatch):
    import signal

    m, t = tiny_configs(epochs=4)  # 77 training molecules: 5 steps per epoch

    def outer(signum, frame):  # what was there before (the CLI's, a scheduler wrapper's)
        raise AssertionError("the first SIGTERM reached the outer handler")

    previous = signal.signal(signal.SIGTERM, outer)
    try:
        _signal_at(monkeypatch, {7: [signal.SIGTERM]})
        res = mv.fit(small_set, m, t, out_dir=tmp_path, progress=False)
        assert signal.getsignal(signal.SIGTERM) is outer  # restored
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert res.stopped_because == "interrupted (SIGTERM)"
    hist = pd.read_csv(tmp_path / "metrics.csv")
    assert list(hist.step) == [5, 7]  # the second epoch ended at the signal, validated, saved
    assert ckpt.load(tmp_path / "last.pt").train_state["step"] == 7
    assert len(mv.load(tmp_path / "best.pt").sample(4, seed=0)) == 4
    monkeypatch.undo()
    res = mv.fit(small_set, m, t, out_dir=tmp_path, resume=True, progress=False)
    assert res.stopped_because == "epochs"
    assert list(pd.read_csv(tmp_path / "metrics.csv").step) == [5, 7, 12, 17]


def test_a_second_ctrl_c_stops_at_once(tmp_path, small_set, monkeypatch):
    import signal

    m, t = tiny_configs(epochs=4)
    before = signal.getsignal(signal.SIGINT)
    _signal_at(monkeypatch, {3: [signal.SIGINT, signal.SIGINT]})
    with pytest.raises(KeyboardInterrupt):
        mv.fit(small_set, m, t, out_dir=tmp_path, progress=False)
    assert signal.getsignal(signal.SIGINT) is before
