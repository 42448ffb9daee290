"""``molvae evaluate``: MOSES metrics of a file of generated molecules, as a table and JSON."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="MOSES distribution metrics of generated molecules",
        description="Compute the MOSES metric set (validity, uniqueness, FCD, SNN, Frag, Scaf, IntDiv, "
        "Filters, Novelty, property distances). A .txt/.smi file holds one sample per line (its first "
        "field; a blank line is an empty, invalid sample); a .csv uses --column.",
    )
    p.add_argument("samples", help="generated molecules: .txt/.smi (one per line) or .csv/.csv.gz")
    p.add_argument("--column", default="smiles", help="CSV column (default: smiles)")
    p.add_argument(
        "--reference",
        default="moses",
        help="'moses' (test and scaffold-test sets, the default) or one or more SMILES files, "
        "comma-separated, each a reference set named by its file stem (keys FCD/<stem>, ...)",
    )
    p.add_argument(
        "--train", default="auto", help="training SMILES file for Novelty (default: MOSES train)"
    )
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    p.add_argument("--device", default="cpu", help="torch device for ChemNet (FCD)")
    p.add_argument("-o", "--out", help="write the metrics as JSON here")
    p.set_defaults(run=run)


def read_samples(path: Path, column: str) -> list:
    """Every line (or CSV row) is one sample; blank lines and empty cells stay as empty samples."""
    from molvae.data import _open_text, _sniff, read_smiles
    from molvae.exceptions import DataError

    if not path.exists():
        raise DataError(f"{path}: no such file")
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".csv", ".tsv")):
        if column == "smiles":
            try:
                return read_smiles(path, column="smiles").tolist()
            except DataError:
                return read_smiles(path).tolist()  # e.g. a "SMILES" column
        return read_smiles(path, column=column).tolist()
    _sniff(path)
    with _open_text(path) as f:
        lines = f.read().splitlines()
    return [line.split(maxsplit=1)[0] if line.strip() else "" for line in lines]


def reference_arg(value: str) -> str | dict[str, list]:
    """``moses``, or comma-separated SMILES files -> ``{stem: smiles}``."""
    from molvae.data import read_smiles
    from molvae.metrics import REFERENCE_NAMES

    if value in REFERENCE_NAMES:
        return value
    paths = [Path(p) for p in value.split(",") if p.strip()]
    missing = [str(p) for p in paths if not p.exists()]
    if missing or not paths:
        from molvae.exceptions import MolvaeError

        raise MolvaeError(
            f"unknown reference {value!r}: not one of {list(REFERENCE_NAMES)} and no such file "
            f"{', '.join(missing) or value!r}"
        )
    return {p.name.split(".")[0]: read_smiles(p).tolist() for p in paths}


def run(args: argparse.Namespace) -> int:
    from molvae.metrics import evaluate

    samples = read_samples(Path(args.samples), args.column)
    reference = reference_arg(args.reference)
    train = None if args.train in ("none", "") else args.train
    try:
        metrics, counts = evaluate(
            samples,
            reference=reference,
            train=train,
            n_jobs=args.jobs,
            device=args.device,
            progress=True,
            details=True,
        )
    except ValueError as err:
        from molvae.exceptions import MolvaeError

        raise MolvaeError(str(err)) from err
    print(
        f"samples {counts['samples']:,}  valid {counts['valid']:,}  invalid {counts['invalid']}  "
        f"duplicates {counts['duplicates']:,}"
    )
    for key, value in metrics.items():
        print(f"  {key:<14} {'-' if value is None else f'{value:.4f}'}")
    if args.out:
        Path(args.out).write_text(json.dumps(metrics, indent=2))
    return 0
