"""Benchmark the data pipeline on the MOSES train set, for each tokenizer.

Prints, per tokenizer: cold preparation time (RDKit canonicalization + dedupe + tokenization,
``--jobs`` processes), pure tokenization throughput on one core, cached load time, peak RSS, and the
mean padding fraction per batch with and without length bucketing.

    python scripts/bench_data.py                       # full train set, all three tokenizers
    python scripts/bench_data.py --limit 200000 --kinds smiles

Each tokenizer runs in its own process so that its peak RSS is its own.
Targets: regex SMILES tokenization >= 100k molecules/s on one core; cached load <= 5 s;
peak RSS <= 2 GB; padding <= 10% with bucketing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time


def one(kind: str, limit: int | None, jobs: int, batch_size: int) -> dict:
    import molvae as mv
    from molvae.data import batch_indices, padding_fraction

    src = mv.datasets.path("moses", "train")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MOLVAE_CACHE"] = tmp
        if limit:
            src_small = os.path.join(tmp, "train_subset.smi")
            smiles = mv.read_smiles(src)[:limit]
            with open(src_small, "w") as f:
                f.write("\n".join(smiles) + "\n")
            src = src_small
        t0 = time.perf_counter()
        data = mv.prepare_file(src, kind, n_jobs=jobs)
        cold = time.perf_counter() - t0
        rss_cold = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MiB (Linux: KiB)
        rss_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        # pure tokenization on one core (already canonical SMILES -> ids), on up to 200k molecules
        sample = data.smiles[:200_000]
        tok = data.tokenizer
        t0 = time.perf_counter()
        for s in sample:
            tok.encode(s)
        tok_rate = len(sample) / (time.perf_counter() - t0)
        del data
        t0 = time.perf_counter()
        cached = mv.prepare_file(src, kind, n_jobs=jobs)
        warm = time.perf_counter() - t0
        lengths = cached.lengths
        plain = padding_fraction(lengths, batch_indices(lengths, batch_size, bucket=False))
        bucketed = padding_fraction(lengths, batch_indices(lengths, batch_size, bucket=True))
    return {
        "tokenizer": kind,
        "molecules_read": cached.report.read,
        "molecules_kept": cached.report.kept,
        "dropped": cached.report.dropped,
        "vocab_size": cached.tokenizer.vocab_size,
        "cold_prepare_s": round(cold, 1),
        "cold_prepare_mol_per_s": round(cached.report.read / cold),
        "tokenize_1core_mol_per_s": round(tok_rate),
        "cached_load_s": round(warm, 2),
        "peak_rss_mib_main": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "peak_rss_mib_after_cold": round(rss_cold),
        "peak_rss_mib_worker": round(rss_children),
        "padding_plain": round(plain, 4),
        "padding_bucketed": round(bucketed, 4),
        "batch_size": batch_size,
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--kinds", default="smiles,smiles-char,selfies")
    ap.add_argument("--limit", type=int, default=None, help="use only the first N train molecules")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--batch-size", type=int, default=512)
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.limit, args.jobs, args.batch_size)))
        return
    rows = []
    for kind in args.kinds.split(","):
        cmd = [
            sys.executable,
            __file__,
            "--one",
            kind,
            "--jobs",
            str(args.jobs),
            "--batch-size",
            str(args.batch_size),
        ]
        if args.limit:
            cmd += ["--limit", str(args.limit)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        row = json.loads(out.strip().splitlines()[-1])
        rows.append(row)
        print(json.dumps(row), flush=True)
    print()
    head = f"{'tokenizer':<12}{'kept':>10}{'cold s':>9}{'tok/s 1core':>13}{'cached s':>10}{'RSS MiB':>9}{'worker':>8}{'pad':>8}{'pad bkt':>9}"
    print(head)
    for r in rows:
        print(
            f"{r['tokenizer']:<12}{r['molecules_kept']:>10,}{r['cold_prepare_s']:>9}{r['tokenize_1core_mol_per_s']:>13,}"
            f"{r['cached_load_s']:>10}{r['peak_rss_mib_main']:>9}{r['peak_rss_mib_worker']:>8}"
            f"{r['padding_plain']:>8.1%}{r['padding_bucketed']:>9.1%}"
        )


if __name__ == "__main__":
    main()
