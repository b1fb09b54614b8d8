"""plugins/lookup/run_dir.py: lookup('mcpops.runbooks.run_dir', ...) as a play calls it, without a play.

The lookup gets its option definitions from its DOCUMENTATION, as Ansible's plugin loader gives them."""

import datetime
import re

import pytest
import yaml

from ansible import constants as C
from ansible.errors import AnsibleLookupError

from ansible_collections.mcpops.runbooks.plugins.lookup import run_dir as plugin

NAME = "mcpops.runbooks.run_dir"
PLAYBOOK_DIR = "/srv/checkout/playbooks"  # only where the checkout is not consulted (MCPOPS_RUNS_DIR, misuse)


@pytest.fixture
def checkout(tmp_path):
    """A writable checkout (galaxy.yml, no MANIFEST.json): its runs/ holds the run dirs (plugin_utils/run_dir.py)."""
    root = tmp_path / "checkout"
    (root / "playbooks").mkdir(parents=True)
    (root / "galaxy.yml").write_text("namespace: mcpops\nname: runbooks\n")
    return root


@pytest.fixture
def run_dir_lookup(monkeypatch):
    monkeypatch.delenv("MCPOPS_RUNS_DIR", raising=False)
    monkeypatch.delenv("MCPOPS_REPORT_DIR", raising=False)
    C.config.initialize_plugin_configuration_definitions("lookup", NAME, yaml.safe_load(plugin.DOCUMENTATION)["options"])
    lookup = plugin.LookupModule()
    lookup._load_name = NAME
    return lookup


def stamp_of(path, runbook_id):
    match = re.fullmatch(r"(\d{8}T\d{6}Z)-" + re.escape(runbook_id), path.rsplit("/", 1)[-1])
    assert match, path
    return datetime.datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)


def test_a_runbook_id_gives_a_fresh_run_dir_under_the_checkouts_runs(run_dir_lookup, checkout):
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    [path] = run_dir_lookup.run(["triage"], variables={"playbook_dir": str(checkout / "playbooks")})
    assert path.startswith("%s/runs/" % checkout)
    assert before <= stamp_of(path, "triage") <= datetime.datetime.now(datetime.timezone.utc)


def test_mcpops_runs_dir_moves_the_run_dirs(run_dir_lookup, monkeypatch):
    monkeypatch.setenv("MCPOPS_RUNS_DIR", "/var/tmp/mcpops-runs")
    [path] = run_dir_lookup.run(["inc-006-secret-leak"], variables={"playbook_dir": PLAYBOOK_DIR})
    assert path.startswith("/var/tmp/mcpops-runs/")
    stamp_of(path, "inc-006-secret-leak")


def test_without_a_term_it_is_the_runs_dir_itself(run_dir_lookup, monkeypatch, checkout):
    assert run_dir_lookup.run([], variables={"playbook_dir": str(checkout / "playbooks")}) == [str(checkout / "runs")]
    monkeypatch.setenv("MCPOPS_RUNS_DIR", "/elsewhere")
    assert run_dir_lookup.run([], variables={"playbook_dir": PLAYBOOK_DIR}) == ["/elsewhere"]


def test_follow_report_gives_the_reports_own_dir_when_there_is_one(run_dir_lookup, monkeypatch, checkout):
    variables = {"playbook_dir": str(checkout / "playbooks")}
    # no MCPOPS_REPORT_DIR: the run dir as without the option
    [path] = run_dir_lookup.run(["inc-001-gateway-down"], variables=variables, follow_report=True)
    stamp_of(path, "inc-001-gateway-down")
    monkeypatch.setenv("MCPOPS_REPORT_DIR", "/runs/20261124T020000Z-inc-001-gateway-down")
    assert run_dir_lookup.run(["inc-001-gateway-down"], variables=variables, follow_report=True) == [
        "/runs/20261124T020000Z-inc-001-gateway-down"]
    # without the option the report's dir is not followed
    [path] = run_dir_lookup.run(["inc-001-gateway-down"], variables=variables)
    assert path.startswith("%s/runs/" % checkout)


def test_the_same_rule_as_the_callbacks_report_dir(run_dir_lookup, monkeypatch):
    from ansible_collections.mcpops.runbooks.plugins.plugin_utils.run_dir import runs_dir

    monkeypatch.setenv("MCPOPS_RUNS_DIR", "/shared/runs")
    [path] = run_dir_lookup.run(["backup-scheduled"], variables={"playbook_dir": PLAYBOOK_DIR})
    assert path.rsplit("/", 1)[0] == runs_dir(PLAYBOOK_DIR)


@pytest.mark.parametrize("terms, variables, words", [
    (["a", "b"], {"playbook_dir": PLAYBOOK_DIR}, "at most one runbook id"),
    (["triage"], {}, "needs playbook_dir"),
])
def test_misuse_is_an_error_that_says_what_is_wrong(run_dir_lookup, terms, variables, words):
    with pytest.raises(AnsibleLookupError, match=words):
        run_dir_lookup.run(terms, variables=variables)
