from __future__ import annotations

import json
import subprocess
import sys

import molvae as mv
from molvae.cli.main import main


def test_version_and_help(capsys):
    proc = subprocess.run(
        [sys.executable, "-m", "molvae.cli.main", "--version"], capture_output=True, text=True
    )
    assert proc.returncode == 0 and mv.__version__ in proc.stdout
    assert main([]) == 0
    assert "prepare" in capsys.readouterr().out


def test_prepare_command(tmp_path, capsys):
    f = tmp_path / "in.smi"
    f.write_text("CCO\nOCC\nC1CC\n\nc1ccccc1\n")
    out, rep = tmp_path / "kept.smi", tmp_path / "report.json"
    assert main(["prepare", str(f), "--jobs", "1", "-o", str(out), "--report", str(rep)]) == 0
    assert out.read_text().split() == ["CCO", "c1ccccc1"]
    report = json.loads(rep.read_text())
    assert report["read"] == 5 and report["kept"] == 2
    assert report["dropped"] == {"empty": 1, "unparseable": 1, "duplicate": 1}
    assert "kept 2" in capsys.readouterr().out


def test_prepare_bad_input_is_one_line_error(tmp_path, capsys):
    f = tmp_path / "d.csv"
    f.write_text("name,value\nx,1\n")
    assert main(["prepare", str(f), "--jobs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("molvae prepare: error:") and "Traceback" not in err
    assert main(["prepare", str(tmp_path / "missing.smi")]) == 2
