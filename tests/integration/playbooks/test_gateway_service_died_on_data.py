"""gateway_service's early end of a restart's wait (gateway_service_wait_ends_on_data_error, INC-001's step 4): the
rule gateway_service_died_on_data of roles/gateway_service/vars/main.yml, evaluated by ansible-playbook itself on the
status reads of each platform. tests/integration/playbooks/test_service_lifecycle.py runs INC-001 on a real crash
loop; this pins the cases a real lab cannot time: a RUNNING read after a restart, a newest line that is not the
store's, systemd's own journal line after the gateway's, docker's restart count."""

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
STORE_ERROR = "2026-12-06T10:00:00Z ERROR StoreMigrationRunner: invalid JSON in tokens.json"
SYSTEMD_LINE = "Dec 06 10:00:01 fleet1 systemd[1]: onec-gateway.service: Main process exited, code=exited"

CASES = [  # (what, the role's inputs and the status read, expected)
    ("backing off after a store error", dict(platform="supervisor", state="BACKOFF", lines=["starting", STORE_ERROR]),
     True),
    ("the same with the option off", dict(on=False, platform="supervisor", state="BACKOFF", lines=[STORE_ERROR]),
     False),
    ("a stop's wait is never ended by it", dict(wait_for="stopped", platform="supervisor", state="BACKOFF",
                                                lines=[STORE_ERROR]), False),
    ("backing off, but the newest line is another error", dict(platform="supervisor", state="BACKOFF",
                                                               lines=[STORE_ERROR, "ERROR port 3000 in use"]), False),
    ("RUNNING read after a restart that died on its data", dict(platform="supervisor", state="RUNNING", restarts=1,
                                                                lines=[STORE_ERROR, ""]), True),
    ("RUNNING with no restart since the start", dict(platform="supervisor", state="RUNNING", restarts=0,
                                                     lines=[STORE_ERROR]), False),
    ("systemd auto-restart, its own line last", dict(platform="systemd", state="activating", sub_state="auto-restart",
                                                     lines=[STORE_ERROR, SYSTEMD_LINE]), True),
    ("docker's restart count is the container's life", dict(platform="compose", state="running", restarts=3,
                                                            lines=[STORE_ERROR]), False),
    ("docker restarting after a store error", dict(platform="compose", state="restarting", lines=[STORE_ERROR]),
     True),
]


def test_died_on_data_rule_on_every_platform(tmp_path):
    cases = []
    for what, given, expected in CASES:
        status = {"state": given["state"], "log_lines": given["lines"], "restarts": given.get("restarts", 0)}
        if "sub_state" in given:
            status["sub_state"] = given["sub_state"]
        cases.append({"what": what, "on": given.get("on", True), "wait_for": given.get("wait_for", "running"),
                      "platform": given["platform"], "status": status, "expected": expected})
    playbook = [{
        "name": "gateway_service_died_on_data, case by case",
        "hosts": "localhost", "connection": "local", "gather_facts": False,
        "vars_files": [str(REPO / "roles" / "gateway_service" / "vars" / "main.yml")],
        "tasks": [{
            "name": "The rule's verdict",
            "ansible.builtin.debug": {"msg": "{{ {'what': item.what, 'said': gateway_service_died_on_data | bool} }}"},
            "vars": {"gateway_service_wait_ends_on_data_error": "{{ item.on }}",
                     "gateway_service_wait_for": "{{ item.wait_for }}",
                     "gateway_platform": "{{ item.platform }}",
                     "gateway_service_read": {"status": "{{ item.status }}"}},
            "loop": cases, "loop_control": {"label": "{{ item.what }}"},
        }],
    }]
    path = tmp_path / "died_on_data.yml"
    path.write_text(yaml.safe_dump(playbook, sort_keys=False))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_COLLECTIONS_PATH=str(REPO / "collections"))
    proc = subprocess.run([str(BIN / "ansible-playbook"), str(path), "-i", "localhost,"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    results = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]["results"]
    said = {r["msg"]["what"]: r["msg"]["said"] for r in results}
    assert said == {what: expected for what, _, expected in CASES}
