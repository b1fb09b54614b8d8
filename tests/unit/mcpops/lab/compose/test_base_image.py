"""The compose base image's cache: keyed by its recipe, reused while the recipe holds, rebuilt when it changes; never
built without root; imported into a daemon only when the daemon lacks its tag. No debootstrap, no daemon: the build
step and the docker CLI are replaced where they would run."""

import json
import os

import pytest

from mcpops.lab.compose import base_image
from mcpops.lab.compose.base_image import BaseImage, BaseImageError


def cached(tmp_path, image):
    image.dir.mkdir(parents=True)
    image.tar.write_bytes(b"tar")
    image.marker.write_text(json.dumps({"hash": image.hash, "build_seconds": 1.0}))


def test_the_hash_follows_the_recipe_and_not_the_mirror(monkeypatch):
    first = base_image.recipe_hash()
    monkeypatch.setenv("MCPOPS_COMPOSE_MIRROR", "http://mirror.invalid/debian")
    assert base_image.recipe_hash() == first
    with monkeypatch.context() as patch:
        patch.setattr(base_image, "PACKAGES", base_image.PACKAGES + ("curl",))
        assert base_image.recipe_hash() != first
    with monkeypatch.context() as patch:
        patch.setattr(base_image, "IMAGE_CHANGES", ())  # the image config is part of the recipe too
        assert base_image.recipe_hash() != first
    with monkeypatch.context() as patch:
        patch.setitem(base_image.FILES, "/usr/local/bin/mcpops-postgres", (0o755, "#!/bin/sh\n"))
        assert base_image.recipe_hash() != first
    assert base_image.recipe_hash() == first


def test_a_cached_tar_is_used_without_building(tmp_path, monkeypatch):
    image = BaseImage(cache=tmp_path)
    cached(tmp_path, image)
    monkeypatch.setattr(BaseImage, "_build", lambda self: pytest.fail("built although cached"))
    assert image.ensure() == image.tar
    assert image.tag == "mcpops-lab/base:" + image.hash
    assert image.info()["build_seconds"] == 1.0


def test_a_changed_recipe_builds_a_new_entry(tmp_path, monkeypatch):
    old = BaseImage(cache=tmp_path)
    cached(tmp_path, old)
    monkeypatch.setattr(base_image, "PACKAGES", base_image.PACKAGES + ("curl",))
    new = BaseImage(cache=tmp_path)
    assert new.hash != old.hash and not new.ready()
    built = []
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(base_image.shutil, "which", lambda name, path=None: "/usr/sbin/" + name)
    monkeypatch.setattr(BaseImage, "_build", lambda self: built.append(self.hash) or cached(tmp_path, self))
    assert new.ensure() == new.tar
    assert built == [new.hash]
    assert old.ready()  # the old entry is left for a checkout still on the old recipe


def test_a_half_built_entry_is_not_ready(tmp_path):
    image = BaseImage(cache=tmp_path)
    image.dir.mkdir(parents=True)
    image.tar.write_bytes(b"partial")  # no image.json: the build did not finish
    assert not image.ready()


def test_building_needs_root(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(BaseImageError, match="needs root"):
        BaseImage(cache=tmp_path).ensure()


class FakeDocker:
    def __init__(self, has):
        self.has, self.calls = has, []

    def image_exists(self, ref):
        return self.has

    def run(self, *args, timeout=None):
        self.calls.append(args)


def test_import_only_when_the_daemon_lacks_the_tag(tmp_path):
    image = BaseImage(cache=tmp_path)
    cached(tmp_path, image)
    present = FakeDocker(has=True)
    assert image.import_into(present) == image.tag and present.calls == []
    missing = FakeDocker(has=False)
    image.import_into(missing)
    (args,) = missing.calls
    assert args[0] == "import" and args[-2:] == (str(image.tar), image.tag)
    assert "LABEL org.mcpops.recipe=" + image.hash in args
    assert "ENV LANG=C.UTF-8" in args


def test_provision_adds_the_entrypoint_and_drops_the_packaged_cluster(tmp_path):
    (tmp_path / "var/lib/postgresql/15/main").mkdir(parents=True)
    (tmp_path / "etc/postgresql/15/main").mkdir(parents=True)
    base_image._provision(tmp_path)
    entry = tmp_path / "usr/local/bin/mcpops-postgres"
    assert entry.read_text().startswith("#!/bin/sh") and os.access(entry, os.X_OK)
    assert not (tmp_path / "var/lib/postgresql/15/main").exists()
    assert not (tmp_path / "etc/postgresql/15/main").exists()
