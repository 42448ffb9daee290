"""``molvae evaluate`` and ``molvae score`` end to end (a small reference file, no MOSES statistics)."""

from __future__ import annotations

import json

import pandas as pd

from molvae.cli.main import main


def test_evaluate_txt_counts_blank_lines_and_writes_json(tmp_path, moses_sample, capsys):
    ref = tmp_path / "ref.smi"
    ref.write_text("\n".join(moses_sample[:200]) + "\n")
    gen = tmp_path / "gen.txt"
    gen.write_text("\n".join([*moses_sample[150:180], "", "C1CC", moses_sample[150]]) + "\n")
    out = tmp_path / "m.json"
    code = main(
        ["evaluate", str(gen), "--reference", str(ref), "--train", "none", "--jobs", "1"]
        + ["-o", str(out)]
    )
    assert code == 0
    m = json.loads(out.read_text())
    assert m["valid"] == 31 / 33  # the blank line and "C1CC" are invalid samples
    assert m["SNN/ref"] == 1.0 and m["Novelty"] is None and "FCD/ref" in m
    table = capsys.readouterr().out
    assert "samples 33" in table and "duplicates 1" in table and "SNN/ref" in table


def test_evaluate_bad_inputs_are_one_line_errors(tmp_path, capsys):
    csv = tmp_path / "g.csv"
    csv.write_text("name,value\nx,1\n")
    assert main(["evaluate", str(csv), "--column", "smiles_col"]) == 2
    assert "smiles_col" in capsys.readouterr().err
    txt = tmp_path / "g.txt"
    txt.write_text("CCO\n")
    assert main(["evaluate", str(txt), "--reference", "chembl"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("molvae evaluate: error:") and "moses" in err and "Traceback" not in err
    assert main(["evaluate", str(tmp_path / "missing.txt")]) == 2


def test_score_writes_properties_and_reasons(tmp_path, capsys):
    src = tmp_path / "in.csv"
    pd.DataFrame({"id": [1, 2, 3], "SMILES": ["CCO", "C1CC", "c1ccccc1O"]}).to_csv(src, index=False)
    out = tmp_path / "scored.csv"
    assert main(["score", str(src), "-o", str(out), "--properties", "qed,logp", "--jobs", "1"]) == 0
    df = pd.read_csv(out)
    assert list(df.valid) == [True, False, True] and df.reason[1] == "unparseable"
    assert df.qed.notna().tolist() == [True, False, True]
    assert "scored 3 molecules (2 valid)" in capsys.readouterr().out
    assert main(["score", str(src), "-o", str(out), "--properties", "qed,colour"]) == 2
    assert "colour" in capsys.readouterr().err


def test_two_references_with_the_same_stem_are_both_kept(tmp_path, moses_sample):
    for folder, part in (("a", moses_sample[:60]), ("b", moses_sample[60:120])):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "ref.smi").write_text("\n".join(part) + "\n")
    gen = tmp_path / "gen.smi"
    gen.write_text("\n".join(moses_sample[:30]) + "\n")
    out = tmp_path / "m.json"
    argv = ["evaluate", str(gen), "--reference", str(tmp_path / "a" / "ref.smi"), "--reference",
            str(tmp_path / "b" / "ref.smi"), "--train", "none", "--jobs", "1", "-o", str(out)]  # fmt: skip
    assert main(argv) == 0
    m = json.loads(out.read_text())
    assert m["SNN/a/ref"] == 1.0 and m["SNN/b/ref"] < 1.0  # the samples are a's molecules
