"""plugins/plugin_utils/run_dir.py: the one rule for where a run's files go on the controller."""

import datetime
import os

import pytest

from ansible_collections.mcpops.runbooks.plugins.plugin_utils import run_dir as run_dir_module
from ansible_collections.mcpops.runbooks.plugins.plugin_utils.run_dir import (
    artifacts_dir, in_rulebook_temp_dir, report_dir, run_dir, run_dir_name, runs_dir, under_awx, user_runs_dir)

MOMENT = datetime.datetime(2026, 11, 24, 2, 0, 5, tzinfo=datetime.timezone.utc)


def make_tree(root, *files):
    """A collection tree at root with playbooks/ and the given top-level files; returns its playbooks dir."""
    (root / "playbooks").mkdir(parents=True)
    for name in files:
        (root / name).write_text("namespace: mcpops\n")
    return str(root / "playbooks")


@pytest.fixture
def checkout(tmp_path):
    return make_tree(tmp_path / "checkout", "galaxy.yml")


@pytest.fixture
def installed(tmp_path):
    """An installed collection: ansible-galaxy writes MANIFEST.json (and keeps no galaxy.yml)."""
    return make_tree(tmp_path / "ansible_collections" / "mcpops" / "runbooks", "MANIFEST.json")


def user_env(tmp_path, **more):
    return {"HOME": str(tmp_path / "home"), **more}


def test_runs_dir_is_the_checkouts_runs_without_the_env_var(checkout, tmp_path):
    assert runs_dir(checkout, environ=user_env(tmp_path)) == os.path.join(os.path.dirname(checkout), "runs")


def test_runs_dir_follows_mcpops_runs_dir_and_ignores_it_when_blank(checkout, installed, tmp_path):
    assert runs_dir(checkout, environ={"MCPOPS_RUNS_DIR": "/var/tmp/runs"}) == "/var/tmp/runs"
    assert runs_dir(installed, environ={"MCPOPS_RUNS_DIR": "/var/tmp/runs"}) == "/var/tmp/runs"
    blank = user_env(tmp_path, MCPOPS_RUNS_DIR="")
    assert runs_dir(checkout, environ=blank) == os.path.join(os.path.dirname(checkout), "runs")


def test_runs_dir_reads_the_process_environment_by_default(monkeypatch, checkout):
    monkeypatch.setenv("MCPOPS_RUNS_DIR", "/from/the/env")
    assert runs_dir(checkout) == "/from/the/env"
    monkeypatch.delenv("MCPOPS_RUNS_DIR")
    assert runs_dir(checkout) == os.path.join(os.path.dirname(checkout), "runs")


def test_an_installed_collection_is_never_the_runs_dir(installed, tmp_path):
    home = str(tmp_path / "home")
    assert runs_dir(installed, environ={"HOME": home}) == home + "/.local/state/mcpops/runs"
    assert runs_dir(installed, environ={"HOME": home, "XDG_STATE_HOME": "/srv/state"}) == "/srv/state/mcpops/runs"
    assert not runs_dir(installed, environ={"HOME": home}).startswith(os.path.dirname(installed))


def test_a_playbook_dir_that_is_no_collection_takes_the_users_state_dir(tmp_path):
    # e.g. a playbook copied next to the user's own files: its parent is no checkout of this collection
    plays = make_tree(tmp_path / "somewhere")
    assert runs_dir(plays, environ=user_env(tmp_path)) == str(tmp_path / "home/.local/state/mcpops/runs")


def test_a_read_only_checkout_takes_the_users_state_dir(checkout, tmp_path, monkeypatch):
    root = os.path.dirname(checkout)
    # The tests run as root, for whom mode bits do not make a dir read-only: os.access answers as the rule's user
    # would (a read-only bind mount, another user's checkout).
    read_only = set()
    real_access = os.access
    monkeypatch.setattr(run_dir_module.os, "access",
                        lambda path, mode: path not in read_only and real_access(path, mode))
    read_only.add(root)
    assert runs_dir(checkout, environ=user_env(tmp_path)) == str(tmp_path / "home/.local/state/mcpops/runs")
    read_only.clear()
    os.mkdir(os.path.join(root, "runs"))
    read_only.add(os.path.join(root, "runs"))  # an existing runs/ that cannot be written to
    assert runs_dir(checkout, environ=user_env(tmp_path)) == str(tmp_path / "home/.local/state/mcpops/runs")
    read_only.clear()
    assert runs_dir(checkout, environ=user_env(tmp_path)) == os.path.join(root, "runs")


def test_user_runs_dir_follows_xdg_state_home_and_ignores_a_relative_one(tmp_path):
    assert user_runs_dir({"HOME": "/home/oncall"}) == "/home/oncall/.local/state/mcpops/runs"
    assert user_runs_dir({"HOME": "/home/oncall", "XDG_STATE_HOME": ""}) == "/home/oncall/.local/state/mcpops/runs"
    assert user_runs_dir({"HOME": "/home/oncall", "XDG_STATE_HOME": "state"}) == "/home/oncall/.local/state/mcpops/runs"
    assert user_runs_dir({"HOME": "/h", "XDG_STATE_HOME": "/xdg/state"}) == "/xdg/state/mcpops/runs"


def test_a_checkout_inside_ansible_rulebooks_temp_dir_is_not_kept(tmp_path, monkeypatch):
    """ansible-rulebook copies a project into tempfile.mkdtemp(prefix="eda") and deletes it after the playbook."""
    temp = tmp_path / "tmp"
    monkeypatch.setattr("tempfile.tempdir", str(temp))
    plays = make_tree(temp / "edak2j4x" / "project", "galaxy.yml")
    assert in_rulebook_temp_dir(plays)
    assert runs_dir(plays, environ=user_env(tmp_path)) == str(tmp_path / "home/.local/state/mcpops/runs")
    kept = make_tree(temp / "mine" / "project", "galaxy.yml")
    assert not in_rulebook_temp_dir(kept)
    assert not in_rulebook_temp_dir(str(tmp_path / "edafar"))  # named eda but not in the temp dir
    assert runs_dir(kept, environ=user_env(tmp_path)) == str(temp / "mine" / "project" / "runs")


def test_the_artifacts_dir_under_awx_ansible_runner_and_ansible_rulebook(tmp_path, monkeypatch):
    temp = tmp_path / "tmp"
    monkeypatch.setattr("tempfile.tempdir", str(temp))
    runner = str(tmp_path / "private" / "artifacts" / "ident")
    rulebook = str(temp / "eda3fj2" / "artifacts" / "uuid")
    assert artifacts_dir({}) is None
    assert artifacts_dir({"AWX_ISOLATED_DATA_DIR": runner}) == runner  # a plain ansible-runner: the caller keeps it
    assert artifacts_dir({"AWX_ISOLATED_DATA_DIR": rulebook}) is None  # deleted after the playbook
    # AWX's own: kept (the worker streams it back; the report is in the job events too)
    assert artifacts_dir({"AWX_ISOLATED_DATA_DIR": rulebook, "JOB_ID": "7"}) == rulebook
    assert under_awx({"AWX_ISOLATED_DATA_DIR": runner, "JOB_ID": "7"})
    assert not under_awx({"JOB_ID": "7"}) and not under_awx({"AWX_ISOLATED_DATA_DIR": runner})


def test_run_dir_name_is_the_utc_stamp_then_the_runbook_id():
    assert run_dir_name("inc-003-restore", MOMENT) == "20261124T020005Z-inc-003-restore"
    # a naive datetime is taken as UTC already (what Ansible's now(utc=true) gives)
    assert run_dir_name("triage", MOMENT.replace(tzinfo=None)) == "20261124T020005Z-triage"


def test_run_dir_name_defaults_to_now_in_utc():
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    name = run_dir_name("triage")
    after = datetime.datetime.now(datetime.timezone.utc)
    stamp, runbook = name.split("-", 1)
    assert runbook == "triage"
    moment = datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    assert before <= moment <= after


def test_run_dir_joins_the_runs_dir_and_the_name(checkout, tmp_path):
    assert run_dir("inc-001-gateway-down", checkout, MOMENT, environ=user_env(tmp_path)) == (
        os.path.join(os.path.dirname(checkout), "runs", "20261124T020005Z-inc-001-gateway-down"))
    assert run_dir("triage", checkout, MOMENT, environ={"MCPOPS_RUNS_DIR": "/r/"}) == "/r/20261124T020005Z-triage"


def test_report_dir_is_mcpops_report_dir_or_none():
    assert report_dir({"MCPOPS_REPORT_DIR": "/runs/x"}) == "/runs/x"
    assert report_dir({"MCPOPS_REPORT_DIR": ""}) is None
    assert report_dir({}) is None
