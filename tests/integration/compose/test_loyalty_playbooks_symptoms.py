"""The Loyalty API's quick check and symptom runbooks (issue 17, seed 003) on the shared compose lab: each playbook
through ansible-playbook against the lab's inventory. Check mode changes nothing (containers' ids and start times,
the env file, the database's rows), also on a broken lab; each symptom playbook finds its fault (5xx storm, slow
queries, postgres down, redis down, the api stopped) and, where the runbook restarts, brings the service back; the
quick check finds the 5xx storm through the metrics thresholds and passes on a healthy lab; the metrics token is
never printed. Every fault injected here is repaired before the test ends (the lab is the session's)."""

import contextlib
import json
import threading
import time
import urllib.request

import pytest

from mcpops.lab.compose import loyalty_project

from loyalty_playbook_runs import run_loyalty_playbook

SYMPTOM_TIMEOUT = 60  # seconds for the lab to be ready again on a loaded 2-core machine
FAST = {"metrics_window": 3, "sample_seconds": 10, "log_lines": 20}  # a short window: the tests' traffic fills it
# sample_seconds is a deadline, not a wait: the sampling stops at the first slow statement it sees. On a loaded
# machine a request spends most of its time outside PostgreSQL, so a few snapshots can all miss the 1.5 s sleeps.


@pytest.fixture
def lab(loyalty_lab):
    """The session's lab, ready (a test before may have left it broken: then this says so)."""
    loyalty_lab.wait_ready(timeout=SYMPTOM_TIMEOUT)
    return loyalty_lab


def run_playbook(lab, tmp_path, name, *flags, **extra):
    """(exit code, output, report.json) of playbooks/<name>.yml against the lab's inventory."""
    report_dir = tmp_path / ("report-%s-%d" % (name, time.monotonic_ns()))
    proc = run_loyalty_playbook(lab, report_dir, name, flags, extra)
    output = proc.stdout + proc.stderr
    report = json.loads((report_dir / "report.json").read_text())
    report_md = (report_dir / "report.md").read_text()
    token = lab.secret("metrics_token")
    assert token not in output and token not in report_md and token not in json.dumps(report), \
        "the metrics token was printed"
    return proc.returncode, output, report


def summary_lines(report):
    return [line for entry in report["summary"] for line in entry["lines"]]


def snapshot(lab, rows=True):
    """What check mode must leave alone: each container's id, state and start time, the env file, the rows."""
    ids = lab.docker.run("ps", "--all", "--quiet", "--no-trunc", "--filter",
                         "label=com.docker.compose.project=" + loyalty_project.PROJECT).stdout.split()
    containers = sorted(lab.docker.run("inspect", "--format", "{{.Id}} {{.Name}} {{.State.Status}} {{.State.StartedAt}}",
                                       *ids).stdout.splitlines())
    state = {"containers": containers, "env": lab.env_path.read_bytes()}
    if rows:
        with lab.db() as conn:
            state["rows"] = conn.execute("SELECT (SELECT count(*) FROM loyalty_transactions), "
                                         "(SELECT count(*) FROM outbox)").fetchone()
    return state


@contextlib.contextmanager
def traffic(lab):
    """Business requests (balance reads), two at a time in a loop while the block runs: what the metrics window counts
    and what pg_stat_activity shows running."""
    stop = threading.Event()

    def loop():
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        while not stop.is_set():
            with contextlib.suppress(OSError):
                opener.open(lab.url + "/api/v1/loyalty/balance/traffic-probe", timeout=5).read()
            stop.wait(0.05)

    workers = [threading.Thread(target=loop, daemon=True) for _ in range(2)]
    for worker in workers:
        worker.start()
    try:
        yield
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=10)


@contextlib.contextmanager
def fault(lab, name):
    lab.break_(name)
    try:
        yield
    finally:
        lab.repair(name)


def test_quick_check_passes_on_a_healthy_lab_and_check_mode_changes_nothing(lab, tmp_path):
    before = snapshot(lab)
    code, output, report = run_playbook(lab, tmp_path, "loyalty-quick-check", "--check", **dict(FAST, metrics_window=1))
    assert code == 0, output[-4000:]
    assert "Quick check: nothing wrong found" in summary_lines(report)
    assert any('"url": "/ready"' in line for line in summary_lines(report))  # the api's last log lines are there
    assert snapshot(lab) == before


def test_quick_check_finds_the_5xx_storm_through_the_metrics_thresholds(lab, tmp_path):
    with fault(lab, "5xx-storm"), traffic(lab):
        code, output, report = run_playbook(lab, tmp_path, "loyalty-quick-check", **FAST)
    assert code != 0
    lines = summary_lines(report)
    assert any(line.startswith("http_5xx_per_min: ") and "over the threshold 5.0" in line for line in lines), lines
    assert any(line.startswith("check balance") and "HTTP 500" in line for line in lines), lines


def test_api_down_starts_a_stopped_api_and_leaves_it_in_check_mode(lab, tmp_path):
    lab.compose("stop", "api")
    try:
        stopped = snapshot(lab)
        code, output, _ = run_playbook(lab, tmp_path, "loyalty-api-down", "--check", log_lines=20)
        assert code == 0, output[-4000:]
        assert "Check mode: would start" in output
        assert snapshot(lab) == stopped
        code, output, report = run_playbook(lab, tmp_path, "loyalty-api-down", log_lines=20)
        assert code == 0, output[-4000:]
        assert any("the API does not answer; the DB and Redis answer" in line for line in summary_lines(report))
        assert lab.states()["api"][0] == "running"
        assert lab.get("/ready")[0] == 200
    finally:
        lab.compose("up", "-d", "--pull", "never", "api")


def test_api_down_names_a_5xx_storm_and_does_not_restart(lab, tmp_path):
    with fault(lab, "5xx-storm"):
        before = snapshot(lab)
        code, output, report = run_playbook(lab, tmp_path, "loyalty-api-down", log_lines=20)
        assert snapshot(lab) == before  # not restarted
    assert code != 0
    assert "The API answers but fails: check balance" in output and "HTTP 500" in output
    assert not any(step["step"].startswith("Перезапустите") and step.get("status") == "changed"
                   for step in report["timeline"])


def test_slow_requests_finds_the_slow_statement_and_explains_it_read_only(lab, tmp_path):
    with fault(lab, "slow-queries"), traffic(lab):
        before = snapshot(lab)
        code, output, report = run_playbook(lab, tmp_path, "loyalty-slow-requests", "--check", **FAST)
        assert snapshot(lab) == before
    assert code != 0
    lines = summary_lines(report)
    assert any(line.startswith("http_slow_per_min: ") for line in lines), lines
    assert any(line.startswith("slow statements in PostgreSQL") and "pg_sleep" in line for line in lines), lines
    explained = [i for i, line in enumerate(lines) if line.startswith("EXPLAIN (ANALYZE, BUFFERS) of SELECT pg_sleep")]
    assert explained, lines
    assert "actual time=" in lines[explained[0] + 1]  # ANALYZE ran it (with NULL for $1, in a read-only transaction)


@pytest.mark.parametrize("name, service, playbook, summary", [
    ("postgres-down", "postgres", "loyalty-db-unavailable", 'pg_isready: service "postgres" is not running'),
    ("redis-down", "redis", "loyalty-redis-unavailable", 'redis-cli ping: service "redis" is not running'),
])
def test_datastore_down_is_found_and_started_again(lab, tmp_path, name, service, playbook, summary):
    rows = snapshot(lab)["rows"]
    lab.break_(name)
    try:
        broken = snapshot(lab, rows=False)
        code, output, _ = run_playbook(lab, tmp_path, playbook, "--check", log_lines=20)
        assert code == 0, output[-4000:]
        assert "Check mode: would start %s" % service in output
        assert snapshot(lab, rows=False) == broken
        code, output, report = run_playbook(lab, tmp_path, playbook, log_lines=20)
        assert code == 0, output[-4000:]
        assert summary in summary_lines(report)
        assert lab.states()[service][0] == "running"
        lab.wait_ready(timeout=SYMPTOM_TIMEOUT)
        assert snapshot(lab)["rows"] == rows
    finally:
        lab.repair(name)
