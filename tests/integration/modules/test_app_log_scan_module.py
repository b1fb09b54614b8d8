"""app_log_scan run for real through ansible-playbook (-vvv) on logs written by the reference services' own log code:
cctelegram-mcp's application.log and security.log (CcTelegram.log_request, .security_event, .log_event),
connector-mcp's app.log (Connector.log_request, .log_event) and loyalty-api's pino lines (Loyalty.log_request,
.log_event), each service built from its config (no listener, no datastore reached) with its clock pinned so that
some lines fall outside the window. Each scan takes its profile's logs.fields. Counts, the top client ip and the
error types are asserted; three canaries (a value given in `secrets`, an Authorization header a service logged, a
password= in an error text) never appear in ansible-playbook's output, the results or the incident report."""

import json
import os
import secrets as token_source
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest
import yaml

from mcpops.lab.services import cctelegram_mcp, connector_mcp, loyalty_api
from mcpops.lab.services.http_app import JsonLines, Request, Response

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
PROFILES = {p.stem: yaml.safe_load(p.read_text()) for p in sorted((REPO / "profiles").glob("*.yml"))}
HOUR = 3600.0

pytestmark = pytest.mark.skipif(not (BIN / "ansible-playbook").exists(), reason="ansible-playbook not in the venv")


class Clock:
    """The services' clock, pinned: now_iso() for cctelegram and connector, time.time() for loyalty's pino lines."""

    def __init__(self, monkeypatch):
        self.now = time.time()
        self.at = self.now
        iso = cctelegram_mcp.now_iso  # http_app.now_iso, imported by both services
        monkeypatch.setattr(cctelegram_mcp, "now_iso", lambda ts=None: iso(self.at if ts is None else ts))
        monkeypatch.setattr(connector_mcp, "now_iso", lambda ts=None: iso(self.at if ts is None else ts))
        monkeypatch.setattr(loyalty_api, "time", types.SimpleNamespace(time=lambda: self.at))

    def ago(self, seconds):
        self.at = self.now - seconds
        return self


def request(method, path, ip, **context):
    req = Request(method, path, {}, b"", client_ip=ip)
    req.context.update(context)
    return req


def write_cctelegram(tmp_path, clock, canary, header_canary):
    config = cctelegram_mcp.CcTelegramConfig(
        host="127.0.0.1", port=0, state_dir=str(tmp_path / "cct-state"), api_key="key-" + token_source.token_hex(16),
        bridge_url="http://127.0.0.1:9", metrics_listen=(), log_dir=str(tmp_path / "cctelegram"), rate_limit=600)
    app = cctelegram_mcp.CcTelegram(config)
    clock.ago(2 * 24 * HOUR)  # two days ago: outside a 12h window
    for _ in range(5):
        req = request("GET", "/health", "192.0.2.99")
        app.security_event("SECURITY", "invalid_api_key", req, "SECURITY: invalid API key on GET /health")
        app.log_request(req, Response(401, {"error": "unauthorized"}), 0.3)
    clock.ago(HOUR)
    for index in range(20):
        app.log_request(request("GET", "/health", "10.0.0.1"), Response(200, {"status": "healthy"}), 4.0 + index)
    for ip, count in (("198.51.100.7", 7), ("198.51.100.8", 2)):
        for _ in range(count):  # what before() does for a wrong key: a security line, then the request line
            req = request("GET", "/tools/get_bridge_status", ip)
            app.security_event("SECURITY", "invalid_api_key", req, "SECURITY: invalid API key on GET /tools/get_bridge_status")
            app.log_request(req, Response(401, {"error": "unauthorized"}), 0.5)
    for _ in range(4):
        req = request("POST", "/tools/send_telegram_message", "198.51.100.20")
        app.security_event("RATE_LIMIT_EXCEEDED", "rate_limit", req, "RATE_LIMIT_EXCEEDED: more than 600 requests a minute")
        app.log_request(req, Response(429, {"error": "rate_limited"}), 0.2)
    for _ in range(3):
        req = request("POST", "/tools/send_telegram_message", "10.0.0.2", error="bridge unreachable: timed out after 2s")
        app.log_request(req, Response(503, {"error": "bridge_unavailable"}), 2500.0)
    app.log_event("ERROR", "bridge call failed: upstream echoed %s" % canary, event="bridge_error", error_type="BridgeError",
                  headers={"Authorization": "Bearer " + header_canary, "Accept": "application/json"})
    return [config.log_dir + "/application.log", config.log_dir + "/security.log"]


def write_connector(tmp_path, clock, canary, password_canary):
    config = connector_mcp.ConnectorConfig(
        host="127.0.0.1", port=0, state_dir=str(tmp_path / "connector-state"),
        database_url="mysql://app:db-%s@127.0.0.1:9/connectorMCP" % token_source.token_hex(8),
        redis_url="redis://127.0.0.1:9/0", log_path=str(tmp_path / "connectormcp" / "app.log"), environment="lab",
        rate_limit_backend="redis", rate_limit_per_minute=120)
    app = connector_mcp.Connector(config)
    clock.ago(3 * 24 * HOUR)
    for _ in range(10):
        app.log_request(request("POST", "/api/oauth/start", "10.9.9.9", error="database: old", error_type="OldError"),
                        Response(503, {"detail": "database unavailable"}), 2000.0)
    clock.ago(2 * HOUR)
    for index in range(30):
        app.log_request(request("POST", "/api/oauth/start", "10.0.1.%d" % (index % 5)), Response(201, {}), 12.0)
    for _ in range(6):
        req = request("POST", "/api/oauth/start", "10.0.1.1",
                      error="database: (2003, \"Can't connect to MySQL server on '127.0.0.1' (111)\")",
                      error_type="OperationalError")
        app.log_request(req, Response(503, {"detail": "database unavailable"}), 2100.0)
    for _ in range(2):
        req = request("GET", "/api/health", "10.0.1.2", error="database: down", error_type="DatabaseUnavailable")
        app.log_request(req, Response(503, {"status": "unhealthy"}), 40.0)
    for ip, count in (("203.0.113.9", 25), ("203.0.113.10", 3)):
        for _ in range(count):
            app.log_request(request("POST", "/api/oauth/start", ip, rate_limited=True),
                            Response(429, {"detail": "rate_limit_exceeded"}), 0.8)
    app.log_event("WARNING", "rate limit backend unavailable, request allowed: redis AUTH password=%s refused (%s)"
                  % (password_canary, canary), error_type="RedisUnavailable")
    for index in range(4):
        app.log_event("ERROR", "MCP tool call failed: slack/list_channels (%d) upstream said %s" % (index, canary),
                      event="tool_call_failed", error_type="ToolCallFailed")
    app.log_event("WARNING", "Memory usage high: rss 300 MB", event="memory_high")
    app.log_event("WARNING", "memory usage high: rss 310 MB", event="memory_high")
    return [config.log_path]


def write_loyalty(tmp_path, clock, canary):
    config = loyalty_api.LoyaltyConfig(
        host="127.0.0.1", port=0, state_dir=str(tmp_path / "loyalty-state"),
        database_url="postgresql://loyalty:pg-%s@127.0.0.1:9/loyalty" % token_source.token_hex(8),
        redis_url="redis://127.0.0.1:9/0", metrics_token="mt-" + token_source.token_hex(16), maintenance=False,
        read_only=False, slow_threshold_ms=1000)
    app = loyalty_api.Loyalty(config)
    path = str(tmp_path / "loyalty" / "api.log")  # what `docker compose logs` keeps of its stdout
    app.log = JsonLines(path, secrets=app.secrets)
    clock.ago(24 * HOUR)
    for _ in range(3):
        app.log_request(request("POST", "/api/v1/loyalty/earn", "172.18.0.50", error="old"), Response(500, {}), 4000.0)
    clock.ago(0.5 * HOUR)
    for _ in range(15):
        app.log_request(request("GET", "/api/v1/loyalty/balance/c1", "172.18.0.5"), Response(200, {}), 8.0)
    for _ in range(4):
        app.log_request(request("GET", "/metrics", "172.18.0.9"), Response(401, {"error": "unauthorized"}), 0.4)
    for _ in range(2):
        req = request("POST", "/api/v1/loyalty/earn", "172.18.0.5", error="database: upstream said %s" % canary)
        app.log_request(req, Response(500, {"error": "internal"}), 3200.0)
    app.log_event("WARN", "redis unavailable, cache degraded: RedisUnavailable: connect to 127.0.0.1:9 failed")
    return [path]


def ansible_env(report_dir):
    env = dict(os.environ)
    env.update(ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(REPO / "collections"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_LOCALHOST_WARNING="0",
               MCPOPS_REPORT_DIR=str(report_dir), PATH="%s:%s" % (BIN, env.get("PATH", "")))
    return env


def run_play(workdir, tasks, secret_vars, *flags):
    """One play on localhost; the secrets in a 0600 extra-vars file. Returns ({register name: result}, all text)."""
    vars_file = workdir / "secret-vars.json"
    fd = os.open(str(vars_file), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(secret_vars, handle)
    results = workdir / "results.json"
    registered = [t["register"] for t in tasks if "register" in t]
    play = [{
        "name": "app_log_scan on the reference services' logs",
        "hosts": "localhost",
        "gather_facts": False,
        "vars": {
            "ansible_python_interpreter": sys.executable,
            "mcpops_runbook": {"id": "app-log-scan-test", "incident": None, "title": "app_log_scan test",
                               "purpose": "the module through ansible-playbook", "changes": False},
        },
        "tasks": tasks + [{
            "name": "Keep the results",
            "ansible.builtin.copy": {"dest": str(results), "mode": "0600",
                                     "content": "{{ %s | to_json }}" % ("{%s}" % ", ".join("'%s': %s" % (r, r) for r in registered))},
            "check_mode": False,
        }],
    }]
    playbook = workdir / "play.yml"
    playbook.write_text(json.dumps(play))
    report_dir = workdir / "report"
    cmd = [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook), "-e", "@%s" % vars_file]
    proc = subprocess.run(cmd + list(flags), cwd=str(workdir), env=ansible_env(report_dir), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    texts = [proc.stdout, proc.stderr, results.read_text()]
    texts += [p.read_text(errors="replace") for p in sorted(report_dir.rglob("*")) if p.is_file()]
    assert any(p.name == "report.json" for p in report_dir.rglob("*")), "no incident report written"
    return json.loads(results.read_text()), "\n".join(texts)


def scan_task(name, register, paths, profile, **options):
    args = dict(paths=paths, fields=PROFILES[profile]["logs"]["fields"], last="12h", secrets=["{{ app_log_canary }}"])
    args.update(options)
    return {"name": name, "register": register, "mcpops.runbooks.app_log_scan": args}


def test_reference_service_logs_through_ansible_playbook(tmp_path, monkeypatch):
    canary = "CANARY-given-%s" % token_source.token_hex(10)
    header_canary = "CANARY-header-%s" % token_source.token_hex(10)
    password_canary = "CANARY-password-%s" % token_source.token_hex(10)
    clock = Clock(monkeypatch)
    cct = write_cctelegram(tmp_path, clock, canary, header_canary)
    connector = write_connector(tmp_path, clock, canary, password_canary)
    loyalty = write_loyalty(tmp_path, clock, canary)
    # the canaries are in the logs, as a leaky service would write them
    written = {path: Path(path).read_text() for path in cct + connector + loyalty}
    assert canary in written[cct[0]] and canary in written[connector[0]] and canary in written[loyalty[0]]
    assert header_canary in written[cct[0]] and password_canary in written[connector[0]]

    tasks = [
        scan_task("cctelegram-mcp application.log and security.log", "cct", cct, "cctelegram-mcp"),
        scan_task("connector-mcp app.log", "connector", connector, "connector-mcp", top=2),
        scan_task("loyalty-api pino log, 401s as auth failures", "loyalty", loyalty, "loyalty-api", auth_statuses=[401]),
        dict(scan_task("connector-mcp in check mode", "checked", connector, "connector-mcp", top=2), check_mode=True),
        scan_task("connector-mcp: MCP failures and memory warnings", "grep", connector, "connector-mcp",
                  message_contains=["MCP", "memory"], message_ignore_case=True, samples=2, checks=["errors"]),
        scan_task("connector-mcp, every line parsed", "parsed", connector, "connector-mcp", top=2, parse_every_line=True),
        dict(scan_task("a missing file", "missing", [str(tmp_path / "nope.log")], "connector-mcp"), ignore_errors=True),
        dict(scan_task("a text log", "text", connector, "connector-mcp", format="text"), ignore_errors=True),
    ]
    started = time.monotonic()
    found, text = run_play(tmp_path, tasks, {"app_log_canary": canary}, "-vvv")
    print("ansible-playbook, 6 tasks: %.1f s" % (time.monotonic() - started))
    assert "203.0.113.9" in text and "bridge call failed" in text  # the results are in what was searched
    for secret in (canary, header_canary, password_canary):
        assert secret not in text and secret.split("-")[-1] not in text

    result = found["cct"]
    assert result["changed"] is False and not result.get("failed")
    assert [f["path"] for f in result["files"]] == cct
    app_file, security_file = result["files"]
    assert app_file["out_of_window"] == 5 and security_file["out_of_window"] == 5
    assert app_file["skipped_bad_json"] == app_file["undated"] == 0
    assert result["auth_failures"]["total"] == 9
    assert result["auth_failures"]["by_client_ip"][0] == {"key": "198.51.100.7", "count": 7}
    assert result["auth_failures"]["by_event"] == [{"key": "SECURITY", "count": 9}]
    assert result["rate_limited"]["by_client_ip"] == [{"key": "198.51.100.20", "count": 4}]
    assert result["errors"]["total"] == 4
    assert result["errors"]["by_type"] == [{"key": "error", "count": 3}, {"key": "BridgeError", "count": 1}]
    assert result["slow"]["total"] == 3 and result["slow"]["slowest_ms"] == 2500.0
    assert result["slow"]["by_path"] == [{"key": "/tools/send_telegram_message", "count": 3}]
    latest = result["errors"]["samples"][0]["record"]
    assert latest["headers"] == {"Authorization": "********", "Accept": "application/json"}
    assert latest["message"] == "bridge call failed: upstream echoed ********"

    result = found["connector"]
    assert result["files"][0]["out_of_window"] == 10 and result["files"][0]["in_window"] == 73
    assert result["errors"]["total"] == 12
    assert result["errors"]["by_type"] == [{"key": "OperationalError", "count": 6}, {"key": "ToolCallFailed", "count": 4}]
    assert result["rate_limited"]["total"] == 28
    assert result["rate_limited"]["by_client_ip"] == [{"key": "203.0.113.9", "count": 25}, {"key": "203.0.113.10", "count": 3}]
    assert result["slow"]["total"] == 6 and result["slow"]["by_path"] == [{"key": "/api/oauth/start", "count": 6}]
    assert result["problems"][:3] == [
        "12 errors in the last 12h (OperationalError 6, ToolCallFailed 4)",
        "6 slow requests of 1000 ms or more in the last 12h, slowest 2100 ms (/api/oauth/start 6)",
        "28 rate-limited requests in the last 12h (by client ip: 203.0.113.9 25, 203.0.113.10 3)",
    ]
    assert result["files"][0]["in_window"] == 73
    assert "messages" not in result
    for key in ("errors", "slow", "auth_failures", "rate_limited", "files", "problems"):
        assert found["parsed"][key] == result[key]
    grep = found["grep"]
    assert grep["slow"] is None and grep["errors"]["total"] == 12
    mcp, memory = grep["messages"]
    assert mcp["text"] == "MCP" and mcp["count"] == 4 and memory["text"] == "memory" and memory["count"] == 2
    assert [s["record"]["message"] for s in mcp["samples"]] == [
        "MCP tool call failed: slack/list_channels (3) upstream said ********",
        "MCP tool call failed: slack/list_channels (2) upstream said ********"]
    assert [s["record"]["message"] for s in memory["samples"]] == [
        "memory usage high: rss 310 MB", "Memory usage high: rss 300 MB"]
    assert "4 lines whose message holds 'MCP' in the last 12h" in grep["problems"]
    checked = found["checked"]
    for key in ("errors", "slow", "auth_failures", "rate_limited", "files"):
        assert checked[key] == result[key]

    result = found["loyalty"]
    assert result["files"][0]["out_of_window"] == 3 and result["files"][0]["undated"] == 0
    assert result["errors"]["by_type"] == [{"key": "error", "count": 2}]
    assert result["slow"]["total"] == 2 and result["slow"]["by_path"] == [{"key": "/api/v1/loyalty/earn", "count": 2}]
    assert result["auth_failures"]["by_client_ip"] == [{"key": "172.18.0.9", "count": 4}]
    assert result["auth_failures"]["by_event"] == [{"key": "status 401", "count": 4}]
    assert result["slow"]["samples"][0]["record"]["err"]["message"] == "database: upstream said ********"

    assert found["missing"]["failed"] is True and str(tmp_path / "nope.log") in found["missing"]["msg"]
    assert found["text"]["failed"] is True and "issue 16" in found["text"]["msg"]
