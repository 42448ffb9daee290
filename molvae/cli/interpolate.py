"""``molvae interpolate``: decode the path between two molecules in latent space."""

from __future__ import annotations

import argparse

from molvae.cli.common import IMAGE, add_model_args, load_generator, output, write_table
from molvae.constants import DECODE_METHODS


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("interpolate", help="interpolate between two molecules")
    add_model_args(p)
    p.add_argument("a", help="start SMILES")
    p.add_argument("b", help="end SMILES")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--method", choices=["linear", "slerp"], default="linear")
    p.add_argument("--decode", choices=list(DECODE_METHODS), default="greedy")
    p.add_argument("--drop-duplicates", action="store_true", help="drop consecutive repeats")
    p.add_argument("-o", "--out", required=True, help="output CSV")
    p.add_argument("--png", help="also draw the path as a strip (PNG or SVG)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    out, png = output(args.out, kind="table"), output(args.png, kind=IMAGE)
    gen = load_generator(args.model, args.device)
    df = gen.interpolate(
        args.a,
        args.b,
        steps=args.steps,
        method=args.method,
        decode=args.decode,
        drop_duplicates=args.drop_duplicates,
    )
    write_table(df, out)
    print(df.to_string(index=False))
    if png:
        from molvae.viz import draw_interpolation

        draw_interpolation(df, path=png)
    return 0
