from __future__ import annotations

import pytest

import molvae as mv
from molvae import datasets


def test_moses_splits_have_published_counts():
    test = datasets.load("moses", split="test")
    assert list(test.columns) == ["smiles"] and len(test) == 176_074
    scaf = datasets.load("moses", split="test_scaffolds")
    assert len(scaf) == 176_225


def test_moses_train_count():
    assert len(datasets.load("moses", split="train")) == 1_584_663


def test_unknown_dataset_and_split_list_known_ones():
    with pytest.raises(mv.DataError, match="moses"):
        datasets.load("chembl")
    with pytest.raises(mv.DataError, match="test_scaffolds"):
        datasets.load("moses", split="valid")


def test_load_file(tmp_path):
    f = tmp_path / "mine.csv"
    f.write_text("Name,Smiles\naspirin,CC(=O)Oc1ccccc1C(=O)O\n")
    df = datasets.load_file(f)
    assert df.smiles.tolist() == ["CC(=O)Oc1ccccc1C(=O)O"]


def test_zinc250k_downloads_once_into_cache(tmp_path):
    src = tmp_path / "zinc_src.csv"
    src.write_text('smiles,logP,qed,SAS\n"CCO\n",0.1,0.4,1.9\n"c1ccccc1\n",1.7,0.44,1.0\n')
    cache = tmp_path / "cache"
    df = datasets.zinc250k(url=src.as_uri(), cache=cache)
    assert df.smiles.tolist() == ["CCO", "c1ccccc1"]
    src.unlink()  # the second call must not touch the URL
    assert len(datasets.zinc250k(url=src.as_uri(), cache=cache)) == 2


def test_download_checksum_and_bad_url(tmp_path):
    src = tmp_path / "f.txt"
    src.write_text("CCO\n")
    with pytest.raises(mv.DataError, match="checksum"):
        datasets.download(src.as_uri(), tmp_path / "out.txt", sha256="0" * 64)
    assert not (tmp_path / "out.txt").exists()
    with pytest.raises(mv.DataError, match="cannot download"):
        datasets.download((tmp_path / "missing").as_uri(), tmp_path / "out.txt")


def test_resolve_data_specs(tmp_path):
    assert mv.datasets.resolve("moses:test") == mv.datasets.path("moses", "test")
    assert str(mv.datasets.resolve("my/file.smi")) == "my/file.smi"
    odd = tmp_path / "a:b.smi"  # an existing file whose name holds a colon stays a path
    odd.write_text("CCO\n")
    assert mv.datasets.resolve(str(odd)) == odd
    with pytest.raises(mv.DataError, match="unknown dataset 'zinc'"):
        mv.datasets.resolve("zinc:train")
    with pytest.raises(mv.DataError, match="no split"):
        mv.datasets.resolve("moses:valid")
