"""scripts/gpu_train.sh: the one prepared GPU run, rehearsed on the CPU (``--smoke``), so that nothing
in the real run can fail on a typo; its refusals before any training; its watcher."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "gpu_train.sh"
STAGES = (
    "check",
    "prepare",
    "calibrate",
    "rehearse",
    "train",
    "export",
    "bench_sample",
    "evaluate",
)


def run_script(
    *args: str, env: dict | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gpu_smoke")
    out, work = tmp / "out", tmp / "work"
    proc = run_script("--smoke", "--out", str(out), "--work", str(work))
    return proc, out, work


def test_smoke_runs_every_stage(smoke):
    proc, out, _ = smoke
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = [line for line in proc.stdout.splitlines() if line.startswith("[gpu_train] ")]
    for stage in STAGES:  # one line per stage as it ends, in order
        assert any(line.startswith(f"[gpu_train] {stage}: ") for line in lines), stage
    assert "failed" not in proc.stdout
    timings = json.loads((out / "timings.json").read_text())
    assert list(timings["stages"]) == list(STAGES)
    train = timings["stages"]["train"]
    assert train["steps"] == 24 and train["stopped"] == "max_steps"
    assert 22 * 64 <= train["molecules_seen"] <= 24 * 64  # a bucket's last batch may be short
    assert {r["precision"] for r in timings["stages"]["bench_sample"]["rows"]} == {"fp32", "bf16"}
    ev = timings["stages"]["evaluate"]
    assert ev["n"] == 1000 and 0.0 <= ev["metrics"]["valid"] <= 1.0
    settings = timings["stages"]["calibrate"]["settings"]
    assert {(s["amp"], s["batch"]) for s in settings} == {("bf16", 64), ("none", 64),
                                                          ("bf16", 32), ("bf16", 128)}  # fmt: skip
    assert (out / "metrics.csv").read_text().startswith("epoch,step,")


def test_smoke_parts_join_to_the_trained_weights(smoke, tmp_path):
    from molvae import checkpoint as ckpt

    _, out, work = smoke
    manifest = json.loads((out / "best.parts.json").read_text())
    assert all((out / p).stat().st_size <= 15 * 2**20 for p in manifest["parts"])
    joined = tmp_path / "joined.pt"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts/gpu_train.py"),
            "--join",
            str(out),
            "--to",
            str(joined),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    back, trained = ckpt.load(joined), ckpt.load(work / "train" / "best.pt")
    assert back.state_dict.keys() == trained.state_dict.keys()
    for k, v in trained.state_dict.items():
        assert back.state_dict[k].dtype == v.dtype and torch.equal(back.state_dict[k], v), k
    assert back.prior is not None
    assert "optimizer" not in (back.train_state or {})  # slim: weights, tokenizer, prior, history


def test_smoke_next_piece_with_init(smoke, tmp_path):
    """The next GPU session continues the last model (--init): one more piece, same stages."""
    from molvae import checkpoint as ckpt

    _, out, work = smoke
    parent = work / "train" / "best.pt"
    proc = run_script("--smoke", "--skip-measure", "--init", str(parent), "--out",
                      str(tmp_path / "o"), "--work", str(tmp_path / "w"))  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    child = ckpt.load(tmp_path / "w" / "train" / "best.pt")
    pieces = child.metadata["lineage"]["pieces"]
    assert len(pieces) == 2 and pieces[1]["parent_sha256"] is not None
    assert child.train_config["kl_start"] == child.train_config["kl_weight"]
    assert json.loads((tmp_path / "o" / "timings.json").read_text())["stages"].keys() == set(
        STAGES[:6]
    )


def test_damaged_part_is_refused(smoke, tmp_path):
    _, out, _ = smoke
    bad = tmp_path / "parts"
    bad.mkdir()
    for f in out.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    part = bad / "best.pt.part0"
    data = bytearray(part.read_bytes())
    data[100] ^= 1
    part.write_bytes(bytes(data))
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts/gpu_train.py"), "--join", str(bad), "--to",
         str(tmp_path / "x.pt")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode != 0 and "sha256 differs" in proc.stderr


def test_too_little_time_is_a_one_line_error_before_training(tmp_path):
    proc = run_script("--smoke", "--out", str(tmp_path / "o"), "--work", str(tmp_path / "w"),
                      "--budget-s", "5")  # fmt: skip
    assert proc.returncode == 2
    errors = [line for line in proc.stdout.splitlines() if "error" in line]
    assert len(errors) == 1 and "too little time left" in errors[0]
    assert not (tmp_path / "w" / "train").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine with no GPU")
def test_no_gpu_is_a_one_line_error(tmp_path):
    proc = run_script("--out", str(tmp_path / "o"), "--work", str(tmp_path / "w"))
    assert proc.returncode == 2
    assert proc.stdout.strip().splitlines()[-1].startswith("[gpu_train] error: no CUDA device")
    assert not (tmp_path / "w" / "cache").exists()  # nothing prepared


def test_bad_init_is_a_one_line_error_before_preparing(tmp_path):
    proc = run_script("--smoke", "--init", "no-such-model", "--out", str(tmp_path / "o"),
                      "--work", str(tmp_path / "w"))  # fmt: skip
    assert proc.returncode == 2
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("[gpu_train] error: --init no-such-model:") and "no-such-model" in last
    assert not (tmp_path / "w" / "cache").exists()


def test_missing_packages_are_a_one_line_error(tmp_path):
    """A python3 that cannot import RDKit and no carried packages: refused before anything runs."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "python3"
    fake.write_text(f'#!/bin/sh\nexec {sys.executable} -S "$@"\n')  # no site-packages
    fake.chmod(0o755)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "MOLVAE_CARRY": str(tmp_path)}
    proc = run_script("--smoke", "--out", str(tmp_path / "o"), env=env)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("[gpu_train] error: RDKit/selfies/fcd are not installed")
    assert not (tmp_path / "o").exists()


def test_watcher_exports_each_new_best(tmp_path):
    """What keeps a run cut off at its limit useful: the watcher process copies every new best.pt
    (as parts) and metrics.csv into the output folder while training goes on."""
    import molvae as mv
    from molvae.config import ModelConfig

    run_dir, out, work = tmp_path / "run", tmp_path / "out", tmp_path / "work"
    for d in (run_dir, out, work / "watch"):
        d.mkdir(parents=True)
    tok = mv.SmilesTokenizer.build(["CCO", "c1ccccc1"])
    cfg = ModelConfig(vocab_size=tok.vocab_size, embedding_dim=4, encoder_hidden_dim=4,
                      latent_dim=2, decoder_hidden_dim=4, decoder_layers=1)  # fmt: skip
    gen = mv.Generator(mv.MolVAE(cfg), tok)
    watcher = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts/gpu_train.py"), "--watch", str(run_dir), "--work",
         str(work), "--out", str(out), "--every", "0.1"],
    )  # fmt: skip
    try:
        (run_dir / "metrics.csv").write_text("epoch,step\n1,10\n")
        gen.save(run_dir / "best.pt")
        deadline = time.time() + 60
        while not (out / "best.parts.json").exists() and time.time() < deadline:
            time.sleep(0.1)
        assert (out / "best.parts.json").exists()
        first = json.loads((out / "best.parts.json").read_text())["sha256"]
        time.sleep(0.05)
        torch.nn.init.constant_(gen.model.decoder.out.bias, 1.0)  # a new best, other weights
        gen.save(run_dir / "best.pt")
        while time.time() < deadline:
            if json.loads((out / "best.parts.json").read_text())["sha256"] != first:
                break
            time.sleep(0.1)
        assert json.loads((out / "best.parts.json").read_text())["sha256"] != first
        assert (out / "metrics.csv").read_text() == "epoch,step\n1,10\n"
    finally:
        watcher.terminate()
        watcher.wait()
