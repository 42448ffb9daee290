"""``molvae encode``: latent means of the molecules of a file, as a NumPy ``.npy`` array (NaN rows
for molecules that cannot be encoded, their reasons printed) or a table (``.csv``, ``.csv.gz``,
``.tsv``, ``.parquet``) with the input, its reason, what standardisation changed and ``z0..``."""

from __future__ import annotations

import argparse

from molvae.cli.common import add_model_args, load_generator, output, read_input, write_table


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("encode", help="encode molecules to latent vectors (.npy or a table)")
    add_model_args(p)
    p.add_argument("input", help=".smi/.txt/.csv file of SMILES")
    p.add_argument("--column", help="CSV column")
    p.add_argument("--sample", action="store_true", help="draw z ~ q(z|x) instead of the mean")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "-o",
        "--out",
        required=True,
        help="output .npy (N, latent_dim; NaN rows = not encodable) or a table (.csv, .csv.gz, "
        ".tsv, .parquet: smiles, reason, standardized, z0...)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from molvae.files import atomic_write

    npy = str(args.out).lower().endswith(".npy")
    out = output(args.out, args.input, kind=(".npy",) if npy else "table")
    if not npy and str(args.out).lower().endswith(".smi"):
        raise ValueError(f"{args.out}: latent vectors do not fit a .smi file; use .npy or .csv")
    gen = load_generator(args.model, args.device)
    z, info = gen.encode(
        read_input(args.input, args.column), sample=args.sample, seed=args.seed, details=True
    )
    if npy:
        with atomic_write(out, "wb") as f:  # exactly the path given (np.save would add .npy)
            np.save(f, z)
    else:
        import pandas as pd

        latent = pd.DataFrame(z, columns=[f"z{i}" for i in range(z.shape[1])])
        write_table(pd.concat([info.reset_index(drop=True), latent], axis=1), out)
    failed = info[info.reason.notna()]
    print(f"encoded {len(z) - len(failed):,} of {len(z):,} molecules -> {out} {z.shape}")
    for row, reason in failed.reason.head(10).items():
        print(f"  row {row}: {reason}")
    return 0
