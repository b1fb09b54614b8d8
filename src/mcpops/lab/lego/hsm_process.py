"""The lab HSM service (mcpops.lab.hsm) as our child for the LEGO lab: a private SoftHSM2 token, a server
certificate from the lab's test CA, HTTPS on a fixed loopback port (so that a restart keeps the dashboard's HSM_URL),
started and stopped by its PID. Its faults are the seed's: stopped (down), `slow_ms` in its faults.json (slow), its
token dir moved away (token removed)."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from mcpops.lab import pids
from mcpops.lab.fixtures.ca import TestCA
from mcpops.lab.services.faults import clear_faults, write_faults

START_TIMEOUT = 60
STOP_TIMEOUT = 15
LISTEN_RE = re.compile(r"listening on https://127\.0\.0\.1:(\d+)$", re.M)


class LegoError(Exception):
    """The LEGO lab could not do what it was asked; the message names what and where to look."""


class HsmProcess:
    """`init()` once (token, CA, certificate), then `start()` / `stop()` as often as a fault needs."""

    def __init__(self, directory, port):
        self.dir = Path(directory)
        self.port = int(port)
        self.proc = None

    # -- where things are

    @property
    def url(self):
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca_file(self):
        return self.dir / "ca.crt"

    @property
    def token_dir(self):
        return self.dir / "token"

    @property
    def tokens(self):
        return self.token_dir / "tokens"

    @property
    def removed_tokens(self):
        return self.token_dir / "tokens.removed"

    @property
    def state_dir(self):
        return self.dir / "state"

    @property
    def log_path(self):
        return self.dir / "hsm.log"

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    # -- life

    def init(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        made = subprocess.run([sys.executable, "-m", "mcpops.lab.hsm", "init", "--state-dir", str(self.token_dir)],
                              capture_output=True, text=True, timeout=START_TIMEOUT, check=False)
        if made.returncode != 0:
            raise LegoError(f"python -m mcpops.lab.hsm init exited {made.returncode}: {made.stderr.strip()}")
        ca = TestCA(name="mcpops lego lab root")
        ca.write_root(self.ca_file)
        ca.issue(["127.0.0.1", "localhost"]).write(self.dir / "hsm.crt", self.dir / "hsm.key")
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self):
        if self.running():
            return self
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MCPOPS_", "HSM_", "SOFTHSM2_"))}
        env.update(PYTHONUNBUFFERED="1", MCPOPS_SERVICE_LISTEN=f"127.0.0.1:{self.port}",
                   MCPOPS_SERVICE_STATE_DIR=str(self.state_dir), HSM_TOKEN_STATE_DIR=str(self.token_dir),
                   HSM_TLS_CERT=str(self.dir / "hsm.crt"), HSM_TLS_KEY=str(self.dir / "hsm.key"))
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "mcpops.lab.hsm", "serve"], env=env,
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        (self.dir / "hsm.pid").write_text(f"{self.proc.pid}\n")
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if LISTEN_RE.search(self._log_since(offset)):
                return self
            if self.proc.poll() is not None:
                raise LegoError(f"the HSM service exited {self.proc.returncode} at start-up; its log "
                                f"{self.log_path}:\n{self._log_since(offset)[-2000:]}")
            time.sleep(0.1)
        self.stop()
        raise LegoError(f"the HSM service did not listen on {self.url} within {START_TIMEOUT}s ({self.log_path})")

    def stop(self):
        """SIGTERM (SIGKILL after STOP_TIMEOUT) to the PID we started; nothing else is signalled."""
        pids.stop_child(self.proc, STOP_TIMEOUT)
        self.proc = None

    def _log_since(self, offset):
        with open(self.log_path, "rb") as log:
            log.seek(offset)
            return log.read().decode("utf-8", "replace")

    # -- the seed's HSM faults

    def set_slow(self, millis):
        write_faults(str(self.state_dir), slow_ms=int(millis))

    def clear_slow(self):
        clear_faults(str(self.state_dir))

    def remove_token(self):
        if self.tokens.exists():
            os.rename(self.tokens, self.removed_tokens)

    def restore_token(self):
        if self.removed_tokens.exists() and not self.tokens.exists():
            os.rename(self.removed_tokens, self.tokens)
