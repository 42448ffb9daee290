"""The example notebooks (examples/*.ipynb) run top to bottom in a fresh kernel (nbclient)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import load_script

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "examples").glob("*.ipynb"))
pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")


def _runner():
    return load_script("run_notebooks")


def test_there_are_three_notebooks_stored_with_outputs():
    import nbformat

    assert [p.name for p in NOTEBOOKS] == [
        "01_quickstart.ipynb", "02_latent_space.ipynb", "03_design.ipynb",
    ]  # fmt: skip
    for path in NOTEBOOKS:
        cells = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
        assert all(c.execution_count for c in cells), f"{path.name} is stored unexecuted"
        assert not [o for c in cells for o in c.outputs if o.output_type == "error"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path):
    _runner().execute(path, timeout=600)
