"""playbooks/lego-security-incident.yml on the LEGO stack, from the `compromised-pod` fault back to healthy: the pod
quarantined during the run (label and policy seen by a watcher), evidence files and a chain-of-custody manifest whose
sha256s are right, the old DB password refused by PostgreSQL after, the dashboard healthy with the new one, the
quarantine lifted at the end, and no password or API key (old or new) in the output, the report or the evidence.
Check mode changes nothing (resourceVersions, the Secret's data, the DB password); a pod that is not there is refused
with nothing touched.

The stack is the session's: after a real rotation the test hands the new values to it (stack.db_password, api_key),
so that the next test's inventory and the fault repairs use what PostgreSQL and the Secret now hold."""

import base64
import hashlib
import json
import os
import stat
import threading
import time

import psycopg
import yaml

from lego_playbook_runs import lego_inventory, report, run_lego_playbook
from mcpops.lab.lego import faults
from mcpops.lab.lego.stack import DB_NAME, DB_USER, NAMESPACE, SECRET_NAME

PLAYBOOK = "lego-security-incident"
CHAT_PATH = "/api/chat.postMessage"
CHAT_TOKEN = "xoxb-CANARYsecurityChat01"


def db_accepts(stack, password):
    try:
        psycopg.connect(connect_timeout=5, **stack.pg.dsn(user=DB_USER, dbname=DB_NAME, password=password,
                                                         tcp=True)).close()
    except psycopg.OperationalError as exc:
        assert "password authentication failed" in str(exc), exc
        return False
    return True


def summary_text(report_dir):
    return "\n".join(line for entry in report(report_dir)["summary"] for line in entry["lines"])


def secret_data(stack):
    data = stack.get_json("secret", SECRET_NAME)["data"]
    return {k: base64.b64decode(v).decode() for k, v in data.items()}


def resource_versions(stack):
    """{kind/name: resourceVersion} of what a runbook could change in the namespace (events aside)."""
    items = stack.get_json("pods,deployments,replicasets,statefulsets,secrets,configmaps,networkpolicies,services")
    return {"%s/%s" % (i["kind"], i["metadata"]["name"]): i["metadata"]["resourceVersion"] for i in items["items"]}


def canaries(*values):
    """Each secret in clear and in base64 (a Secret's data)."""
    out = []
    for value in values:
        out += [value, base64.b64encode(value.encode()).decode()]
    return out


def files_under(directory, skip=()):
    for root, _dirs, names in os.walk(directory):
        for name in names:
            path = os.path.join(root, name)
            if path not in skip:
                yield path


class QuarantineWatcher(threading.Thread):
    """Polls the pod's labels and the quarantine NetworkPolicy while the playbook runs."""

    def __init__(self, stack, pod):
        super().__init__(daemon=True)
        self.stack, self.pod = stack, pod
        self.label_seen = self.policy_seen = False
        self.policy_selector = None
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            proc = self.stack.kubectl("get", "pod", self.pod, "-o", "json", check=False)
            if proc.returncode == 0:
                labels = json.loads(proc.stdout)["metadata"].get("labels") or {}
                self.label_seen |= labels.get("quarantine") == "true"
            proc = self.stack.kubectl("get", "networkpolicy", "quarantine", "-o", "json", check=False)
            if proc.returncode == 0:
                self.policy_seen = True
                self.policy_selector = json.loads(proc.stdout)["spec"]["podSelector"]
            time.sleep(0.3)

    def stop(self):
        self.stopping.set()
        self.join(timeout=30)


def test_compromised_pod_quarantined_evidence_kept_secrets_rotated_and_healthy_again(lego_stack, tmp_path, stub):
    stack = lego_stack
    old_password, old_api_key = stack.db_password, stack.api_key
    inventory = lego_inventory(stack, tmp_path / "inventory")
    # the security team's chat, a loopback stand-in (its token is a canary too)
    stub.routes[("POST", CHAT_PATH)] = (200, {"Content-Type": "application/json"}, {"ok": True})
    (inventory / "group_vars" / "gateways" / "notify.yml").write_text(yaml.safe_dump({
        "stakeholder_notify_retry_delay": 0,
        "stakeholder_receivers": [{"name": "security-team", "kind": "chat", "url": stub.url, "channel": "#security",
                                   "token": CHAT_TOKEN}]}))
    secrets_file = inventory / "group_vars" / "gateways" / "secrets.yml"
    report_dir = tmp_path / "report"
    new_file = report_dir / "lego-new-secrets.yml"
    pod = faults.inject(stack, "compromised-pod")
    watcher = QuarantineWatcher(stack, pod)
    watcher.start()
    new = {}
    try:
        proc = run_lego_playbook(inventory, report_dir, PLAYBOOK,
                                 {"pod": pod, "inventory_secrets_file": str(secrets_file)})
        watcher.stop()
        if new_file.is_file():
            new = yaml.safe_load(new_file.read_text())
            if db_accepts(stack, new["lego_db_password"]):  # hand the rotated values to the session's stack
                stack.db_password, stack.api_key = new["lego_db_password"], new["lego_api_key"]
        assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]

        # contained during the run, lifted at the end
        assert watcher.label_seen and watcher.policy_seen, (watcher.label_seen, watcher.policy_seen)
        assert watcher.policy_selector == {"matchLabels": {"quarantine": "true"}}
        assert stack.kubectl("get", "networkpolicy", "quarantine", check=False).returncode != 0
        assert stack.kubectl("get", "pods", "-l", "quarantine", "-o", "name").stdout.strip() == ""
        assert stack.kubectl("get", "pod", pod, check=False).returncode != 0  # the clean rollout replaced it

        # evidence: each file's sha256 in the chain-of-custody manifest is the file's
        evidence = report_dir / "evidence"
        manifest = json.loads((evidence / "chain-of-custody.json").read_text())
        assert manifest["pod"] == pod and manifest["namespace"] == NAMESPACE
        assert len(manifest["files"]) == 5
        for entry in manifest["files"]:
            body = (evidence / entry["file"]).read_bytes()
            assert hashlib.sha256(body).hexdigest() == entry["sha256"] and len(body) == entry["bytes"], entry
            assert stat.S_IMODE((evidence / entry["file"]).stat().st_mode) == 0o600
        by_name = {e["file"].split("-")[0] + ("-logs" if "-logs-" in e["file"] else ""): e["file"]
                   for e in manifest["files"]}
        assert "quarantine=true" in (evidence / by_name["incident"]).read_text()  # describe after containment
        assert faults.INTRUDER_PEER in (evidence / by_name["incident-logs"]).read_text()

        # eradicated: PostgreSQL refuses the old password and takes the new; the Secret and the inventory hold it
        assert new and new["lego_db_password"] != old_password and new["lego_api_key"] != old_api_key
        assert stat.S_IMODE(new_file.stat().st_mode) == 0o600
        assert db_accepts(stack, old_password) is False
        assert db_accepts(stack, new["lego_db_password"]) is True
        data = secret_data(stack)
        assert data["db-password"] == new["lego_db_password"] and data["api-key"] == new["lego_api_key"]
        assert ":%s@" % new["lego_db_password"] in data["database-url"]
        written = yaml.safe_load(secrets_file.read_text())
        assert (written["lego_db_password"], written["lego_api_key"]) == (new["lego_db_password"], new["lego_api_key"])
        assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600

        # recovered: the dashboard's new pods got the new DATABASE_URL and answer healthy
        assert stack.healthy() is True

        summary = summary_text(report_dir)
        assert faults.INTRUDER_PEER in summary and faults.INTRUDER_PROCESS in summary, summary
        assert "old one refused by PostgreSQL: True" in summary and "Notified: security-team" in summary
        posted = [r for r in stub.requests if (r["method"], r["path"]) == ("POST", CHAT_PATH)]
        assert len(posted) == 1 and pod.encode() in posted[0]["body"]
        manifest_sum = hashlib.sha256((evidence / "chain-of-custody.json").read_bytes()).hexdigest()
        assert "sha256 %s %s %s %s" % (manifest_sum[:16], manifest_sum[16:32], manifest_sum[32:48], manifest_sum[48:]) \
            in summary, summary

        # the canary: no password or API key, old or new, anywhere but the 0600 file made for them
        planted = canaries(old_password, old_api_key, new["lego_db_password"], new["lego_api_key"], CHAT_TOKEN)
        for value in planted[:-2]:
            assert value.encode() not in posted[0]["body"]
        texts = {"stdout": proc.stdout, "stderr": proc.stderr}
        texts.update({p: open(p, encoding="utf-8", errors="replace").read()
                      for p in files_under(report_dir, skip={str(new_file)})})
        for where, text in texts.items():
            for value in planted:
                assert value not in text, "a secret in %s" % where
    finally:
        watcher.stop()
        faults.repair(stack, "compromised-pod")


def test_check_mode_changes_nothing_and_a_missing_pod_is_refused(lego_stack, tmp_path):
    stack = lego_stack
    inventory = lego_inventory(stack, tmp_path / "inventory")
    pod = faults.inject(stack, "compromised-pod")
    try:
        before, data_before = resource_versions(stack), secret_data(stack)
        proc = run_lego_playbook(inventory, tmp_path / "check", PLAYBOOK, {"pod": pod}, flags=("--check",))
        assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
        assert resource_versions(stack) == before
        assert secret_data(stack) == data_before
        assert db_accepts(stack, stack.db_password) is True
        assert not (tmp_path / "check" / "evidence").exists()
        assert not (tmp_path / "check" / "lego-new-secrets.yml").exists()
        assert "Check mode: nothing was changed" in summary_text(tmp_path / "check")
        assert "Manual: notify the CISO (ciso@lego-mcp.io)" in summary_text(tmp_path / "check")  # no receiver here
        for value in canaries(stack.db_password, stack.api_key):
            assert value not in proc.stdout + proc.stderr

        proc = run_lego_playbook(inventory, tmp_path / "bad", PLAYBOOK, {"pod": "dashboard-not-there-x1"})
        assert proc.returncode != 0
        assert "No pod dashboard-not-there-x1 in namespace %s" % NAMESPACE in proc.stdout, proc.stdout[-4000:]
        assert "Nothing was changed" in proc.stdout
        assert resource_versions(stack) == before and secret_data(stack) == data_before
        assert db_accepts(stack, stack.db_password) is True

        proc = run_lego_playbook(inventory, tmp_path / "bad2", PLAYBOOK, {"pod": "Bad Pod;rm"})
        assert proc.returncode != 0 and "Bad input" in proc.stdout
        assert resource_versions(stack) == before
    finally:
        faults.repair(stack, "compromised-pod")
