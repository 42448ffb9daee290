"""``molvae train``: train a GRU VAE from a config file or preset; flags override the file."""

from __future__ import annotations

import argparse
import os
import sys

from molvae.cli.common import device_arg
from molvae.tokenizers import TOKENIZERS

#: Exit status of a run stopped cleanly by a signal (the shell's 128 + signal number).
INTERRUPTED_EXIT = {"SIGINT": 130, "SIGTERM": 143}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a model (config file or preset; flags override it)",
        description="Train a GRU VAE. The run directory gets config.toml, metrics.csv, last.pt and "
        "best.pt. A first SIGTERM (a batch scheduler's notice) or Ctrl-C ends the epoch after the "
        "current step, validates and saves it, then exits 143 / 130; --resume continues. A second "
        "one stops at once.",
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--config",
        help="TOML config file with [model] and [train] tables (default with --resume: the run's)",
    )
    src.add_argument("--preset", help="bundled preset: small, moses")
    p.add_argument("--data", help="training SMILES file, or a bundled dataset such as moses:train")
    p.add_argument("--column", help="CSV column holding SMILES")
    p.add_argument("--tokenizer", choices=list(TOKENIZERS))
    p.add_argument("--limit", type=int, help="train on a seeded random sample of N molecules")
    p.add_argument("--epochs", type=int)
    p.add_argument("--max-steps", type=int)
    p.add_argument(
        "--time-limit", type=float, dest="time_limit_minutes", help="stop after this many minutes"
    )
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--device", type=device_arg, help="auto, cpu, cuda, cuda:N, mps")
    p.add_argument("--amp", choices=["auto", "bf16", "none"])
    p.add_argument("--seed", type=int)
    p.add_argument("--out", required=True, help="run directory")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--init",
        metavar="MODEL",
        help="start from a model (bundled name, checkpoint or run directory): its weights, "
        "tokenizer and recipe, a fresh optimizer; fine-tuning, or the next piece of a long training",
    )
    mode.add_argument("--resume", action="store_true", help="continue the run in --out")
    mode.add_argument("--overwrite", action="store_true", help="replace the run in --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


OVERRIDES = (
    "data",
    "column",
    "tokenizer",
    "limit",
    "epochs",
    "max_steps",
    "time_limit_minutes",
    "batch_size",
    "lr",
    "device",
    "amp",
    "seed",
)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from molvae.config import load_config
    from molvae.train import fit

    overrides = {"train": {k: getattr(args, k) for k in OVERRIDES}}
    if args.resume and args.config is None and args.preset is None:
        args.config = Path(args.out) / "config.toml"  # continue with the run's own configuration
    if args.init and args.config is None and args.preset is None:
        from dataclasses import replace

        from molvae.lineage import Parent

        parent = Parent.load(args.init)  # the parent's network and recipe, then the flags
        model_cfg = parent.checkpoint.model_config
        flags = {k: v for k, v in overrides["train"].items() if v is not None}
        train_cfg = replace(parent.train_config(), **flags)
    else:
        model_cfg, train_cfg = load_config(
            args.config, args.preset if args.config is None else None, overrides
        )
    result = fit(
        None,
        model_cfg,
        train_cfg,
        out_dir=args.out,
        init=args.init,
        resume=args.resume,
        overwrite=args.overwrite,
        progress=not args.no_progress,
    )
    if os.environ.get("RANK", "0") != "0":
        return 0  # under torchrun, rank 0 reports
    h = result.history
    if len(h):
        last = h.iloc[-1]
        print(
            f"{result.stopped_because}: {int(last['epoch'])} epochs, {int(last['step'])} steps; "
            f"val recon {last['val_recon']:.3f} kl {last['val_kl']:.3f}, exact reconstruction "
            f"{last['recon_exact']:.1%}, prior validity {last['prior_valid']:.1%}"
        )
    if result.best_path is not None:
        print(f"best checkpoint: {result.best_path}")
    else:
        print(f"no best.pt in {result.run_dir}; latest state: {result.run_dir / 'last.pt'}")
    if result.stopped_because.startswith("interrupted"):  # saved, but not finished: say so
        print(f"continue with: molvae train --resume --out {result.run_dir}", file=sys.stderr)
        return INTERRUPTED_EXIT.get(result.stopped_because.split("(")[-1].rstrip(")"), 1)
    return 0
