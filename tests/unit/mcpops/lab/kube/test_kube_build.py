"""The Kubernetes binaries' recipe and cache (mcpops.lab.kube.build), without building anything."""

import json

import pytest

from mcpops.lab.kube import build
from mcpops.lab.kube.errors import KubeLabError


def test_the_cache_key_follows_the_source_version_and_the_recipe(monkeypatch):
    before = build.recipe_hash()
    assert build.recipe_hash() == before
    monkeypatch.setattr(build, "SOURCE_VERSION", "1.20.5+really1.20.2-1.1+deb12u2")
    assert build.recipe_hash() != before
    monkeypatch.undo()
    monkeypatch.setattr(build, "COMMANDS", ("kube-apiserver",))
    assert build.recipe_hash() != before


def test_the_version_flags_name_the_upstream_release():
    flags = build.version_ldflags()
    assert "version.gitVersion=v1.20.2" in flags and "version.gitMajor=1 " in flags and "gitMinor=20 " in flags


def test_a_complete_cache_entry_is_used_without_building(tmp_path):
    binaries = build.KubeBinaries(cache=tmp_path, out=None)
    binaries.bin.mkdir(parents=True)
    for path in (binaries.apiserver, binaries.controller_manager, binaries.kubectl):
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)
    assert not binaries.ready(), "no build.json: a half-made entry"
    binaries.marker.write_text(json.dumps({"hash": binaries.hash, "build_seconds": 1.0}))
    assert binaries.ready() and binaries.ensure() is binaries and binaries.info()["build_seconds"] == 1.0


def test_missing_tools_are_named_with_their_debian_packages(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on it
    with pytest.raises(KubeLabError) as err:
        build.KubeBinaries(cache=tmp_path / "cache", out=None).ensure()
    assert "golang-go" in str(err.value) and "dpkg-dev" in str(err.value) and "rsync" in str(err.value)
    assert not (tmp_path / "cache").exists(), "nothing is made before the tools are there"


def test_the_private_apt_writes_nothing_of_the_systems(tmp_path):
    apt = build.PrivateApt(tmp_path / "apt", "http://mirror.invalid/debian")
    argv = apt.argv("update")
    options = dict(argv[i + 1].split("=", 1) for i, arg in enumerate(argv) if arg == "-o")
    for key in ("Dir::Etc::SourceParts", "Dir::State::Lists", "Dir::Cache"):
        assert options[key].startswith(str(tmp_path)), key
    assert options["Dir::Etc::SourceList"] == "/dev/null"
    sources = (tmp_path / "apt" / "sources.list.d" / "debian.sources").read_text()
    assert "Types: deb deb-src" in sources and "URIs: http://mirror.invalid/debian" in sources
    assert "Suites: bookworm" in sources and "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" in sources


def test_an_unwritable_cache_says_how_to_get_one(tmp_path, monkeypatch):
    monkeypatch.setattr(build, "missing_tools", lambda: {})
    monkeypatch.setattr(build.os, "access", lambda path, mode: False)
    with pytest.raises(KubeLabError, match="MCPOPS_KUBE_CACHE"):
        build.KubeBinaries(cache=tmp_path / "cache", out=None).ensure()
