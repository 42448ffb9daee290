"""scripts/invalid_breakdown.py: the causes of invalid samples and of Filters failures."""

from __future__ import annotations

from molvae.tokenizers import SmilesTokenizer

from .helpers import load_script


def test_each_invalid_smiles_gets_its_cause():
    script = load_script("invalid_breakdown")
    tok = SmilesTokenizer()
    cases = {
        "C1CCC": "unclosed ring",
        "CC(C": "unbalanced branch",
        "c1cccccc1": "aromatic ring not of 5 or 6",
        "c1ccnc1": "pyrrole-type n without H",
        "CC(C)(C)(C)C": "valence",
    }
    for smiles, cause in cases.items():
        assert script.cause(smiles, tok.tokenize(smiles)) == cause, smiles


def test_filter_failures_are_counted_by_the_check_they_fail(capsys):
    script = load_script("invalid_breakdown")
    valid = ["CCO", "CC(=O)Nc1ccc(O)cc1", "C1CCCCCCCC1", "C[N+](C)(C)C", "O=C1C=CC(=O)C=C1",
             "c1ccc(N=Nc2ccccc2)cc1", "CCN"]  # fmt: skip
    script.print_filter_failures("m", valid)
    out = capsys.readouterr().out
    # 4 of 7 fail: one in each check, so Filters 3/7 and each check 1/7
    assert "| m | 7 | 0.4286 | 0.1429 | 0.1429 | 0.1429 | 0.1429 | 0.0000 |" in out
    assert "PAINS quinone_A (1)" in out and "MCF10 (1)" in out
