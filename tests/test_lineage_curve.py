"""scripts/lineage_curve.py: the stopping rule of the bundled models' pieces, on made-up cards
and on the shipped table."""

from __future__ import annotations

import pandas as pd
import pytest

from .helpers import load_script


@pytest.fixture
def lc():
    """The script as a module (it imports its sibling recipe_sweep, as when run from scripts/)."""
    return load_script("lineage_curve")


def cards(rows):
    cols = ["piece", "bundled", "valid", "fcd_test"]
    df = pd.DataFrame(rows, columns=cols)
    df["lineage"] = "x"
    df["molecules_m"] = df.piece * 1.0
    df["novelty"] = df["recon_exact"] = 0.9
    return df


def test_the_rule_needs_two_consecutive_small_pieces_against_the_last_bundled_card(lc):
    df = cards([
        (1, "yes", 0.80, 0.40),
        (2, "no", 0.805, 0.39),   # +0.005, -2.5%: under
        (3, "yes", 0.83, 0.36),   # +0.03 against piece 1: over, and the run restarts
        (4, "no", 0.835, 0.35),   # under (against piece 3, not piece 2)
        (5, "no", 0.838, 0.345),  # under again: the rule is met
    ])  # fmt: skip
    rule = lc.stopping_rule(df, min_valid=0.01, min_fcd=0.05)
    assert list(rule["vs piece"]) == [1, 1, 3, 3]
    assert list(rule["under both"]) == [True, False, True, True]
    assert list(rule["rule met"]) == [False, False, False, True]
    assert "| x | 5 |" in lc.markdown(rule.drop(columns="run"))


def test_a_large_fcd_gain_alone_keeps_training_going(lc):
    df = cards([(1, "yes", 0.80, 0.40), (2, "yes", 0.805, 0.30), (3, "yes", 0.806, 0.20)])
    assert not lc.stopping_rule(df, 0.01, 0.05)["under both"].any()


def test_the_shipped_table_loads_and_is_checked(lc):
    df = lc.load(lc.DEFAULT_CSV)
    assert {
        "moses-smiles-small (1x256)",
        "moses-smiles (2x256)",
        "moses-smiles-gpu (3x512)",
    } <= set(df.lineage)
    rule = lc.stopping_rule(df, 0.01, 0.05)
    assert len(rule) == len(df) - df.lineage.nunique()
