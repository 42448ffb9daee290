"""``molvae prepare``: clean and tokenize a SMILES file (or a bundled dataset) and report what was kept."""

from __future__ import annotations

import argparse
import json
import os

from molvae.cli.common import output, positive_int, write_text
from molvae.tokenizers import TOKENIZERS


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "prepare",
        help="clean + tokenize SMILES, cache the token arrays, print the report",
        description="Canonicalize, deduplicate and tokenize a SMILES file; every dropped row is "
        "counted by reason. The token arrays are cached, so training on the same file starts fast.",
    )
    p.add_argument(
        "data", help="a .smi/.txt/.csv/.csv.gz file, or a bundled dataset such as moses:train"
    )
    p.add_argument(
        "--column", help="CSV column holding SMILES (default: the first named like 'smiles')"
    )
    p.add_argument("--tokenizer", default="smiles", choices=list(TOKENIZERS))
    p.add_argument(
        "--max-len", type=positive_int, default=100, help="longest molecule kept, in tokens"
    )
    p.add_argument("--no-canonicalize", action="store_true", help="keep SMILES as written")
    p.add_argument("--no-dedupe", action="store_true", help="keep repeated molecules")
    p.add_argument("--largest-fragment", action="store_true", help="keep only the largest fragment")
    p.add_argument(
        "--jobs", type=positive_int, default=os.cpu_count() or 1, help="worker processes"
    )
    p.add_argument("-o", "--out", help="also write the kept SMILES (one per line) here")
    p.add_argument("--report", help="write the report as JSON here")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from molvae import datasets
    from molvae.data import prepare_file

    out = output(args.out, args.data, kind=(".smi", ".txt"))
    report = output(args.report, args.data, kind=(".json",))
    data = prepare_file(
        datasets.resolve(args.data),
        args.tokenizer,
        column=args.column,
        max_len=args.max_len,
        canonicalize=not args.no_canonicalize,
        dedupe=not args.no_dedupe,
        largest_fragment=args.largest_fragment,
        n_jobs=args.jobs,
        progress=True,
    )
    r = data.report
    print(f"read {r.read:,}  kept {r.kept:,}  dropped {r.n_dropped:,}")
    for reason, n in r.dropped.items():
        print(f"  {reason:<14} {n:>10,}   e.g. {r.examples.get(reason, [])[:2]}")
    print(
        f"tokenizer {data.tokenizer.kind}: {data.tokenizer.vocab_size} tokens; "
        f"longest molecule {int(data.lengths.max()) - 2} tokens"
    )
    if out:
        write_text("\n".join(data.smiles) + "\n", out)
    if report:
        write_text(json.dumps(r.to_dict(), indent=2), report)
    return 0
