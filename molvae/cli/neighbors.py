"""``molvae neighbors``: analogues of a molecule decoded from its latent neighbourhood."""

from __future__ import annotations

import argparse

from molvae.cli.common import IMAGE, add_model_args, load_generator, output, write_table


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("neighbors", help="molecules near a molecule in latent space")
    add_model_args(p)
    p.add_argument("smiles", help="query SMILES")
    p.add_argument("-n", type=int, default=50, help="unique valid molecules wanted")
    p.add_argument("--radius", type=float, default=0.5, help="std of the latent perturbation")
    p.add_argument("--max-draws", type=int, default=None, help="draw budget (default 50 * n)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--out", required=True, help="output CSV")
    p.add_argument("--png", help="also draw the top molecules as a grid")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    out, png = output(args.out, kind="table"), output(args.png, kind=IMAGE)
    gen = load_generator(args.model, args.device)
    df = gen.neighbors(
        args.smiles, n=args.n, radius=args.radius, max_draws=args.max_draws, seed=args.seed
    )
    write_table(df, out)
    note = " (budget spent)" if df.attrs["exhausted"] else ""
    print(f"{len(df)} unique valid neighbours in {df.attrs['draws']} draws{note} -> {args.out}")
    if png and len(df):
        from molvae.viz import draw_grid

        top = df.head(20)
        draw_grid(top.smiles, legends=[f"{t:.2f}" for t in top.tanimoto], path=png)
    return 0
