"""`mcpops drill <lego runbook> --lab kubernetes` end to end through the CLI, on ONE Kubernetes lab for the module
(`mcpops lab up --platform kubernetes --dir D`, a second stack beside the session's `lego_stack`; down by PID at the
end): each drill breaks the lab, runs the runbook through mcpops.run.runner, checks the fault's symptom gone (or named)
and the dashboard healthy, and leaves the lab as it found it (it did not start it). No secret of the lab (the DB
password and the API key, before and after a rotation) in the drill's output or any file of its run dir.

Each drill is a rollout or two on a loaded machine (a minute or more): the service outage and the security incident
always run; the full-recovery, morning-check, HSM and scale drills are one parametrized test, in that order: the HSM
drill leaves an audit record signed by the software fallback, which lego-full-recovery's chain check cannot verify
until it is given the fallback's public key (reported to the lead). Root (kube_binaries)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mcpops.lab import pids

ROOT = Path(__file__).resolve().parents[3]


def mcpops(*argv, env=None, timeout=1500):
    env = dict(os.environ, no_proxy="127.0.0.1,localhost", **(env or {}))
    for name in ("KUBECONFIG", "MCPOPS_KUBE_LAB_DIR"):
        env.pop(name, None)
    return subprocess.run([sys.executable, "-m", "mcpops", *argv], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


class Lab:
    def __init__(self, state):
        self.state = state
        self.flags = ("--platform", "kubernetes", "--dir", str(state))
        self.canaries = set()

    def secrets(self):
        """The inventory's secrets now (a security-incident drill rotates them), each remembered as a canary."""
        path = self.state / "inventory" / "group_vars" / "gateways" / "secrets.yml"
        import yaml

        values = yaml.safe_load(path.read_text())
        self.canaries |= {values["lego_db_password"], values["lego_api_key"]}
        return values

    def status(self):
        proc = mcpops("lab", "status", "--json", *self.flags)
        return json.loads(proc.stdout)

    def drill(self, runbook, tmp_path, *extra):
        runs = tmp_path / "runs"
        self.secrets()
        proc = mcpops("drill", runbook, "--lab", "kubernetes", "--dir", str(self.state), *extra,
                      env={"MCPOPS_RUNS_DIR": str(runs)})
        self.secrets()
        return proc, runs

    def assert_no_secret(self, proc, runs):
        """No canary in the output or a file of the run dir, but the security incident's handover of the rotated
        values (lego-new-secrets.yml, 0600: where its metadata says the operator reads them)."""
        assert self.canaries
        for canary in self.canaries:  # found or not, never the value itself in an assertion's message
            shown = canary in proc.stdout or canary in proc.stderr
            assert not shown, "a secret in the drill's output"
            for path in (p for p in Path(runs).rglob("*") if p.is_file()):
                if path.name == "lego-new-secrets.yml":
                    assert path.stat().st_mode & 0o777 == 0o600
                    continue
                found = canary.encode() in path.read_bytes()
                assert not found, f"a secret in {path}"


@pytest.fixture(scope="module")
def kube_lab(kube_binaries, tmp_path_factory):
    """The module's Kubernetes lab, up through the CLI; down (by PID) at the end, its processes checked gone."""
    lab = Lab(tmp_path_factory.mktemp("h18-kube-lab") / "state")
    up = mcpops("lab", "up", *lab.flags)
    try:
        assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-3000:]
        record = json.loads((lab.state / "kube-lab.json").read_text())
        yield lab
    finally:
        down = mcpops("lab", "down", *lab.flags)
    assert down.returncode == 0, down.stdout + down.stderr[-3000:]
    for name, pid in record["plane"]["pids"].items():
        assert not pids.pid_alive(pid), name
    assert not pids.pid_alive(record["agent"]["pid"])


def passed(proc, runbook, fault):
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-8000:]
    assert re.search(r"drill %s \(%s, lego-mcp on the kubernetes lab\): PASSED" % (runbook, fault), proc.stdout), \
        out[-4000:]
    assert "== 6/6 Lab left running (it was running before the drill)" in proc.stdout
    return out


def drill_md(runs):
    (found,) = Path(runs).glob("*/drill.md")
    text = found.read_text()
    assert "**Verdict: PASSED**" in text, text
    assert (found.parent / "report.md").is_file()
    return text


def test_the_service_outage_drill_rolls_back_a_crash_looping_image(kube_lab, tmp_path):
    proc, runs = kube_lab.drill("lego-service-outage", tmp_path)
    out = passed(proc, "lego-service-outage", "bad-image")
    assert re.search(r"lego-controller: bad-image: injected \(ghcr\.io/lego-mcp/dashboard:\S+-broken\)", out), out
    # between the fault and the run the drill saw the new pods crash-loop, the rollout not complete
    assert re.search(r"deployment/dashboard 2/2 ready, 1 updated, image \S+-broken", out), out
    assert re.search(r"PASS image_rolled_back \[lego-controller\]: deployment/dashboard image (\S+) \(before the "
                     r"fault: \1\); the dashboard is healthy", out), out
    assert "PASS healthy [lego-controller]: /health 200" in out
    assert "image_rolled_back" in drill_md(runs)
    status = kube_lab.status()
    assert status["healthy"] is True and not status["deployments"]["dashboard"]["image"].endswith("-broken")
    kube_lab.assert_no_secret(proc, runs)


def test_the_security_incident_drill_contains_the_pod_and_rotates_the_secrets_the_lab_keeps(kube_lab, tmp_path):
    before = kube_lab.secrets()
    proc, runs = kube_lab.drill("lego-security-incident", tmp_path)
    out = passed(proc, "lego-security-incident", "compromised-pod")
    pod = re.search(r"compromised-pod: injected \((dashboard-\S+)\)", out).group(1)
    assert re.search(r"PASS pod_contained_and_replaced \[lego-controller\]: pod %s replaced, quarantine lifted, the "
                     r"old DB password refused and the new one accepted" % re.escape(pod), out), out
    # the rotated values are the inventory's now, and the lab goes on with them
    after = kube_lab.secrets()
    assert after["lego_db_password"] != before["lego_db_password"]
    assert after["lego_api_key"] != before["lego_api_key"]
    assert kube_lab.status()["healthy"] is True
    drill_md(runs)
    kube_lab.assert_no_secret(proc, runs)


@pytest.mark.parametrize("runbook, fault, words, repair", [
    ("lego-full-recovery", "namespace-wiped",
     [r"namespace-wiped: injected \(namespace deleted; the dump before it: \S+\.dump\)",
      r"PASS namespace_recovered \[lego-controller\]: namespace Active; audit_log (\d+) rows \(at the dump: \1\); "
      r"the dashboard is healthy"], None),
    ("lego-morning-health-check", "db-connections-exhausted",
     [r"PASS runbook: exit 2 \(some host failed\), expected 2", r"PASS named_lego_db_slots \[lego-controller\]: the "
      r"run says [\"']Morning health check of LEGO MCP found:"], "db-connections-exhausted"),
    ("lego-hsm-unavailable", "hsm-back-fallback-on",
     [r"PASS fallback_off_chain_verified \[lego-controller\]: HSM_FALLBACK_ENABLED=false; the dashboard is healthy; "
      r"the run says 'Audit chain: \d+ records, verified end to end"], None),
    # the load on every pod while the run scales up (and counted by its assessment), then the undo run's scale down
    ("lego-scale-high-load", "high-load",
     [r"high-load: injected \(4 concurrent clients, pid \d+, on the dashboard's 2 Ready pods",
      r"Load before the change \(access logs of the dashboard pods, last 10 s\): \d+ requests",
      r"PASS scaled_for_load \[lego-controller\]: deployment/dashboard 3, deployment/celery-worker 3, "
      r"statefulset/postgresql-replica 2, every pod Ready, the dashboard healthy; the load \(\d+ requests\) answered "
      r"by all 3 dashboard pods",
      r"PASS undo: -e scale_down=True .*: exit 0",
      r"PASS back_to_size \[lego-controller\]: after the scale down: deployment/dashboard 2, deployment/celery-worker "
      r"2, statefulset/postgresql-replica 1 as before the load"], "high-load"),
])
def test_the_other_lego_drills_end_where_their_runbooks_say(kube_lab, tmp_path, runbook, fault, words, repair):
    try:
        proc, runs = kube_lab.drill(runbook, tmp_path)
        out = passed(proc, runbook, fault)
        for pattern in words:
            assert re.search(pattern, out), (pattern, out[-6000:])
        drill_md(runs)
        kube_lab.assert_no_secret(proc, runs)
    finally:
        if repair:  # a read-only runbook leaves the fault: the lab's repair undoes it
            repaired = mcpops("lab", "repair", repair, *kube_lab.flags)
            assert repaired.returncode == 0, repaired.stdout + repaired.stderr[-3000:]
    status = kube_lab.status()
    assert status["healthy"] is True and "dashboard-load" not in status["pids"], status
