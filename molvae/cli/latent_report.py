"""``molvae latent-report``: what a model's latent units carry (active units, property probes,
correlations, traversals), written to a folder."""

from __future__ import annotations

import argparse

from molvae.cli.common import add_model_args, load_generator, read_input


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "latent-report",
        help="active units, property probes and traversals of a model's latent space",
        description="Write report.md, CSV tables (units, probes, correlations, traversals, "
        "monotonicity), a correlation heatmap and traversal grids (PNG; needs matplotlib) to -o.",
    )
    add_model_args(p)
    p.add_argument("--input", help="SMILES file to measure on (default: MOSES test molecules)")
    p.add_argument("--column", help="CSV column of --input")
    p.add_argument("-n", type=int, default=2000, help="MOSES test molecules (without --input)")
    p.add_argument("--properties", default=None, help="comma list (default: the report's eight)")
    p.add_argument("--starts", type=int, default=8, help="molecules walked per property")
    p.add_argument("--steps", type=int, default=9)
    p.add_argument("--span", type=float, default=2.0, help="walk length, in the unit's spreads")
    p.add_argument("--no-pictures", action="store_true", help="tables only (no matplotlib)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--out", required=True, help="output folder")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from molvae.report import REPORT_PROPERTIES, latent_report

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"-o {out} is a file; give a folder")
    smiles = read_input(args.input, args.column) if args.input else None
    props = (
        [p.strip() for p in args.properties.split(",")] if args.properties else REPORT_PROPERTIES
    )
    gen = load_generator(args.model, args.device)
    report = latent_report(
        gen, smiles, n=args.n, properties=props, starts=args.starts, steps=args.steps,
        span=args.span, seed=args.seed,
    )  # fmt: skip
    report.save(out, pictures=not args.no_pictures)
    s = report.summary
    print(
        f"{s['active_units']} of {s['latent_dim']} units active; probes R^2 "
        + ", ".join(f"{p} {r:.2f}" for p, r in zip(report.probes.property, report.probes.r2))
        + f" -> {out}/report.md"
    )
    return 0
