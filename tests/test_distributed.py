"""torchrun + DistributedDataParallel on CPU: 2 processes over gloo against one process."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest

from molvae.config import to_toml
from molvae.distributed import World, shard_seed

from .helpers import tiny_configs

pytestmark = pytest.mark.skipif(
    not __import__("torch").distributed.is_available(), reason="torch.distributed unavailable"
)


def molvae(*args, nproc=None, cwd=None):
    """``molvae ...`` in a subprocess, under torchrun with ``nproc`` processes when given."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    launcher = [sys.executable]
    if nproc:
        launcher += ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
    cmd = [*launcher, "-m", "molvae", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def setup(tmp_path_factory, moses_sample):
    d = tmp_path_factory.mktemp("ddp")
    (d / "data.smi").write_text("\n".join(moses_sample[:200]) + "\n")
    m, t = tiny_configs(epochs=3, batch_size=32, data=str(d / "data.smi"))
    (d / "cfg.toml").write_text(to_toml(m, t))
    return d


def history(run):
    return pd.read_csv(run / "metrics.csv")


@pytest.fixture(scope="module")
def runs(setup):
    """The same config trained by one process and by two (torchrun, gloo)."""
    d = setup
    single = molvae("train", "--config", d / "cfg.toml", "--out", d / "single", "--no-progress")
    assert single.returncode == 0, single.stderr
    ddp = molvae("train", "--config", d / "cfg.toml", "--out", d / "ddp", "--no-progress", nproc=2)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    return d, ddp


def test_two_processes_follow_the_single_process_trajectory(runs):
    d, ddp = runs
    a, b = history(d / "single"), history(d / "ddp")
    assert list(a.step) == list(b.step)  # the same global batches
    # same initial weights, same global batches, z noise drawn per rank: the trajectories agree
    assert (abs(a.train_loss - b.train_loss) / a.train_loss).max() < 0.05, (
        a.train_loss,
        b.train_loss,
    )
    assert b.train_loss.iloc[-1] < b.train_loss.iloc[0]
    files = {p.name for p in (d / "ddp").iterdir()}
    assert {"config.toml", "metrics.csv", "last.pt", "best.pt"} <= files
    import molvae as mv

    assert mv.load(d / "ddp").sample(4, seed=0).shape[0] == 4
    assert ddp.stdout.count("best checkpoint") == 1  # rank 0 alone reports


def test_resume_under_torchrun_continues_every_rank(runs):
    d, _ = runs
    import shutil

    import torch

    shutil.copytree(d / "ddp", d / "part")
    state = torch.load(d / "part" / "last.pt", weights_only=True)["train_state"]
    assert len(state["rng"]["ranks"]) == 2  # each rank's RNG state, for an exact continuation
    before = history(d / "part")
    again = molvae(
        "train", "--out", d / "part", "--epochs", 4, "--resume", "--no-progress", nproc=2
    )
    assert again.returncode == 0, again.stderr[-3000:]
    after = history(d / "part")
    assert list(after.epoch) == [1, 2, 3, 4]
    pd.testing.assert_frame_equal(after.iloc[:3], before)
    # resuming with another world size is refused, naming the cause
    other = molvae("train", "--out", d / "part", "--epochs", 5, "--resume", "--no-progress")
    assert other.returncode == 2 and "same" in other.stderr, other.stderr[-2000:]


def test_world_size_must_divide_the_batch(setup):
    d = setup
    bad = molvae("train", "--config", d / "cfg.toml", "--batch-size", 33, "--out", d / "bad",
                 "--no-progress", nproc=2)  # fmt: skip
    assert bad.returncode != 0
    assert "not divisible by the world size 2" in bad.stderr
    assert not (d / "bad" / "last.pt").exists()


def test_distributed_sampling_is_deterministic_and_merged(runs):
    d, _ = runs
    outs = []
    for k in range(2):
        out = d / f"s{k}.csv"
        r = molvae("sample", d / "single", "-n", 25, "--seed", 3, "-o", out, "--no-progress",
                   nproc=2)  # fmt: skip
        assert r.returncode == 0, r.stderr[-3000:]
        outs.append(pd.read_csv(out))
        assert not list(d.glob(f"s{k}.csv.rank*"))
    assert len(outs[0]) == 25 and outs[0].equals(outs[1])


def test_world_from_env_and_seeds(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("LOCAL_RANK", "0")
    w = World.from_env()
    assert (w.rank, w.size, w.local_rank, w.main, w.active) == (2, 4, 0, False, True)
    assert list(w.share(list(range(10)))) == [2, 6]
    monkeypatch.setenv("RANK", "4")
    with pytest.raises(Exception, match="RANK=4"):
        World.from_env()
    seeds = {shard_seed(7, r, 4) for r in range(4)}
    assert len(seeds) == 4 and shard_seed(7, 1, 4) == shard_seed(7, 1, 4)
    assert shard_seed(None, 0, 2) is None
