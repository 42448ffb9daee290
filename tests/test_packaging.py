"""The package as pip installs it: every subpackage is listed in pyproject.toml (a missing one
would install a molvae that cannot import itself), and the layout keeps its rules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _pyproject() -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_subpackage_is_installed():
    listed = set(_pyproject()["tool"]["setuptools"]["packages"])
    found = {
        ".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "molvae").rglob("__init__.py")
    }
    assert found - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"


def test_layout_within_limits_no_import_circles_and_no_private_imports():
    """scripts/check_layout.py --strict: modules import one way and never another module's
    _names, and no file, class or function passes the size limits (a unit that grows past one
    is split where it grew, STYLE.md)."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "check_layout.py"), "--strict"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout
    over = [x for x in proc.stdout.splitlines() if x.startswith("over the size limits")]
    assert over and over[0].endswith(": 0"), proc.stdout
    assert "import circles: 0" in proc.stdout, proc.stdout
    assert "imports of another module's private names: 0" in proc.stdout, proc.stdout
