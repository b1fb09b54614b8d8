"""Start the reference gateway (`python -m mcpops.lab.gateway`) as a real process for the tests.

The gateway listens on 127.0.0.1:0 and the helper reads the bound port from its start-up line, so there is
no race for a "free" port. Processes are stopped by PID (SIGTERM, then wait); the `gateway_factory` fixture
stops every gateway it started and fails the test if one did not exit 0 or leaked a known secret into its
stdout, stderr, audit.jsonl or usage.jsonl."""

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

LISTEN_RE = re.compile(r"listening on http://127\.0\.0\.1:(\d+) ")


def gateway_env(data_dir, admin_token=None, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONEC_") and not k.endswith("_PASSWORD")}
    env.update({"ONEC_MCP_DATA_DIR": str(data_dir), "ONEC_MCP_LISTEN": "127.0.0.1:0", "PYTHONUNBUFFERED": "1"})
    if admin_token is not None:
        env["ONEC_MCP_HTTP_TOKEN"] = admin_token
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_once(data_dir, timeout=20, **extra):
    """Run a gateway that is expected to exit at start-up; return CompletedProcess (text)."""
    return subprocess.run([sys.executable, "-m", "mcpops.lab.gateway"], env=gateway_env(data_dir, "x" * 32, **extra),
                          capture_output=True, text=True, timeout=timeout)


class Response:
    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw

    @property
    def json(self):
        return json.loads(self.raw.decode("utf-8"))

    def header(self, name):
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def __repr__(self):
        return "<Response %d %r>" % (self.status, self.raw[:300])


class Gateway:
    def __init__(self, data_dir, log_dir, admin_token, env_extra):
        self.data_dir = str(data_dir)
        self.admin_token = admin_token
        os.makedirs(log_dir, exist_ok=True)
        self.stdout_path = os.path.join(str(log_dir), "gateway.%d.stdout" % time.monotonic_ns())
        self.stderr_path = self.stdout_path[:-len("stdout")] + "stderr"
        self._out = open(self.stdout_path, "wb")
        self._err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "mcpops.lab.gateway"],
                                     env=gateway_env(data_dir, admin_token, **env_extra),
                                     stdout=self._out, stderr=self._err, stdin=subprocess.DEVNULL)
        self.pid = self.proc.pid
        self.port = None
        self.returncode = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            match = LISTEN_RE.search(self.stderr())
            if match:
                self.port = int(match.group(1))
                return
            if self.proc.poll() is not None:
                raise AssertionError("gateway exited %s at start-up: %s" % (self.proc.returncode, self.stderr()))
            time.sleep(0.05)
        self.stop()
        raise AssertionError("gateway did not report its port within 20 s: %s" % self.stderr())

    def stdout(self):
        with open(self.stdout_path, "r", encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def stderr(self):
        with open(self.stderr_path, "r", encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def request(self, method, path, body=None, token="__admin__", headers=None, raw_body=None, timeout=30):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        all_headers = {}
        if token == "__admin__":
            token = self.admin_token
        if token is not None:
            all_headers["Authorization"] = "Bearer " + token
        data = raw_body
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        try:
            conn.request(method, path, body=data, headers=all_headers)
            resp = conn.getresponse()
            return Response(resp.status, resp.getheaders(), resp.read())
        finally:
            conn.close()

    def mcp(self, secret, message, session=None, extra_headers=None):
        headers = {"Accept": "application/json, text/event-stream"}
        if session:
            headers["Mcp-Session-Id"] = session
        headers.update(extra_headers or {})
        return self.request("POST", "/mcp", body=message, token=secret, headers=headers)

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.returncode is None:
            if self.proc.poll() is None:
                os.kill(self.pid, sig)
            try:
                self.returncode = self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
                self.returncode = "killed after %ss" % timeout
            self._out.close()
            self._err.close()
        return self.returncode


def read_text(path):
    try:
        with open(path, "r", encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except FileNotFoundError:
        return ""


def assert_no_secret(gateway, secrets_):
    haystacks = {"stdout": gateway.stdout(), "stderr": gateway.stderr(),
                 "audit.jsonl": read_text(os.path.join(gateway.data_dir, "audit.jsonl")),
                 "usage.jsonl": read_text(os.path.join(gateway.data_dir, "usage.jsonl"))}
    for secret in secrets_:
        assert secret and len(secret) >= 12
        for name, text in haystacks.items():
            assert secret not in text, "a secret leaked into %s" % name


@pytest.fixture
def gateway_factory(tmp_path):
    """gateway_factory(data_dir, admin_token=..., secrets=[...], **env) -> a running Gateway.

    At teardown every gateway is stopped with SIGTERM; each must exit 0 and must not have written its admin
    token or any of `secrets` to stdout, stderr, audit.jsonl or usage.jsonl."""
    started = []

    def start(data_dir, admin_token="adm-" + "A1b2C3d4" * 4, secrets=(), **env):
        gw = Gateway(data_dir, tmp_path / "logs", admin_token, env)
        started.append((gw, list(secrets)))
        return gw

    yield start
    problems = []
    for gw, secrets_ in started:
        rc = gw.stop()
        if rc != 0:
            problems.append("gateway %d exited %r: %s" % (gw.pid, rc, gw.stderr()[-2000:]))
        try:
            assert_no_secret(gw, [gw.admin_token] + secrets_)
        except AssertionError as exc:
            problems.append(str(exc))
    assert not problems, problems
