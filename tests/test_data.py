from __future__ import annotations

import gzip
import math

import numpy as np
import pandas as pd
import pytest

import molvae as mv
from molvae.data import (
    batch_indices,
    load_prepared,
    padding_fraction,
    read_smiles,
    save_prepared,
)
from molvae.tokenizers import BOS, EOS, PAD


# ---- reading files: bad input gets a clear answer ----------------------------------------------
def test_empty_file(tmp_path):
    f = tmp_path / "empty.smi"
    f.write_text("")
    with pytest.raises(mv.DataError, match="empty"):
        mv.read_smiles(f)


def test_whitespace_only_file(tmp_path):
    f = tmp_path / "blank.smi"
    f.write_text("   \n\t\n  \n")
    with pytest.raises(mv.DataError, match="empty|blank"):
        mv.read_smiles(f)


def test_header_only_csv(tmp_path):
    f = tmp_path / "h.csv"
    f.write_text("smiles,activity\n")
    with pytest.raises(mv.DataError, match="no rows"):
        mv.read_smiles(f)


def test_header_only_smi(tmp_path):
    f = tmp_path / "h.smi"
    f.write_text("SMILES\n")
    with pytest.raises(mv.DataError, match="no rows"):
        mv.read_smiles(f)


def test_misspelled_column_lists_columns(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("SMILES,pIC50\nCCO,5\n")
    with pytest.raises(mv.DataError) as info:
        mv.read_smiles(f, column="smile")
    assert "'SMILES'" in str(info.value) and "'pIC50'" in str(info.value)
    assert "did you mean" in str(info.value)


def test_missing_smiles_column_lists_columns(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("name,value\nethanol,1\n")
    with pytest.raises(mv.DataError, match=r"\['name', 'value'\]"):
        mv.read_smiles(f)


def test_binary_junk(tmp_path):
    f = tmp_path / "junk.smi"
    f.write_bytes(bytes(range(256)) * 10)
    with pytest.raises(mv.DataError, match="binary"):
        mv.read_smiles(f)
    g = tmp_path / "junk.csv"
    g.write_bytes(b"\xff\xfe\xfa" * 100 + b"abc")
    with pytest.raises(mv.DataError, match="UTF-8|binary"):
        mv.read_smiles(g)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(mv.DataError, match="no such file"):
        mv.read_smiles(tmp_path / "nope.smi")
    with pytest.raises(mv.DataError, match="directory"):
        mv.read_smiles(tmp_path)


def test_reads_smi_csv_and_gz(tmp_path):
    smi = tmp_path / "a.smi"
    smi.write_text("smiles\nCCO ethanol\n\nc1ccccc1\n")
    assert mv.read_smiles(smi).tolist() == ["CCO", "", "c1ccccc1"]
    csv = tmp_path / "b.csv.gz"
    with gzip.open(csv, "wt") as f:
        f.write("id,canonical_smiles\n1,CCO\n2,\n")
    s = mv.read_smiles(csv)
    assert s.name == "smiles" and s.tolist() == ["CCO", ""]


# ---- prepare: every dropped row is counted ------------------------------------------------------
def test_prepare_counts_every_reason():
    rows = ["CCO", "OCC", "C1CC", None, math.nan, 3.5, "", "   ", "C" * 50, "c1ccccc1"]
    data = mv.prepare(rows, "smiles", max_len=20)
    r = data.report
    assert data.smiles == ["CCO", "c1ccccc1"]
    assert r.read == 10 and r.kept == 2
    assert r.dropped == {
        "not_a_string": 3,
        "empty": 2,
        "unparseable": 1,
        "duplicate": 1,
        "too_long": 1,
    }
    assert r.kept + r.n_dropped == r.read
    assert "C1CC" in r.examples["unparseable"]


def test_prepare_accepts_dataframe_column_with_nan():
    df = pd.DataFrame({"smiles": ["CCO", None, np.nan, "CCN"]})
    data = mv.prepare(df["smiles"], "smiles")
    assert data.report.dropped == {"not_a_string": 2}
    with pytest.raises(mv.DataError, match="column"):
        mv.prepare(df, "smiles")


def test_prepare_unknown_token_with_given_tokenizer():
    tok = mv.SmilesTokenizer.build(["CCO"])
    data = mv.prepare(["CCO", "CCN", "OCCO"], tok)
    assert data.smiles == ["CCO", "OCCO"]
    assert data.report.dropped == {"unknown_token": 1}
    assert data.tokenizer is tok


def test_prepare_largest_fragment_and_no_canonicalize():
    data = mv.prepare(["CCO.[Na+].[Cl-]", "OCC"], "smiles", largest_fragment=True)
    assert data.smiles == ["CCO"] and data.report.dropped == {"duplicate": 1}
    raw = mv.prepare(["OCC", "CCO"], "smiles", canonicalize=False)
    assert raw.smiles == ["OCC", "CCO"]


def test_prepare_all_invalid_raises_with_report():
    with pytest.raises(mv.DataError, match="no molecule survived"):
        mv.prepare(["xyz", None, "C1CC"], "smiles")


def test_prepare_selfies_and_parallel_match_serial(moses_sample):
    sample = moses_sample[:400]
    serial = mv.prepare(sample, "selfies")
    parallel = mv.prepare(sample, "selfies", n_jobs=2, chunk_size=100)
    assert serial.smiles == parallel.smiles
    assert np.array_equal(serial.tokens, parallel.tokens)
    for i in range(len(serial)):
        assert serial.tokenizer.encode(serial.smiles[i]) == serial.ids(i)


def test_prepared_arrays_decode_back(moses_sample):
    data = mv.prepare(moses_sample[:500], "smiles")
    ids, lengths = data.batch([0, 7, 3])
    assert ids.shape[0] == 3 and ids[:, 0].tolist() == [BOS] * 3
    for row, i in zip(ids, [0, 7, 3]):
        assert data.tokenizer.decode(row) == data.smiles[i]
    assert (ids[np.arange(3), lengths - 1] == EOS).all()
    assert ids[np.arange(ids.shape[1])[None, :] >= lengths[:, None]].tolist() == [PAD] * int(
        (ids.shape[1] - lengths).sum()
    )


def test_subset_and_split(moses_sample):
    data = mv.prepare(moses_sample[:300], "smiles-char")
    sub = data.subset([5, 1])
    assert sub.smiles == [data.smiles[5], data.smiles[1]]
    assert sub.ids(0) == data.ids(5) and sub.ids(1) == data.ids(1)
    a, b = data.split(0.1, seed=1)
    assert len(a) + len(b) == len(data) and len(b) == 30
    assert not set(a.smiles) & set(b.smiles)


# ---- cache ----------------------------------------------------------------------------------------
def test_prepare_file_caches(tmp_path, moses_sample, caplog):
    f = tmp_path / "m.smi"
    f.write_text("\n".join(moses_sample[:200]) + "\n")
    first = mv.prepare_file(f, "smiles")
    with caplog.at_level("INFO"):
        second = mv.prepare_file(f, "smiles")
    assert "from cache" in caplog.text
    assert first.smiles == second.smiles and np.array_equal(first.tokens, second.tokens)
    assert second.report == first.report and second.tokenizer == first.tokenizer
    # a different tokenizer is a different cache entry
    third = mv.prepare_file(f, "smiles-char")
    assert third.tokenizer.kind == "smiles-char"
    # a changed file is a different cache entry
    f.write_text("\n".join(moses_sample[:100]) + "\n")
    assert len(mv.prepare_file(f, "smiles")) == 100


def test_damaged_cache_is_reported_not_used(tmp_path):
    p = tmp_path / "x.npz"
    p.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(mv.DataError, match="unreadable"):
        load_prepared(p)


def test_save_load_prepared(tmp_path):
    data = mv.prepare(["CCO", "c1ccccc1"], "selfies")
    save_prepared(data, tmp_path / "d.npz")
    back = load_prepared(tmp_path / "d.npz")
    assert back.smiles == data.smiles and back.tokenizer == data.tokenizer


# ---- batching -------------------------------------------------------------------------------------
def test_bucketing_cuts_padding(moses_sample):
    data = mv.prepare(moses_sample, "smiles")
    plain = batch_indices(data.lengths, 128, bucket=False, seed=0)
    bucketed = batch_indices(data.lengths, 128, bucket=True, seed=0)
    assert sorted(np.concatenate(bucketed).tolist()) == list(range(len(data)))
    assert padding_fraction(data.lengths, bucketed) < 0.10 < padding_fraction(data.lengths, plain)


def test_batch_indices_seeded_and_drop_last():
    lengths = np.arange(10) + 3
    a = batch_indices(lengths, 3, seed=5)
    b = batch_indices(lengths, 3, seed=5)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert all(len(x) == 3 for x in batch_indices(lengths, 3, drop_last=True))
    with pytest.raises(ValueError):
        batch_indices(lengths, 0)


def test_bom_utf16_and_the_column_named_exactly_smiles(tmp_path):
    """A UTF-8 BOM no longer hides the header; UTF-16 exports are read, not called binary; a
    ``smiles`` column wins over ``smiles_id`` that comes first."""
    from molvae.data import read_samples

    bom = tmp_path / "bom.smi"
    bom.write_bytes(b"\xef\xbb\xbfsmiles\nCCO\nc1ccccc1\n")
    assert read_smiles(bom).tolist() == ["CCO", "c1ccccc1"]
    assert read_samples(bom) == ["CCO", "c1ccccc1"]  # the header is not a sample
    u16 = tmp_path / "u16.csv"
    u16.write_bytes("id,SMILES\n1,CCO\n2,CCN\n".encode("utf-16"))
    assert read_smiles(u16).tolist() == ["CCO", "CCN"]
    ids = tmp_path / "ids.csv"
    ids.write_text("smiles_id,smiles\nm1,CCO\nm2,CCN\n")
    assert read_smiles(ids).tolist() == ["CCO", "CCN"]
    assert read_samples(ids) == ["CCO", "CCN"]


def test_evaluate_does_not_count_a_header_line(tmp_path):
    from molvae.data import read_samples

    f = tmp_path / "s.smi"
    f.write_text("SMILES\nCCO\n\nxx\n")
    assert read_samples(f) == ["CCO", "", "xx"]  # blank and junk lines stay samples


def test_a_cache_whose_arrays_disagree_is_not_used(tmp_path):
    import json as _json

    data = mv.prepare(["CCO", "c1ccccc1", "CCN"], "smiles")
    save_prepared(data, tmp_path / "d.npz")
    with np.load(tmp_path / "d.npz") as z:
        arrays = {k: z[k] for k in z.files}
    cut = {**arrays, "offsets": arrays["offsets"][:-1]}  # offsets cut short
    wild = {**arrays, "tokens": arrays["tokens"].astype(np.int32) + 200}  # beyond the vocabulary
    for name, bad in (("cut.npz", cut), ("wild.npz", wild)):
        np.savez(tmp_path / name, **bad)
        with pytest.raises(mv.DataError, match="disagree|outside the vocabulary"):
            load_prepared(tmp_path / name)
    assert _json.loads(str(arrays["meta"]))["cache_version"] >= 2


def test_stale_temporary_files_in_the_cache_are_removed(tmp_path, moses_sample):
    import os
    import time

    from molvae.data import cache_dir

    f = tmp_path / "d.smi"
    f.write_text("\n".join(moses_sample[:20]) + "\n")
    mv.prepare_file(f, "smiles")
    folder = cache_dir() / "prepared"
    old, fresh = folder / ".d.smi.abc.npz.tmp", folder / ".d.smi.def.npz.tmp"
    for p in (old, fresh):
        p.write_bytes(b"half")
    hours_ago = time.time() - 2 * 3600
    os.utime(old, (hours_ago, hours_ago))
    mv.prepare_file(f, "smiles")
    assert not old.exists() and fresh.exists()  # a fresh one may be another process's
