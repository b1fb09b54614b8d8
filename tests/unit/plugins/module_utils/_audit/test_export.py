"""_audit/export.py directly: the redacted export, written atomically with mode 0600, idempotent, check mode."""

import hashlib
import os
import stat

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._audit.export import ExportError, ExportWriter


def export(path, lines, check_mode=False, buffer_lines=4096):
    writer = ExportWriter(str(path), lambda line: line.upper(), check_mode=check_mode, buffer_lines=buffer_lines)
    for line in lines:
        writer.write(line)
    return writer.finish()


def test_writes_redacted_lines_0600_and_leaves_no_temp_file(tmp_path):
    dest = tmp_path / "export.jsonl"
    done = export(dest, [b"a", b"b", b"c"], buffer_lines=2)  # one flush mid-way, one at the end
    assert dest.read_bytes() == b"A\nB\nC\n"
    assert done == {"path": str(dest), "lines": 3, "sha256": hashlib.sha256(b"A\nB\nC\n").hexdigest(),
                    "changed": True, "written": True}
    assert stat.S_IMODE(os.stat(str(dest)).st_mode) == 0o600 and os.listdir(str(tmp_path)) == ["export.jsonl"]


def test_same_content_leaves_the_file_alone_but_a_wider_mode_is_rewritten(tmp_path):
    dest = tmp_path / "export.jsonl"
    export(dest, [b"a"])
    before = os.stat(str(dest)).st_ino
    again = export(dest, [b"a"])
    assert again["changed"] is False and again["written"] is False and os.stat(str(dest)).st_ino == before
    os.chmod(str(dest), 0o644)
    fixed = export(dest, [b"a"])
    assert fixed["changed"] is True and stat.S_IMODE(os.stat(str(dest)).st_mode) == 0o600
    assert os.listdir(str(tmp_path)) == ["export.jsonl"]


def test_check_mode_writes_nothing_and_says_whether_it_would(tmp_path):
    dest = tmp_path / "export.jsonl"
    planned = export(dest, [b"a", b"b"], check_mode=True)
    assert planned["changed"] is True and planned["written"] is False and planned["lines"] == 2
    assert os.listdir(str(tmp_path)) == []
    export(dest, [b"a", b"b"])
    assert export(dest, [b"a", b"b"], check_mode=True)["changed"] is False
    assert export(dest, [b"a"], check_mode=True)["changed"] is True and dest.read_bytes() == b"A\nB\n"


def test_abort_removes_the_temp_file(tmp_path):
    writer = ExportWriter(str(tmp_path / "export.jsonl"), lambda line: line)
    writer.write(b"a")
    writer.abort()
    assert os.listdir(str(tmp_path)) == []


@pytest.mark.parametrize("where, words", [("missing/export.jsonl", "does not exist; create it first"),
                                          ("adir", "is a directory")])
def test_bad_destinations_are_refused_before_writing(tmp_path, where, words):
    (tmp_path / "adir").mkdir()
    with pytest.raises(ExportError) as caught:
        ExportWriter(str(tmp_path / where), lambda line: line)
    assert words in caught.value.msg and sorted(os.listdir(str(tmp_path))) == ["adir"]
