"""Benchmark encoding, ELBO and reconstruction throughput (molecules/s) of a trained model.

    python scripts/bench_encode.py --model moses-smiles --n 20000 --precision fp32,bf16 --rounds 2

Each verb runs through the public API on the first ``--n`` molecules of the MOSES test set, RDKit
parsing and canonicalisation of the inputs included (and, for ``reconstruct``, of the decodings),
every setting repeated ``--rounds`` times, interleaved; the median is printed. The speed issue's
target for the ``small`` preset (the bundled models' size) is 3,000 molecules/s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--model", default="moses-smiles", help="run directory, checkpoint or name")
    ap.add_argument("--n", type=int, default=20_000, help="MOSES test molecules")
    ap.add_argument("--verbs", default="encode,elbo,reconstruct")
    ap.add_argument("--precision", default="fp32", help="comma list of fp32,bf16")
    ap.add_argument("--rounds", type=int, default=1, help="repeat every setting, interleaved")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()

    import molvae as mv

    if args.threads:
        torch.set_num_threads(args.threads)
    smiles = mv.read_smiles(mv.datasets.path("moses", "test"))[: args.n]
    gens = {
        p: mv.load(args.model, device=args.device, precision=p) for p in args.precision.split(",")
    }
    calls = {
        "encode": lambda g: g.encode(smiles),
        "elbo": lambda g: g.elbo(smiles),
        "reconstruct": lambda g: g.reconstruct(smiles, n_decodes=1),
    }
    verbs = args.verbs.split(",")
    unknown = sorted(set(verbs) - set(calls))
    if unknown:
        raise SystemExit(f"unknown verbs {unknown}; known: {sorted(calls)}")
    times: dict[tuple[str, str], list[float]] = {}
    extra: dict[tuple[str, str], str] = {}
    for _ in range(args.rounds):
        for verb in verbs:
            for precision, gen in gens.items():
                t0 = time.perf_counter()
                out = calls[verb](gen)
                times.setdefault((verb, precision), []).append(time.perf_counter() - t0)
                if verb == "reconstruct":
                    extra[verb, precision] = f"exact {100 * out.attrs['exact_match']:.2f}%"
                elif verb == "elbo":
                    extra[verb, precision] = f"mean -ELBO {out.neg_elbo.mean():.3f}"
    print(f"{args.model}, {len(smiles)} MOSES test molecules, {torch.get_num_threads()} threads")
    print("| verb | precision | mol/s (median) | rounds (s) | result |\n|---|---|---|---|---|")
    rows = []
    for (verb, precision), ts in times.items():
        rate = len(smiles) / statistics.median(ts)
        rounds = ", ".join(f"{t:.2f}" for t in ts)
        print(
            f"| {verb} | {precision} | {rate:,.0f} | {rounds} | {extra.get((verb, precision), '')} |"
        )
        rows.append({"verb": verb, "precision": precision, "mol_per_s": round(rate, 1)})
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
