"""``molvae score``: per-molecule RDKit properties of a SMILES file, into a CSV."""

from __future__ import annotations

import argparse
import os

from molvae.cli.common import output, positive_int, read_input, write_table


def add_parser(sub: argparse._SubParsersAction) -> None:
    from molvae.chem import DEFAULT_PROPERTIES, PROPERTIES

    p = sub.add_parser(
        "score",
        help="per-molecule properties (qed, sa, logp, ...) into a CSV",
        description=f"Score molecules with RDKit. Properties: {', '.join(sorted(PROPERTIES))}. "
        "Invalid rows get valid=False, a reason, and empty property cells.",
    )
    p.add_argument("input", help=".smi/.txt/.csv/.csv.gz file")
    p.add_argument(
        "--column", help="CSV column holding SMILES (default: the first named like smiles)"
    )
    p.add_argument(
        "--properties", default=",".join(DEFAULT_PROPERTIES), help="comma-separated names"
    )
    p.add_argument("--jobs", type=positive_int, default=os.cpu_count() or 1)
    p.add_argument("-o", "--out", required=True, help="output CSV")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from molvae.chem import check_property_names, score

    names = [p.strip() for p in args.properties.split(",") if p.strip()]
    check_property_names(names)  # before reading or scoring anything
    out = output(args.out, args.input, kind="table")
    smiles = read_input(args.input, args.column)
    df = score(smiles, properties=names, n_jobs=args.jobs, progress=True)
    write_table(df, out)
    print(f"scored {len(df):,} molecules ({int(df.valid.sum()):,} valid) -> {args.out}")
    return 0
