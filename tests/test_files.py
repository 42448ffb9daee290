from __future__ import annotations

import os

import pytest

from molvae.files import atomic_write, check_writable, remove_stale_temps


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
