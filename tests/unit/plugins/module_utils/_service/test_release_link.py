"""release_link's logic on real directories and symlinks in a temp dir: info, deploy, rollback, idempotence,
check mode, and hostile layouts (links out of the releases dir, symlinked releases, bad version names)."""

import json
import os

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._service import release_link as rl
from ansible_collections.mcpops.runbooks.plugins.module_utils._service.release_link_run import run


@pytest.fixture
def releases(tmp_path):
    root = tmp_path / "releases"
    root.mkdir()
    for version in ("1.0.0", "1.0.1", "1.0.10", "1.0.2"):
        (root / version).mkdir()
        (root / version / "release.json").write_text(json.dumps({"version": version, "defect": None}))
    (root / "nojson").mkdir()
    os.symlink("1.0.1", root / "current")
    os.symlink("1.0.0", root / "previous")
    return root


def links(root):
    return os.readlink(root / "current"), os.readlink(root / "previous")


def test_info_lists_links_and_versions_in_version_order(releases):
    result = run(dict(path=str(releases), state="info"))
    assert result["changed"] is False
    assert result["current"] == "1.0.1" and result["previous"] == "1.0.0"
    assert [v["name"] for v in result["versions"]] == ["1.0.0", "1.0.1", "1.0.2", "1.0.10", "nojson"]
    assert result["versions"][0]["version"] == "1.0.0" and result["versions"][-1]["version"] is None


def test_rollback_defaults_to_previous_then_is_idempotent(releases):
    result = run(dict(path=str(releases), state="rolled_back"))
    assert result["changed"] is True
    assert links(releases) == ("1.0.0", "1.0.1")
    assert result["before"] == {"current": "1.0.1", "previous": "1.0.0"}
    assert result["after"] == {"current": "1.0.0", "previous": "1.0.1"}
    assert "current -> 1.0.1" in result["diff"]["before"] and "current -> 1.0.0" in result["diff"]["after"]
    again = run(dict(path=str(releases), state="rolled_back", version="1.0.0"))
    assert again["changed"] is False and links(releases) == ("1.0.0", "1.0.1")
    assert not [n for n in os.listdir(releases) if n.startswith(".")]  # no temp link left


def test_deploy_sets_previous_to_old_current(releases):
    result = run(dict(path=str(releases), state="deployed", version="1.0.10"))
    assert result["changed"] is True and links(releases) == ("1.0.10", "1.0.1")
    assert result["current"] == "1.0.10"
    assert run(dict(path=str(releases), state="deployed", version="1.0.10"))["changed"] is False


def test_first_deploy_without_links(tmp_path):
    root = tmp_path / "r"
    (root / "1.0.0").mkdir(parents=True)
    result = run(dict(path=str(root), state="deployed", version="1.0.0"))
    assert result["changed"] is True and os.readlink(root / "current") == "1.0.0"
    assert not os.path.lexists(root / "previous")
    with pytest.raises(TaskError, match="no 'previous' link"):
        run(dict(path=str(root), state="rolled_back"))


def test_check_mode_changes_nothing_and_says_what_it_would(releases):
    result = run(dict(path=str(releases), state="deployed", version="1.0.2"), check_mode=True)
    assert result["changed"] is True and result["current"] == "1.0.2" and result["previous"] == "1.0.1"
    assert links(releases) == ("1.0.1", "1.0.0")


@pytest.mark.parametrize("version", ["../1.0.0", "1.0.0/..", "..", ".", "current", "previous", "/etc", ".hidden",
                                     "a\x00b", "missing"])
def test_bad_versions_are_refused_and_nothing_changes(releases, version):
    with pytest.raises(TaskError, match="refused"):
        run(dict(path=str(releases), state="deployed", version=version))
    assert links(releases) == ("1.0.1", "1.0.0")


def test_a_release_that_is_a_symlink_is_refused(releases, tmp_path):
    outside = tmp_path / "evil"
    outside.mkdir()
    os.symlink(str(outside), releases / "2.0.0")
    with pytest.raises(TaskError, match="is a symlink, not a release directory"):
        run(dict(path=str(releases), state="deployed", version="2.0.0"))
    assert "2.0.0" not in [v["name"] for v in run(dict(path=str(releases)))["versions"]]


@pytest.mark.parametrize("target", ["../elsewhere", "/etc", "1.0.0/../../elsewhere", "missing", "."])
def test_links_pointing_outside_are_refused_not_followed(releases, tmp_path, target):
    (tmp_path / "elsewhere").mkdir(exist_ok=True)
    os.unlink(releases / "current")
    os.symlink(target, releases / "current")
    for state in ("info", "rolled_back"):
        with pytest.raises(TaskError, match="current points to"):
            run(dict(path=str(releases), state=state))
    assert os.readlink(releases / "current") == target


def test_absolute_link_into_the_releases_dir_is_read(releases):
    os.unlink(releases / "previous")
    os.symlink(str(releases / "1.0.0"), releases / "previous")
    assert rl.read_link(str(releases), "previous") == "1.0.0"
    run(dict(path=str(releases), state="rolled_back"))
    assert links(releases) == ("1.0.0", "1.0.1")  # rewritten relative


def test_current_that_is_a_real_dir_is_refused(tmp_path):
    root = tmp_path / "r"
    (root / "1.0.0").mkdir(parents=True)
    (root / "current").mkdir()
    with pytest.raises(TaskError, match="is not a symlink"):
        run(dict(path=str(root), state="deployed", version="1.0.0"))


def test_releases_dir_that_is_a_symlink_or_missing_is_refused(releases, tmp_path):
    os.symlink(str(releases), tmp_path / "via-link")
    with pytest.raises(TaskError, match="is a symlink"):
        run(dict(path=str(tmp_path / "via-link"), state="info"))
    with pytest.raises(TaskError, match="cannot be read"):
        run(dict(path=str(tmp_path / "nope"), state="info"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(TaskError, match="not a directory"):
        run(dict(path=str(tmp_path / "file"), state="info"))


def test_deploy_needs_a_version(releases):
    with pytest.raises(TaskError, match="version is required"):
        run(dict(path=str(releases), state="deployed"))
