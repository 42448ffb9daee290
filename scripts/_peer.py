"""Run a MOSES 0.3.1 VAE benchmark script (``--peer-script``: it trains or samples MOSES's VAE and
writes its timings as JSON to ``--out``) in its own Python environment (``--peer``: an
interpreter with ``molsets==0.3.1`` installed) and return its JSON, so that
``bench_train.py``/``bench_sample.py`` time MOSES and molvae in one invocation on the same machine.
molvae never imports MOSES: it runs as a subprocess.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path


def add_arguments(ap) -> None:
    ap.add_argument(
        "--peer",
        metavar="PYTHON",
        default=None,
        help="also time MOSES's VAE with this interpreter (one with molsets==0.3.1 installed)",
    )
    ap.add_argument(
        "--peer-script", default=None, help="the MOSES VAE benchmark script (needed with --peer)"
    )


def run(python: str, script: str, *args: str) -> dict:
    """``python script --out tmp.json *args`` -> the JSON it wrote.

    Raises:
        FileNotFoundError: the interpreter or the script does not exist.
        RuntimeError: the peer failed (its last output lines are quoted).
    """
    if not script:
        raise FileNotFoundError("peer: --peer needs --peer-script (the MOSES VAE benchmark script)")
    for p in (python, script):
        if not Path(p).exists():
            raise FileNotFoundError(f"peer: {p} does not exist")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "peer.json"
        proc = subprocess.run(
            [python, script, "--out", str(out), *args], capture_output=True, text=True
        )
        if proc.returncode != 0 or not out.exists():
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            raise RuntimeError(f"peer failed (exit {proc.returncode}):\n{tail}")
        return json.loads(out.read_text())
