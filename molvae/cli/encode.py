"""``molvae encode``: latent means of the molecules of a file, as a NumPy ``.npy`` array."""

from __future__ import annotations

import argparse

from molvae.cli.common import add_model_args, load_generator, output, read_input


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


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from molvae.files import atomic_write

    out = output(args.out, args.input)
    gen = load_generator(args.model, args.device)
    z, info = gen.encode(
        read_input(args.input, args.column), sample=args.sample, seed=args.seed, details=True
    )
    with atomic_write(out, "wb") as f:  # exactly the path given (np.save(path) would add .npy)
        np.save(f, z)
    failed = info[info.reason.notna()]
    print(f"encoded {len(z) - len(failed):,} of {len(z):,} molecules -> {out} {z.shape}")
    for row, reason in failed.reason.head(10).items():
        print(f"  row {row}: {reason}")
    return 0
