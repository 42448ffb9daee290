"""``molvae`` entry point: the parser, logging flags, and dispatch to one module per subcommand.

Every subcommand module exposes ``add_parser(subparsers)`` and ``run(args) -> int``. Errors that
molvae raises on purpose (``MolvaeError``) and bad arguments become a one-line message and exit
status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from molvae import __version__
from molvae.exceptions import MolvaeError

SUBCOMMANDS = (
    "prepare",
    "train",
    "sample",
    "evaluate",
    "score",
    "encode",
    "reconstruct",
    "interpolate",
    "neighbors",
    "map",
    "draw",
)


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
    for name in SUBCOMMANDS:
        importlib.import_module(f"molvae.cli.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING if args.quiet else (logging.DEBUG if args.verbose > 1 else logging.INFO)
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return int(args.run(args) or 0)
    except MolvaeError as err:
        msg = str(err).splitlines()[0] if not args.verbose else str(err)
        print(f"molvae {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except (FileNotFoundError, IsADirectoryError, PermissionError) as err:
        print(f"molvae {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"molvae {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
