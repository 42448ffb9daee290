from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import molvae as mv
from molvae.chem import canonical
from molvae.tokenizers import BOS, EOS, FORMAT_VERSION, PAD


@pytest.fixture(scope="module")
def tokenizers(moses_sample):
    return {
        "smiles": mv.SmilesTokenizer.build(moses_sample),
        "smiles-char": mv.SmilesCharTokenizer.build(moses_sample),
        "selfies": mv.SelfiesTokenizer.build(moses_sample),
    }


@pytest.mark.parametrize("kind", ["smiles", "smiles-char"])
def test_smiles_round_trip_is_identical_on_moses(tokenizers, moses_sample, kind):
    tok = tokenizers[kind]
    assert len(moses_sample) >= 5000
    for s in moses_sample:
        assert tok.decode(tok.encode(s)) == s


def test_selfies_round_trip_is_same_molecule_on_moses(tokenizers, moses_sample):
    tok = tokenizers["selfies"]
    for s in moses_sample:
        assert canonical(tok.decode(tok.encode(s))) == canonical(s)


def test_regex_keeps_multichar_atoms_whole():
    tok = mv.SmilesTokenizer()
    assert tok.tokenize("ClC(Br)[C@@H]1CC[nH+]%10c1") == [
        "Cl",
        "C",
        "(",
        "Br",
        ")",
        "[C@@H]",
        "1",
        "C",
        "C",
        "[nH+]",
        "%10",
        "c",
        "1",
    ]
    assert tok.tokenize("[N+](=O)[O-]") == ["[N+]", "(", "=", "O", ")", "[O-]"]


def test_char_mode_is_one_character_per_token():
    tok = mv.SmilesCharTokenizer()
    assert tok.tokenize("Cl[nH]") == list("Cl[nH]")


def test_ids_frame_with_bos_eos_and_decode_ignores_pad():
    tok = mv.SmilesTokenizer.build(["CCO"])
    ids = tok.encode("CCO")
    assert ids[0] == BOS and ids[-1] == EOS and len(ids) == 5
    assert tok.decode([*ids, PAD, PAD]) == "CCO"
    assert tok.decode([BOS, *ids[1:-1], EOS, *ids[1:]]) == "CCO"  # stops at eos
    assert tok.decode(torch.tensor(ids)) == "CCO"


def test_unseen_token_error_quotes_input_and_position():
    tok = mv.SmilesTokenizer.build(["CCO", "c1ccccc1"])
    with pytest.raises(mv.TokenizerError) as info:
        tok.encode("CC[Se]O")
    err = info.value
    assert err.input == "CC[Se]O" and err.position == 2
    assert "[Se]" in str(err) and "CC[Se]O" in str(err)


def test_lexical_errors_give_position():
    tok = mv.SmilesTokenizer.build(["CCO"])
    with pytest.raises(mv.TokenizerError) as info:
        tok.encode("CC[C")
    assert info.value.position == 2 and "bracket" in str(info.value)
    for bad in ["", None, 3, "C C"]:
        with pytest.raises(mv.TokenizerError):
            tok.encode(bad)


def test_selfies_rejects_what_it_cannot_encode():
    tok = mv.SelfiesTokenizer.build(["CCO"])
    with pytest.raises(mv.TokenizerError, match="RDKit cannot parse"):
        tok.encode("C1CC")
    with pytest.raises(mv.TokenizerError) as info:
        tok.encode("CCN")
    assert "[N]" in str(info.value) and info.value.position == 6  # position in the SELFIES string


def test_encode_batch_reports_bad_rows_and_pads():
    tok = mv.SmilesTokenizer.build(["CCO", "CC"])
    enc = tok.encode_batch(["CCO", "CX", None, "CC", "CCOCCO"], max_len=4)
    assert enc.rows == [0, 3]
    assert enc.errors == {1: "untokenizable", 2: "untokenizable", 4: "too_long"}
    assert "6 tokens > max_len 4" in enc.details[4]
    assert "'X'" in enc.details[1]
    assert enc.ids.dtype == torch.long and enc.ids.shape == (2, 5)
    assert enc.lengths.tolist() == [5, 4]
    assert enc.ids[1, -1].item() == PAD
    assert tok.decode_batch(enc.ids) == ["CCO", "CC"]


@pytest.mark.parametrize("kind", ["smiles", "smiles-char", "selfies"])
def test_to_dict_round_trip_is_plain_data(tokenizers, kind):
    import json

    tok = tokenizers[kind]
    d = json.loads(json.dumps(tok.to_dict()))
    back = mv.tokenizer_from_dict(d)
    assert back == tok and back.kind == kind
    assert type(back).from_dict(d) == tok


def test_from_dict_refuses_other_kind_and_newer_format(tokenizers):
    d = tokenizers["selfies"].to_dict()
    with pytest.raises(mv.TokenizerError, match="selfies"):
        mv.SmilesTokenizer.from_dict(d)
    with pytest.raises(mv.TokenizerError, match="format_version"):
        mv.tokenizer_from_dict({**d, "format_version": FORMAT_VERSION + 1})
    with pytest.raises(mv.TokenizerError, match="unknown tokenizer kind"):
        mv.tokenizer_from_dict({**d, "kind": "inchi"})
    with pytest.raises(mv.TokenizerError, match="lacks keys"):
        mv.tokenizer_from_dict({"kind": "smiles"})
    with pytest.raises(mv.TokenizerError):
        mv.tokenizer_from_dict("not a dict")


def test_build_counts_and_skips_bad_inputs(caplog):
    with caplog.at_level("WARNING"):
        tok = mv.SmilesTokenizer.build(["CCO", None, "C X", "CN"])
    assert "skipped 2" in caplog.text
    assert set(tok.vocab.tokens) == {"C", "O", "N"}
    with pytest.raises(mv.TokenizerError):
        mv.SmilesTokenizer.build([None, ""])


_ALPHABET = "CNOScnos()[]=#@+-123456789%/\\HlBr. xX"


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.one_of(st.text(alphabet=_ALPHABET, max_size=30), st.text(max_size=20)))
def test_fuzz_round_trip_or_tokenizer_error(tokenizers, s):
    for kind, tok in tokenizers.items():
        try:
            ids = tok.encode(s)
        except mv.TokenizerError:
            continue
        out = tok.decode(ids)
        if kind == "selfies":
            assert canonical(out) == canonical(s)
        else:
            assert out == s
