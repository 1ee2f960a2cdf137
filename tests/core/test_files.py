"""write_atomically: the new content replaces the old whole, and a failed write leaves the old one."""
from __future__ import annotations

import os

import pytest
from stackeye.core import files


def test_replaces_the_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text("old")
    files.write_atomically(str(path), "new")
    assert path.read_text() == "new" and os.listdir(tmp_path) == ["p.toml"]


def test_a_failed_write_keeps_the_old_content(tmp_path, monkeypatch):
    path = tmp_path / "p.toml"
    path.write_text("old")
    monkeypatch.setattr(files.os, "replace", lambda *a: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        files.write_atomically(str(path), "new")
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["p.toml"]
