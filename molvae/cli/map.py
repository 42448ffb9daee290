"""``molvae map``: 2-D projection of encoded molecules coloured by a property."""

from __future__ import annotations

import argparse

from molvae.cli._common import add_model_args, as_cli_error, load_generator


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("map", help="plot the latent space of molecules (PNG)")
    add_model_args(p)
    p.add_argument("input", help=".smi/.txt/.csv file of SMILES")
    p.add_argument("--column", help="CSV column holding SMILES")
    p.add_argument(
        "--color-by", default="qed", help="a property (qed, sa, logp, ...) or a numeric CSV column"
    )
    p.add_argument("--method", choices=["pca", "tsne"], default="pca")
    p.add_argument("-o", "--out", required=True, help="output image (.png/.svg/.pdf)")
    p.set_defaults(run=run)


@as_cli_error
def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import pandas as pd

    from molvae.data import _choose_column, read_smiles
    from molvae.viz import latent_map

    gen = load_generator(args.model, args.device)
    path = Path(args.input)
    smiles = read_smiles(path, column=args.column)  # clear errors for empty/binary/missing files
    frame = smiles.to_frame()
    if path.name.lower().removesuffix(".gz").endswith((".csv", ".tsv")):
        full = pd.read_csv(path, sep="\t" if ".tsv" in path.name.lower() else ",")
        col = _choose_column(list(full.columns), args.column, path)
        frame = full.rename(columns={col: "smiles"})
    out = latent_map(gen, frame, color_by=args.color_by, method=args.method, path=args.out)
    print(f"mapped {len(out):,} molecules -> {args.out}")
    return 0
