from __future__ import annotations

import os

import pytest

from molvae.files import (
    atomic_write,
    check_writable,
    is_stream,
    remove_stale_temps,
    table_format,
    table_writer,
    write_table,
)


def test_atomic_write_creates_folders_and_never_leaves_half_a_file(tmp_path):
    path = tmp_path / "a" / "b" / "out.txt"
    with atomic_write(path) as f:
        f.write("first")
    assert path.read_text() == "first"
    mask = os.umask(0)
    os.umask(mask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~mask
    with pytest.raises(RuntimeError), atomic_write(path) as f:
        f.write("second, half")
        raise RuntimeError("killed")
    assert path.read_text() == "first"
    assert [p.name for p in path.parent.iterdir()] == ["out.txt"]


def test_stale_temps_are_removed_and_outputs_checked(tmp_path):
    (tmp_path / ".best.pt.abc.tmp").write_bytes(b"half")
    (tmp_path / "keep.tmp").write_bytes(b"")
    assert [p.name for p in remove_stale_temps(tmp_path)] == [".best.pt.abc.tmp"]
    assert (tmp_path / "keep.tmp").exists()
    assert check_writable(tmp_path / "new" / "x.csv").parent.is_dir()
    with pytest.raises(IsADirectoryError):
        check_writable(tmp_path)
    (tmp_path / "file").write_text("")
    with pytest.raises(OSError):
        check_writable(tmp_path / "file" / "x.csv")


def test_a_symlink_is_written_through_and_a_fifo_is_not_replaced(tmp_path):
    import threading

    target = tmp_path / "real.csv"
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    with atomic_write(link) as f:
        f.write("smiles\nCCO\n")
    assert link.is_symlink() and target.read_text() == "smiles\nCCO\n"
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []

    def read() -> None:
        with open(fifo) as f:
            got.append(f.read())

    reader = threading.Thread(target=read)
    reader.start()
    with atomic_write(fifo) as f:
        f.write("through the pipe\n")
    reader.join(timeout=10)
    assert got == ["through the pipe\n"]
    assert is_stream(fifo) and is_stream("/dev/null") and not is_stream(target)


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".tsv", ".smi"])
def test_tables_are_written_in_the_format_of_their_suffix(tmp_path, suffix):
    import pandas as pd

    df = pd.DataFrame({"smiles": ["CCO", "c1ccccc1", "NA"], "valid": [True, True, False]})
    path = tmp_path / f"t{suffix}"
    with table_writer(path) as w:  # in two chunks: one header
        w.write(df.iloc[:2])
        w.write(df.iloc[2:])
    if suffix == ".smi":
        assert path.read_text() == "CCO\nc1ccccc1\nNA\n"
    else:
        back = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", keep_default_na=False)
        pd.testing.assert_frame_equal(back, df)
    if suffix == ".csv.gz":
        assert path.read_bytes()[:2] == b"\x1f\x8b"


def test_unknown_table_suffixes_are_refused_before_any_work(tmp_path):
    for name in ("out.npy", "out.txt", "out"):
        with pytest.raises(ValueError, match="unknown table suffix"):
            table_format(tmp_path / name)
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        with pytest.raises(ValueError, match="pyarrow"):
            table_format(tmp_path / "out.parquet")
    assert table_format("/dev/stdout") == ".csv"
    import pandas as pd

    with pytest.raises(ValueError, match="smiles"):
        write_table(pd.DataFrame({"z0": [1.0]}), tmp_path / "z.smi")
    assert not (tmp_path / "z.smi").exists()
