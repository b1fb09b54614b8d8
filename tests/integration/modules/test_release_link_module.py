"""release_link and release_link_info run for real through ansible-playbook on a releases dir laid out as the
ConnectorMCP lab lays it (`<version>/release.json`, relative `current` and `previous` symlinks): the bad-deploy
rollback, check mode with --diff, idempotence, hostile layouts refused with the links left as they were, and the
deprecated state=info of release_link."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.skipif(not (BIN / "ansible-playbook").exists(), reason="ansible-playbook not in the venv")


def run_play(workdir, args, check=False, diff=False, module="release_link"):
    play = [{"hosts": "localhost", "gather_facts": False, "vars": {"ansible_python_interpreter": sys.executable},
             "tasks": [{"name": "t", "mcpops.runbooks." + module: args, "ignore_errors": True}]}]
    playbook = Path(workdir) / "play.yml"
    playbook.write_text(json.dumps(play))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(REPO / "collections"),
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
               PATH="%s:%s" % (BIN, os.environ.get("PATH", "")))
    cmd = [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook)]
    cmd += ["--check"] if check else []
    cmd += ["--diff"] if diff else []
    proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
    try:
        doc = json.loads(proc.stdout[proc.stdout.index("{"):])
        return doc["plays"][0]["tasks"][0]["hosts"]["localhost"]
    except (ValueError, KeyError, IndexError):
        raise AssertionError("no result (rc %d): %s" % (proc.returncode, (proc.stdout + proc.stderr)[-4000:]))


@pytest.fixture
def releases(tmp_path):
    """The lab's bad-deploy state: 1.0.1 has a defect, current -> 1.0.1, previous -> 1.0.0."""
    root = tmp_path / "releases"
    for version, defect in (("1.0.0", None), ("1.0.1", "returns 500 on /api/*")):
        (root / version).mkdir(parents=True)
        (root / version / "release.json").write_text(json.dumps({"version": version, "defect": defect}))
    os.symlink("1.0.1", root / "current")
    os.symlink("1.0.0", root / "previous")
    return root


def links(root):
    return os.readlink(root / "current"), os.readlink(root / "previous")


def test_rollback_of_a_bad_deploy_with_check_mode_diff_and_idempotence(releases, tmp_path):
    info = run_play(tmp_path, dict(path=str(releases)), module="release_link_info")
    assert not info.get("failed") and info["changed"] is False
    assert (info["current"], info["previous"]) == ("1.0.1", "1.0.0")
    assert info["versions"] == [{"name": "1.0.0", "version": "1.0.0"}, {"name": "1.0.1", "version": "1.0.1"}]

    dry = run_play(tmp_path, dict(path=str(releases), state="rolled_back"), check=True, diff=True)
    assert not dry.get("failed") and dry["changed"] is True and dry["current"] == "1.0.0"
    assert "current -> 1.0.1" in dry["diff"]["before"] and "current -> 1.0.0" in dry["diff"]["after"]
    assert links(releases) == ("1.0.1", "1.0.0"), "check mode changed a link"

    done = run_play(tmp_path, dict(path=str(releases), state="rolled_back"))
    assert not done.get("failed") and done["changed"] is True
    assert links(releases) == ("1.0.0", "1.0.1")
    assert json.loads((releases / "current" / "release.json").read_text())["defect"] is None

    again = run_play(tmp_path, dict(path=str(releases), state="deployed", version="1.0.0"))
    assert not again.get("failed") and again["changed"] is False and links(releases) == ("1.0.0", "1.0.1")
    assert sorted(os.listdir(releases)) == ["1.0.0", "1.0.1", "current", "previous"]


def test_hostile_inputs_are_refused_and_the_links_stay(releases, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(str(outside), releases / "9.9.9")
    for args, words in [
        (dict(path=str(releases), state="deployed", version="../outside"), "not a release name"),
        (dict(path=str(releases), state="deployed", version="9.9.9"), "is a symlink"),
        (dict(path=str(releases), state="deployed", version="2.0.0"), "does not exist"),
    ]:
        failed = run_play(tmp_path, args)
        assert failed.get("failed") is True and words in failed["msg"], failed["msg"]
        assert links(releases) == ("1.0.1", "1.0.0")
    os.unlink(releases / "previous")
    os.symlink("../outside", releases / "previous")
    failed = run_play(tmp_path, dict(path=str(releases), state="rolled_back"))
    assert failed.get("failed") is True and "outside the releases dir" in failed["msg"], failed["msg"]
    assert links(releases) == ("1.0.1", "../outside")
    os.symlink(str(releases), tmp_path / "linked")
    failed = run_play(tmp_path, dict(path=str(tmp_path / "linked"), state="deployed", version="1.0.0"))
    assert failed.get("failed") is True and "is a symlink" in failed["msg"], failed["msg"]
    assert links(releases) == ("1.0.1", "../outside")


def test_info_reads_in_check_mode_and_refuses_a_link_that_leaves_the_releases_dir(releases, tmp_path):
    checked = run_play(tmp_path, dict(path=str(releases)), check=True, module="release_link_info")
    assert not checked.get("failed") and checked["changed"] is False
    assert (checked["current"], checked["previous"]) == ("1.0.1", "1.0.0")
    os.unlink(releases / "previous")
    os.symlink("../outside", releases / "previous")
    failed = run_play(tmp_path, dict(path=str(releases)), module="release_link_info")
    assert failed.get("failed") is True and "outside the releases dir" in failed["msg"], failed["msg"]
    assert links(releases) == ("1.0.1", "../outside")


@pytest.mark.parametrize("args", [{"state": "info"}, {}], ids=["state=info", "no state"])
def test_state_info_of_release_link_still_reads_with_a_deprecation_until_2_0_0(releases, tmp_path, args):
    old = run_play(tmp_path, dict(path=str(releases), **args))
    assert not old.get("failed") and old["changed"] is False
    assert (old["current"], old["previous"]) == ("1.0.1", "1.0.0") and links(releases) == ("1.0.1", "1.0.0")
    [deprecation] = old["deprecations"]
    assert deprecation["version"] == "2.0.0" and deprecation["collection_name"] == "mcpops.runbooks"
    assert "mcpops.runbooks.release_link_info" in deprecation["msg"]


def test_release_link_refuses_a_reading_state_other_than_the_deprecated_info(releases, tmp_path):
    bad = run_play(tmp_path, dict(path=str(releases), state="list"))
    assert bad.get("failed") is True and "value of state must be one of: deployed, rolled_back, got: list" in bad["msg"]
    assert "deprecations" not in bad and links(releases) == ("1.0.1", "1.0.0")
