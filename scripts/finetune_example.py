"""Transfer learning with ``--init``: fine-tune a bundled model on one chemical family and measure
how far its samples move toward it.

    python scripts/finetune_example.py --model moses-smiles --smarts "c1ccc2[nH]ccc2c1" --epochs 10

The focused set is the MOSES test molecules that contain ``--smarts`` (default: an indole), which
no bundled model saw in training: ``--n-train`` of them to fine-tune on, ``--n-ref`` others held
out as the reference. Before and after, ``--n`` samples are scored against the held-out family:
FCD and SNN (the mean nearest-neighbour Tanimoto) to it, from ``mv.evaluate`` with it as the reference,
the share of samples that contain the SMARTS, validity and uniqueness.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from rdkit import Chem

import molvae as mv


def family(smarts: str, seed: int, n_train: int, n_ref: int) -> tuple[list[str], list[str]]:
    pattern = Chem.MolFromSmarts(smarts)
    test = mv.read_smiles(mv.datasets.path("moses", "test")).tolist()
    hits = [s for s in test if Chem.MolFromSmiles(s).HasSubstructMatch(pattern)]
    order = np.random.default_rng(seed).permutation(len(hits))
    if len(hits) < n_train + n_ref:
        raise SystemExit(f"only {len(hits)} MOSES test molecules contain {smarts}")
    return [hits[i] for i in order[:n_train]], [hits[i] for i in order[n_train : n_train + n_ref]]


def score(gen, ref: list[str], pattern: Chem.Mol, n: int, seed: int) -> dict[str, float]:
    samples = gen.sample(n, seed=seed)
    valid = samples.canonical[samples.valid].tolist()
    m = mv.evaluate(samples.smiles.tolist(), reference={"family": ref}, train=None)
    hit = np.mean([Chem.MolFromSmiles(s).HasSubstructMatch(pattern) for s in valid])
    return {"valid": m["valid"], "unique": m["unique@1000"], "FCD/family": m["FCD/family"],
            "SNN/family": m["SNN/family"], "has the SMARTS": float(hit)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="moses-smiles")
    ap.add_argument("--smarts", default="c1ccc2[nH]ccc2c1")
    ap.add_argument("--n-train", type=int, default=1000)
    ap.add_argument("--n-ref", type=int, default=800)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--lr", type=float, default=None, help="default: the parent model's")
    ap.add_argument("--prior-spread", type=float, default=None,
                    help="the learned prior's spread (default: the parent model's)")  # fmt: skip
    ap.add_argument("--n", type=int, default=2000, help="samples scored before and after")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="runs/finetune-example")
    args = ap.parse_args()
    train, ref = family(args.smarts, args.seed, args.n_train, args.n_ref)
    pattern = Chem.MolFromSmarts(args.smarts)
    before = score(mv.load(args.model, device="cpu"), ref, pattern, args.n, args.seed)
    t0 = time.time()
    given = {"lr": args.lr, "prior_spread": args.prior_spread}
    overrides = {k: v for k, v in given.items() if v is not None}
    mv.fit(train, init=args.model, out_dir=args.out, overwrite=True, epochs=args.epochs,
           val_fraction=0.1, device="cpu", progress=False, **overrides)  # fmt: skip
    minutes = (time.time() - t0) / 60
    after = score(mv.load(args.out, device="cpu"), ref, pattern, args.n, args.seed)
    print(f"fine-tuned {args.model} on {len(train)} molecules with {args.smarts} for "
          f"{args.epochs} epochs, {overrides or 'the parent recipe'} ({minutes:.1f} min); "
          f"{args.n} samples against {len(ref)} held-out molecules of the family:")  # fmt: skip
    print("| | " + " | ".join(before) + " |")
    print("|---|" + "---|" * len(before))
    for name, row in (("before", before), ("after", after)):
        print(f"| {name} | " + " | ".join(f"{v:.3f}" for v in row.values()) + " |")


if __name__ == "__main__":
    main()
