"""``molvae encode``: latent means of the molecules of a file, as a NumPy ``.npy`` array."""

from __future__ import annotations

import argparse

from molvae.cli._common import add_model_args, as_cli_error, load_generator, read_input


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("encode", help="encode molecules to latent vectors (.npy)")
    add_model_args(p)
    p.add_argument("input", help=".smi/.txt/.csv file of SMILES")
    p.add_argument("--column", help="CSV column")
    p.add_argument("--sample", action="store_true", help="draw z ~ q(z|x) instead of the mean")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "-o", "--out", required=True, help="output .npy (N, latent_dim); NaN rows = not encodable"
    )
    p.set_defaults(run=run)


@as_cli_error
def run(args: argparse.Namespace) -> int:
    import numpy as np

    gen = load_generator(args.model, args.device)
    z = gen.encode(read_input(args.input, args.column), sample=args.sample, seed=args.seed)
    np.save(args.out, z)
    print(
        f"encoded {len(z) - len(gen.last_errors):,} of {len(z):,} molecules -> {args.out} {z.shape}"
    )
    for row, reason in list(gen.last_errors.items())[:10]:
        print(f"  row {row}: {reason}")
    return 0
