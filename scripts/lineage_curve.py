"""The bundled models' cards piece by piece: validity, FCD/Test, novelty and exact
reconstruction against the molecules seen in total, one line per lineage, and the stopping rule
of the quality issue checked on every piece.

The rows are ``docs/figures/pieces.csv``: one per training piece, the 30,000-sample card that
``scripts/bundle_model.py`` measured after it (the full MOSES test set; exact greedy
reconstruction of 1,000 held-out test molecules), and whether the piece was bundled. A piece is
measured against the last *bundled* card of its lineage (the file it would replace).

    python scripts/lineage_curve.py --png docs/figures/pieces.png

The stopping rule: stop training a lineage in pieces once two consecutive pieces each gain
less than ``--min-valid`` validity (0.01) and cut FCD/Test by less than ``--min-fcd`` (5%).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from recipe_sweep import markdown  # scripts/ is on the path when run as a script

DEFAULT_CSV = Path(__file__).resolve().parent.parent / "docs" / "figures" / "pieces.csv"
PANELS = (("valid", "valid", 0.97), ("fcd_test", "FCD/Test", 0.15), ("novelty", "novelty", 0.80),
          ("recon_exact", "exact reconstruction", 0.90))  # fmt: skip


def load(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path)
    missing = {"lineage", "piece", "bundled", "molecules_m", *(k for k, _, _ in PANELS)} - set(df)
    if missing:
        raise SystemExit(f"{path}: missing columns {sorted(missing)}")
    return df.sort_values(["lineage", "piece"], kind="stable").reset_index(drop=True)


def stopping_rule(df: pd.DataFrame, min_valid: float, min_fcd: float) -> pd.DataFrame:
    """Per piece after the first: the gains against the lineage's last bundled card, whether the
    piece is under both thresholds, and whether it is the second such piece in a row."""
    rows = []
    for lineage, group in df.groupby("lineage", sort=False):
        ref, run = None, 0
        for _, r in group.iterrows():
            if ref is not None:
                d_valid = r.valid - ref.valid
                d_fcd = (r.fcd_test - ref.fcd_test) / ref.fcd_test
                under = d_valid < min_valid and -d_fcd < min_fcd
                run = run + 1 if under else 0
                rows.append({"lineage": lineage, "piece": r.piece, "run": r.get("run", ""),
                             "vs piece": ref.piece, "d_valid": float(d_valid), "d_fcd_%": float(100 * d_fcd),
                             "under both": bool(under), "rule met": run >= 2})  # fmt: skip
            if ref is None or r.bundled == "yes":
                ref = r
    return pd.DataFrame(rows)


def plot(df: pd.DataFrame, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(PANELS), figsize=(4.0 * len(PANELS), 3.6), squeeze=False)
    for ax, (key, title, target) in zip(axes[0], PANELS):
        for i, (lineage, g) in enumerate(df.groupby("lineage", sort=False)):
            color = f"C{i}"
            kept = g[g.bundled == "yes"]
            ax.plot(kept.molecules_m, kept[key], marker="o", ms=4, color=color, label=lineage)
            other = g[g.bundled != "yes"]
            ax.plot(other.molecules_m, other[key], ls="none", marker="o", ms=5, color=color,
                    mfc="none")  # fmt: skip
        ax.axhline(target, ls="--", lw=1, color="grey")
        ax.set_title(f"{title} (target {target:g})", fontsize=10)
        ax.set_xlabel("molecules seen in total (millions)")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    ap.add_argument("--png", type=Path, default=None)
    ap.add_argument("--min-valid", type=float, default=0.01)
    ap.add_argument("--min-fcd", type=float, default=0.05)
    args = ap.parse_args()
    df = load(args.csv)
    if args.png:
        plot(df, args.png)
        print(f"wrote {args.png}")
    rule = stopping_rule(df, args.min_valid, args.min_fcd)
    print(markdown(rule) if len(rule) else "one piece per lineage")


if __name__ == "__main__":
    main()
