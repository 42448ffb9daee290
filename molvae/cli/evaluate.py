"""``molvae evaluate``: MOSES metrics of a file of generated molecules, as a table and JSON."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from molvae.cli.common import device_arg, output, positive_int, write_text


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
        action="append",
        help="'moses' (test and scaffold-test sets, the default) or one or more SMILES files, "
        "comma-separated or in repeated --reference, each a reference set named by its file stem "
        "(keys FCD/<stem>, ...; files with the same stem are named by their folder too)",
    )
    p.add_argument(
        "--train", default="auto", help="training SMILES file for Novelty (default: MOSES train)"
    )
    p.add_argument("--jobs", type=positive_int, default=os.cpu_count() or 1)
    p.add_argument(
        "--device",
        type=device_arg,
        default="cpu",
        help="torch device for ChemNet (FCD) and the Tanimoto products",
    )
    p.add_argument("-o", "--out", help="write the metrics as JSON here")
    p.set_defaults(run=run)


def reference_arg(value: str) -> str | dict[str, list]:
    """``moses``, or comma-separated SMILES files -> ``{name: smiles}``: each named by its file
    stem, or by ``folder/stem`` where two stems are the same (never one silently dropped)."""
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
    stems = [p.name.split(".")[0] for p in paths]
    names = [s if stems.count(s) == 1 else f"{p.parent.name}/{s}" for s, p in zip(stems, paths)]
    names = [n if names.count(n) == 1 else f"{n}#{names[:k].count(n) + 1}"
             for k, n in enumerate(names)]  # fmt: skip
    return dict(zip(names, (read_smiles(p).tolist() for p in paths)))


def run(args: argparse.Namespace) -> int:
    from molvae.data import read_samples
    from molvae.metrics import evaluate

    out = output(args.out, args.samples, kind=(".json",))
    samples = read_samples(args.samples, args.column)
    reference = reference_arg(",".join(args.reference or ["moses"]))
    train = None if args.train in ("none", "") else args.train
    metrics, counts = evaluate(
        samples,
        reference=reference,
        train=train,
        n_jobs=args.jobs,
        device=args.device,
        progress=True,
        details=True,
    )
    print(
        f"samples {counts['samples']:,}  valid {counts['valid']:,}  invalid {counts['invalid']}  "
        f"duplicates {counts['duplicates']:,}"
    )
    if reference == "moses":
        from molvae.metrics.published import table

        print(table(metrics))
    else:
        for key, value in metrics.items():
            print(f"  {key:<14} {'-' if value is None else f'{value:.4f}'}")
    if out:
        write_text(json.dumps(metrics, indent=2), out)
    return 0
