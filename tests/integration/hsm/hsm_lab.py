"""The HSM lab of tests/integration/hsm as real processes: a SoftHSM2 token made by `python -m mcpops.lab.hsm init`,
the lab HSM service over HTTPS (a leaf of the test CA) on a fixed loopback port (so that a restart keeps lego-mcp's
HSM_URL), and lego-mcp instances on a private PostgreSQL. Every process is stopped by its PID."""

import json
import os
import re
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

LISTEN_RE = re.compile(r"listening on https?://127\.0\.0\.1:(\d+)$", re.M)
CLEAN_ENV_PREFIXES = ("MCPOPS_", "HSM_", "SOFTHSM2_")


class Proc:
    """A process started with its environment, ready when its start line names its port; stop() sends SIGTERM to
    its PID and returns the exit code."""

    def __init__(self, argv, env, log_dir, tag):
        os.makedirs(log_dir, exist_ok=True)
        full = {k: v for k, v in os.environ.items() if not k.startswith(CLEAN_ENV_PREFIXES)
                and k not in ("DATABASE_URL",)}
        full.update(PYTHONUNBUFFERED="1", **env)
        self.stdout_path = os.path.join(log_dir, "%s.stdout" % tag)
        self.stderr_path = os.path.join(log_dir, "%s.stderr" % tag)
        with open(self.stdout_path, "ab") as out, open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen(argv, env=full, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        self.returncode = None
        self.port = self._wait_port(tag)

    def _wait_port(self, tag):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = LISTEN_RE.findall(self.stderr())
            if found:
                return int(found[-1])
            if self.proc.poll() is not None:
                raise AssertionError("%s exited %s at start-up: %s" % (tag, self.proc.returncode, self.stderr()))
            time.sleep(0.05)
        self.stop()
        raise AssertionError("%s did not say it listens within 60 s: %s" % (tag, self.stderr()))

    def stderr(self):
        with open(self.stderr_path, errors="replace") as handle:
            return handle.read()

    def stdout(self):
        with open(self.stdout_path, errors="replace") as handle:
            return handle.read()

    def stop(self):
        if self.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.returncode = self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                self.returncode = "killed after 30 s"
        return self.returncode


def init_token(state_dir):
    proc = subprocess.run([sys.executable, "-m", "mcpops.lab.hsm", "init", "--state-dir", str(state_dir)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout + proc.stderr


def start_hsm(token_dir, tls_cert, tls_key, port, work_dir, tag):
    return Proc([sys.executable, "-m", "mcpops.lab.hsm", "serve"],
                {"MCPOPS_SERVICE_LISTEN": "127.0.0.1:%d" % port,
                 "MCPOPS_SERVICE_STATE_DIR": os.path.join(str(work_dir), "hsm-state"),
                 "HSM_TOKEN_STATE_DIR": str(token_dir), "HSM_TLS_CERT": str(tls_cert), "HSM_TLS_KEY": str(tls_key)},
                os.path.join(str(work_dir), "logs"), tag)


def start_lego(database_url, hsm_url, ca_file, work_dir, tag, fallback=False):
    return Proc([sys.executable, "-m", "mcpops.lab.services", "lego-mcp"],
                {"MCPOPS_SERVICE_LISTEN": "127.0.0.1:0",
                 "MCPOPS_SERVICE_STATE_DIR": os.path.join(str(work_dir), "%s-state" % tag),
                 "DATABASE_URL": database_url, "HSM_URL": hsm_url, "HSM_CA_FILE": str(ca_file),
                 "HSM_TIMEOUT_SECONDS": "1", "HSM_FALLBACK_ENABLED": "true" if fallback else "false"},
                os.path.join(str(work_dir), "logs"), tag)


def call(url, method="GET", body=None, ca_file=None, timeout=20):
    """(status, parsed JSON or text) of one request; HTTPS verified with ca_file."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    context = ssl.create_default_context(cafile=ca_file) if url.startswith("https") else None
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as answer:
            status, raw, kind = answer.status, answer.read().decode(), answer.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        status, raw, kind = exc.code, exc.read().decode(), exc.headers.get("Content-Type", "")
    return status, (json.loads(raw) if kind.startswith("application/json") else raw)

