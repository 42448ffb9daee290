"""``molvae draw``: a grid picture of the molecules of a file."""

from __future__ import annotations

import argparse

from molvae.cli.common import IMAGE, output, positive_int, read_input


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("draw", help="draw molecules of a file as a grid (PNG/SVG)")
    p.add_argument("input", help=".smi/.txt/.csv file of SMILES")
    p.add_argument("--column", help="CSV column")
    p.add_argument(
        "--limit", type=positive_int, default=40, help="draw at most this many molecules"
    )
    p.add_argument("--per-row", type=positive_int, default=5)
    p.add_argument("-o", "--out", required=True, help="output .png or .svg")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from molvae.viz import draw_grid

    output(args.out, args.input, kind=IMAGE)
    smiles = read_input(args.input, args.column)[: args.limit]
    draw_grid(smiles, path=args.out, mols_per_row=args.per_row)
    print(f"drew {len(smiles)} molecules -> {args.out}")
    return 0
