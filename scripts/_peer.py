"""Run MOSES 0.3.1's VAE benchmark (the peer, ``../shared/peers/moses_vae_bench.py``) in its own
Python environment and return its JSON, so that ``bench_train.py``/``bench_sample.py`` time the
peer and molvae in one invocation on the same machine. molvae never imports MOSES: the peer runs
as a subprocess of the interpreter given with ``--peer`` (a venv made by ``../shared/peers/setup.sh``).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

DEFAULT_SCRIPT = Path(__file__).resolve().parents[2] / "shared" / "peers" / "moses_vae_bench.py"


def add_arguments(ap) -> None:
    ap.add_argument(
        "--peer",
        metavar="PYTHON",
        default=None,
        help="also time MOSES's VAE with this interpreter (e.g. /tmp/moses-peer/bin/python)",
    )
    ap.add_argument("--peer-script", default=str(DEFAULT_SCRIPT), help="moses_vae_bench.py")


def run(python: str, script: str, *args: str) -> dict:
    """``python script --out tmp.json *args`` -> the JSON it wrote.

    Raises:
        FileNotFoundError: the interpreter or the script does not exist.
        RuntimeError: the peer failed (its last output lines are quoted).
    """
    for p in (python, script):
        if not Path(p).exists():
            raise FileNotFoundError(f"peer: {p} does not exist (see ../shared/peers/README.md)")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "peer.json"
        proc = subprocess.run(
            [python, script, "--out", str(out), *args], capture_output=True, text=True
        )
        if proc.returncode != 0 or not out.exists():
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            raise RuntimeError(f"peer failed (exit {proc.returncode}):\n{tail}")
        return json.loads(out.read_text())
