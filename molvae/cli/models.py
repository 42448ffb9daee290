"""``molvae models``: the pretrained models bundled with this installation and their cards."""

from __future__ import annotations

import argparse
import json


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "models",
        help="list the bundled pretrained models",
        description="List the pretrained models bundled inside molvae (usable by name wherever a "
        "command takes a model: molvae sample moses-smiles ...). Metrics: samples drawn with the "
        "model's default settings, scored against the MOSES test set (MODELS.md has the cards).",
    )
    p.add_argument("name", nargs="?", default=None, help="print this model's full card (JSON)")
    p.add_argument("--check", action="store_true", help="verify every bundled file's sha256")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from molvae import bundled

    if args.name:
        bundled.path(args.name)  # unknown name or damaged file: a clear error
        print(json.dumps(bundled.card(args.name), indent=2))
        return 0
    table = bundled.pretrained()
    if table.empty:
        print("no bundled models in this installation")
        return 0
    if args.check:
        for name in table.name:
            bundled.path(name)
        print(f"{len(table)} bundled models: files present, checksums match")
    # the whole training (every --init piece), not the last piece's epochs and hardware: those
    # are on the card (molvae models NAME)
    shown = table.drop(columns=["summary", "data", "epochs", "steps", "hardware", "train_minutes"])
    with pd.option_context("display.width", 200, "display.max_columns", 40):
        print(shown.to_string(index=False))
    for name, summary in zip(table.name, table.summary):
        print(f"{name}: {summary}")
    print("full cards (data, configuration, every training piece): molvae models NAME, MODELS.md")
    return 0
