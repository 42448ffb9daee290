"""``molvae optimize``: search a model's latent space for molecules that maximise an objective."""

from __future__ import annotations

import argparse

from molvae.cli.common import (
    IMAGE,
    add_model_args,
    load_generator,
    output,
    positive_int,
    write_table,
)
from molvae.constants import SEARCH_METHODS


def _range(text: str) -> tuple[str, tuple[float | None, float | None]]:
    """``name=low:high`` (either side may be empty) -> ``(name, (low, high))``."""
    try:
        name, bounds = text.split("=", 1)
        lo, hi = bounds.split(":", 1)
        return name.strip(), (float(lo) if lo.strip() else None, float(hi) if hi.strip() else None)
    except ValueError as err:
        raise argparse.ArgumentTypeError(
            f"expected NAME=LOW:HIGH such as mw=200:450 or logp=:3, got {text!r}"
        ) from err


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "optimize",
        help="search the latent space for molecules that maximise a property objective",
        description="Search a model's latent space (CMA-ES by default) for the best unique valid "
        "molecules under an objective of RDKit properties, e.g. 'qed', 'penalized_logp', "
        "'qed-0.1*sa'. Each decoded molecule is scored with the true objective; --budget counts "
        "objective calls. MODEL: run directory, checkpoint or bundled name (default: the "
        "bundled default model).",
    )
    add_model_args(p)
    p.add_argument("--objective", required=True, help="e.g. qed, penalized_logp, 'qed-0.1*sa'")
    p.add_argument("--start", default=None, help="SMILES to start from")
    p.add_argument(
        "--min-similarity", type=float, default=None, help="Tanimoto to --start a result must reach"
    )
    p.add_argument(
        "--range",
        dest="ranges",
        type=_range,
        action="append",
        default=[],
        metavar="NAME=LOW:HIGH",
        help="property range a result must satisfy (repeatable), e.g. mw=200:450",
    )
    p.add_argument("--filters", action="store_true", help="results must pass the MOSES filters")
    p.add_argument("--method", choices=list(SEARCH_METHODS), default="cmaes")
    p.add_argument("--budget", type=positive_int, default=2000, help="objective calls")
    p.add_argument("-n", type=positive_int, default=50, help="best molecules to write")
    p.add_argument(
        "--sigma",
        type=float,
        default=None,
        help="initial step (default 1.0): in the prior's std per latent coordinate, or with --start "
        "in its posterior stds",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--out", required=True, help="output CSV")
    p.add_argument("--png", help="also draw the best molecules as a grid")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from molvae.optimize import parse_objective

    parse_objective(args.objective)  # a bad expression fails before the model loads
    out, png = output(args.out, kind="table"), output(args.png, kind=IMAGE)
    gen = load_generator(args.model, args.device)
    df = gen.optimize(
        args.objective,
        n=args.n,
        budget=args.budget,
        method=args.method,
        start=args.start,
        min_similarity=args.min_similarity,
        constraints=dict(args.ranges) or None,
        filters=args.filters,
        sigma=args.sigma,
        seed=args.seed,
        progress=not args.no_progress,
    )
    table = df.drop(columns=["z"]).copy()
    table.insert(len(table.columns), "z", [" ".join(f"{v:.5g}" for v in z) for z in df.z])
    write_table(table, out)
    a = df.attrs
    best = f"best {df.objective.iloc[0]:.4g}" if len(df) else "nothing feasible found"
    start = f" (start {a['start_objective']:.4g})" if a.get("start_objective") is not None else ""
    print(
        f"{len(df)} molecules -> {args.out}; {best}{start}; {a['calls']} objective calls "
        f"({a['failed']} failed), {a['decodes']} decoded, {a['invalid']} invalid, "
        f"{a['infeasible']} outside the constraints"
    )
    if png and len(df):
        from molvae.viz import draw_grid

        top = df.head(20)
        draw_grid(top.smiles, legends=[f"{v:.3f}" for v in top.objective], path=png)
    return 0
