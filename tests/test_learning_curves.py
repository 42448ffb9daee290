"""scripts/learning_curves.py --chain: the pieces of one lineage add up to one curve."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

from .helpers import load_script

ROOT = Path(__file__).resolve().parent.parent


def _metrics(path: Path, epochs: int, seconds: float, molecules: int, start: float) -> None:
    path.mkdir(parents=True)
    pd.DataFrame({
        "epoch": range(1, epochs + 1), "step": [100 * e for e in range(1, epochs + 1)],
        "epoch_seconds": [seconds] * epochs, "molecules": [molecules] * epochs,
        "val_elbo": [start - e for e in range(epochs)], "prior_valid": [0.9] * epochs,
        "val_fcd": [5.0] * epochs,
    }).to_csv(path / "metrics.csv", index=False)  # fmt: skip


def test_chained_pieces_add_minutes_and_molecules(tmp_path):
    chained = load_script("learning_curves").chained
    _metrics(tmp_path / "a", 2, 600.0, 1000, 30.0)
    _metrics(tmp_path / "b", 3, 1200.0, 2000, 28.0)
    runs = chained([f"both={tmp_path / 'a'},{tmp_path / 'b'}"])
    df = runs["both"]
    assert df.minutes.tolist() == [10.0, 20.0, 40.0, 60.0, 80.0]
    assert df.mmol.iloc[-1] == (2 * 1000 + 3 * 2000) / 1e6
    assert df.val_elbo.tolist() == [30.0, 29.0, 28.0, 27.0, 26.0]


def test_the_script_draws_chains_and_refuses_a_bad_spec(tmp_path):
    _metrics(tmp_path / "a", 2, 60.0, 100, 30.0)
    script = str(ROOT / "scripts" / "learning_curves.py")
    png = tmp_path / "c.png"
    ok = subprocess.run([sys.executable, script, "--chain", f"x={tmp_path / 'a'}", "--png",
                         str(png)], capture_output=True, text=True)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert png.stat().st_size > 1000 and "| x | 200 | 2.0 | 200 |" in ok.stdout
    bad = subprocess.run([sys.executable, script, "--chain", "nothing"], capture_output=True,
                         text=True)  # fmt: skip
    assert bad.returncode != 0 and "NAME=RUN" in bad.stderr
