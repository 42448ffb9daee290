"""``molvae score``: per-molecule RDKit properties of a SMILES file, into a CSV."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


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
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    p.add_argument("-o", "--out", required=True, help="output CSV")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from molvae.chem import score
    from molvae.data import read_smiles
    from molvae.exceptions import MolvaeError

    smiles = read_smiles(Path(args.input), column=args.column)
    try:
        df = score(smiles.tolist(), properties=args.properties, n_jobs=args.jobs, progress=True)
    except ValueError as err:
        raise MolvaeError(str(err)) from err
    df.to_csv(args.out, index=False)
    print(f"scored {len(df):,} molecules ({int(df.valid.sum()):,} valid) -> {args.out}")
    return 0
