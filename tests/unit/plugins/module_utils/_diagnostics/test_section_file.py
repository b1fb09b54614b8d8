"""A section's file: its title, host, each step's command, exit and output; secrets masked; written 0600."""

import hashlib
import os
import stat

from ansible_collections.mcpops.runbooks.plugins.module_utils._diagnostics.section_file import file_name, masked_steps, render, write


def test_render_names_each_step_and_its_exit():
    steps = [{"command": "uptime", "rc": 0, "output": "up 1 day\n", "duration_ms": 1.5, "truncated": False},
             {"command": "df -h /x", "rc": None, "output": "timed out\n", "duration_ms": 10.0, "truncated": True}]
    text = render("Resource Usage", "fleet1", "2026-12-05T14:00:00Z", steps)
    assert text.splitlines()[:3] == ["--- Resource Usage ---", "host: fleet1", "collected: 2026-12-05T14:00:00Z"]
    assert "$ uptime\n[exit 0, 1.5 ms]\nup 1 day\n" in text
    assert "$ df -h /x\n[did not run, 10.0 ms, output cut]\ntimed out\n" in text
    assert file_name(3, "network-connectivity") == "03-network-connectivity.txt"


def test_masked_steps_hide_a_secret_anywhere():
    steps = masked_steps([{"command": "c sekrit-value", "output": "echo sekrit-value", "rc": 0}], ["sekrit-value", ""])
    assert "sekrit-value" not in str(steps) and steps[0]["output"] == "echo ********"


def test_write_is_0600_with_its_sha256(tmp_path):
    path, digest, size = write(str(tmp_path), "01-x.txt", "héllo\n")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    data = open(path, "rb").read()
    assert digest == hashlib.sha256(data).hexdigest() and size == len(data) == 7
