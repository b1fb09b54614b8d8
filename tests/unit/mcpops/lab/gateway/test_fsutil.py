"""atomic_write (mcpops.lab.gateway.fsutil): the one atomic writer of src/mcpops, for the gateway, the labs,
the seed and the fixtures."""

import os
import stat

import pytest

from mcpops.lab.gateway import fsutil


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_text_is_written_as_utf8_and_bytes_as_they_are(tmp_path):
    fsutil.atomic_write(tmp_path / "a.txt", "Контрагенты\n")
    assert (tmp_path / "a.txt").read_bytes() == "Контрагенты\n".encode("utf-8")
    fsutil.atomic_write(tmp_path / "b.bin", b"\x00\xff")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\xff"


def test_the_mode_is_the_one_asked_for_and_the_default_is_0644(tmp_path):
    fsutil.atomic_write(tmp_path / "secret", "s3cr3t\n", 0o600)
    fsutil.atomic_write(tmp_path / "public", "x\n")
    assert mode_of(tmp_path / "secret") == 0o600 and mode_of(tmp_path / "public") == 0o644
    fsutil.atomic_write(tmp_path / "public", "y\n", 0o640)  # a rewrite takes the new mode
    assert mode_of(tmp_path / "public") == 0o640 and (tmp_path / "public").read_text() == "y\n"


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch):
    target = tmp_path / "tokens.json"
    fsutil.atomic_write(target, '{"tokens": []}\n')

    def refuse(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(fsutil.os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        fsutil.atomic_write(target, '{"tokens": [ {"id": ')
    assert target.read_text() == '{"tokens": []}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tokens.json"]


def test_json_is_written_compact_with_a_newline(tmp_path):
    fsutil.atomic_write_json(tmp_path / "meta.json", {"schemaVersion": 3, "stores": ["tokens"]}, 0o600)
    assert (tmp_path / "meta.json").read_text() == '{"schemaVersion":3,"stores":["tokens"]}\n'
    assert mode_of(tmp_path / "meta.json") == 0o600
