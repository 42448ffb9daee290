"""The `small` preset quality check: prior validity, exact reconstruction of held-out MOSES test
molecules, and posterior-collapse status, for a trained run.

    molvae train --preset small --data moses:train --limit 50000 --epochs 12 --time-limit 15 \
        --device cpu --out runs/small
    python scripts/quality_small.py runs/small

Reconstruction: ``gen.reconstruct(..., n_decodes=1)``, the decoding that training validation
(``recon_exact`` in metrics.csv) and ``molvae reconstruct --n-decodes 1`` use: each test molecule
is encoded to mu and greedily decoded; it counts as exact when the decoded SMILES is the same
molecule (RDKit canonical SMILES). Test molecules the model cannot encode (a token its vocabulary
lacks) are counted and reported, and count as not reconstructed.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("model", help="run directory or checkpoint")
    ap.add_argument("--n-prior", type=int, default=10_000)
    ap.add_argument("--n-test", type=int, default=1_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import molvae as mv
    from molvae.losses import collapsed

    gen = mv.load(args.model, device="cpu")
    samples = gen.sample(args.n_prior, seed=args.seed, batch_size=1000)
    empty = int((samples.smiles.str.len() == 0).sum())
    valid = samples[samples.valid]

    test = mv.datasets.load("moses", split="test").smiles
    pick = np.random.default_rng(args.seed).choice(len(test), args.n_test, replace=False)
    rec = gen.reconstruct([test[i] for i in pick], n_decodes=1)
    exact = int(rec.match.sum())
    history = None
    from pathlib import Path

    metrics = Path(args.model) / "metrics.csv"
    if metrics.exists():
        history = pd.read_csv(metrics)
    report = {
        "model": args.model,
        "tokenizer": gen.tokenizer.kind,
        "prior_samples": args.n_prior,
        "prior_valid": round(float(samples.valid.mean()), 4),
        "prior_unique_valid": round(valid.canonical.nunique() / max(len(valid), 1), 4),
        "empty_samples": empty,
        "test_molecules": args.n_test,
        "test_not_encodable": int(rec.reason.notna().sum()),
        "test_exact_reconstruction": round(exact / args.n_test, 4),
    }
    if history is not None and len(history):
        last = history.iloc[-1]
        report.update(
            {
                "epochs": int(last["epoch"]),
                "steps": int(last["step"]),
                "train_minutes": round(float(history["epoch_seconds"].sum()) / 60, 1),
                "val_kl": round(float(last["val_kl"]), 2),
                "active_units": int(last["active_units"]),
                "latent_dim": gen.latent_dim,
                "collapsed": collapsed(
                    float(last["val_kl"]), int(last["active_units"]), gen.latent_dim
                ),
            }
        )
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
