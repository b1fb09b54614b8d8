"""stakeholder_notify run for real through ansible-playbook against loopback receivers (the `stub` HTTP server,
127.0.0.1, a free port): each kind gets its method, path, headers and body; a 500 is tried again and the 200 after
it taken; a receiver that is down does not keep the others from getting the update, and the task fails naming it
with its token masked; check mode sends nothing; canary tokens never appear in the whole -vvv output."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from loopback import free_port

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
SP_KEY = "spCANARYstatusKEY0001"
CHAT_TOKEN = "xoxb-CANARYchatTOKEN0002"
BOT_TOKEN = "4242:CANARYbotTOKEN0003"
CANARIES = (SP_KEY, CHAT_TOKEN, BOT_TOKEN)
OK = (200, {"Content-Type": "application/json"}, {"ok": True, "result": {"message_id": 1}})

pytestmark = pytest.mark.skipif(not (BIN / "ansible-playbook").exists(), reason="ansible-playbook not in the venv")


def receivers(url, telegram_url=None):
    return [
        dict(name="statuspage", kind="statuspage", url=url, page_id="pg1", incident_id="inc42", token=SP_KEY),
        dict(name="incidents", kind="chat", url=url, channel="#incidents", token=CHAT_TOKEN),
        dict(name="telegram", kind="telegram", url=telegram_url or url, chat_id="-1001", token=BOT_TOKEN),
    ]


def run_task(workdir, args, *flags):
    """(the task's result, the whole output); -vvv runs print with the default callback, others give JSON."""
    play = [{"hosts": "localhost", "gather_facts": False, "vars": {"ansible_python_interpreter": sys.executable},
             "tasks": [{"name": "notify", "mcpops.runbooks.stakeholder_notify": args, "register": "notified",
                        "ignore_errors": True},
                       {"name": "keep the result", "ansible.builtin.copy": {
                           "content": "{{ notified | to_json }}", "dest": str(Path(workdir) / "result.json")},
                        "check_mode": False}]}]
    playbook = Path(workdir) / "play.yml"
    playbook.write_text(json.dumps(play))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(REPO / "collections"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
               PATH="%s:%s" % (BIN, os.environ.get("PATH", "")), no_proxy="127.0.0.1,localhost")
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook)] + list(flags),
                          cwd=workdir, env=env, capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    try:
        return json.loads((Path(workdir) / "result.json").read_text()), out
    except (OSError, ValueError):
        raise AssertionError("no result (rc %d): %s" % (proc.returncode, out[-4000:]))


def body_of(request):
    return json.loads(request["body"])


def test_each_kind_gets_its_request_a_500_is_retried_and_no_token_is_in_the_vvv_output(stub, tmp_path):
    answers = [(500, {}, "busy"), OK]
    stub.routes[("PATCH", "/v1/pages/pg1/incidents/inc42")] = (200, {"Content-Type": "application/json"}, {"id": "inc42"})
    stub.routes[("POST", "/api/chat.postMessage")] = lambda handler, body: answers.pop(0)
    stub.routes[("POST", "/bot%s/sendMessage" % BOT_TOKEN)] = OK
    result, out = run_task(tmp_path, dict(receivers=receivers(stub.url), status="resolved",
                                          body="Service has been restored",
                                          text="Incident resolved: MCP Server is operational", retry_delay=0), "-vvv")
    assert not result.get("failed") and result["changed"] is True, out[-3000:]
    by_path = [(r["method"], r["path"]) for r in stub.requests]
    assert by_path == [("PATCH", "/v1/pages/pg1/incidents/inc42"), ("POST", "/api/chat.postMessage"),
                       ("POST", "/api/chat.postMessage"), ("POST", "/bot%s/sendMessage" % BOT_TOKEN)]
    status_page, _, chat, telegram = stub.requests
    assert status_page["headers"]["Authorization"] == "OAuth " + SP_KEY
    assert body_of(status_page) == {"incident": {"status": "resolved", "body": "Service has been restored"}}
    assert chat["headers"]["Authorization"] == "Bearer " + CHAT_TOKEN
    assert body_of(chat) == {"channel": "#incidents", "text": "Incident resolved: MCP Server is operational"}
    assert "Authorization" not in telegram["headers"]
    assert body_of(telegram) == {"chat_id": -1001, "text": "Incident resolved: MCP Server is operational"}
    assert [(o["name"], o["status"], o["attempts"]) for o in result["receivers"]] == [
        ("statuspage", 200, 1), ("incidents", 200, 2), ("telegram", 200, 1)]
    assert "/bot***/sendMessage" in out and "<localhost> EXEC" in out  # -vvv really printed the result
    assert not [c for c in CANARIES if c in out or c in json.dumps(result)]


def test_a_receiver_that_is_down_does_not_stop_the_others_and_the_task_fails_naming_it(stub, tmp_path):
    stub.routes[("PATCH", "/v1/pages/pg1/incidents/inc42")] = (200, {}, "{}")
    stub.routes[("POST", "/api/chat.postMessage")] = OK
    down = "http://127.0.0.1:%d" % free_port()
    result, out = run_task(tmp_path, dict(receivers=receivers(stub.url, telegram_url=down), status="resolved",
                                          body="Service has been restored", retries=1, retry_delay=0))
    assert result["failed"] is True
    assert "failed for telegram (POST %s/bot***/sendMessage: no answer" % down in result["msg"]
    assert "Delivered to: statuspage, incidents" in result["msg"]
    assert [r["path"] for r in stub.requests] == ["/v1/pages/pg1/incidents/inc42", "/api/chat.postMessage"]
    assert result["failed_receivers"] == ["telegram"] and result["receivers"][2]["attempts"] == 2
    assert not [c for c in CANARIES if c in out or c in json.dumps(result)]


def test_check_mode_sends_nothing_and_says_what_would_be_sent(stub, tmp_path):
    result, out = run_task(tmp_path, dict(receivers=receivers(stub.url), status="resolved", body="restored",
                                          dedupe_key="INC-42/resolved", state_dir=str(tmp_path / "state")), "--check")
    assert not result.get("failed") and result["changed"] is True, out[-3000:]
    assert stub.requests == [] and not (tmp_path / "state").exists()
    assert [(o["would_send"], o["url"]) for o in result["receivers"]] == [
        (True, stub.url + "/v1/pages/pg1/incidents/inc42"), (True, stub.url + "/api/chat.postMessage"),
        (True, stub.url + "/bot***/sendMessage")]
    assert result["receivers"][0]["payload"] == {"incident": {"status": "resolved", "body": "restored"}}
