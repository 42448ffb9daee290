"""Regression tests for the ten reliability defects found by trying molvae as a new user would
(issue 9: D1..D10). Each test failed before the fix."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

import molvae as mv
from molvae import checkpoint as ckpt
from molvae.cli.main import main
from molvae.rundir import RunDir

from .helpers import overfit_generator, tiny_configs

HUGE = "C" * 50_000  # RDKit's MolToSmiles segfaults on this chain
MEGA = "C" * 1_000_000  # and hangs on this one


def molvae_cli(*args: str, stdin: str | None = None, cwd=None) -> subprocess.CompletedProcess:
    """The CLI in a child process: a crash (segfault) shows as a return code, not a dead pytest."""
    return subprocess.run(
        [sys.executable, "-m", "molvae", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )


@pytest.fixture(scope="module")
def model_path(tmp_path_factory, moses_sample):
    gen, _ = overfit_generator(moses_sample[:16], steps=5)
    return str(gen.save(tmp_path_factory.mktemp("model") / "tiny.pt"))


@pytest.fixture(scope="module")
def small_set(moses_sample):
    return moses_sample[:96]


# ---- D1: one very long SMILES line crashed prepare/train/encode/reconstruct (exit 139) ----------
def test_d1_huge_smiles_are_refused_not_fatal(tmp_path, model_path, moses_sample):
    f = tmp_path / "long.smi"
    f.write_text("\n".join([moses_sample[0], HUGE, moses_sample[1], MEGA]) + "\n")
    proc = molvae_cli("prepare", str(f), "--jobs", "1")
    assert proc.returncode == 0, proc.stderr
    assert "kept 2" in proc.stdout and "too_large" in proc.stdout
    for cmd, suffix in (("encode", ".npy"), ("reconstruct", ".csv")):
        out = tmp_path / f"{cmd}{suffix}"
        proc = molvae_cli(cmd, model_path, str(f), "-o", str(out), "--device", "cpu")
        assert proc.returncode == 0, (cmd, proc.returncode, proc.stderr[-500:])
        assert "too_large" in proc.stdout + proc.stderr
    data = mv.prepare([moses_sample[0], HUGE, MEGA], "smiles")
    assert data.report.dropped == {"too_large": 2}
    m, t = tiny_configs(epochs=1)
    res = mv.fit([*moses_sample[:40], HUGE, MEGA], m, t, progress=False)
    assert res.history["step"].iloc[-1] > 0
    gen = mv.load(model_path, device="cpu")
    with pytest.raises(mv.TokenizerError, match="too_large"):
        gen.encode(HUGE)


# ---- D2: numeric arguments that passed validation, then crashed with a traceback ----------------
@pytest.mark.parametrize("temperature", ["nan", "inf", "1e-40", "-1"])
def test_d2_bad_temperature_is_a_one_line_error(tmp_path, model_path, temperature, capsys):
    out = tmp_path / "o.csv"
    code = main(["sample", model_path, "-n", "5", "--temperature", temperature, "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "temperature" in err and err.count("\n") == 1
    assert not out.exists()


def test_d2_bad_lengths_and_lr(tmp_path, model_path, moses_sample, capsys):
    for argv in (
        ["sample", model_path, "-n", "5", "--max-len", "-3", "-o", str(tmp_path / "o.csv")],
        ["prepare", str(tmp_path / "x.smi"), "--max-len", "0"],
    ):
        assert main(argv) == 2
        assert "must be an integer >= 1" in capsys.readouterr().err
    data = tmp_path / "d.smi"
    data.write_text("\n".join(moses_sample[:20]))
    for lr in ("nan", "inf", "-1"):
        code = main(["train", "--data", str(data), "--lr", lr, "--out", str(tmp_path / "r")])
        err = capsys.readouterr().err
        assert code == 2 and "train.lr" in err and err.count("\n") == 1
    toml = tmp_path / "c.toml"
    toml.write_text("[train]\nlr = nan\n")
    with pytest.raises(mv.ConfigError, match="finite"):
        mv.load_config(toml)
    gen = mv.load(model_path, device="cpu")
    for bad in (float("nan"), float("inf"), 1e-40, 0.0):
        with pytest.raises(ValueError, match="temperature"):
            gen.sample(3, temperature=bad)
    with pytest.raises(ValueError, match="max_len"):
        gen.sample(3, max_len=-3)
    with pytest.raises(ValueError, match="max_len"):
        mv.prepare(["CCO"], "smiles", max_len=0)


# ---- D3: -o into a missing folder did all the work, then a pandas traceback -----------------------
def test_d3_outputs_into_missing_folders(tmp_path, model_path, moses_sample, capsys):
    f = tmp_path / "in.smi"
    f.write_text("\n".join(moses_sample[:5]))
    out = tmp_path / "missing" / "deeper" / "scored.csv"
    assert main(["score", str(f), "--properties", "qed", "--jobs", "1", "-o", str(out)]) == 0
    assert len(pd.read_csv(out)) == 5
    path = tmp_path / "other" / "path.csv"
    a, b = moses_sample[0], moses_sample[1]
    assert main(["interpolate", model_path, a, b, "--steps", "3", "-o", str(path)]) == 0
    assert len(pd.read_csv(path)) == 3
    # an output that can never be written fails before the work, in one line
    blocker = tmp_path / "file"
    blocker.write_text("")
    capsys.readouterr()
    code = main(["score", str(f), "-o", str(blocker / "x.csv")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1


# ---- D4: --overwrite deleted the old run before validating data and config ------------------------
def test_d4_overwrite_with_bad_data_keeps_the_old_run(tmp_path, small_set, capsys):
    m, t = tiny_configs(epochs=1)
    run = tmp_path / "run"
    mv.fit(small_set, m, t, out_dir=run, progress=False)
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.name != ".lock"}
    bad = ["train", "--data", str(tmp_path / "missing.smi"), "--overwrite", "--out", str(run)]
    assert main(bad) == 2
    assert "no such file" in capsys.readouterr().err
    with pytest.raises(mv.DataError):
        mv.fit(["xx", "C1CC"], m, t, out_dir=run, overwrite=True, progress=False)
    after = {p.name: p.read_bytes() for p in run.iterdir() if p.name != ".lock"}
    assert after == before


# ---- D5: kill -9 while best.pt was written, then --resume: no best.pt, stale temp file ------------
def test_d5_kill_during_best_promotion_then_resume(tmp_path, small_set):
    run = tmp_path / "run"
    data = tmp_path / "data.smi"
    data.write_text("\n".join(small_set))
    script = textwrap.dedent(
        f"""
        import os
        import molvae as mv
        from molvae.rundir import RunDir
        from tests.helpers import tiny_configs

        def killed(self):  # dies like kill -9 halfway through writing best.pt
            with open(self.path / ".best.pt.partial.tmp", "wb") as f:
                f.write(b"half a checkpoint")
            os._exit(137)

        RunDir.promote_best = killed
        m, t = tiny_configs(epochs=3)
        small = open({str(data)!r}).read().split()
        mv.fit(small, m, t, out_dir={str(run)!r}, progress=False)
        """
    )
    root = __import__("pathlib").Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True)
    assert proc.returncode == 137, proc.stderr[-2000:]
    assert (run / "last.pt").exists() and not (run / "best.pt").exists()
    m, t = tiny_configs(epochs=3)
    res = mv.fit(small_set, m, t, out_dir=run, resume=True, progress=False)
    assert not list(run.glob(".*.tmp"))
    assert res.best_path == run / "best.pt"
    best_epoch = int(res.history.val_elbo.idxmin()) + 1
    assert ckpt.load(run / "best.pt").metadata["epoch"] == best_epoch
    assert ckpt.resolve(run) == run / "best.pt"
    # a run directory without best.pt still loads, but says so
    (run / "best.pt").unlink()
    assert ckpt.resolve(run) == run / "last.pt"


def test_d5_load_without_best_warns(tmp_path, small_set, caplog):
    m, t = tiny_configs(epochs=1)
    mv.fit(small_set, m, t, out_dir=tmp_path, progress=False)
    (tmp_path / "best.pt").unlink()
    with caplog.at_level("WARNING"):
        mv.load(tmp_path, device="cpu")
    assert "no best.pt" in caplog.text


# ---- D6: two `molvae train --out same_dir` at once both exited 0 and one run was lost ------------
def test_d6_second_training_into_a_locked_run_is_refused(tmp_path, small_set, capsys):
    data = tmp_path / "d.smi"
    data.write_text("\n".join(small_set))
    run = tmp_path / "run"
    with RunDir(run):  # another process holds the run directory
        code = main(["train", "--data", str(data), "--epochs", "1", "--out", str(run)])
        err = capsys.readouterr().err
        assert code == 2 and "another training process" in err and err.count("\n") == 1
        m, t = tiny_configs(epochs=1)
        with pytest.raises(mv.ConfigError, match="another training process"):
            mv.fit(small_set, m, t, out_dir=run, overwrite=True, progress=False)
    m, t = tiny_configs(epochs=1)
    mv.fit(small_set, m, t, out_dir=run, progress=False)  # free again once released


# ---- D7: a plain string was split into characters ----------------------------------------------
def test_d7_a_string_is_one_molecule():
    assert len(mv.score("CCO", properties=["mw"])) == 1
    assert mv.prepare("CCO", "smiles").smiles == ["CCO"]
    m, counts = mv.evaluate(
        "CCO", reference={"ref": ["CCO", "CCN", "CCC"]}, train=None, details=True
    )
    assert counts["samples"] == 1 and m["valid"] == 1.0


# ---- D8: `molvae encode -o e.txt` said "-> e.txt" but wrote e.txt.npy -------------------------------
def test_d8_encode_writes_exactly_the_named_file(tmp_path, model_path, moses_sample, capsys):
    f = tmp_path / "in.smi"
    f.write_text("\n".join(moses_sample[:4]))
    out = tmp_path / "e.npy"
    assert main(["encode", model_path, str(f), "-o", str(out), "--device", "cpu"]) == 0
    assert out.exists() and not (tmp_path / "e.npy.npy").exists()
    assert np.load(out).shape[0] == 4
    assert str(out) in capsys.readouterr().out
    # a suffix that names neither .npy nor a table is refused before any work (issue 26)
    assert main(["encode", model_path, str(f), "-o", str(tmp_path / "e.txt")]) == 2
    assert "unknown table suffix" in capsys.readouterr().err
    assert not (tmp_path / "e.txt").exists()


# ---- D9: --resume silently ignored a different model config or tokenizer -------------------------
def test_d9_resume_with_another_model_or_tokenizer_is_refused(tmp_path, small_set):
    m, t = tiny_configs(epochs=1)
    mv.fit(small_set, m, t, out_dir=tmp_path, progress=False)
    other = mv.ModelConfig(**{**m.__dict__, "latent_dim": m.latent_dim * 2})
    t2 = mv.TrainConfig(**{**t.__dict__, "epochs": 2})
    with pytest.raises(mv.ConfigError, match="model.latent_dim"):
        mv.fit(small_set, other, t2, out_dir=tmp_path, resume=True, progress=False)
    selfies = mv.TrainConfig(**{**t2.__dict__, "tokenizer": "selfies"})
    with pytest.raises(mv.ConfigError, match="tokenizer"):
        mv.fit(small_set, m, selfies, out_dir=tmp_path, resume=True, progress=False)
    res = mv.fit(small_set, m, t2, out_dir=tmp_path, resume=True, progress=False)
    assert len(res.history) == 2


# ---- D10: `cat x.smi | molvae score /dev/stdin` reported "only blank lines" ------------------------
def test_d10_stdin_is_read_once(tmp_path, moses_sample):
    out = tmp_path / "s.csv"
    text = "\n".join(moses_sample[:6]) + "\n"
    proc = molvae_cli(
        "score", "/dev/stdin", "--properties", "mw", "--jobs", "1", "-o", str(out), stdin=text
    )
    assert proc.returncode == 0, proc.stderr
    assert len(pd.read_csv(out)) == 6
    proc = molvae_cli("evaluate", "/dev/stdin", "--reference", "/dev/null", stdin=text)
    assert proc.returncode == 2 and proc.stderr.count("\n") >= 1  # /dev/null is no reference set
    ref = tmp_path / "ref.smi"
    ref.write_text("\n".join(moses_sample[10:40]))
    metrics = tmp_path / "m.json"
    proc = molvae_cli(
        "evaluate", "/dev/stdin", "--reference", str(ref), "--train", "none", "--jobs", "1",
        "-o", str(metrics), stdin=text,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-1000:]
    assert json.loads(metrics.read_text())["valid"] == 1.0


# ---- issue 26: unbounded and non-finite numbers, devices and suffixes checked before any work ---
@pytest.mark.parametrize(
    "argv, message",
    [
        (["sample", "-n", "5", "--temperature", "1e39"], "temperature must be a number"),
        (["sample", "-n", "5", "--prior-spread", "1e300"], "--prior-spread must be a number"),
        (["sample", "-n", "5", "--max-len", "1000000000"], "max_len must be from 1 to 10,000"),
        (["sample", "-n", "5", "--device", "meta"], "device 'meta' is not supported"),
        (["sample", "-n", "5", "--device", "nonsense"], "unknown device 'nonsense'"),
        (["interpolate", "CCO", "CCN", "--steps", "100000000"], "steps must be an integer"),
        (["interpolate", "CCO", "CCN", "--png", "path.txt"], "unknown suffix; use .png or .svg"),
        (["optimize", "--objective", "qed", "--sigma", "nan"], "sigma must be a number"),
        (["optimize", "--objective", "qed", "--sigma", "inf"], "sigma must be a number"),
        (
            ["optimize", "--objective", "qed", "--start", "CCO", "--min-similarity", "nan"],
            "min_similarity must be a number",
        ),  # fmt: skip
        (["optimize", "--objective", "qed", "--range", "logp=nan:3"], "bounds must be numbers"),
        (["optimize", "--objective", "qed", "--png", "best.txt"], "unknown suffix"),
    ],
)
def test_bad_numbers_devices_and_suffixes_fail_at_once(tmp_path, model_path, capsys, argv, message):
    import time

    out = tmp_path / "o.csv"
    budget = ["--budget", "5"] if argv[0] == "optimize" else []
    t0 = time.perf_counter()
    rc = main([argv[0], model_path, *argv[1:], *budget, "-o", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and "Traceback" not in err, err
    assert time.perf_counter() - t0 < 20 and not out.exists()


def test_outputs_follow_their_suffix_and_unknown_ones_are_refused(tmp_path, model_path, capsys):
    for suffix in (".smi", ".csv.gz", ".tsv"):
        assert main(["sample", model_path, "-n", "4", "--seed", "1", "--no-progress",
                     "-o", str(tmp_path / f"s{suffix}")]) == 0  # fmt: skip
    assert len((tmp_path / "s.smi").read_text().splitlines()) == 4
    assert pd.read_csv(tmp_path / "s.csv.gz").shape == (4, 4)
    assert pd.read_csv(tmp_path / "s.tsv", sep="\t").columns[0] == "smiles"
    assert main(["sample", model_path, "-n", "4", "-o", str(tmp_path / "s.npy")]) == 2
    assert "unknown table suffix" in capsys.readouterr().err
    f = tmp_path / "in.smi"
    f.write_text("CCO\nnot_a_molecule\n")
    assert main(["encode", model_path, str(f), "-o", str(tmp_path / "z.csv")]) == 0
    table = pd.read_csv(tmp_path / "z.csv")
    assert list(table.columns[:3]) == ["smiles", "reason", "standardized"]
    assert table.reason.isna().tolist() == [True, False] and "z0" in table.columns
    assert main(["encode", model_path, str(f), "-o", str(tmp_path / "z.smi")]) == 2
    link = tmp_path / "link.csv"
    link.symlink_to(tmp_path / "target.csv")
    assert main(["sample", model_path, "-n", "2", "--no-progress", "-o", str(link)]) == 0
    assert link.is_symlink() and len(pd.read_csv(tmp_path / "target.csv")) == 2


def test_an_unexpected_exception_is_one_line_with_the_hint(tmp_path, model_path, capsys,
                                                           monkeypatch):  # fmt: skip
    from molvae import sampling

    def broken(*args, **kwargs):
        raise KeyError("a defect")

    monkeypatch.setattr(sampling, "iter_kept", broken)
    rc = main(["sample", model_path, "-n", "2", "-o", str(tmp_path / "o.csv"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1 and "unexpected error: KeyError" in err[0] and "-vv" in err[0]


def test_non_finite_latent_points_and_search_settings_are_refused(model_path):
    gen = mv.load(model_path, device="cpu")
    z = np.zeros((3, gen.latent_dim), dtype=np.float32)
    z[1, 0], z[2, 3] = np.nan, 1e30
    with pytest.raises(ValueError, match=r"2 row\(s\).*rows 1, 2"):
        gen.decode(z)
    for kwargs in ({"n_init": 0}, {"population": 1}, {"sigma": float("nan")},
                   {"objective": {"qed": float("nan")}}, {"region": 1.5}):  # fmt: skip
        with pytest.raises(ValueError):
            gen.optimize(**{"objective": "qed", "budget": 5, "progress": False, **kwargs})


def test_numpy_integers_are_accepted_where_python_ints_are(model_path):
    gen = mv.load(model_path, device="cpu")
    n = np.int64(3)
    assert len(gen.sample(n, seed=np.int64(1))) == 3
    assert len(gen.neighbors("CCO", n=n)) <= 3
    assert len(gen.reconstruct(["CCO"], n_decodes=np.int64(2))) == 1
    assert len(gen.interpolate("CCO", "CCN", steps=n)) == 3
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        gen.sample(np.int64(0))
    with pytest.raises(ValueError, match="must be an integer"):
        gen.sample(True)
