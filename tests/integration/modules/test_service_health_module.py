"""service_health run for real through ansible-playbook, its options from playbooks/vars/module_defaults.yml
(mcpops_service_defaults: base_url, health, auth and the secrets looked up from the profile's secret_vars), against a
loopback HTTP service started here that serves each shipped profile's checks with its auth (bearer, a named header,
none): healthy, then broken (the verdict names the failed check and condition), a wrong key, a slow answer, no
answer. Each secret is a canary that must never appear in ansible-playbook's output (run with -vvv), the returned
result or the incident report, although the service echoes every credential it receives back in its bodies."""

import copy
import json
import os
import secrets as token_source
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
import subprocess

import pytest
import yaml

from loopback import free_port

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
PROFILES = {p.stem: yaml.safe_load(p.read_text()) for p in sorted((REPO / "profiles").glob("*.yml"))}

pytestmark = pytest.mark.skipif(not (BIN / "ansible-playbook").exists(), reason="ansible-playbook not in the venv")

# What each profile's checks answer when healthy, and the one path each breaks: (path, broken body, the check that
# fails, its failed condition, why it failed).
HEALTHY = {
    "onec-gateway": {"/healthz": {"status": "ok"}, "/readyz": {"status": "ready"},
                     "/api/system/storage-meta": {"schemaVersion": 3, "stores": {"audit": {"ok": True}, "tokens": {"ok": True}}}},
    "lego-mcp": {"/health": {"status": "healthy"}, "/api/v8/equipment": {"data": [{"id": 1}]}},
    "cctelegram-mcp": {"/health": {"status": "healthy"}, "/tools/get_bridge_status": {"bridge": {"running": True}}},
    "loyalty-api": {"/live": {"status": "ok"}, "/health": {"status": "ok"}, "/ready": {"status": "ok"}, "/metrics": "up 1\n"},
    "connector-mcp": {"/health": {"status": "healthy"},
                      "/api/health": {"status": "healthy", "database": {"status": "healthy"}, "redis": {"status": "healthy"}}},
}
BROKEN = {
    "onec-gateway": ("/api/system/storage-meta", {"schemaVersion": 3, "stores": {"audit": {"ok": True}, "tokens": {"ok": False}}},
                     "storage_meta", "stores.*.ok == true", "stores.tokens.ok is false"),
    "lego-mcp": ("/api/v8/equipment", {"items": []}, "equipment", "data exists", "data is missing"),
    "cctelegram-mcp": ("/tools/get_bridge_status", {"bridge": {"running": False}}, "bridge", "bridge.running == true",
                       "bridge.running is false"),
    "loyalty-api": ("/ready", {"status": "degraded"}, "ready", "status == ok", 'status is "degraded"'),
    "connector-mcp": ("/api/health", {"status": "healthy", "database": {"status": "healthy"}, "redis": {"status": "unhealthy"}},
                      "deep", "redis.status == healthy", 'redis.status is "unhealthy"'),
}


def secret_vars(profile):
    return sorted(entry["secret_var"] for entry in (profile.get("auth") or {}).values() if entry.get("secret_var"))


def canaries(profile):
    return {var: "CANARY-%s-%s" % (var, token_source.token_hex(8)) for var in secret_vars(profile)}


# ---------------------------------------------------------------------------- the service


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        server = self.server
        path = self.path.split("?")[0]
        server.seen.append(path)
        if path == "/__break":
            server.broken = True
            return self._send(200, {"broken": True})
        if path == "/slow":
            time.sleep(0.4)
            return self._send(200, {"status": "healthy"})
        if path not in server.bodies:
            return self._send(404, {"error": "no route"})
        echo = {name: self.headers[name] for name in server.echo_headers if self.headers.get(name)}
        wanted = server.credentials.get(path)
        if wanted and self.headers.get(wanted[0]) != wanted[1]:
            return self._send(503, {"status": "unauthorized", "seen": echo})
        body = server.broken_body if server.broken and path == server.broken_path else server.bodies[path]
        if isinstance(body, dict):
            body = dict(body, seen=echo)
        else:
            body = body + "".join("# seen %s %s\n" % item for item in echo.items())
        self._send(200, body)

    def _send(self, status, body):
        if isinstance(body, dict):
            payload, kind = json.dumps(body).encode(), "application/json"
        else:
            payload, kind = body.encode(), "text/plain"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def service():
    """service(profile_name, secrets) -> a loopback server answering the profile's checks; shut down after the test."""
    started = []

    def start(name, values):
        profile = PROFILES[name]
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.bodies = copy.deepcopy(HEALTHY[name])
        server.broken = False
        server.broken_path, server.broken_body = BROKEN[name][:2]
        server.seen = []
        server.credentials = {}
        server.echo_headers = ["Authorization"]
        for check in profile["health"]["checks"]:
            entry = (profile.get("auth") or {}).get(check.get("auth"))
            if entry and entry["style"] == "header":
                server.credentials[check["path"]] = (entry["header"], values[entry["secret_var"]])
                server.echo_headers.append(entry["header"])
            elif entry and entry["style"] == "bearer":
                server.credentials[check["path"]] = ("Authorization", "Bearer " + values[entry["secret_var"]])
        server.url = "http://127.0.0.1:%d" % server.server_address[1]
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        started.append((server, thread))
        return server

    yield start
    for server, thread in started:
        server.shutdown()
        server.server_close()
        thread.join(5)


# ---------------------------------------------------------------------------- ansible-playbook


def ansible_env(report_dir):
    env = dict(os.environ)
    env.update(ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(REPO / "collections"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_LOCALHOST_WARNING="0",
               MCPOPS_REPORT_DIR=str(report_dir), PATH="%s:%s" % (BIN, env.get("PATH", "")), no_proxy="127.0.0.1,localhost")
    return env


def run_play(workdir, profile, base_url, values, tasks, *flags):
    """One play on localhost with the collection's module_defaults for group/mcpops.runbooks.service; the secrets in a
    0600 extra-vars file under their variable names. Returns (proc, {register name: result}, all text produced)."""
    workdir.mkdir(parents=True, exist_ok=True)
    vars_file = workdir / "secret-vars.json"
    fd = os.open(str(vars_file), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(values, handle)
    results = workdir / "results.json"
    registered = [t["register"] for t in tasks if "register" in t]
    play = [{
        "name": "service_health against %s" % profile["name"],
        "hosts": "localhost",
        "gather_facts": False,
        "vars_files": [str(REPO / "playbooks" / "vars" / "module_defaults.yml")],
        "module_defaults": {"group/mcpops.runbooks.service": "{{ mcpops_service_defaults }}"},
        "vars": {
            "ansible_python_interpreter": sys.executable,
            "mcpops_runbook": {"id": "service-health-test", "incident": None, "title": "service_health test",
                               "purpose": "the module through ansible-playbook", "changes": False},
            "mcp_profile": dict(profile, secret_vars=secret_vars(profile)),
            "gateway_api_url": base_url,
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
    cmd = [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook), "-e", "@%s" % vars_file] + list(flags)
    proc = subprocess.run(cmd, cwd=str(workdir), env=ansible_env(report_dir), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    found = json.loads(results.read_text())
    texts = [proc.stdout, proc.stderr, results.read_text()]
    texts += [p.read_text(errors="replace") for p in sorted(report_dir.rglob("*")) if p.is_file()]
    assert any(p.name == "report.json" for p in report_dir.rglob("*")), "no incident report written"
    return proc, found, "\n".join(texts)


def assert_no_canary(text, values):
    for value in values.values():
        assert value not in text
        assert value.split("-")[-1] not in text  # not even its random tail


# ---------------------------------------------------------------------------- tests


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_each_profile_healthy_then_broken(tmp_path, service, name):
    profile = PROFILES[name]
    values = canaries(profile)
    server = service(name, values)
    path, _, failed_check, failed_condition, why = BROKEN[name]
    tasks = [
        {"name": "Healthy", "mcpops.runbooks.service_health": {}, "register": "healthy"},
        {"name": "Break it", "ansible.builtin.uri": {"url": "{{ gateway_api_url }}/__break"}},
        {"name": "Broken", "mcpops.runbooks.service_health": {}, "register": "broken", "ignore_errors": True},
    ]
    proc, found, text = run_play(tmp_path, profile, server.url, values, tasks, "-vvv")
    assert_no_canary(text, values)

    healthy = found["healthy"]
    assert healthy["healthy"] is True and healthy["changed"] is False and healthy["attempts"] == 1, healthy
    names = [c["name"] for c in profile["health"]["checks"]]
    assert [c["name"] for c in healthy["checks"]] == names
    assert all(c["ok"] and c["status"] == 200 and c["problem"] is None for c in healthy["checks"])
    for check in healthy["checks"]:
        assert check["roles"] == [r for r in ("liveness", "readiness", "deep") if profile["health"][r] == check["name"]]
        assert check["url"] == server.url + dict((c["name"], c["path"]) for c in profile["health"]["checks"])[check["name"]]
    # the service echoed each credential back; none of it came through
    for check in healthy["checks"]:
        if isinstance(check["body"], dict):
            assert all(v == "********" or v.startswith("Bearer ********") for v in check["body"]["seen"].values()), check

    broken = found["broken"]
    assert broken["failed"] is True and broken["healthy"] is False and broken["failed_checks"] == [failed_check]
    verdict = [c for c in broken["checks"] if c["name"] == failed_check][0]
    assert verdict["failed_condition"] == failed_condition and verdict["status"] == 200
    line = "check %s (GET %s%s): condition %r failed: %s" % (failed_check, server.url, path, failed_condition, why)
    assert broken["problems"] == [line]
    assert broken["msg"] == "service at %s unhealthy after 1 checks: %s" % (server.url, line)
    assert "unhealthy after 1 checks" in proc.stdout


def test_wrong_key_missing_key_slow_and_no_answer(tmp_path, service):
    profile = PROFILES["cctelegram-mcp"]
    values = canaries(profile)
    server = service("cctelegram-mcp", values)
    wrong = "CANARY-wrong-key-%s" % token_source.token_hex(8)
    slow_health = {"checks": [{"name": "slow", "path": "/slow", "auth": "api_key", "max_latency_ms": 100,
                               "conditions": ["status == healthy"]}], "liveness": "slow"}
    tasks = [
        {"name": "Wrong key", "register": "wrong", "ignore_errors": True,
         "mcpops.runbooks.service_health": {"secrets": {"cctelegram_api_key": wrong}, "select": ["liveness"]}},
        {"name": "No key", "register": "missing", "ignore_errors": True,
         "mcpops.runbooks.service_health": {"secrets": {"other": "x"}}},
        {"name": "Slow", "register": "slow", "ignore_errors": True, "mcpops.runbooks.service_health": {"health": slow_health}},
        {"name": "No answer", "register": "refused",
         "mcpops.runbooks.service_health": {"base_url": "http://127.0.0.1:%d" % free_port(), "select": ["health"],
                                            "retries": 1, "delay": 0, "fail_when_unhealthy": False}},
    ]
    seen_before = len(server.seen)
    _, found, text = run_play(tmp_path, profile, server.url, values, tasks)
    assert_no_canary(text, values)
    assert wrong not in text

    assert found["wrong"]["failed_checks"] == ["health"] and [c["name"] for c in found["wrong"]["checks"]] == ["health"]
    assert found["wrong"]["problems"] == ["check health (GET %s/health): HTTP 503, expected 200; condition 'status == healthy' failed: status is \"unauthorized\"" % server.url]
    assert found["wrong"]["checks"][0]["body"]["seen"] == {"X-API-Key": "********"}

    assert found["missing"]["failed"] is True and "checks" not in found["missing"]
    assert found["missing"]["msg"] == (
        "check health: auth api_key (header X-API-Key) takes its secret from variable cctelegram_api_key, which is not "
        "set or empty (secrets.cctelegram_api_key); nothing was checked")

    slow = found["slow"]
    assert slow["failed_checks"] == ["slow"] and slow["checks"][0]["status"] == 200
    assert slow["checks"][0]["latency_ms"] >= 400 and slow["checks"][0]["failed_condition"] is None
    assert slow["problems"][0].startswith("check slow (GET %s/slow): " % server.url)
    assert slow["problems"][0].endswith(" ms, over max_latency_ms 100")

    refused = found["refused"]
    assert refused["healthy"] is False and refused["attempts"] == 2 and refused.get("failed") is not True
    assert refused["checks"][0]["status"] is None
    assert refused["problems"][0].endswith("/health): no answer (Connection refused)")
    # the refused secret never reached the service: wrong key once, slow once, nothing for the missing one
    assert server.seen[seen_before:] == ["/health", "/slow"]


def test_check_mode_runs_the_checks(tmp_path, service):
    profile = PROFILES["loyalty-api"]
    values = canaries(profile)
    server = service("loyalty-api", values)
    tasks = [{"name": "Check mode", "register": "checked",
              "mcpops.runbooks.service_health": {"select": ["readiness", "metrics"]}}]
    _, found, text = run_play(tmp_path, profile, server.url, values, tasks, "--check")
    assert_no_canary(text, values)
    checked = found["checked"]
    assert checked["healthy"] is True and checked["changed"] is False
    assert [c["name"] for c in checked["checks"]] == ["ready", "metrics"]
    assert checked["checks"][1]["body"] is None  # text, not JSON
    assert server.seen == ["/ready", "/metrics"]
