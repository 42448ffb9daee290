"""Benchmark ``molvae evaluate`` (the MOSES metric set): cold start, warm runs beside MOSES 0.3.1,
memory, and ``mv.score`` throughput.

    python scripts/bench_metrics.py --sizes 10000 --cold                 # fresh install, empty cache
    python scripts/bench_metrics.py --sizes 10000,30000 --moses PYTHON --moses-script SCRIPT

Samples are ``n`` random MOSES test molecules (seed 0), written to one file that every run reads.
``--cold`` points ``MOLVAE_CACHE`` at a fresh, empty folder and times the first ``molvae evaluate``
of the file as a new user runs it (a separate process: import, shipped reference statistics,
fingerprints computed on first use). ``--moses PYTHON`` (an interpreter with ``molsets==0.3.1``)
also runs MOSES's ``get_all_metrics`` through ``--moses-script`` (a script that scores a SMILES
file with it and prints JSON) on the same file, interleaved with warm molvae runs
(molvae, MOSES, molvae), and prints the largest difference between their values. Every timed run is
a separate process, so its peak RSS is its own. Targets (2 cores): cold 10k <= 90 s; warm >= 3x
faster than MOSES; 30k peak RSS <= 4 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of a command run to completion."""
    wrapped = ["/usr/bin/time", "-f", "%M", *cmd]
    t0 = time.perf_counter()
    proc = subprocess.run(wrapped, env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr[-3000:]}")
    rss_kib = int(proc.stderr.strip().splitlines()[-1])
    return dt, rss_kib / 1024


def molvae_run(path: Path, out: Path, jobs: int, env: dict[str, str]) -> tuple[float, float]:
    cmd = [sys.executable, "-m", "molvae", "-q", "evaluate", str(path), "--jobs", str(jobs)]
    return timed([*cmd, "-o", str(out)], env)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sizes", default="10000")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--cold", action="store_true", help="first run with a fresh, empty cache")
    ap.add_argument("--moses", help="python of the MOSES peer venv: run get_all_metrics beside")
    ap.add_argument("--moses-script", help="with --moses: the script that runs get_all_metrics")
    ap.add_argument("--score-n", type=int, default=0, help="also time mv.score on N molecules")
    args = ap.parse_args()
    if args.moses and not args.moses_script:
        ap.error("--moses needs --moses-script")

    import molvae as mv

    work = Path(tempfile.mkdtemp(prefix="molvae-bench-"))
    env = dict(os.environ)
    if args.cold:
        env["MOLVAE_CACHE"] = str(work / "empty-cache")
    test = mv.datasets.load("moses", "test").smiles
    for n in (int(x) for x in args.sizes.split(",")):
        path = work / f"gen{n}.txt"
        path.write_text("\n".join(test.sample(n, random_state=0)) + "\n")
        row: dict = {"n": n, "jobs": args.jobs}
        if args.cold:
            row["molvae_cold_s"], row["molvae_cold_rss_mib"] = molvae_run(
                path, work / "cold.json", args.jobs, env
            )
        runs = []
        ours = work / f"molvae{n}.json"
        runs.append(molvae_run(path, ours, args.jobs, env))
        if args.moses:
            theirs = work / f"moses{n}.json"
            cmd = [args.moses, str(args.moses_script), str(path)]
            cmd += ["--n-jobs", str(args.jobs), "--out", str(theirs)]
            row["moses_s"], row["moses_rss_mib"] = timed(cmd, env)
            runs.append(molvae_run(path, ours, args.jobs, env))
        row["molvae_warm_s"] = [round(t, 1) for t, _ in runs]
        row["molvae_warm_rss_mib"] = round(max(r for _, r in runs))
        if args.moses:
            row["speedup_vs_moses"] = round(row["moses_s"] / min(t for t, _ in runs), 2)
            a = json.loads(ours.read_text())
            b = json.loads(theirs.read_text())
            b = b.get("metrics", b)
            diffs = {
                k: abs(a[k] - b[k]) / (abs(b[k]) if k.startswith("FCD") else 1.0)
                for k in a
                if isinstance(a.get(k), float) and isinstance(b.get(k), float)
            }
            worst = sorted(diffs.items(), key=lambda kv: -kv[1])[:4]
            row["largest_differences"] = {k: float(f"{v:.2e}") for k, v in worst}
        row["metrics"] = {k: (round(v, 4) if v is not None else None) for k, v in
                          json.loads(ours.read_text()).items()}  # fmt: skip
        for key in ("molvae_cold_s", "moses_s"):
            if key in row:
                row[key] = round(row[key], 1)
        for key in ("molvae_cold_rss_mib", "moses_rss_mib"):
            if key in row:
                row[key] = round(row[key])
        print(json.dumps(row), flush=True)
    if args.score_n:
        sample = test.sample(args.score_n, random_state=1).tolist()
        t0 = time.perf_counter()
        mv.score(sample, n_jobs=args.jobs)
        dt = time.perf_counter() - t0
        print(json.dumps({"score_n": args.score_n, "score_mol_per_s": round(args.score_n / dt)}))


if __name__ == "__main__":
    main()
