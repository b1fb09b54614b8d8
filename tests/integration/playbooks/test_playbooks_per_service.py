"""health-check.yml, triage.yml and rolling-restart.yml against each service the collection serves (issue 15,
section 3, Integration): the four reference services of the service lab (cctelegram-mcp, lego-mcp, loyalty-api,
connector-mcp) and the 1C gateway's local lab, each healthy and broken, each picked by its inventory's
`mcp_service` and judged by its own profile's checks.

One lab per service for the whole module (the `target` fixture, module-scoped and parametrized by the service's
name, so pytest runs every test of one service together and starts the next lab after the last one is down). The
tests of a service run in the order written: the healthy ones first, then each broken case, which undoes its fault
and waits until the service passes its checks again before the next test.

Every playbook runs once per case, with -v; the service's secrets (API key, metrics token, database and admin
passwords: every file of the lab's secrets dir) are looked for in its stdout and stderr, in the run's incident
report dir and in the triage bundles. One triage runs through `mcpops run` and its whole run dir is searched.
"""

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from local_lab_helpers import lab_host_vars, make_lab, open_sealed, write_inventory
from mcpops.lab.http_client import http_json
from mcpops_command import files_containing
from service_lab_helpers import make_service_lab, service_host_vars

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
ONEC = "onec-gateway"
SERVICES = ("cctelegram-mcp", "lego-mcp", "loyalty-api", "connector-mcp", ONEC)
# The services whose lab writes its application log as a JSON-lines file (profile logs.source file): the playbooks
# scan it (app_log_scan); the others log to stdout, read through the service manager.
APP_LOG_FILES = ("cctelegram-mcp", "connector-mcp")
WAIT = 60  # seconds a restored lab has to pass its checks again (a loaded CI machine)


@dataclass(frozen=True)
class Broken:
    """A fault whose failed checks are deterministic, and what undoes it."""

    failed: tuple  # the profile's checks that fail, in profile order
    undo: str  # the lab fault that undoes it (index-back: see Target.undo)
    condition: str = None  # the condition the verdict should name (see test_..._names_the_failed_condition)
    triage_via_mcpops: bool = False  # triage through `mcpops run` (the bundle then lands in its run dir)


BROKEN = {
    ("cctelegram-mcp", "bridge-down"): Broken(failed=("health", "bridge"), undo="healthy"),
    ("lego-mcp", "db-down"): Broken(failed=("health", "equipment"), undo="datastores-up"),
    ("loyalty-api", "redis-down"): Broken(failed=("ready",), undo="datastores-up"),
    ("loyalty-api", "unhealthy"): Broken(failed=("health", "ready"), undo="healthy", triage_via_mcpops=True),
    ("connector-mcp", "redis-down"): Broken(failed=("deep",), undo="datastores-up",
                                            condition="redis.status == healthy"),
    (ONEC, "not-ready"): Broken(failed=("readyz",), undo="index-back"),
}

# What each broken run said, for the tests that only read it (filled by test_broken_...).
SAID = {}


def profile_checks(service):
    """The names of the service's health checks, in its profile's order."""
    profile = yaml.safe_load((REPO / "profiles" / ("%s.yml" % service)).read_text())
    return [check["name"] for check in profile["health"]["checks"]]


def flat(text):
    """The text with its whitespace runs made one space (the yaml result format folds long lines) and YAML's
    doubled single quotes made single."""
    return " ".join(text.split()).replace("''", "'")


class Run:
    """One ansible-playbook or mcpops run: its process, its flattened output, its runs dir and report."""

    def __init__(self, proc, runs_dir):
        self.proc = proc
        self.runs_dir = runs_dir
        self.text = flat(proc.stdout + "\n" + proc.stderr)

    @property
    def run_dir(self):
        [run_dir] = [p for p in self.runs_dir.iterdir() if p.is_dir()]
        return run_dir

    @property
    def report(self):
        return json.loads((self.run_dir / "report.json").read_text())

    def failed_messages(self):
        return [flat(step.get("message") or "") for step in self.report["timeline"] if step["status"] == "failed"]

    def summary_lines(self):
        """The report's "Summary: ..." lines (the warnings under them left out)."""
        return [flat(line) for entry in self.report["summary"] for line in entry["lines"]
                if flat(line).startswith("Summary:")]

    def warning_lines(self):
        return [flat(line) for entry in self.report["summary"] for line in entry["lines"]
                if flat(line).startswith("application log:")]

    def tail(self):
        return self.proc.stdout[-6000:] + self.proc.stderr[-2000:]


class Target:
    """One service's lab as these tests drive it: its inventory (one host, named as the service), its main
    program's PID, its secrets, its faults and their undoing."""

    def __init__(self, service, lab, root):
        self.service = service
        self.lab = lab
        self.root = root
        self.host = service
        self.checks = profile_checks(service)
        host_vars = lab_host_vars(lab) if service == ONEC else service_host_vars(lab)
        self.inventory = write_inventory(root / "inventory.json", {self.host: host_vars})
        self.runs = 0

    def pid(self):
        return self.lab.gateway_pid() if self.service == ONEC else self.lab.program_pid()

    def secrets(self):
        """Every secret of the lab: the service's (its profile's secret_vars), the datastores' admin passwords,
        the 1C gateway's tokens and its profiles' passwords (gateway.env)."""
        found = []
        for path in sorted(self.lab.secrets_dir.iterdir()):
            text = path.read_text()
            if path.suffix == ".env":
                if self.service == ONEC:  # the profiles' passwords; a service's env files repeat its secrets
                    found += [line.split("=", 1)[1] for line in text.splitlines() if "=" in line]
            else:
                found.append(text.strip())
        if self.service != ONEC:
            assert set(self.lab.secret_vars().values()) <= set(found)
        found = [s for s in found if s]
        assert found and all(len(s) >= 12 for s in found), "a secret this short would match by chance"
        return found

    def assert_no_secret(self, *texts, paths=()):
        secrets = self.secrets()
        for text in texts:
            leaked = [s[:4] + "..." for s in secrets if s in text]
            assert not leaked, "secrets %s in the output" % leaked
        for path in paths:
            assert files_containing(path, secrets) == []

    def playbook(self, playbook, *args):
        """ansible-playbook with -v, its incident report in a runs dir of its own."""
        self.runs += 1
        runs_dir = self.root / "runs" / ("%02d-%s" % (self.runs, playbook.split(".")[0]))
        runs_dir.mkdir(parents=True)
        env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
                   ANSIBLE_COLLECTIONS_PATH=str(REPO / "collections"), ANSIBLE_NOCOLOR="1",
                   PATH="%s:%s" % (BIN, os.environ.get("PATH", "")), no_proxy="127.0.0.1,localhost",
                   MCPOPS_RUNS_DIR=str(runs_dir))
        cmd = [str(BIN / "ansible-playbook"), "playbooks/" + playbook, "-i", str(self.inventory), "-v", *args]
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
        run = Run(proc, runs_dir)
        self.assert_no_secret(proc.stdout, proc.stderr, paths=[runs_dir])
        return run

    def mcpops_run(self, runbook, *args):
        """`mcpops run <runbook> -i <inventory> --yes`, its run dir under a runs dir of its own."""
        self.runs += 1
        runs_dir = self.root / "runs" / ("%02d-mcpops-%s" % (self.runs, runbook))
        runs_dir.mkdir(parents=True)
        env = dict(os.environ, ANSIBLE_NOCOLOR="1", PATH="%s:%s" % (BIN, os.environ.get("PATH", "")),
                   no_proxy="127.0.0.1,localhost", MCPOPS_RUNS_DIR=str(runs_dir))
        proc = subprocess.run([str(BIN / "mcpops"), "run", runbook, "-i", str(self.inventory), "--yes", *args],
                              cwd=REPO, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600)
        run = Run(proc, runs_dir)
        self.assert_no_secret(proc.stdout, proc.stderr, paths=[runs_dir])
        return run

    def break_(self, fault):
        return self.lab.break_(fault)

    def undo(self, fault):
        """Undo the fault, then wait until every check of the profile passes again (the next test starts healthy)."""
        undo = BROKEN[(self.service, fault)].undo
        if undo == "index-back":  # the gateway lab's not-ready moved index/ aside; it has no fault that undoes it
            aside, index = self.lab.state_dir / "index.moved", Path(self.lab.data_dir) / "index"
            if aside.is_dir() and not index.exists():
                os.rename(aside, index)
        else:
            self.lab.break_(undo)
        self.wait_healthy()

    def wait_healthy(self):
        deadline = time.monotonic() + WAIT
        while True:
            failing = self.failing_checks()
            if not failing or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert failing == [], "%s still failing %s after %ds" % (self.service, failing, WAIT)

    def failing_checks(self):
        if self.service == ONEC:
            return [path for path in ("/healthz", "/readyz") if http_json(self.lab.api_url + path, timeout=5)[0] != 200]
        return [role for role in ("liveness", "readiness", "deep")
                if not self.lab.spec.checks[role].passes(*self.lab.check(role))]


@pytest.fixture(scope="module")
def target(request, tmp_path_factory):
    service = request.param
    root = tmp_path_factory.mktemp(service)
    lab = make_lab(root / "lab") if service == ONEC else make_service_lab(root / "lab", service)
    try:
        yield Target(service, lab, root)
    finally:
        lab.down(purge=True)


@pytest.fixture(scope="module")
def fault(request):
    """The fault of a broken case. Module-scoped like `target`, so that pytest keeps each service's tests together;
    its param is the case's (service, fault), so that two services' same fault are not grouped."""
    return request.param[1]


def services(*names):
    return pytest.mark.parametrize("target", names or SERVICES, indirect=True)


def summary_of(target, failed=()):
    """The health check's summary line up to its checks: `Summary: <service> healthy (<check> ok, ...`."""
    verdicts = ", ".join("%s %s" % (name, "FAILED" if name in failed else "ok") for name in target.checks)
    return "Summary: %s %s (%s" % (target.service, "UNHEALTHY" if failed else "healthy", verdicts)


def bundle_of(target, bundle_dir):
    # The 1C gateway's lab seals its bundles with its forensic key (issue 24); the other services' inventories name
    # no key, so theirs are clear (0600).
    def text(path):
        return open_sealed(target.lab, path).decode() if path.name.endswith(".sealed") else path.read_text()

    name = "%s.json%s" % (target.host, ".sealed" if target.service == ONEC else "")
    bundle = json.loads(text(bundle_dir / name))
    target.assert_no_secret(*(text(p) for p in bundle_dir.iterdir() if p.is_file()))
    return bundle


# -- healthy -----------------------------------------------------------------------------------------

@services()
def test_health_check_of_a_healthy_service_passes_naming_each_check_ok(target):
    pid = target.pid()
    run = target.playbook("health-check.yml")
    assert run.proc.returncode == 0, run.tail()
    assert "Nothing wrong found on %s" % target.host in run.text
    [summary] = run.summary_lines()
    assert summary.startswith(summary_of(target) + ("," if target.service == ONEC else ")")), summary
    assert summary_of(target) in run.text
    assert run.report["status"] == "ok"
    # step 4 scans the application log where the profile names a JSON-lines file, and says so in the summary
    assert ("in the application log: " in summary) is (target.service in APP_LOG_FILES), summary
    assert target.pid() == pid  # read-only


@services()
def test_triage_of_a_healthy_service_lists_its_profile_checks_all_ok(target):
    pid = target.pid()
    bundle_dir = target.root / "triage-healthy"
    run = target.playbook("triage.yml", "-e", "output_dir=%s" % bundle_dir)
    assert run.proc.returncode == 0, run.tail()
    bundle = bundle_of(target, bundle_dir)
    health = bundle["health"]
    assert health["service"] == target.service
    assert [check["name"] for check in health["checks"]] == target.checks
    assert [check["name"] for check in health["checks"] if check["ok"]] == target.checks, health["problems"]
    assert health["healthy"] is True and health["failed_checks"] == [] and health["problems"] == []
    assert bundle["service"]["state"] == "RUNNING" and bundle["service"]["pid"] == pid
    assert bundle["listening"]["gateway_port_listening"] is True
    app_log = bundle["app_log"]
    if target.service in APP_LOG_FILES:
        assert app_log["error"] is None and app_log["errors"]["total"] >= 0 and "by_client_ip" in app_log["auth_failures"]
    else:
        assert app_log["errors"] is None
    assert target.pid() == pid  # read-only


@services()
def test_rolling_restart_check_mode_changes_nothing_then_a_real_run_restarts_behind_the_gate(target):
    before = target.pid()
    check = target.playbook("rolling-restart.yml", "--check")
    assert check.proc.returncode == 0, check.tail()
    assert "Check mode: would restart %s (now RUNNING)" % target.host in check.text
    assert target.pid() == before

    run = target.playbook("rolling-restart.yml")
    assert run.proc.returncode == 0, run.tail()
    after = target.pid()
    assert after and after != before
    assert "%s: restarted (pid %d -> %d), healthy" % (target.host, before, after) in run.text
    # the gate ran the profile's checks and they passed
    gates = [e["facts"] for e in run.report["evidence"] if e["module"] == "mcpops.runbooks.service_health"]
    assert gates and gates[-1]["healthy"] is True, run.report["evidence"]
    assert run.report["status"] == "ok"
    assert target.failing_checks() == []


# -- broken ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("target, fault", [(service, (service, fault)) for service, fault in BROKEN], indirect=True,
                         ids=["%s-%s" % case for case in BROKEN])
def test_broken_service_fails_health_check_and_rollout_naming_the_failed_check(target, fault):
    case = BROKEN[(target.service, fault)]
    ok = [name for name in target.checks if name not in case.failed]
    target.break_(fault)
    try:
        # health-check: fails, its message names each failed check and no passing one
        health = target.playbook("health-check.yml")
        assert health.proc.returncode == 2, health.tail()
        [message] = health.failed_messages()
        assert message.startswith("['Health check of %s found:'" % target.host), message
        for name in case.failed:
            assert "check %s (GET " % name in message and "check %s (GET " % name in health.text, message
        for name in ok:
            assert "check %s (" % name not in message, message
        [summary] = health.summary_lines()
        assert summary.startswith(summary_of(target, case.failed)), summary

        # triage: read-only, still writes the bundle, and its failed_checks are those
        pid = target.pid()
        if case.triage_via_mcpops:
            triage = target.mcpops_run("triage")
            bundle_dir = triage.run_dir  # the bundle beside the report, in the one run dir of the run
            assert (bundle_dir / "report.json").is_file()
        else:
            bundle_dir = target.root / ("triage-%s" % fault)
            triage = target.playbook("triage.yml", "-e", "output_dir=%s" % bundle_dir)
        assert triage.proc.returncode == 0, triage.tail()
        health_section = bundle_of(target, bundle_dir)["health"]
        assert health_section["healthy"] is False
        assert health_section["failed_checks"] == list(case.failed)
        assert [check["name"] for check in health_section["checks"]] == target.checks
        assert [check["name"] for check in health_section["checks"] if not check["ok"]] == list(case.failed)
        assert target.pid() == pid

        # rolling restart: the host is restarted, does not come back healthy, and the rollout stops there
        rollout = target.playbook("rolling-restart.yml", "-e", "health_retries=1")
        assert rollout.proc.returncode == 2, rollout.tail()
        [stop] = [m for m in rollout.failed_messages() if m.startswith("Rolling restart stopped at")]
        assert stop.startswith("Rolling restart stopped at %s (batch 1):" % target.host), stop
        assert "Rolling restart stopped at %s" % target.host in rollout.text
        # (each failed check is named; the passing ones are not asserted here: the gate's last round may come
        # before a slow machine's restarted service answers at all, and then every check is "no answer")
        for name in case.failed:
            assert "check %s (GET " % name in stop, stop
        assert ". Now RUNNING." in stop and "Untouched (not restarted): none." in stop, stop
        assert target.pid() not in (None, pid)  # restarted: the gate is what stopped it
        SAID[(target.service, fault)] = {"health-check": message, "rolling-restart": stop,
                                        "triage": health_section}
    finally:
        target.undo(fault)


@services("connector-mcp")
def test_broken_connector_deep_check_names_the_failed_condition(target):
    said = SAID.get(("connector-mcp", "redis-down"))
    if said is None:
        pytest.skip("the connector-mcp redis-down case did not run")
    condition = BROKEN[("connector-mcp", "redis-down")].condition
    [deep] = [check for check in said["triage"]["checks"] if check["name"] == "deep"]
    assert deep["failed_condition"] == condition, deep
    # the failure messages are lists as Ansible prints them: quotes inside come escaped
    for runbook in ("health-check", "rolling-restart"):
        assert "condition '%s' failed" % condition in said[runbook].replace("\\'", "'"), said[runbook]
