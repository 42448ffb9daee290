"""Benchmark ``mv.evaluate`` (the MOSES metric set) and ``mv.score`` throughput.

    python scripts/bench_metrics.py                 # 10k and 30k molecules of the MOSES test set
    python scripts/bench_metrics.py --sizes 10000 --jobs 2 --cold

``--cold`` first computes the reference statistics of the MOSES test and scaffold-test sets into a
fresh cache folder (a one-time cost) and reports that time; the timed evaluations then use the
cache. Target: the whole metric set on 10k molecules in <= 40 s on 2 cores with cached references;
``score`` >= 2,000 molecules/s for the default properties.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sizes", default="10000,30000")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument(
        "--cold", action="store_true", help="time the reference statistics from scratch too"
    )
    ap.add_argument("--score-n", type=int, default=20000)
    args = ap.parse_args()

    import molvae as mv
    from molvae import metrics

    if args.cold:
        os.environ["MOLVAE_CACHE"] = tempfile.mkdtemp(prefix="molvae-bench-")
    test = mv.datasets.load("moses", "test").smiles
    t0 = time.perf_counter()
    for name, smiles in metrics.reference_sets("moses").items():
        metrics.reference_stats(smiles, n_jobs=args.jobs, name=name)
    ref_s = time.perf_counter() - t0
    print(json.dumps({"reference_statistics_s": round(ref_s, 1), "cold": args.cold}), flush=True)
    for n in (int(x) for x in args.sizes.split(",")):
        gen = test.sample(n, random_state=0).tolist()
        t0 = time.perf_counter()
        m, counts = mv.evaluate(gen, reference="moses", n_jobs=args.jobs, details=True)
        dt = time.perf_counter() - t0
        print(
            json.dumps(
                {
                    "n": n,
                    "evaluate_s": round(dt, 1),
                    "jobs": args.jobs,
                    "stages_s": counts["seconds"],
                    "metrics": {k: (round(v, 4) if v is not None else None) for k, v in m.items()},
                }
            ),
            flush=True,
        )
    sample = test.sample(args.score_n, random_state=1).tolist()
    t0 = time.perf_counter()
    mv.score(sample, n_jobs=args.jobs)
    dt = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "score_n": args.score_n,
                "score_s": round(dt, 1),
                "score_mol_per_s": round(args.score_n / dt),
                "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
