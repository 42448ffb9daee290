"""``molvae map``: 2-D projection of encoded molecules coloured by a property."""

from __future__ import annotations

import argparse

from molvae.cli.common import IMAGE, add_model_args, load_generator, output


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


def run(args: argparse.Namespace) -> int:
    import io

    import pandas as pd

    from molvae.data import choose_column, read_raw, read_smiles
    from molvae.viz import latent_map

    output(args.out, args.input, kind=(*IMAGE, ".pdf"))
    gen = load_generator(args.model, args.device)
    raw = read_raw(args.input)  # read once: clear errors for empty/binary/missing files
    frame = read_smiles(raw, column=args.column).to_frame()
    if raw.is_table:  # keep the other columns: --color-by may name one
        full = pd.read_csv(io.BytesIO(raw.data), sep="\t" if raw.ext == ".tsv" else ",")
        col = choose_column(list(full.columns), args.column, raw.path)
        if col != "smiles" and "smiles" in full.columns:  # keep it, under another name
            full = full.rename(columns={"smiles": "smiles_column"})
        frame = full.rename(columns={col: "smiles"})
    out = latent_map(gen, frame, color_by=args.color_by, method=args.method, path=args.out)
    print(f"mapped {len(out):,} molecules -> {args.out}")
    return 0
