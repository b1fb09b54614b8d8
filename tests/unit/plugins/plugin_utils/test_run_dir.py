"""plugins/plugin_utils/run_dir.py: the one rule for where a run's files go on the controller."""

import datetime
import os

from ansible_collections.mcpops.runbooks.plugins.plugin_utils.run_dir import (
    report_dir, run_dir, run_dir_name, runs_dir)

CHECKOUT = "/srv/mcpops-runbooks"
PLAYBOOKS = CHECKOUT + "/playbooks"
MOMENT = datetime.datetime(2026, 11, 24, 2, 0, 5, tzinfo=datetime.timezone.utc)


def test_runs_dir_is_the_checkouts_runs_without_the_env_var():
    assert runs_dir(PLAYBOOKS, environ={}) == CHECKOUT + "/runs"


def test_runs_dir_follows_mcpops_runs_dir_and_ignores_it_when_blank():
    assert runs_dir(PLAYBOOKS, environ={"MCPOPS_RUNS_DIR": "/var/tmp/runs"}) == "/var/tmp/runs"
    assert runs_dir(PLAYBOOKS, environ={"MCPOPS_RUNS_DIR": ""}) == CHECKOUT + "/runs"


def test_runs_dir_reads_the_process_environment_by_default(monkeypatch):
    monkeypatch.setenv("MCPOPS_RUNS_DIR", "/from/the/env")
    assert runs_dir(PLAYBOOKS) == "/from/the/env"
    monkeypatch.delenv("MCPOPS_RUNS_DIR")
    assert runs_dir(PLAYBOOKS) == CHECKOUT + "/runs"


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


def test_run_dir_joins_the_runs_dir_and_the_name():
    assert run_dir("inc-001-gateway-down", PLAYBOOKS, MOMENT, environ={}) == (
        CHECKOUT + "/runs/20261124T020005Z-inc-001-gateway-down")
    assert run_dir("triage", PLAYBOOKS, MOMENT, environ={"MCPOPS_RUNS_DIR": "/r/"}) == "/r/20261124T020005Z-triage"


def test_report_dir_is_mcpops_report_dir_or_none():
    assert report_dir({"MCPOPS_REPORT_DIR": "/runs/x"}) == "/runs/x"
    assert report_dir({"MCPOPS_REPORT_DIR": ""}) is None
    assert report_dir({}) is None


def test_a_relative_playbook_dir_gives_a_relative_runs_dir():
    # The callback and the lookup pass absolute dirs; the rule itself does not make them absolute.
    assert runs_dir("playbooks", environ={}) == "runs"
    assert not os.path.isabs(run_dir("x", "playbooks", MOMENT, environ={}))
