from __future__ import annotations

import math

import pandas as pd
import pytest

import molvae as mv
from molvae import chem

# Golden values from RDKit 2023.09+ (QED: Bickerton et al.; SA: Ertl & Schuffenhauer; Crippen logP)
DRUGS = {
    "aspirin": ("CC(=O)Oc1ccccc1C(=O)O", {"qed": 0.550, "sa": 1.580, "logp": 1.310, "mw": 180.159}),
    "caffeine": (
        "Cn1c(=O)c2c(ncn2C)n(C)c1=O",
        {"qed": 0.538, "sa": 2.298, "logp": -1.029, "mw": 194.194},
    ),
    "ibuprofen": (
        "CC(C)Cc1ccc(C(C)C(=O)O)cc1",
        {"qed": 0.822, "sa": 2.192, "logp": 3.073, "mw": 206.285},
    ),
    "paracetamol": (
        "CC(=O)Nc1ccc(O)cc1",
        {"qed": 0.595, "sa": 1.407, "logp": 1.351, "mw": 151.165},
    ),
}


@pytest.mark.parametrize("name", sorted(DRUGS))
def test_golden_properties_of_named_drugs(name):
    smiles, expected = DRUGS[name]
    got = chem.properties(smiles, ["qed", "sa", "logp", "mw"])
    for k, v in expected.items():
        assert got[k] == pytest.approx(v, abs=2e-3), (name, k)


def test_penalized_logp_matches_its_definition():
    smiles = "CC(C)Cc1ccc(C(C)C(=O)O)cc1"
    mol = chem.to_mol(smiles)
    expected = (
        (3.0732 - 2.4570953396190123) / 1.434324401111988
        + (-2.1918 + 3.0525811293166134) / 0.8335207024513095
        + (0 + 0.0485696876403053) / 0.2860212110245455
    )
    assert chem.penalized_logp(mol) == pytest.approx(expected, abs=2e-3)
    assert chem.largest_ring_penalty(chem.to_mol("C1CCCCCCCC1")) == 3


def test_validity_reasons():
    assert chem.validity_reason("CCO") is None
    assert chem.validity_reason("") == "empty"
    assert chem.validity_reason(None) == "not_a_string"
    assert chem.validity_reason("C1CC") == "unparseable"
    assert chem.validity_reason("c1cccc1") == "unparseable"  # kekulization fails
    assert chem.validity_reason("CCO.O", allow_fragments=False) == "multiple_fragments"
    assert chem.validity_reason("C" * 6000) == "too_large"
    assert chem.validity_reason("C" * 1000) == "too_large"  # > MAX_HEAVY_ATOMS


def test_filters_and_alerts():
    assert chem.passes_moses_filters(chem.to_mol("CC(=O)Nc1ccc(O)cc1"))
    assert not chem.passes_moses_filters(chem.to_mol("C[N+](C)(C)C"))  # charged
    assert not chem.passes_moses_filters(chem.to_mol("CCP"))  # atom not allowed
    assert not chem.passes_moses_filters(chem.to_mol("C1CCCCCCC1"))  # 8-membered ring
    assert chem.alerts(chem.to_mol("O=C1C=CC(=O)C=C1"), "PAINS") or chem.alerts(
        chem.to_mol("O=C1C=CC(=O)C=C1"), "BRENK"
    )
    assert chem.lipinski_pass(chem.to_mol("CC(=O)Oc1ccccc1C(=O)O"))


def test_score_frame_keeps_order_and_marks_invalid():
    rows = ["CCO", "C1CC", None, 3, "", "c1ccccc1", "C" * 6000]
    df = mv.score(rows, properties=["qed", "mw"])
    assert list(df.columns) == ["smiles", "valid", "reason", "canonical", "qed", "mw"]
    assert df.valid.tolist() == [True, False, False, False, False, True, False]
    assert df.reason.tolist()[1:5] == ["unparseable", "not_a_string", "not_a_string", "empty"]
    assert df.reason[6] == "too_large"
    assert math.isnan(df.qed[1]) and df.mw[5] == pytest.approx(78.114, abs=1e-3)


def test_score_dataframe_in_parallel_matches_serial(moses_sample):
    frame = pd.DataFrame({"id": range(300), "smi": moses_sample[:300]})
    serial = mv.score(frame, column="smi", properties="qed,sa,logp")
    parallel = mv.score(
        frame, column="smi", properties=["qed", "sa", "logp"], n_jobs=2, chunk_size=50
    )
    pd.testing.assert_frame_equal(serial, parallel)
    assert serial.id.tolist() == list(range(300)) and serial.valid.all()


def test_score_bad_arguments():
    with pytest.raises(ValueError, match="known"):
        mv.score(["CCO"], properties=["qed", "color"])
    with pytest.raises(ValueError, match="columns present"):
        mv.score(pd.DataFrame({"x": ["CCO"]}))
    assert len(mv.score([])) == 0


def test_filter_screen_never_skips_a_match():
    # molecules that hit MCF/PAINS patterns (quinones, Michael acceptors, azo, catechols, ...)
    hits = [
        "O=C1C=CC(=O)C=C1",
        "C=CC(=O)N",
        "c1ccc(N=Nc2ccccc2)cc1",
        "Oc1ccccc1O",
        "N#CC=Cc1ccccc1",
        "O=C(C=Cc1ccccc1)c1ccccc1",
        "S=C1NC(=O)C(=Cc2ccccc2)S1",
        "CC(=O)OO",
        "Nc1ccc(N)cc1",
    ]
    from rdkit import Chem

    n_hits = 0
    for s in hits:
        h = Chem.AddHs(chem.to_mol(s))
        naive = chem.matches_moses_pattern(h, screen=False)
        assert chem.matches_moses_pattern(h, screen=True) == naive, s
        assert chem.moses_pattern_match(h, screen=True) == chem.moses_pattern_match(h, screen=False)
        n_hits += naive
    assert n_hits >= 5


def test_moses_filter_failure_names_the_check_that_fails(moses_sample):
    cases = {
        "CC(=O)Nc1ccc(O)cc1": None,
        "C[N+](C)(C)C": "charged atom",
        "CCP": "atom outside C N S O F Cl Br H",
        "C1CCCCCCCC1": "ring of 9 atoms",
        "O=C1C=CC(=O)C=C1": "PAINS quinone_A",
        "c1ccc(N=Nc2ccccc2)cc1": "MCF10",
    }
    for smiles, reason in cases.items():
        assert chem.moses_filter_failure(chem.to_mol(smiles)) == reason, smiles
    # the reason is None exactly where the filter passes, on real molecules and odd ones
    for smiles in moses_sample[:300] + ODD + list(cases):
        mol = chem.to_mol(smiles)
        assert (chem.moses_filter_failure(mol) is None) == chem.passes_moses_filters(mol), smiles


ODD = [
    "[2H]C([2H])c1ccccc1",  # explicit isotopic hydrogens: QED strips them as RDKit does
    "C[N+](C)(C)C.[Cl-]",
    "O=[N+]([O-])c1ccccc1",
    "OB(O)c1ccccc1",
    "C[Si](C)(C)Cl",
    "*C(=O)O",
    "[13CH3]OC",
    "C1CCCCCCCC1",
    "c1ccccc1I",
]


def test_fast_qed_equals_rdkit_qed(moses_sample):
    from rdkit.Chem import QED, Crippen

    mols = [chem.to_mol(s) for s in moses_sample[:600] + ODD]
    for m in mols:
        assert chem.qed(m) == QED.qed(m)
        assert chem.qed(m, logp=Crippen.MolLogP(m)) == QED.qed(m)


def test_atom_queries_equal_the_atom_loop(moses_sample):
    charged, disallowed = chem.atom_queries()
    for s in moses_sample[:500] + ODD + ["[O-]C", "C[NH3+]", "[Se]", "CP(C)C"]:
        m = chem.to_mol(s)
        assert m.HasSubstructMatch(charged) == any(a.GetFormalCharge() for a in m.GetAtoms()), s
        assert m.HasSubstructMatch(disallowed) == any(
            a.GetSymbol() not in chem.MOSES_ALLOWED_ATOMS for a in m.GetAtoms()
        ), s


def test_score_shares_logp_without_changing_values():
    df = mv.score(["CC(=O)Oc1ccccc1C(=O)O"], properties=["qed", "logp"])
    alone = mv.score(["CC(=O)Oc1ccccc1C(=O)O"], properties=["qed"])
    assert df.qed[0] == alone.qed[0] and df.logp[0] == pytest.approx(1.31, abs=1e-3)


def test_canonical_forms_in_workers_equal_serial(moses_sample, monkeypatch):
    """Many inputs are canonicalised in worker processes: same forms, same reasons, same order."""
    from molvae import chem

    values = moses_sample[:300] + ["", "C1CC", None, "OC(=O)c1ccccc1"]
    serial = chem.canonical_forms(values, n_jobs=1)
    monkeypatch.setattr(chem, "PARALLEL_MIN", 10)
    assert chem.canonical_forms(values, n_jobs=2) == serial
    canon, reasons = serial
    assert canon[-4:] == [None, None, None, "O=C(O)c1ccccc1"]
    assert reasons[-4:] == ["empty", "unparseable", "not_a_string", None]
    assert chem.canonical_pair("CCO.[Na+].[Cl-]", largest_fragment=True) == ("CCO", None)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "512")  # torchrun ranks on this machine share its CPUs
    from molvae.parallel import default_jobs

    assert default_jobs() == 1


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_canonical_similarities_equal_the_single_calls(moses_sample, n_jobs):
    values = [*moses_sample[:1100], "C1CC", None, "", "OC(=O)c1ccccc1"]  # 2 workers from 1,000
    targets = [*moses_sample[1100:2200], "CCO", "CCO", "CCO", "C1CC"]
    canon, sims = chem.canonical_similarities(values, targets, n_jobs=n_jobs)
    assert canon == [chem.canonical_pair(v)[0] for v in values]
    expected = [chem.tanimoto(t, c) if c is not None else math.nan for c, t in zip(canon, targets)]
    assert [round(s, 12) if s == s else "nan" for s in sims] == [
        round(e, 12) if e == e else "nan" for e in expected
    ]
    with pytest.raises(ValueError, match="1 values but 2 targets"):
        chem.canonical_similarities(["C"], ["C", "CC"])


def test_standardize_reports_what_changed():
    from molvae.chem import standardized_forms, standardized_pair

    assert standardized_pair("C[C@H](N)C(=O)[O-].[Na+]", keep_stereo=False) == (
        "CC(N)C(=O)O",
        None,
        "fragment,charge,stereo",
    )
    assert standardized_pair("C[C@H](N)C(=O)O", keep_stereo=True) == ("C[C@H](N)C(=O)O", None, None)
    assert standardized_pair("C/C=C/C", keep_stereo=False)[2] == "stereo"
    assert standardized_pair("C[N+](C)(C)C.[Cl-]")[2] == "fragment"  # a quaternary N stays charged
    canon, why, changes = standardized_forms(["CCO", "xx", None, "CC(=O)[O-]"])
    assert canon == ["CCO", None, None, "CC(=O)O"]
    assert why == [None, "unparseable", "not_a_string", None]
    assert changes == [None, None, None, "charge"]


def test_a_property_named_twice_is_refused():
    with pytest.raises(ValueError, match=r"more than once: \['qed'\]"):
        mv.score(["CCO"], properties=["qed", "logp", "qed"])
