"""The beta comparison of docs/latent.md: two models trained under the same budget with different
KL weights, side by side (exact reconstruction, active units, KL, property probes, traversal
monotonicity, prior validity and the MOSES distribution metrics of their samples).

    OMP_NUM_THREADS=1 molvae train --config scripts/configs/beta-0.1.toml --out runs/beta-0.1
    OMP_NUM_THREADS=1 molvae train --config scripts/configs/beta-1.0.toml --out runs/beta-1.0
    python scripts/beta_compare.py runs/beta-0.1 runs/beta-1.0 --samples 10000

Prints one markdown table (one column per model) and the per-property probes and monotonicity.
"""

from __future__ import annotations

import argparse
import logging
import time

import pandas as pd

import molvae as mv


def row(path: str, n_recon: int, n_samples: int, seed: int) -> tuple[dict, pd.DataFrame]:
    gen = mv.load(path, precision="fp32")
    beta = gen.metadata.get("kl_weight")
    test = mv.read_smiles(mv.datasets.resolve("moses:test"))
    held_out = test.sample(n_recon, random_state=seed).tolist()
    t0 = time.monotonic()
    rec = gen.reconstruct(held_out)
    report = mv.latent_report(gen, n=2000, seed=seed)
    samples = gen.sample(n_samples, seed=seed)
    metrics = mv.evaluate(samples.smiles.tolist(), n_jobs=2)
    out = {
        "model": path,
        "beta": beta,
        "steps": gen.metadata.get("step"),
        "exact reconstruction": round(float(rec.attrs["exact_match"]), 3),
        "active units (of 64)": int(report.units.active.sum()),
        "KL total (nats)": round(float(report.units.kl.sum()), 1),
        "mean probe R2": round(float(report.probes.r2.mean()), 3),
        "mean |rho| along traversals": round(float(report.monotonicity.rho.abs().mean()), 3),
        "mean |rho| of size": round(float(report.monotonicity.rho_heavy_atoms.abs().mean()), 3),
        **{
            k: (round(float(metrics[k]), 3) if metrics.get(k) is not None else None)
            for k in ("valid", "unique@10000", "FCD/Test", "SNN/Test", "Filters", "Novelty")
        },  # fmt: skip
        "seconds": round(time.monotonic() - t0),
    }
    detail = report.probes[["property", "r2"]].merge(
        report.monotonicity[["property", "rho", "rho_heavy_atoms", "valid"]], on="property"
    )
    detail.insert(0, "beta", beta)
    return out, detail


def markdown(df: pd.DataFrame) -> str:
    """A DataFrame as a markdown table (index first)."""
    df = df.reset_index()
    lines = ["| " + " | ".join(map(str, df.columns)) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(map(str, r)) + " |" for r in df.itertuples(index=False)]
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("models", nargs="+", help="run directories or checkpoints")
    p.add_argument("--recon", type=int, default=1000, help="held-out molecules reconstructed")
    p.add_argument("--samples", type=int, default=10000, help="prior samples for the metrics")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rows, details = zip(*(row(m, args.recon, args.samples, args.seed) for m in args.models))
    print(markdown(pd.DataFrame(rows).set_index("model").T))
    print()
    print(markdown(pd.concat(details).round(3).set_index("beta")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
