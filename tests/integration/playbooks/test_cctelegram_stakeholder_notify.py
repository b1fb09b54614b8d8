"""playbooks/cctelegram-stakeholder-notify.yml (seed 002, "2. Stakeholder Notification") through ansible-playbook,
its receivers from an inventory's group_vars/all (tokens read from 0600 files by lookup('file')), posting to a
loopback receiver (the `stub` HTTP server): check mode posts nothing; a chat that answers 503 does not keep the
status page and the Telegram webhook from the update, and the run fails naming it; the re-run posts only to the
chat; the next posts nothing. The tokens are in no output (-v) and in no file of the incident report."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
PLAYBOOK = REPO / "playbooks" / "cctelegram-stakeholder-notify.yml"
TOKENS = {"statuspage_key": "spCANARYplaybookKEY01", "chat_token": "xoxb-CANARYplaybook02",
          "bot_token": "777:CANARYplaybookBOT03"}
STATUS_PATH = "/v1/pages/pg7/incidents/inc-from-cli"
CHAT_PATH = "/api/chat.postMessage"
BOT_PATH = "/bot%s/sendMessage" % TOKENS["bot_token"]
OK = (200, {"Content-Type": "application/json"}, {"ok": True, "result": {"message_id": 7}})

pytestmark = pytest.mark.skipif(not (BIN / "ansible-playbook").exists(), reason="ansible-playbook not in the venv")


def write_inventory(root, url):
    secrets = root / "secrets"
    secrets.mkdir(mode=0o700)
    for name, value in TOKENS.items():
        fd = os.open(str(secrets / name), os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(value)
    token = "{{ lookup('file', '%s') }}"
    group_vars = root / "inventory" / "group_vars"
    group_vars.mkdir(parents=True)
    (root / "inventory" / "hosts.yml").write_text("all:\n  hosts: {}\n")
    (group_vars / "all.yml").write_text(yaml.safe_dump({
        "stakeholder_notify_state_dir": str(root / "notify-state"),
        "stakeholder_notify_retry_delay": 0,
        "stakeholder_receivers": [
            dict(name="incidents-chat", kind="chat", url=url, channel="#incidents", token=token % (secrets / "chat_token")),
            dict(name="oncall-telegram", kind="telegram", url=url, chat_id="-100777", token=token % (secrets / "bot_token")),
            dict(name="statuspage", kind="statuspage", url=url, page_id="pg7", incident_id="set-by-cli",
                 token=token % (secrets / "statuspage_key")),
        ],
    }))
    return root / "inventory"


def run_playbook(root, inventory, report, *flags):
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(REPO / "collections"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0", MCPOPS_REPORT_DIR=str(root / report),
               PATH="%s:%s" % (BIN, os.environ.get("PATH", "")), no_proxy="127.0.0.1,localhost")
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(inventory), str(PLAYBOOK), "-v",
                           "-e", "incident_id=INC-2026-0042", "-e", "statuspage_incident_id=inc-from-cli"] + list(flags),
                          cwd=str(REPO), env=env, capture_output=True, text=True, timeout=120)
    summary = json.loads((root / report / "report.json").read_text())["summary"]
    return proc, proc.stdout + proc.stderr, "\n".join(str(line) for line in summary)


def received(stub):
    got = [(r["method"], r["path"]) for r in stub.requests]
    stub.requests.clear()
    return got


def test_check_mode_then_a_failing_chat_then_reruns_that_post_only_what_is_missing(stub, tmp_path):
    inventory = write_inventory(tmp_path, stub.url)
    stub.routes[("PATCH", STATUS_PATH)] = (200, {"Content-Type": "application/json"}, {"id": "inc-from-cli"})
    stub.routes[("POST", CHAT_PATH)] = (503, {}, "maintenance")
    stub.routes[("POST", BOT_PATH)] = OK
    outputs = []

    proc, out, summary = run_playbook(tmp_path, inventory, "check", "--check")
    outputs.append(out)
    assert proc.returncode == 0, out[-3000:]
    assert received(stub) == [] and not (tmp_path / "notify-state").exists()
    assert "statuspage (statuspage, PATCH %s%s): would be notified (check mode)" % (stub.url, STATUS_PATH) in summary

    proc, out, summary = run_playbook(tmp_path, inventory, "first")
    outputs.append(out)
    assert proc.returncode == 2, out[-3000:]
    assert received(stub) == [("PATCH", STATUS_PATH)] + [("POST", CHAT_PATH)] * 3 + [("POST", BOT_PATH)]
    assert "Not notified: incidents-chat" in out
    assert "incidents-chat (chat, POST %s%s): NOT notified: HTTP 503" % (stub.url, CHAT_PATH) in summary
    assert "oncall-telegram (telegram, POST %s/bot***/sendMessage): notified (HTTP 200)" % stub.url in summary
    assert "Incident INC-2026-0042 (resolved): Service has been restored" in summary

    stub.routes[("POST", CHAT_PATH)] = OK
    proc, out, summary = run_playbook(tmp_path, inventory, "second")
    outputs.append(out)
    assert proc.returncode == 0, out[-3000:]
    [chat] = [r for r in stub.requests]
    assert (chat["method"], chat["path"]) == ("POST", CHAT_PATH)
    assert json.loads(chat["body"]) == {"channel": "#incidents",
                                        "text": "Incident INC-2026-0042 resolved: MCP Server is operational"}
    received(stub)
    assert "statuspage (statuspage, PATCH %s%s): already notified by an earlier run" % (stub.url, STATUS_PATH) in summary

    proc, out, summary = run_playbook(tmp_path, inventory, "third")
    outputs.append(out)
    assert proc.returncode == 0 and received(stub) == [], out[-3000:]
    assert summary.count("already notified by an earlier run") == 3

    texts = outputs + [p.read_text(errors="replace") for p in tmp_path.rglob("*")
                       if p.is_file() and "secrets" not in p.parts]
    assert not [t for t in TOKENS.values() for text in texts if t in text]


def test_bad_incident_id_is_refused_before_anything_is_sent(stub, tmp_path):
    inventory = write_inventory(tmp_path, stub.url)
    for n, bad in enumerate(("INC-2026-0042\n", "INC 42; rm -rf /", "{{ lookup('env', 'HOME') }}")):
        proc, out, _ = run_playbook(tmp_path, inventory, "bad%d" % n, "-e", json.dumps({"incident_id": bad}))
        assert proc.returncode == 2 and "Nothing was sent" in out, out[-3000:]
    assert stub.requests == []
