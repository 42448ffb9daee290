"""``molvae reconstruct``: encode + decode molecules and report how many come back exactly."""

from __future__ import annotations

import argparse

from molvae.cli.common import add_model_args, load_generator, output, read_input, write_table


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("reconstruct", help="reconstruct molecules through the latent space")
    add_model_args(p)
    p.add_argument("input", help=".smi/.txt/.csv file of SMILES")
    p.add_argument("--column", help="CSV column")
    p.add_argument("--n-decodes", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--out", required=True, help="output CSV")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    out = output(args.out, args.input, kind="table")
    gen = load_generator(args.model, args.device)
    df = gen.reconstruct(
        read_input(args.input, args.column), n_decodes=args.n_decodes, seed=args.seed
    )
    write_table(df, out)
    print(
        f"exact reconstruction {df.attrs['exact_match']:.1%} of {int(df.reason.isna().sum()):,} "
        f"encodable molecules ({int(df.reason.notna().sum())} not encodable) -> {args.out}"
    )
    return 0
