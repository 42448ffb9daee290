from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd

import molvae as mv
from molvae.cli.main import main


def test_version_and_help(capsys):
    proc = subprocess.run(
        [sys.executable, "-m", "molvae.cli.main", "--version"], capture_output=True, text=True
    )
    assert proc.returncode == 0 and mv.__version__ in proc.stdout
    assert main([]) == 0
    assert "prepare" in capsys.readouterr().out


def test_prepare_command(tmp_path, capsys):
    f = tmp_path / "in.smi"
    f.write_text("CCO\nOCC\nC1CC\n\nc1ccccc1\n")
    out, rep = tmp_path / "kept.smi", tmp_path / "report.json"
    assert main(["prepare", str(f), "--jobs", "1", "-o", str(out), "--report", str(rep)]) == 0
    assert out.read_text().split() == ["CCO", "c1ccccc1"]
    report = json.loads(rep.read_text())
    assert report["read"] == 5 and report["kept"] == 2
    assert report["dropped"] == {"empty": 1, "unparseable": 1, "duplicate": 1}
    assert "kept 2" in capsys.readouterr().out


def test_prepare_bad_input_is_one_line_error(tmp_path, capsys):
    f = tmp_path / "d.csv"
    f.write_text("name,value\nx,1\n")
    assert main(["prepare", str(f), "--jobs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("molvae prepare: error:") and "Traceback" not in err
    assert main(["prepare", str(tmp_path / "missing.smi")]) == 2


def test_train_then_sample_smoke(tmp_path, moses_sample, capsys):
    data = tmp_path / "tiny.smi"
    data.write_text("\n".join(moses_sample[:60]) + "\n")
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(
        "[model]\nembedding_dim = 16\nencoder_hidden_dim = 32\nlatent_dim = 8\ndecoder_hidden_dim = 64\n"
        "decoder_layers = 1\n[train]\nbatch_size = 16\nrecon_eval = 8\nprior_eval = 8\nval_fraction = 0.2\n"
    )
    run = tmp_path / "run"
    args = [
        "train",
        "--config",
        str(cfg),
        "--data",
        str(data),
        "--epochs",
        "1",
        "--out",
        str(run),
        "--device",
        "cpu",
        "--no-progress",
    ]
    assert main(args) == 0
    assert (run / "best.pt").exists()
    # the same directory again: refused without --resume/--overwrite
    assert main(args) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 0
    out = tmp_path / "s.csv"
    assert (
        main(["sample", str(run), "-n", "30", "--seed", "0", "-o", str(out), "--no-progress"]) == 0
    )
    import pandas as pd

    df = pd.read_csv(out)
    assert len(df) == 30 and {"smiles", "valid"} <= set(df.columns)
    assert main(["sample", str(run / "best.pt"), "-n", "5", "-o", str(out), "--no-progress"]) == 0
    narrow = ["sample", str(run), "-n", "30", "--seed", "0", "-o", str(out), "--no-progress"]
    assert main([*narrow, "--prior-spread", "0.5", "--method", "greedy"]) == 0
    assert not pd.read_csv(out).smiles.equals(df.smiles)
    assert main([*narrow, "--prior-spread", "0"]) == 2
    assert main([*narrow, "--prior-spread", "0.5", "--prior", "standard"]) == 2


def test_train_bad_inputs_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[model]\nlatent_size = 3\n")
    assert main(["train", "--config", str(bad), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "latent_size" in err and "Traceback" not in err
    junk = tmp_path / "junk.smi"
    junk.write_text("xyz\nC1CC\n")
    assert (
        main(
            [
                "train",
                "--preset",
                "small",
                "--data",
                str(junk),
                "--out",
                str(tmp_path / "r2"),
                "--device",
                "cpu",
            ]
        )
        == 2
    )
    assert "no molecule survived" in capsys.readouterr().err
    import torch

    if not torch.cuda.is_available():
        assert (
            main(
                [
                    "train",
                    "--preset",
                    "small",
                    "--data",
                    str(junk),
                    "--out",
                    str(tmp_path / "r3"),
                    "--device",
                    "cuda",
                ]
            )
            == 2
        )
        assert "CUDA is not available" in capsys.readouterr().err


def test_sample_bad_model_and_args(tmp_path, capsys):
    assert main(["sample", str(tmp_path / "nope"), "-n", "5", "-o", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such checkpoint" in err
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"garbage")
    assert main(["sample", str(junk), "-n", "5", "-o", str(tmp_path / "o.csv")]) == 2
    # argparse refuses it, with the usage line; main returns its status to in-process callers
    assert main(["sample", str(junk), "-n", "0", "-o", str(tmp_path / "o.csv")]) == 2
    assert "-n: must be an integer >= 1" in capsys.readouterr().err
    assert (
        main(["sample", str(junk), "-n", "5", "--temperature", "0", "-o", str(tmp_path / "o.csv")])
        == 2
    )


def test_sigterm_stops_sampling_like_ctrl_c(tmp_path):
    """`kill` (or a batch scheduler's time limit) in the middle of a long `molvae sample`: exit
    status 130, and neither the output file nor its temporary file is left."""
    import signal
    import time

    out = tmp_path / "out" / "samples.csv"
    out.parent.mkdir()
    cmd = [sys.executable, "-m", "molvae", "sample", "moses-smiles", "-n", "5000000", "--seed", "0"]
    proc = subprocess.Popen([*cmd, "-o", str(out)], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not any(out.parent.iterdir()) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)  # the temporary file appears with the first batch
    time.sleep(1.0)
    assert proc.poll() is None and any(out.parent.iterdir())
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted" in err
    assert list(out.parent.iterdir()) == []


def test_output_equal_to_the_input_is_refused_before_any_work(tmp_path, capsys):
    """``molvae prepare in.smi -o in.smi`` used to overwrite the input (5 lines became 2)."""
    from molvae.cli.main import main

    f = tmp_path / "in.smi"
    text = "CCO\nCCN\nxx\nCCO\nc1ccccc1\n"
    f.write_text(text)
    for argv in (["prepare", str(f), "-o", str(f)], ["score", str(f), "-o", str(f)],
                 ["evaluate", str(f), "-o", str(f)]):  # fmt: skip
        assert main(argv) != 0
        assert f.read_text() == text
    assert "is the input file" in capsys.readouterr().err


def test_out_of_range_numbers_are_one_line_errors(tmp_path, capsys):
    """``--seed 2**70`` was an overflow from torch; ``draw --per-row 0`` a ZeroDivisionError;
    ``draw --limit -1`` silently drew all but the last molecule."""
    from molvae.cli.main import main

    f = tmp_path / "a.smi"
    f.write_text("CCO\nCCN\n")
    assert main(["sample", "-n", "3", "--seed", str(2**70), "-o", str(tmp_path / "s.csv")]) != 0
    assert "seed must be an integer" in capsys.readouterr().err
    assert not (tmp_path / "s.csv").exists()
    for flag in (["--per-row", "0"], ["--limit", "-1"]):
        assert main(["draw", str(f), *flag, "-o", str(tmp_path / "g.png")]) == 2  # bad usage


def test_more_sampling_workers_than_cpus_are_capped():
    import os

    gen = mv.load("moses-smiles", device="cpu")
    many = gen.sample(30, seed=4, batch_size=10, n_jobs=(os.cpu_count() or 1) + 500)
    pd.testing.assert_frame_equal(many, gen.sample(30, seed=4, batch_size=10, n_jobs=0))


def test_train_sigterm_saves_and_exits_143(tmp_path, moses_sample, capsys, monkeypatch):
    import os
    import signal

    from molvae import loop

    data = tmp_path / "tiny.smi"
    data.write_text("\n".join(moses_sample[:60]) + "\n")
    real, count = loop.train_step, {"n": 0}

    def step_then_sigterm(*args, **kwargs):  # a scheduler's notice at step 6 (epoch 2)
        count["n"] += 1
        if count["n"] == 6:
            os.kill(os.getpid(), signal.SIGTERM)
        return real(*args, **kwargs)

    monkeypatch.setattr(loop, "train_step", step_then_sigterm)
    run = tmp_path / "run"
    common = ["--preset", "small", "--data", str(data), "--epochs", "3", "--batch-size", "16"]
    args = ["train", *common, "--out", str(run), "--device", "cpu", "--no-progress"]
    assert main(args) == 143
    out = capsys.readouterr()
    assert out.out.startswith("interrupted (SIGTERM): 2 epochs, 6 steps")
    assert f"--resume --out {run}" in out.err
    assert (run / "best.pt").exists()
    monkeypatch.setattr(loop, "train_step", real)
    assert main(["train", "--resume", "--out", str(run), "--no-progress"]) == 0
    assert capsys.readouterr().out.startswith("epochs: 3 epochs")
