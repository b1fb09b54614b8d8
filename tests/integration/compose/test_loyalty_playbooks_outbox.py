"""The Loyalty API's outbox and integration symptom runbooks (issue 17, seed 003) on the shared compose lab, each from
its fault back to healthy: the worker disabled (WORKERS_ENABLED=0) is turned back on and the outbox drains; delivery
is paused and resumed on request; dead events from a merchant answering 429 are not resent while it still does
(delivery paused instead) and are delivered once it accepts; a wrong Telegram token is replaced from the operator's
secret var and a test notification reaches the stand-in; merchant webhook 500s are named by provider and result.
Check mode changes nothing (containers, env file, rows, the outbox's pause); no secret of the lab, the right and the
wrong bot token among them, is ever in the output or the report. Every fault is repaired before the test ends."""

import contextlib
import json
import threading
import time
import uuid

import pytest

from mcpops.lab.compose import loyalty_faults, loyalty_project

from loyalty_playbook_runs import run_loyalty_playbook

READY_TIMEOUT = 60  # seconds for the lab to be ready again on a loaded 2-core machine
OUTBOX_TIMEOUT = 90  # seconds for the worker to act on the outbox (deliver, retry, give up)
SECRETS = ("metrics_token", "db_password", "pg_superuser_password", "telegram_bot_token")
WRONG_TOKEN = "wrong-token-123456"  # loyalty_faults' telegram-token-wrong


@pytest.fixture
def lab(loyalty_lab):
    loyalty_lab.wait_ready(timeout=READY_TIMEOUT)
    return loyalty_lab


def run_playbook(lab, tmp_path, name, *flags, **extra):
    """(exit code, output with whitespace runs made one space, summary lines) of playbooks/<name>.yml."""
    report_dir = tmp_path / ("report-%s-%s" % (name, uuid.uuid4().hex[:8]))
    proc = run_loyalty_playbook(lab, report_dir, name, flags, extra)
    output = proc.stdout + proc.stderr
    report = (report_dir / "report.json").read_text() + (report_dir / "report.md").read_text()
    for secret in [lab.secret(name) for name in SECRETS] + [WRONG_TOKEN]:
        assert secret not in output and secret not in report, "a secret was printed"
    lines = [line for entry in json.loads((report_dir / "report.json").read_text())["summary"] for line in entry["lines"]]
    return proc.returncode, " ".join(output.split()), lines


def snapshot(lab):
    """What check mode must leave alone: containers (id, state, start), the env file, the rows, the outbox's pause."""
    ids = lab.docker.run("ps", "--all", "--quiet", "--no-trunc", "--filter",
                         "label=com.docker.compose.project=" + loyalty_project.PROJECT).stdout.split()
    containers = sorted(lab.docker.run("inspect", "--format", "{{.Id}} {{.State.Status}} {{.State.StartedAt}}",
                                       *ids).stdout.splitlines())
    with lab.db() as conn:
        rows = conn.execute("SELECT (SELECT count(*) FROM loyalty_transactions), (SELECT string_agg(status || ':' || "
                            "n, ',' ORDER BY status) FROM (SELECT status, count(*) n FROM outbox GROUP BY 1) s), "
                            "(SELECT paused FROM outbox_control WHERE id = 1)").fetchone()
    return {"containers": containers, "env": lab.env_path.read_bytes(), "rows": rows}


def earn(lab, who):
    status, _ = lab.call("POST", "/api/v1/loyalty/earn", {"customerId": who, "points": 3})
    assert status == 200


def wait_outbox(lab, condition, what):
    deadline = time.monotonic() + OUTBOX_TIMEOUT
    while time.monotonic() < deadline:
        state = lab.outbox()
        if condition(state):
            return state
        time.sleep(0.5)
    raise AssertionError("%s: the outbox still says %s" % (what, lab.outbox()))


@contextlib.contextmanager
def earning(lab, prefix):
    """Earn calls every 0.3 s while the block runs (each one an outbox event the worker delivers)."""
    stop = threading.Event()

    def loop():
        n = 0
        while not stop.is_set():
            with contextlib.suppress(OSError):
                lab.call("POST", "/api/v1/loyalty/earn", {"customerId": "%s-%d" % (prefix, n % 5), "points": 1})
            n += 1
            stop.wait(0.3)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)


def test_workers_outbox_turns_the_worker_back_on_and_the_outbox_drains(lab, tmp_path):
    lab.break_("worker-disabled")
    try:
        for i in range(4):
            earn(lab, "h17a-worker-%d" % i)
        wait_outbox(lab, lambda s: s["pending"] >= 4, "events waiting")
        before = snapshot(lab)
        code, output, _ = run_playbook(lab, tmp_path, "loyalty-workers-outbox", "--check", metrics_window=2, log_lines=20)
        assert code == 0, output[-3000:]
        assert snapshot(lab) == before
        code, output, lines = run_playbook(lab, tmp_path, "loyalty-workers-outbox", metrics_window=2, log_lines=20,
                                           drain_seconds=OUTBOX_TIMEOUT)
        assert code == 0, output[-3000:]
        assert "WORKERS_ENABLED=0 in the env files" in lines, lines
        assert any(line.startswith("nothing delivered over the window") for line in lines), lines
        assert lab.read_env()["WORKERS_ENABLED"] == "1"
        assert lab.outbox()["pending"] == 0
        received = {event["data"]["customerId"] for event in lab.standin("merchant", "/_lab/received")[1]["events"]
                    if event.get("type") == "loyalty.earn"}
        assert {"h17a-worker-%d" % i for i in range(4)} <= received
    finally:
        lab.repair("worker-disabled")


def test_workers_outbox_pauses_and_resumes_delivery(lab, tmp_path):
    try:
        code, output, _ = run_playbook(lab, tmp_path, "loyalty-workers-outbox", metrics_window=1, log_lines=5,
                                       delivery="pause")
        assert code != 0 and "Delivery is paused" in output, output[-3000:]
        assert lab.outbox()["paused"] is True
        earn(lab, "h17a-paused")
        time.sleep(3)  # a worker that ignored the pause would have delivered it by now (it polls every second)
        assert lab.outbox()["pending"] >= 1
        code, output, _ = run_playbook(lab, tmp_path, "loyalty-workers-outbox", metrics_window=1, log_lines=5,
                                       delivery="resume", drain_seconds=OUTBOX_TIMEOUT)
        assert code == 0, output[-3000:]
        state = lab.outbox()
        assert (state["paused"], state["pending"]) == (False, 0)
    finally:
        lab.outbox("resume")


def test_outbox_dead_is_not_resent_while_the_merchant_fails_and_is_delivered_after(lab, tmp_path):
    lab.break_("webhook-429")
    try:
        for i in range(3):
            earn(lab, "h17a-dead-%d" % i)
        wait_outbox(lab, lambda s: s["dead"] >= 3 and s["pending"] == 0, "events dead")
        before = snapshot(lab)
        code, output, _ = run_playbook(lab, tmp_path, "loyalty-outbox-dead", "--check", metrics_window=1, log_lines=5)
        assert code != 0 and "a resend would only die again" in output, output[-3000:]
        assert snapshot(lab) == before
        code, output, lines = run_playbook(lab, tmp_path, "loyalty-outbox-dead", metrics_window=1, log_lines=5)
        assert code != 0 and "Nothing was requeued; delivery is paused" in output, output[-3000:]
        assert any(line.startswith("dead entries: ") and "429" in line for line in lines), lines
        state = lab.outbox()
        assert state["paused"] is True and state["dead"] >= 3
        loyalty_faults.heal_merchant(lab)  # the merchant fixes its side
        code, output, _ = run_playbook(lab, tmp_path, "loyalty-outbox-dead", metrics_window=1, log_lines=5,
                                       deliver_seconds=OUTBOX_TIMEOUT)
        assert code == 0, output[-3000:]
        state = lab.outbox()
        assert (state["paused"], state["dead"], state["pending"]) == (False, 0, 0)
        received = {event["data"]["customerId"] for event in lab.standin("merchant", "/_lab/received")[1]["events"]
                    if event.get("type") == "loyalty.earn"}
        assert {"h17a-dead-%d" % i for i in range(3)} <= received
    finally:
        lab.repair("webhook-429")


def test_telegram_token_is_fixed_from_the_secret_var_and_a_test_notification_arrives(lab, tmp_path):
    right = lab.secret("telegram_bot_token")
    lab.break_("telegram-token-wrong")
    try:
        before = snapshot(lab)
        code, output, _ = run_playbook(lab, tmp_path, "loyalty-telegram-notifications", "--check", metrics_window=1,
                                       log_lines=20, loyalty_telegram_bot_token=right)
        assert code == 0, output[-3000:]
        assert snapshot(lab) == before
        code, output, lines = run_playbook(lab, tmp_path, "loyalty-telegram-notifications", metrics_window=1,
                                           log_lines=20)
        assert code != 0 and "no token to fix it with was given" in output, output[-3000:]
        assert any("the Bot API refuses the worker's token: Unauthorized" in line for line in lines), \
            [line for line in lines if " | " not in line]
        assert snapshot(lab)["env"] == before["env"]
        code, output, _ = run_playbook(lab, tmp_path, "loyalty-telegram-notifications", metrics_window=1,
                                       log_lines=20, loyalty_telegram_bot_token=right)
        assert code == 0, output[-3000:]
        assert lab.read_env()["TELEGRAM_NOTIFY_BOT_TOKEN"] == right
        texts = [m["text"] for m in lab.standin("telegram", "/_lab/messages")[1]["messages"]]
        assert "mcpops loyalty-telegram-notifications: test notification from loyalty-compose" in texts
    finally:
        lab.repair("telegram-token-wrong")


def test_external_errors_names_the_provider_and_result(lab, tmp_path):
    before = snapshot(lab)
    code, output, lines = run_playbook(lab, tmp_path, "loyalty-external-errors", "--check", metrics_window=1,
                                       log_lines=5)
    assert code == 0, output[-3000:]
    assert snapshot(lab) == before
    lab.break_("webhook-500")
    try:
        with earning(lab, "h17a-ext"):
            code, output, lines = run_playbook(lab, tmp_path, "loyalty-external-errors", metrics_window=6, log_lines=5)
        assert code != 0
        assert any(line.startswith('provider="merchant_webhook" result="http_error"') for line in lines), lines
        assert not any(line.startswith('provider="telegram"') for line in lines), lines
        assert any(line.startswith("merchant_webhook now: ") and '"status": 500' in line for line in lines), lines
    finally:
        lab.repair("webhook-500")
