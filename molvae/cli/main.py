"""``molvae`` entry point: the parser, logging flags, explicit subcommand registry, and the one
place where errors become messages.

Every subcommand module exposes ``add_parser(subparsers)`` and ``run(args) -> int``. Errors that
molvae raises on purpose (``MolvaeError``), invalid values the API refuses (``ValueError``) and
files that cannot be read or written (``OSError``) become a one-line message and exit status 2,
never a traceback (``-vv`` shows it). Anything else is a defect: one line naming the command and
the exception, exit status 1, and the hint to rerun with ``-vv``. Ctrl-C and SIGTERM: 130.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import traceback

from molvae.cli import (
    anomaly,
    draw,
    encode,
    evaluate,
    interpolate,
    latent_report,
    models,
    neighbors,
    optimize,
    prepare,
    reconstruct,
    sample,
    score,
    train,
)
from molvae.cli import map as map_
from molvae.exceptions import MolvaeError
from molvae.version import __version__

SUBCOMMANDS = {
    "prepare": prepare,
    "train": train,
    "sample": sample,
    "models": models,
    "evaluate": evaluate,
    "score": score,
    "encode": encode,
    "reconstruct": reconstruct,
    "interpolate": interpolate,
    "neighbors": neighbors,
    "optimize": optimize,
    "map": map_,
    "draw": draw,
    "anomaly": anomaly,
    "latent-report": latent_report,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="molvae",
        description="GRU variational autoencoder for molecules (SMILES / SELFIES).",
    )
    parser.add_argument("--version", action="version", version=f"molvae {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in SUBCOMMANDS.values():
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # bad usage (2) or --help (0): a return code for in-process callers
        return done.code if isinstance(done.code, int) else 2
    level = logging.WARNING if args.quiet else (logging.DEBUG if args.verbose > 1 else logging.INFO)
    rank = os.environ.get("RANK", "0")  # under torchrun, only rank 0 logs progress
    if rank != "0":
        level = max(level, logging.WARNING)
    logging.basicConfig(
        level=level,
        format=("%(levelname)s %(name)s: %(message)s" if rank == "0" else
                f"%(levelname)s [rank {rank}] %(name)s: %(message)s"),
        stream=sys.stderr,
    )  # fmt: skip
    if args.command is None:
        parser.print_help()
        return 0
    # SIGTERM (a batch scheduler's time limit, `kill`) ends a command like Ctrl-C: output files
    # being written are removed, worker processes stopped.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return int(args.run(args) or 0)
    except (MolvaeError, ValueError, OSError) as err:
        if args.verbose > 1:
            traceback.print_exc()
        msg = str(err) if args.verbose else (str(err).splitlines() or [type(err).__name__])[0]
        where = f" [rank {rank}]" if rank != "0" else ""
        print(f"molvae {args.command}{where}: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"molvae {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # a defect, not bad usage: one line, exit 1, the traceback on -vv
        if args.verbose > 1:
            traceback.print_exc()
        first = (str(err).splitlines() or [""])[0]
        print(f"molvae {args.command}: unexpected error: {type(err).__name__}: {first} (rerun "
              "with -vv for the traceback and report it)", file=sys.stderr)  # fmt: skip
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
