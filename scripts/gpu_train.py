"""One prepared GPU run: prepare MOSES, train the MOSES-size network for a fixed wall-clock, export
the best checkpoint in parts that fit the device's 16 MiB result files, then measure sampling and
``mv.evaluate`` on the same GPU. Called by ``scripts/gpu_train.sh`` (which unpacks the carried
RDKit/selfies/fcd first); ``--smoke`` runs the identical stages on a CPU in about a minute.

    bash scripts/gpu_train.sh --out $OUT                       # on the GPU machine (~9.5 minutes)
    bash scripts/gpu_train.sh --smoke --out /tmp/gpu-smoke     # here, on the CPU
    python scripts/gpu_train.py --join $OUT --to runs/gpu/best.pt   # afterwards: parts -> one file

Stages, each printing one ``[gpu_train]`` line as it ends and rewriting ``timings.json``:
``check`` (packages, device, time left: a one-line error before any training), ``prepare`` (the
MOSES train tokens with every CPU core, cached in the work folder), ``calibrate`` (a few timed
steps per precision and batch; bf16 falls back to float32 if it fails), ``train`` (``mv.fit`` with
``max_steps`` chosen from the measured step rate so the cosine schedule ends inside the budget),
``export`` (``best.pt`` without optimizer state, float32 as trained, cut into parts of at most
15 MiB, joined back and checked against the trained weights' digest), ``bench_sample`` (fp32 and
bf16, ``scripts/bench_sample.py``) and ``evaluate`` (samples of the trained model scored by
``mv.evaluate`` on the device). While training runs, a watcher exports every new ``best.pt`` and
``metrics.csv`` into the output folder, so a run cut off at its limit still leaves its last
checkpoint and timings there.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import os
import subprocess
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the repository's molvae, installed or not

PART_BYTES = 15 * 2**20  # result files may be at most 16 MiB each
PART_PREFIX = "best.pt.part"
SMOKE_MODEL = {"embedding_dim": 16, "encoder_hidden_dim": 32, "latent_dim": 16,
               "decoder_hidden_dim": 48}  # fmt: skip
SMOKE_TRAIN = {"limit": 1500, "batch_size": 64, "recon_eval": 40, "prior_eval": 40,
               "dist_eval": 100, "prior_components": 100, "prior_fit_size": 300,
               "device": "cpu", "amp": "none"}  # fmt: skip


class Run:
    """The output folder's record: one line per stage on stdout, all figures in timings.json."""

    def __init__(self, out: Path, started: float):
        self.out, self.started, self.info = out, started, {"stages": {}}
        out.mkdir(parents=True, exist_ok=True)

    def stage(self, name: str, seconds: float, line: str, **figures) -> None:
        self.info["stages"][name] = {"seconds": round(seconds, 2), **figures}
        self.save()
        elapsed = time.time() - self.started
        print(f"[gpu_train] {name}: {line} ({seconds:.1f} s; {elapsed:.0f} s since start)",
              flush=True)  # fmt: skip

    def save(self) -> None:
        tmp = self.out / "timings.json.tmp"
        tmp.write_text(json.dumps(self.info, indent=1, default=str))
        os.replace(tmp, self.out / "timings.json")


def fail(msg: str, code: int = 2) -> None:
    print(f"[gpu_train] error: {msg}", flush=True)
    raise SystemExit(code)


# ---- checkpoint parts ----------------------------------------------------------------------------
def slim_checkpoint(best: Path, dest: Path) -> dict:
    """``best.pt`` without the optimizer state and RNG (weights float32 exactly as trained)."""
    import torch

    payload = torch.load(best, map_location="cpu", weights_only=True)
    state = dict(payload.get("train_state") or {})
    payload["train_state"] = {k: v for k, v in state.items() if k not in ("optimizer", "rng")}
    tmp = dest.with_suffix(".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, dest)
    return {"state_sha256": payload["state_sha256"], "has_prior": payload.get("prior") is not None}


def write_parts(src: Path, out: Path) -> list[str]:
    """Cut ``src`` into ``out/best.pt.part0, part1, ...`` of at most PART_BYTES each."""
    data = src.read_bytes()
    names = []
    for k, start in enumerate(range(0, len(data), PART_BYTES)):
        name = f"{PART_PREFIX}{k}"
        (out / f"{name}.tmp").write_bytes(data[start : start + PART_BYTES])
        os.replace(out / f"{name}.tmp", out / name)
        names.append(name)
    for stale in out.glob(f"{PART_PREFIX}*"):  # a shorter export than the last one
        if stale.name not in names and not stale.name.endswith(".tmp"):
            stale.unlink()
    manifest = {"parts": names, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (out / "best.parts.json").write_text(json.dumps(manifest, indent=1))
    return names


def join_parts(folder: Path, dest: Path) -> Path:
    """Put ``folder``'s parts back into one checkpoint and check its sha256 and that it loads."""
    from molvae import checkpoint as ckpt

    manifest = json.loads((folder / "best.parts.json").read_text())
    data = b"".join((folder / name).read_bytes() for name in manifest["parts"])
    if hashlib.sha256(data).hexdigest() != manifest["sha256"]:
        raise SystemExit(f"{folder}: the parts do not add up to the exported file (sha256 differs)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
    ckpt.load(dest)  # verifies the weights' and the prior's digests, weights_only
    return dest


def export(best: Path, work: Path, out: Path) -> dict:
    slim = work / "best-slim.pt"
    info = slim_checkpoint(best, slim)
    parts = write_parts(slim, out)
    return {**info, "parts": parts, "bytes": slim.stat().st_size}


def watch(run_dir: Path, work: Path, out: Path, every: float) -> None:
    """Export each new ``best.pt`` and ``metrics.csv`` of the run into the output folder until the
    parent process ends (a process of its own: no thread shares the trainer's locks)."""
    import shutil

    parent, seen = os.getppid(), 0.0
    while os.getppid() == parent:
        try:
            if (run_dir / "metrics.csv").exists():
                shutil.copyfile(run_dir / "metrics.csv", out / "metrics.csv")
            best = run_dir / "best.pt"
            if best.exists() and best.stat().st_mtime > seen:
                seen = best.stat().st_mtime
                export(best, work / "watch", out)
        except Exception as err:  # never stop over one export; the next try may work
            print(f"[gpu_train] watcher: export failed ({err})", flush=True)
        time.sleep(every)


# ---- stages ---------------------------------------------------------------------------------------
def check(args: argparse.Namespace, run: Run) -> None:
    t0 = time.time()
    missing = []
    for name in ("rdkit", "selfies", "fcd", "tomli_w", "numpy", "pandas", "scipy", "tqdm", "torch"):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        fail(
            f"missing packages: {', '.join(missing)} (carry them: bash scripts/gpu_train.sh --pack)"
        )
    import torch

    import molvae

    if args.device == "cuda" and not torch.cuda.is_available():
        fail("no CUDA device here (use --smoke for the CPU rehearsal)")
    left = args.budget_s - (time.time() - args.started)
    if left < args.min_train_s + args.reserve_s:
        fail(f"too little time left: {left:.0f} s of the {args.budget_s:.0f} s budget "
             f"(need {args.min_train_s + args.reserve_s:.0f})")  # fmt: skip
    env = {
        "python": sys.version.split()[0], "torch": torch.__version__, "molvae": molvae.__version__,
        "cpus": os.cpu_count(), "device": args.device,
    }  # fmt: skip
    if args.device == "cuda":
        env["gpu"] = torch.cuda.get_device_name()
        env["cuda"] = torch.version.cuda
        env["cudnn"] = torch.backends.cudnn.version()
    run.info["environment"] = env
    if args.init:  # a bad parent is refused now, not after the data is prepared
        from molvae.exceptions import MolvaeError
        from molvae.lineage import Parent

        try:
            parent = Parent.load(args.init)
            parent.check_network(configs(args)[0])
        except MolvaeError as err:
            fail(f"--init {args.init}: {err}")
        env["init"] = {"model": args.init, "sha256": parent.sha256, "pieces": len(parent.pieces)}
    run.stage("check", time.time() - t0, f"{env.get('gpu', 'cpu')}, torch {env['torch']}, "
              f"{env['cpus']} CPUs, {left:.0f} s of budget left")  # fmt: skip


def configs(args: argparse.Namespace):
    from molvae.config import ModelConfig, TrainConfig, load_config

    model_cfg, cfg = load_config(args.config)
    if args.smoke:
        model_cfg = ModelConfig(**{**asdict(model_cfg), **SMOKE_MODEL})
        cfg = TrainConfig(**{**asdict(cfg), **SMOKE_TRAIN})
    return model_cfg, cfg


def prepare(args: argparse.Namespace, cfg, run: Run):
    import molvae as mv
    from molvae.data import prepare_file

    t0 = time.time()
    os.environ["MOLVAE_CACHE"] = str(args.work / "cache")
    src = mv.datasets.resolve(cfg.data)
    if cfg.limit:  # the smoke run: a seeded sample written to a file, then the same cached path
        smiles = mv.read_smiles(src).sample(n=cfg.limit, random_state=cfg.seed).sort_index()
        src = args.work / "train_subset.smi"
        src.write_text("\n".join(smiles) + "\n")
    jobs = os.cpu_count() or 1
    data = prepare_file(src, cfg.tokenizer, max_len=cfg.max_len, n_jobs=jobs)
    dt = time.time() - t0
    run.stage("prepare", dt, f"{len(data):,} molecules ({data.report}) with {jobs} processes",
              molecules=len(data), jobs=jobs, molecules_per_s=round(len(data) / dt))  # fmt: skip
    return data


def calibrate(args: argparse.Namespace, model_cfg, cfg, data, run: Run) -> tuple[str, float]:
    """Timed training steps per (precision, batch); returns the precision to train with and the
    step rate (steps/s) at the configured batch."""
    import torch

    from molvae.data import batch_indices
    from molvae.device import autocast
    from molvae.loop import train_step
    from molvae.model import MolVAE

    t0 = time.time()
    device = torch.device(cfg.device)
    warm, steps = (2, 3) if args.smoke else (8, 30)
    b = cfg.batch_size
    settings = [("bf16", b), ("none", b), ("bf16", b // 2), ("bf16", 2 * b)]
    rows = []
    for amp, batch in settings:
        torch.manual_seed(0)
        model = MolVAE(model_cfg).to(device)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        batches = batch_indices(data.lengths, batch, shuffle=True, bucket=True, seed=1)
        row = {"amp": amp, "batch": batch}
        try:
            n, start = 0, 0.0
            for i, idx in enumerate(batches[: warm + steps]):
                if i == warm:
                    if device.type == "cuda":
                        torch.cuda.synchronize()
                    n, start = 0, time.perf_counter()
                ids, lengths = (torch.from_numpy(a).to(device) for a in data.batch(idx))
                loss, _, _ = train_step(model, opt, ids, lengths, cfg, 1e-4, 0.0,
                                        autocast(device, amp == "bf16"))  # fmt: skip
                if not math.isfinite(loss):
                    raise RuntimeError(f"loss {loss}")
                n += len(idx)
            if device.type == "cuda":
                torch.cuda.synchronize()
            dt = time.perf_counter() - start
            row.update(molecules_per_s=round(n / dt), steps_per_s=round(steps / dt, 2))
        except Exception as err:  # bf16 kernels missing, out of memory: try the next setting
            row["error"] = f"{type(err).__name__}: {str(err)[:200]}"
        rows.append(row)
        del model, opt
        if device.type == "cuda":
            torch.cuda.empty_cache()
    at_b = {r["amp"]: r for r in rows if r["batch"] == b and "error" not in r}
    if not at_b:
        fail(f"no training step ran at batch {b}: {rows}")
    amp = cfg.amp if cfg.amp in at_b else next(iter(at_b))
    if cfg.amp == "bf16" and "none" in at_b and "bf16" in at_b:  # bf16 only when it is faster
        amp = "bf16" if at_b["bf16"]["steps_per_s"] >= at_b["none"]["steps_per_s"] else "none"
    rate = at_b[amp]["steps_per_s"]
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    speeds = ", ".join(
        f"{r['amp']}@{r['batch']} " + (f"{r['molecules_per_s']:,} mol/s" if "error" not in r
                                       else "failed") for r in rows
    )  # fmt: skip
    run.stage("calibrate", time.time() - t0, f"{speeds}; training with {amp}",
              settings=rows, amp=amp)  # fmt: skip
    return amp, rate


def rehearse(args: argparse.Namespace, model_cfg, cfg, data, amp: str, run: Run):
    """Run the per-epoch validation once on an untrained model (reconstruction, prior samples,
    the FCD signal on the device), so that a fault there shows before training, not after the
    first epoch. Without the FCD signal if only that fails; returns the config to train with."""
    import numpy as np
    import torch

    from molvae.metrics import reference_moments
    from molvae.model import MolVAE
    from molvae.validation import validate

    t0 = time.time()
    device = torch.device(cfg.device)
    val = data.subset(np.arange(min(200, len(data))))
    model = MolVAE(model_cfg).to(device)
    for dist in (True, False):
        small = replace(cfg, recon_eval=20, prior_eval=20, dist_eval=50 if dist else 0)
        try:
            moments = reference_moments(val.smiles, device=str(device)) if dist else None
            validate(model, data.tokenizer, val, small, seed=0, bf16=amp == "bf16",
                     val_moments=moments)  # fmt: skip
        except Exception as err:
            print(f"[gpu_train] rehearse: validation {'with' if dist else 'without'} the FCD "
                  f"signal failed: {type(err).__name__}: {err}", flush=True)  # fmt: skip
            continue
        if not dist:
            cfg = replace(cfg, dist_eval=0)
        run.stage("rehearse", time.time() - t0, "per-epoch validation ran on the device"
                  + ("" if dist else " without the FCD signal (dist_eval = 0)"))  # fmt: skip
        return cfg
    fail("the per-epoch validation fails on this device (see above)", code=3)


def train(args: argparse.Namespace, model_cfg, cfg, data, amp: str, rate: float, run: Run):
    import torch

    import molvae as mv
    from molvae.exceptions import TrainingError

    left = args.budget_s - (time.time() - args.started) - args.reserve_s
    seconds = min(args.minutes * 60, left)
    if seconds < args.min_train_s:
        fail(f"too little time left to train: {seconds:.0f} s (need {args.min_train_s:.0f})")
    steps = args.smoke_steps if args.smoke else max(10, int(rate * seconds * args.loop_share))
    per_epoch = math.ceil(len(data) * (1 - cfg.val_fraction) / cfg.batch_size)
    cfg = replace(
        cfg,
        amp=amp,
        max_steps=steps,
        epochs=max(1, math.ceil(steps / per_epoch) + 1),
        warmup_steps=max(1, int(args.warmup_share * steps)),
        kl_warmup_steps=max(1, int(args.kl_share * steps)),
        time_limit_minutes=seconds / 60,
    )
    if args.init:  # the next piece of a trained model: its beta from the first step, its prior
        from molvae.lineage import Parent

        parent = Parent.load(args.init).train_config()
        cfg = replace(cfg, kl_weight=parent.kl_weight, kl_start=parent.kl_weight,
                      kl_warmup_steps=0, prior=parent.prior,
                      prior_components=parent.prior_components,
                      prior_spread=parent.prior_spread)  # fmt: skip
    run.info["train_config"] = asdict(cfg)
    run.info["model_config"] = asdict(model_cfg)
    run.save()
    run_dir = args.work / "train"
    print(f"[gpu_train] train: {steps:,} steps (~{steps / per_epoch:.1f} epochs) planned in "
          f"{seconds:.0f} s at {rate:.2f} steps/s measured, {amp}", flush=True)  # fmt: skip
    (args.work / "watch").mkdir(exist_ok=True)
    watcher = subprocess.Popen(
        [sys.executable, __file__, "--watch", str(run_dir), "--work", str(args.work),
         "--out", str(args.out), "--every", "1" if args.smoke else "20"],
        env=with_repo_on_path(),
    )  # fmt: skip
    t0 = time.time()
    stopped, error = "?", None
    try:
        result = mv.fit(data, model_cfg, cfg, out_dir=run_dir, init=args.init, overwrite=True,
                        progress=False)  # fmt: skip
        stopped, history = result.stopped_because, result.history
    except TrainingError as err:  # a non-finite loss: keep the last good best.pt and go on
        error, stopped = str(err), "error"
        import pandas as pd

        history = pd.read_csv(run_dir / "metrics.csv") if (run_dir / "metrics.csv").exists() \
            else pd.DataFrame()  # fmt: skip
    finally:
        watcher.terminate()
        watcher.wait()
    dt = time.time() - t0
    figures = {"stopped": stopped, "planned_steps": steps, "error": error}
    if len(history):
        last = history.iloc[-1]
        seen = int(history["molecules"].sum())
        loop_s = float(history["epoch_seconds"].sum())
        figures.update(
            epochs=int(last["epoch"]), steps=int(last["step"]), molecules_seen=seen,
            loop_seconds=round(loop_s, 1), molecules_per_s_loop=round(seen / loop_s),
            molecules_per_s_wall=round(seen / dt), epoch_seconds=round(loop_s / len(history), 1),
            val_recon=float(last["val_recon"]), val_kl=float(last["val_kl"]),
            recon_exact=float(last["recon_exact"]), prior_valid=float(last["prior_valid"]),
        )  # fmt: skip
    if torch.cuda.is_available() and cfg.device.startswith("cuda"):
        figures["peak_gpu_memory_mib"] = round(torch.cuda.max_memory_allocated() / 2**20)
    line = (
        f"{stopped} after {figures.get('epochs', 0)} epochs, {figures.get('steps', 0):,} steps,"
        f" {figures.get('molecules_per_s_loop', 0):,} molecules/s in the loop; exact "
        f"{figures.get('recon_exact', 0):.1%}, prior-valid {figures.get('prior_valid', 0):.1%}"
    )
    run.stage("train", dt, line, **figures)
    return run_dir


def export_stage(args: argparse.Namespace, run_dir: Path, run: Run) -> Path:
    import shutil

    from molvae import checkpoint as ckpt

    t0 = time.time()
    best = run_dir / "best.pt"
    if not best.exists():
        fail("training left no best.pt (see the train line above)", code=4)
    for name in ("metrics.csv", "config.toml"):
        if (run_dir / name).exists():
            shutil.copyfile(run_dir / name, args.out / name)
    info = export(best, args.work, args.out)
    joined = join_parts(args.out, args.work / "joined.pt")
    trained = ckpt.load(best).state_dict
    back = ckpt.load(joined).state_dict
    exact = all(torch_equal(trained[k], back[k]) for k in trained) and trained.keys() == back.keys()
    if not exact:
        fail("the joined checkpoint's weights differ from the trained ones", code=4)
    run.stage("export", time.time() - t0, f"{len(info['parts'])} parts, {info['bytes']:,} bytes, "
              f"weights identical after joining, prior {'stored' if info['has_prior'] else 'none'}",
              **info)  # fmt: skip
    return joined


def torch_equal(a, b) -> bool:
    import torch

    return a.dtype == b.dtype and torch.equal(a, b)


def with_repo_on_path() -> dict[str, str]:
    """This environment with the repository first on PYTHONPATH: a child process imports the
    same molvae, installed or not (the GPU machine runs it from the checkout)."""
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": str(ROOT) + (os.pathsep + path if path else "")}


def bench_stage(args: argparse.Namespace, model: Path, device: str, run: Run) -> None:
    t0 = time.time()
    n, batch = (500, 250) if args.smoke else (args.bench_n, 10_000)
    cmd = [sys.executable, str(ROOT / "scripts" / "bench_sample.py"), "--model", str(model),
           "--sizes", str(n), "--batch-size", str(batch), "--precision", "fp32,bf16",
           "--device", device]  # fmt: skip
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.bench_timeout_s,
                              env=with_repo_on_path())  # fmt: skip
    except subprocess.TimeoutExpired as err:
        out = err.stdout.decode() if isinstance(err.stdout, bytes) else (err.stdout or "")
        rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        run.stage("bench_sample", time.time() - t0, f"timed out after {args.bench_timeout_s} s",
                  rows=rows)  # fmt: skip
        return
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not rows:
        print(proc.stdout[-2000:], proc.stderr[-2000:], flush=True)
        run.stage("bench_sample", time.time() - t0, f"failed (exit {proc.returncode})",
                  error=proc.stderr[-500:])  # fmt: skip
        return
    for r in rows:
        r["valid_per_s"] = round(r["molecules_per_s"] * r["valid"])
    line = ", ".join(f"{r['precision']} {r['molecules_per_s']:,.0f} mol/s "
                     f"({r['valid_per_s']:,} valid/s)" for r in rows)  # fmt: skip
    run.stage("bench_sample", time.time() - t0, line, rows=rows)


def evaluate_stage(args: argparse.Namespace, model: Path, device: str, run: Run) -> None:
    import molvae as mv

    t0 = time.time()
    n = 1000 if args.smoke else args.eval_n
    gen = mv.load(model, device=device)
    s0 = time.time()
    samples = gen.sample(n, seed=0)
    sample_s = time.time() - s0
    (args.work / "samples.csv").write_text(samples.to_csv(index=False))
    e0 = time.time()
    where = device
    try:
        metrics, details = mv.evaluate(list(samples.smiles), device=device,
                                       n_jobs=os.cpu_count() or 1, details=True)  # fmt: skip
    except Exception as err:  # the device path failed: the figures still matter, on the CPU
        print(f"[gpu_train] evaluate on {device} failed ({type(err).__name__}: {err}); on cpu",
              flush=True)  # fmt: skip
        where, e0 = "cpu", time.time()
        metrics, details = mv.evaluate(list(samples.smiles), device="cpu",
                                       n_jobs=os.cpu_count() or 1, details=True)  # fmt: skip
    eval_s = time.time() - e0
    keys = ("valid", "unique@1000", "unique@10000", "FCD/Test", "SNN/Test", "Frag/Test",
            "Scaf/Test", "IntDiv", "Filters", "Novelty")  # fmt: skip
    shown = {k: (None if metrics.get(k) is None else round(float(metrics[k]), 4)) for k in keys}
    run.stage("evaluate", time.time() - t0,
              f"{n:,} samples in {sample_s:.1f} s, evaluated in {eval_s:.1f} s: "
              + ", ".join(f"{k} {v}" for k, v in shown.items()),
              n=n, sample_seconds=round(sample_s, 2), evaluate_seconds=round(eval_s, 2),
              evaluate_device=where, metrics=dict(metrics),
              evaluate_timings=details.get("seconds"))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("--out", type=Path, help="output folder (the device's $OUT)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/molvae-gpu"),
                    help="run folder: the prepared-data cache and the training run")  # fmt: skip
    ap.add_argument("--config", default=str(ROOT / "scripts/pretrained/moses-smiles-gpu.toml"))
    ap.add_argument("--minutes", type=float, default=7.0, help="training wall-clock at most")
    ap.add_argument(
        "--budget-s",
        type=float,
        default=570.0,
        help="the whole command's seconds; training shrinks to leave --reserve-s",
    )
    ap.add_argument(
        "--reserve-s", type=float, default=100.0, help="seconds kept for the stages after training"
    )
    ap.add_argument("--min-train-s", type=float, default=120.0)
    ap.add_argument("--started", type=float, default=None, help="epoch seconds the command began")
    ap.add_argument("--loop-share", type=float, default=0.85,
                    help="share of the training seconds spent in optimisation steps (the rest: "
                         "validation and checkpoints each epoch)")  # fmt: skip
    ap.add_argument("--warmup-share", type=float, default=0.02)
    ap.add_argument("--kl-share", type=float, default=0.3, help="beta ramp, share of the steps")
    ap.add_argument("--bench-n", type=int, default=100_000)
    ap.add_argument("--bench-timeout-s", type=float, default=120.0)
    ap.add_argument("--eval-n", type=int, default=30_000)
    ap.add_argument("--init", help="continue this model (bundled name, checkpoint, run directory) "
                    "with a fresh optimizer: the next piece of its training")  # fmt: skip
    ap.add_argument("--skip-measure", action="store_true", help="no bench_sample or evaluate")
    ap.add_argument("--smoke", action="store_true", help="CPU rehearsal: tiny data and network")
    ap.add_argument("--smoke-steps", type=int, default=24, help=argparse.SUPPRESS)
    ap.add_argument("--watch", type=Path, help=argparse.SUPPRESS)  # the exporter process
    ap.add_argument("--every", type=float, default=20.0, help=argparse.SUPPRESS)
    ap.add_argument("--join", type=Path, help="folder holding best.pt.part*: join them (--to)")
    ap.add_argument("--to", type=Path, help="with --join: the checkpoint to write")
    args = ap.parse_args()
    if args.join:
        if not args.to:
            ap.error("--join needs --to")
        print(join_parts(args.join, args.to))
        return
    if args.out is None:
        ap.error("--out is required")
    if args.watch:
        watch(args.watch, args.work, args.out, args.every)
        return
    args.started = args.started or time.time()
    if args.smoke:  # a fixed number of steps (a busy CPU must not change what is tested)
        args.minutes, args.reserve_s, args.min_train_s = 2.0, 10.0, 5.0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s",
                        stream=sys.stdout)  # fmt: skip
    run = Run(args.out, args.started)
    model_cfg, cfg = configs(args)
    args.device = "cuda" if cfg.device.startswith("cuda") else cfg.device
    args.work.mkdir(parents=True, exist_ok=True)
    check(args, run)
    data = prepare(args, cfg, run)
    model_cfg = replace(model_cfg, vocab_size=data.tokenizer.vocab_size)
    amp, rate = calibrate(args, model_cfg, cfg, data, run)
    cfg = rehearse(args, model_cfg, cfg, data, amp, run)
    run_dir = train(args, model_cfg, cfg, data, amp, rate, run)
    model = export_stage(args, run_dir, run)
    for stage in (
        () if args.skip_measure else (bench_stage, evaluate_stage)
    ):  # measurements: one failing leaves the other
        try:
            stage(args, model, args.device, run)
        except Exception as err:
            print(f"[gpu_train] {stage.__name__}: failed: {type(err).__name__}: {err}", flush=True)
    print(f"[gpu_train] done in {time.time() - args.started:.0f} s; outputs in {args.out}",
          flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
