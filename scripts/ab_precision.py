"""A/B of decoding precision: do bf16 decoder steps change what a model samples?

    python scripts/ab_precision.py --model moses-smiles --n 10000

Samples ``--n`` molecules in fp32 with two seeds (the run-to-run noise of the metrics) and in
bf16 with the first seed, scores each set with ``mv.evaluate`` against the MOSES test set, and
prints one row per set plus the fraction of bf16 samples identical to the fp32 ones of the same
seed and the sampling speed. bf16 keeps the distribution when its row differs from fp32 seed 0 by
no more than fp32 seed 1 does.
"""

from __future__ import annotations

import argparse
import json
import time

KEYS = ["valid", "unique@10000", "FCD/Test", "SNN/Test", "Frag/Test", "Scaf/Test", "Filters",
        "IntDiv", "Novelty"]  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("--model", default="moses-smiles")
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--n-jobs", type=int, default=2)
    args = ap.parse_args()

    import molvae as mv

    gen = mv.load(args.model)
    s0, s1 = (int(s) for s in args.seeds.split(","))
    rows, samples = [], {}
    for precision, seed in [("fp32", s0), ("bf16", s0), ("fp32", s1)]:
        gen.precision = precision
        t = time.perf_counter()
        df = gen.sample(args.n, seed=seed)
        dt = time.perf_counter() - t
        samples[(precision, seed)] = df.smiles
        m = mv.evaluate(df.smiles, n_jobs=args.n_jobs)
        row = {"precision": precision, "seed": seed, "mol_per_s": round(args.n / dt, 1)}
        row.update({k: round(float(m[k]), 4) if m.get(k) is not None else None for k in KEYS})
        rows.append(row)
        print(json.dumps(row), flush=True)
    same = (samples[("bf16", s0)] == samples[("fp32", s0)]).mean()
    print(
        f"\nmodel {args.model}, {args.n:,} samples; bf16 samples identical to fp32 (seed {s0}): {same:.1%}"
    )
    print("| precision | seed | mol/s | " + " | ".join(KEYS) + " |")
    print("|---" * (len(KEYS) + 3) + "|")
    for r in rows:
        print(f"| {r['precision']} | {r['seed']} | {r['mol_per_s']:,.0f} | " + " | ".join(f"{r[k]:.3f}" for k in KEYS) + " |")  # fmt: skip


if __name__ == "__main__":
    main()
