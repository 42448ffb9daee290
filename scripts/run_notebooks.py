"""Execute the example notebooks (examples/*.ipynb) top to bottom with nbclient and store their
outputs, so that they read well when browsed; every figure in them is computed by them.

    python scripts/run_notebooks.py              # execute all, write outputs back, print seconds
    python scripts/run_notebooks.py --check      # execute without writing (what the test does)

Each runs in a fresh kernel in a temporary folder (files the notebooks write land there).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def execute(path: Path, timeout: int = 600) -> tuple[nbformat.NotebookNode, float]:
    """Run one notebook in a fresh kernel; raises ``nbclient.exceptions.CellExecutionError`` on
    the first failing cell. Returns the executed notebook and its wall seconds."""
    nb = nbformat.read(path, as_version=4)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        NotebookClient(
            nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": tmp}}
        ).execute()
    return nb, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("notebooks", nargs="*", help="default: examples/*.ipynb")
    ap.add_argument("--check", action="store_true", help="execute only; do not write outputs")
    args = ap.parse_args(argv)
    paths = [Path(p) for p in args.notebooks] or sorted(EXAMPLES.glob("*.ipynb"))
    total = 0.0
    for path in paths:
        nb, seconds = execute(path)
        total += seconds
        if not args.check:
            nbformat.write(nb, path)
        print(f"{path.name}: {seconds:.0f} s")
    print(f"all: {total:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
