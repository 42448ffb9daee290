"""Choose a trained model's sampling prior: MOSES metrics per (prior size, spread, temperature).

The learned prior (``molvae.prior``) is the aggregate posterior of ``components`` training
molecules, each widened by ``spread`` when sampling. Few components and a narrow spread give
valid but repeated molecules (samples fall back onto the training molecules the components came
from); a wide spread gives new but less valid ones. This script refits the prior for each size on
a seeded random draw of MOSES train molecules (as ``fit`` does), samples ``--n`` molecules per
setting and scores them with ``mv.evaluate`` against the MOSES test set.

    python scripts/prior_sweep.py runs/gpu-h100/best.pt --components 4000,20000 \
        --spreads 1.0,1.25,1.5 --n 10000

``--save COMPONENTS:SPREAD -o FILE`` writes the checkpoint with that prior (nothing else changes).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import molvae as mv

COLUMNS = ("valid", "unique@10000", "FCD/Test", "SNN/Test", "Frag/Test", "Scaf/Test", "IntDiv",
           "Filters", "Novelty")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("model")
    ap.add_argument("--components", default="4000,20000")
    ap.add_argument("--spreads", default="1.0,1.25,1.5")
    ap.add_argument("--temperatures", default="1.0")
    ap.add_argument("--decoding", default="multinomial",
                    help="comma list of decoding methods: multinomial, greedy, beam (temperature "
                    "does not apply to greedy or beam)")  # fmt: skip
    ap.add_argument("--method", default="posterior", choices=["posterior", "gmm"],
                    help="the learned prior's kind (Generator.fit_prior)")  # fmt: skip
    ap.add_argument("--fit-size", type=int,
                    help="training molecules encoded (default: the most components asked for)")  # fmt: skip
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--save", help="COMPONENTS:SPREAD of the prior to store (with -o)")
    ap.add_argument("-o", "--output", help="checkpoint to write with --save")
    args = ap.parse_args()

    sizes = (
        [int(args.save.split(":")[0])]
        if args.save
        else [int(x) for x in args.components.split(",")]
    )
    fit_size = args.fit_size or max(sizes)
    if fit_size < max(sizes):
        ap.error(f"--fit-size {fit_size} encodes fewer molecules than {max(sizes)} components")
    gen = mv.load(args.model, device=args.device, precision=args.precision)
    train = mv.read_smiles(mv.datasets.path("moses", "train"))
    rows = np.random.default_rng(args.seed).choice(len(train), fit_size, replace=False)
    fit_on = train.iloc[np.sort(rows)].tolist()
    if args.save:
        k, spread = args.save.split(":")
        import shutil

        from molvae import checkpoint as ckpt

        prior = gen.fit_prior(
            fit_on, int(k), method=args.method, spread=float(spread), seed=args.seed
        )
        shutil.copyfile(ckpt.resolve(args.model), args.output)  # all else kept as it was
        ckpt.set_prior(args.output, prior.to_dict())
        print(f"wrote {args.output} with a prior of {k} components, spread {spread}")
        return
    temperatures = [float(x) for x in args.temperatures.split(",")]
    settings = [(d, t) for d in args.decoding.split(",") for t in temperatures]
    settings = [(d, t) for d, t in settings if d != "greedy" or t == temperatures[0]]
    print("| prior | components | spread | decoding | T | " + " | ".join(COLUMNS) + " | seconds |")
    print("|" + "---|" * (len(COLUMNS) + 6))
    for k in sizes:
        gen.fit_prior(fit_on, k, method=args.method, spread=1.0, seed=args.seed)
        for spread in (float(x) for x in args.spreads.split(",")):
            gen.prior.spread = spread
            for decoding, temperature in settings:
                t0 = time.time()
                samples = gen.sample(
                    args.n, seed=args.seed, temperature=temperature, method=decoding
                )
                m = mv.evaluate(list(samples.smiles), n_jobs=args.jobs)
                cells = " | ".join("-" if m.get(c) is None else f"{m[c]:.3f}" for c in COLUMNS)
                t = "-" if decoding in ("greedy", "beam") else temperature
                print(f"| {args.method} | {k} | {spread} | {decoding} | {t} | {cells} | "
                      f"{time.time() - t0:.0f} |",
                      flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
