"""Learning curves of recipe-sweep runs: validation -ELBO, prior validity and FCD against
wall-clock and against molecules seen, one line per run, plus the runs' final MOSES rows.

The runs come from ``scripts/recipe_sweep.py`` with a long nominal schedule cut by
``--time-limit`` (equal CPU time for every network; each epoch validates, so each epoch is one
point). What each point is (``metrics.csv`` of the run, written by ``mv.fit``):

- ``val_elbo``: -ELBO per molecule on the 2,000 validation molecules (nats);
- ``prior_valid``: validity of 500 molecules drawn from N(0, I) with the weights of that epoch
  (the learned prior is fitted only at the end; its validity is the final row's ``valid``);
- ``val_fcd``: FCD of 2,000 such samples against the validation molecules.

    python scripts/learning_curves.py runs/curves --png docs/figures/curves.png

Prints a Markdown table of the last point of each run beside its final row of the sweep's
``sweep_*.csv`` files (the last one marked ok).

``--chain NAME=RUN,RUN,...`` (repeatable) draws the pieces of one lineage (``molvae train --init``
runs, in order) as one line whose minutes and molecules add up across the pieces: two networks
continued from one parent, compared at equal CPU time over several pieces.

    python scripts/learning_curves.py --chain same=runs/dec2-10,runs/dec2-11 \
        --chain widened=runs/wide-1,runs/wide-2 --png docs/figures/widened.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

PANELS = (("val_elbo", "validation -ELBO (nats/molecule)"), ("prior_valid", "N(0, I) validity"),
          ("val_fcd", "FCD/val of N(0, I) samples"))  # fmt: skip
FINAL = ("valid", "unique@10000", "FCD/Test", "SNN/Test", "Scaf/Test", "Filters", "Novelty",
         "recon_exact")  # fmt: skip


def curves(root: Path) -> dict[str, pd.DataFrame]:
    """Run name -> its metrics with cumulative ``minutes`` (training only) and ``mmol``."""
    out = {}
    for csv in sorted(root.glob("*/metrics.csv")):
        df = pd.read_csv(csv)
        df["minutes"] = df.epoch_seconds.cumsum() / 60
        df["mmol"] = df.molecules.cumsum() / 1e6
        out[csv.parent.name] = df
    return out


def chained(specs: list[str]) -> dict[str, pd.DataFrame]:
    """``NAME=RUN,RUN,...`` -> the runs' metrics one after the other, with ``minutes`` and
    ``mmol`` counted from the first piece's start."""
    out = {}
    for spec in specs:
        name, sep, dirs = spec.partition("=")
        if not sep or not name or not dirs:
            raise SystemExit(f"--chain wants NAME=RUN,RUN,..., got {spec!r}")
        parts = [pd.read_csv(Path(d) / "metrics.csv") for d in dirs.split(",")]
        df = pd.concat(parts, ignore_index=True)
        df["minutes"] = df.epoch_seconds.cumsum() / 60
        df["mmol"] = df.molecules.cumsum() / 1e6
        out[name] = df
    return out


def plot(runs: dict[str, pd.DataFrame], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(PANELS), figsize=(4.2 * len(PANELS), 7), squeeze=False)
    for row, (x, label) in enumerate((("minutes", "training minutes (1 thread)"),
                                      ("mmol", "molecules seen (millions)"))):  # fmt: skip
        for col, (key, title) in enumerate(PANELS):
            ax = axes[row][col]
            for name, df in runs.items():
                ax.plot(df[x], df[key], marker="o", ms=3, label=name)
            ax.set_xlabel(label)
            ax.set_title(title, fontsize=10)
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)


def table(root: Path | None, runs: dict[str, pd.DataFrame]) -> str:
    csvs = sorted(root.glob("sweep*.csv")) if root else []  # recipe_sweep: one per invocation
    final = pd.concat([pd.read_csv(c) for c in csvs]) if csvs else None
    if final is not None:
        final = final[final.status == "ok"].drop_duplicates("variant", keep="last")
    finals = FINAL if final is not None else ()  # a sweep's final rows, when there is one
    head = ["run", "steps", "minutes", "molecules", "mol/s", "val -ELBO",
            "N(0,I) valid", *finals]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, df in runs.items():
        last = df.iloc[-1]
        variant = name.rsplit("_", 1)[0]
        row = final[final.variant == variant] if final is not None else None
        extra = [""] * len(finals)
        if row is not None and len(row):
            r = row.iloc[-1]
            extra = [f"{r[k]:.3f}" if k in r and pd.notna(r[k]) else "" for k in FINAL]
        lines.append("| " + " | ".join([
            name, f"{int(last.step):,}", f"{last.minutes:.1f}", f"{int(last.mmol * 1e6):,}",
            f"{df.molecules.sum() / df.epoch_seconds.sum():.0f}", f"{last.val_elbo:.2f}",
            f"{last.prior_valid:.3f}", *extra]) + " |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("root", type=Path, nargs="?", help="a recipe_sweep --out folder")
    ap.add_argument("--chain", action="append", default=[], metavar="NAME=RUN,RUN,...",
                    help="the pieces of one lineage, in order, drawn as one line")  # fmt: skip
    ap.add_argument("--png", type=Path, default=None)
    args = ap.parse_args()
    runs = {**(curves(args.root) if args.root else {}), **chained(args.chain)}
    if not runs:
        raise SystemExit(f"no */metrics.csv under {args.root} and no --chain")
    if args.png:
        plot(runs, args.png)
        print(f"wrote {args.png}")
    print(table(args.root, runs))


if __name__ == "__main__":
    main()
