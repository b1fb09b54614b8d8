"""plugins/plugin_utils/report_files.py: report.json and report.md written whole, with their modes."""

import json
import os
import stat

import pytest

from ansible_collections.mcpops.runbooks.plugins.plugin_utils.report_files import write_atomically, write_report


def test_write_atomically_replaces_the_file_and_sets_its_mode(tmp_path):
    path = tmp_path / "report.md"
    path.write_text("old")
    write_atomically(str(path), "new text", mode=0o600)
    assert path.read_text() == "new text"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert os.listdir(tmp_path) == ["report.md"]  # no temp file left behind


def test_write_atomically_keeps_the_old_file_and_leaves_no_temp_file_when_writing_fails(tmp_path):
    path = tmp_path / "report.md"
    path.write_text("old")
    with pytest.raises(TypeError):
        write_atomically(str(path), 12345)  # neither text nor bytes: the write itself fails
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["report.md"]


def test_write_atomically_takes_bytes_as_they_are_and_sets_the_mode(tmp_path):
    path = tmp_path / "job_events.json"
    write_atomically(str(path), b"\xff raw \x00", mode=0o600)
    assert path.read_bytes() == b"\xff raw \x00"
    assert oct(path.stat().st_mode & 0o777) == oct(0o600)


def test_write_report_makes_a_private_dir_and_writes_both_files(tmp_path):
    directory = tmp_path / "runs" / "20261124T020000Z-inc-003-restore"
    report = {"runbook": {"id": "inc-003-restore"}, "steps": [1, 2]}
    path = write_report(str(directory), report, "# INC-003\n")
    assert path == str(directory / "report.md")
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert json.loads((directory / "report.json").read_text()) == report
    assert (directory / "report.md").read_text() == "# INC-003\n"
    assert stat.S_IMODE((directory / "report.json").stat().st_mode) == 0o644
