"""The local lab: the reference gateway under a private supervisord, on loopback, no root needed.

State dir layout (docs/dev/conventions.md, "Lab"):

    <state_dir>/
      lab.json            what the lab is and where (no secrets)
      supervisord.conf    the private supervisord's config (no secrets: the token is passed by file)
      supervisor.sock     its XML-RPC socket (0700)
      supervisord.pid     its pidfile
      data/               the gateway's data dir
      secrets/            0700: admin_token, mcp_token, gateway.env, forensic.key (each 0600, written atomically)
      logs/               supervisord.log, supervisord.out, gateway.stdout.log, gateway.stderr.log

Everything the lab starts is recorded by PID and stopped by that PID (after checking that the PID
still is the process we started); nothing is killed by name.
"""

import contextlib
import errno
import ipaddress
import json
import os
import secrets as _secrets
import shlex
import shutil
import socket
import sys
import time
from pathlib import Path

from mcpops.lab import pids
from mcpops.lab.gateway.fsutil import atomic_write
from mcpops.lab.http_client import http_json
from mcpops.lab.local import faults, supervisor as sup, supervisord_conf as sc
from mcpops.lab.local.errors import LabError
from mcpops.lab.seed import DEFAULT_ODATA_ADDRESS, seed_data_dir

SERVICE_NAME = "onec-mcp-gateway"
DEFAULT_LISTEN = "127.0.0.1:3000"
DEFAULT_UPSTREAM = DEFAULT_ODATA_ADDRESS
HEALTH_TIMEOUT = 20.0
SUPERVISORD_START_TIMEOUT = 15.0
STOP_TIMEOUT = 20.0  # stopwaitsecs (10) plus margin
KILL_TIMEOUT = 5.0


def default_state_dir():
    return Path(os.environ.get("MCPOPS_LAB_DIR") or ".lab")


def parse_listen(listen, option="--listen", example=DEFAULT_LISTEN):
    """'host:port' -> (host, port); loopback hosts only."""
    text = str(listen).strip()
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise LabError(f"{option} {listen!r}: expected host:port, e.g. {example}")
    host = host.strip("[]")
    port = int(port)
    if not 0 < port < 65536:
        raise LabError(f"{option} {listen!r}: port out of range")
    if host != "localhost":
        try:
            addr = ipaddress.ip_address(host)
        except ValueError:
            raise LabError(f"{option} {listen!r}: host must be a loopback address") from None
        if not addr.is_loopback:
            raise LabError(f"{option} {listen!r}: the local lab listens on loopback only")
    return host, port


_tail = sc.tail


class LocalLab:
    """One local lab in one state dir. Usable from the CLI and from pytest fixtures."""

    service_name = SERVICE_NAME  # the gateway's program in supervisord.conf

    def __init__(self, state_dir=None, listen=None, python=None, out=None, upstream=None):
        self.state_dir = Path(state_dir or default_state_dir()).expanduser().resolve()
        self._listen_arg = listen
        if listen is not None:
            parse_listen(listen)
        # Where the seed points the profiles' odataUrl (INC-004's upstream); used when the lab seeds its data.
        self._upstream_arg = upstream
        if upstream is not None:
            parse_listen(upstream, "--upstream", DEFAULT_UPSTREAM)
        self.python = python or sys.executable
        self._popen = None
        self._out = out  # callable for progress lines, or None

    # ------------------------------------------------------------------ paths

    @property
    def info_path(self):
        return self.state_dir / "lab.json"

    @property
    def data_dir(self):
        return self.state_dir / "data"

    @property
    def secrets_dir(self):
        return self.state_dir / "secrets"

    @property
    def logs_dir(self):
        return self.state_dir / "logs"

    @property
    def config_path(self):
        return self.state_dir / "supervisord.conf"

    @property
    def pidfile(self):
        return self.state_dir / "supervisord.pid"

    @property
    def admin_token_file(self):
        return self.secrets_dir / "admin_token"

    @property
    def mcp_token_file(self):
        return self.secrets_dir / "mcp_token"

    @property
    def env_file(self):
        return self.secrets_dir / "gateway.env"

    @property
    def gateway_stdout_log(self):
        return self.logs_dir / "gateway.stdout.log"

    @property
    def gateway_stderr_log(self):
        return self.logs_dir / "gateway.stderr.log"

    @property
    def socket_path(self):
        return sc.socket_path(self.state_dir)

    @property
    def listen(self):
        return self._listen_arg or self.read_info().get("listen") or DEFAULT_LISTEN

    @property
    def api_url(self):
        host, port = parse_listen(self.listen)
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}"

    def client(self):
        return sup.SupervisorClient(self.socket_path)

    def _say(self, line):
        if self._out:
            self._out(line)

    # ------------------------------------------------------------------ lab.json and secrets

    def read_info(self):
        try:
            return json.loads(self.info_path.read_text())
        except (OSError, ValueError):
            return {}

    def _write_info(self, **updates):
        info = self.read_info()
        info.update(
            {
                "listen": self.listen,
                "api_url": self.api_url,
                "data_dir": str(self.data_dir),
                "state_dir": str(self.state_dir),
                "supervisor_config": str(self.config_path),
                "supervisor_socket": str(self.socket_path),
                "supervisord_pid": info.get("supervisord_pid"),
                "service_name": SERVICE_NAME,
                "logs_dir": str(self.logs_dir),
                "python": self.python,
                "secrets_dir": str(self.secrets_dir),
                "admin_token_file": str(self.admin_token_file),
                "mcp_token_file": str(self.mcp_token_file),
                "env_file": str(self.env_file),
                "forensic_key_file": str(self.forensic_key_file),
                "gateway_stdout_log": str(self.gateway_stdout_log),
                "gateway_stderr_log": str(self.gateway_stderr_log),
            }
        )
        info.update(updates)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(self.info_path, json.dumps(info, indent=2, sort_keys=True) + "\n", 0o644)
        return info

    def admin_token(self):
        try:
            return self.admin_token_file.read_text().strip()
        except OSError:
            raise LabError(f"no admin token at {self.admin_token_file}: run `mcpops lab up` first") from None

    def mcp_token(self):
        try:
            return self.mcp_token_file.read_text().strip()
        except OSError:
            raise LabError(f"no MCP token at {self.mcp_token_file}: run `mcpops lab up` first") from None

    @property
    def forensic_key_file(self):
        """The lab operator's forensic key (issue 24): forensic copies of .data are sealed with it."""
        return self.secrets_dir / "forensic.key"

    def _prepare_dirs(self):
        self.state_dir.mkdir(parents=True, exist_ok=True)
        for d in (self.data_dir, self.logs_dir):
            d.mkdir(exist_ok=True)
        self.secrets_dir.mkdir(mode=0o700, exist_ok=True)
        os.chmod(self.secrets_dir, 0o700)
        if not self.forensic_key_file.exists():  # kept across ups: what it sealed stays openable
            atomic_write(self.forensic_key_file, _secrets.token_hex(32) + "\n", 0o600)
        if self.socket_path.parent != self.state_dir:
            sc.prepare_socket_dir(self.socket_path)

    def _locked(self):
        return sc.locked(self.state_dir)

    def _data_dir_empty(self):
        if not self.data_dir.is_dir():
            return True
        return not any(not p.name.startswith(".") for p in self.data_dir.iterdir())

    def _write_seed_secrets(self, result):
        atomic_write(self.mcp_token_file, str(result["ops_token_secret"]) + "\n", 0o600)
        lines = []
        for key, value in sorted((result.get("password_env") or {}).items()):
            if "\n" in str(value) or "\n" in str(key):
                raise LabError(f"seed returned a {key} value with a newline; cannot write {self.env_file}")
            lines.append(f"{key}={value}\n")
        atomic_write(self.env_file, "".join(lines), 0o600)
        self._write_info(mcp_token_id=result.get("ops_token_id"))

    def _run_seed(self, force=False):
        try:
            result = seed_data_dir(str(self.data_dir), force=force, odata_address=self._upstream_arg or DEFAULT_UPSTREAM)
        except Exception as exc:  # the seed's own errors, reported with what was tried
            raise LabError(f"seeding {self.data_dir} failed: {type(exc).__name__}: {exc}") from exc
        self._write_seed_secrets(result)
        return result

    def _ensure_secrets(self):
        """Admin token (generated once), seed when the data dir is empty, env file present."""
        if not self.admin_token_file.exists():
            atomic_write(self.admin_token_file, _secrets.token_urlsafe(32) + "\n", 0o600)
        os.chmod(self.admin_token_file, 0o600)
        seeded = None
        if self._data_dir_empty():
            seeded = self._run_seed(force=False)
        if not self.env_file.exists():
            atomic_write(self.env_file, "", 0o600)
        for f in (self.env_file, self.mcp_token_file):
            if f.exists():
                os.chmod(f, 0o600)
        return seeded

    # ------------------------------------------------------------------ supervisord

    def render_config(self):
        command = " ".join(shlex.quote(a) for a in (self.python, "-m", "mcpops.lab.gateway"))
        env = {
            "ONEC_MCP_DATA_DIR": self.data_dir,
            "ONEC_MCP_LISTEN": self.listen,
            "ONEC_MCP_HTTP_TOKEN_FILE": self.admin_token_file,
            "ONEC_MCP_ENV_FILE": self.env_file,
            "PYTHONUNBUFFERED": "1",
        }
        return (sc.render_header(self.socket_path, self.pidfile, self.logs_dir, self.state_dir)
                + sc.render_program(SERVICE_NAME, command, self.state_dir, env,
                                    self.gateway_stdout_log, self.gateway_stderr_log))

    def supervisord_pid(self):
        """The recorded supervisord PID when that process is alive and ours, else None."""
        candidates = [self.read_info().get("supervisord_pid"), sc.pidfile_pid(self.pidfile)]
        return sc.our_supervisord(candidates, self.config_path)

    def _supervisord_up(self):
        pid = self.supervisord_pid()
        return pid if pid and self.client().alive() else None

    def _start_supervisord(self):
        env = dict(os.environ)
        env.pop("ONEC_MCP_HTTP_TOKEN", None)  # the token is passed by file, never by environment

        def started(popen):
            self._popen = popen
            self._write_info(supervisord_pid=popen.pid, gateway_pid=None)

        try:
            sc.start(self.python, self.config_path, self.logs_dir, self.state_dir, self.socket_path, env=env,
                     timeout=SUPERVISORD_START_TIMEOUT, on_started=started)
        except LabError:
            if self._popen is not None and self._popen.poll() is not None:
                self._write_info(supervisord_pid=None)
            raise
        return self._popen.pid

    def program(self):
        """(statename, pid) of the gateway program; (NOT_RUNNING, None) without supervisord."""
        if not self.supervisord_pid():
            return sup.NOT_RUNNING, None
        try:
            info = self.client().process_info(SERVICE_NAME)
        except sup.SupervisorError:
            return sup.NOT_RUNNING, None
        return info.get("statename"), (info.get("pid") or None)

    def _stop_orphan_gateway(self, info):
        """A gateway we recorded that outlived its supervisord (e.g. supervisord was SIGKILLed)."""
        pid = info.get("gateway_pid")
        if pid and sup.is_our_gateway(int(pid), self.data_dir):
            self._say(f"stopping gateway pid {pid} left behind by a dead supervisord")
            left = pids.terminate([int(pid)], timeout=10.0, kill_timeout=KILL_TIMEOUT)
            if left:
                raise LabError(f"could not stop the orphaned gateway pid {pid}")

    def _check_port_free(self):
        host, port = parse_listen(self.listen)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        s = socket.socket(family, socket.SOCK_STREAM)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise LabError(
                    f"{self.listen} is already in use by a process that is not this lab's gateway; "
                    f"stop it or choose another address with --listen host:port"
                ) from None
            raise LabError(f"cannot bind {self.listen}: {exc}") from None
        finally:
            s.close()

    def _wait_healthy(self, timeout=HEALTH_TIMEOUT):
        deadline = time.monotonic() + timeout
        state, pid = self.program()
        while time.monotonic() < deadline:
            state, pid = self.program()
            if state == sup.RUNNING:
                status, _ = http_json(self.api_url + "/healthz", timeout=2)
                if status == 200:
                    return pid
            elif state in (sup.FATAL, sup.NOT_RUNNING):
                break
            time.sleep(0.2)
        raise LabError(
            f"the gateway did not become healthy on {self.api_url}/healthz within {timeout:.0f}s "
            f"(supervisor state {state}); last lines of {self.gateway_stderr_log}:\n"
            f"{_tail(self.gateway_stderr_log)}"
        )

    def _ensure_backup(self):
        token = self.admin_token()
        status, body = http_json(self.api_url + "/api/system/backups", token=token, timeout=10)
        if status != 200:
            raise LabError(f"GET {self.api_url}/api/system/backups returned {status}: {body}")
        backups = (body or {}).get("backups") or []
        if backups:
            return None
        status, body = http_json(self.api_url + "/api/system/backups", method="POST", token=token,
                                 body={}, timeout=60)
        if status not in (200, 201):
            raise LabError(f"POST {self.api_url}/api/system/backups returned {status}: {body}")
        return ((body or {}).get("backup") or {}).get("id")

    # ------------------------------------------------------------------ up / down / status

    def up(self):
        """Start the lab (idempotent). Returns a summary dict."""
        with self._locked():
            return self._up()

    def _up(self):
        info = self.read_info()
        sup_pid = self._supervisord_up()
        started = False
        if not sup_pid and self.supervisord_pid():
            raise LabError(
                f"supervisord pid {self.supervisord_pid()} of this lab is running but does not answer on "
                f"{self.socket_path}; `mcpops lab down` (stops it by that PID) and `up` again"
            )
        if sup_pid:
            running_listen = info.get("listen") or DEFAULT_LISTEN
            if self._listen_arg and self._listen_arg != running_listen:
                raise LabError(f"the lab in {self.state_dir} is running on {running_listen}; "
                               f"`mcpops lab down` first to move it to {self._listen_arg}")
            self._listen_arg = running_listen
        else:
            self._stop_orphan_gateway(info)
            self._check_port_free()
        self._prepare_dirs()
        seeded = self._ensure_secrets()
        if not sup_pid:
            self._write_info(supervisord_pid=None, gateway_pid=None)
            atomic_write(self.config_path, self.render_config(), 0o600)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.socket_path)  # a stale socket of a dead supervisord
            sup_pid = self._start_supervisord()
            started = True
            self._say(f"started supervisord pid {sup_pid} ({self.config_path})")
        else:
            state, _ = self.program()
            if state in (sup.STOPPED, sup.EXITED, sup.FATAL):
                self.client().start(SERVICE_NAME, False)
                self._say(f"started {SERVICE_NAME} (was {state})")
        try:
            gw_pid = self._wait_healthy()
        except LabError:
            if started:
                with contextlib.suppress(LabError):
                    self._down(purge=False)
            raise
        self._write_info(supervisord_pid=sup_pid, gateway_pid=gw_pid)
        backup = self._ensure_backup()
        if backup:
            self._say(f"made backup {backup}")
        return {
            "state_dir": str(self.state_dir),
            "api_url": self.api_url,
            "supervisord_pid": sup_pid,
            "gateway_pid": gw_pid,
            "started": started,
            "seeded": bool(seeded),
            "backup": backup,
        }

    def down(self, purge=False):
        """Stop everything the lab started (idempotent). Returns the PIDs that were stopped."""
        if not self.state_dir.exists():
            return {"stopped": [], "purged": False}
        with self._locked():
            result = self._down(purge=purge)
        if purge:
            shutil.rmtree(self.state_dir, ignore_errors=True)
            sockdir = self.socket_path.parent
            if sockdir != self.state_dir:
                shutil.rmtree(sockdir, ignore_errors=True)
            result["purged"] = True
        return result

    def _down(self, purge=False):
        info = self.read_info()
        sup_pid = self.supervisord_pid()
        gw_pids = set()
        if info.get("gateway_pid"):
            gw_pids.add(int(info["gateway_pid"]))
        if sup_pid:
            _, live = self.program()
            if live:
                gw_pids.add(int(live))
        gw_pids = {p for p in gw_pids if sup.is_our_gateway(p, self.data_dir)}
        stopped = []
        if sup_pid:
            sc.stop(sup_pid, self.client(), self.config_path, STOP_TIMEOUT, KILL_TIMEOUT)
            stopped.append(sup_pid)
        # A gateway that outlived its supervisord (killed supervisord, orphan): stop it by PID.
        orphans = [p for p in gw_pids if sup.is_our_gateway(p, self.data_dir)]
        if orphans:
            pids.terminate(orphans, timeout=10.0, kill_timeout=KILL_TIMEOUT)
        stopped.extend(sorted(gw_pids))
        from mcpops.lab.fixtures.odata_upstream import LabUpstream  # the INC-004 upstream, when a fault started it

        upstream_pid = LabUpstream(self.state_dir, self.data_dir).stop()
        if upstream_pid:
            stopped.append(upstream_pid)
        from mcpops.lab.fixtures.gateway_tls import LabGatewayTls  # the gateway's TLS endpoint, when something started it

        tls_pid = LabGatewayTls(self.state_dir).stop()
        if tls_pid:
            stopped.append(tls_pid)
        still = [p for p in [sup_pid, *gw_pids] if p and pids.pid_alive(p)]
        if self._popen is not None:
            with contextlib.suppress(Exception):
                self._popen.wait(timeout=0.5)
        if still:
            raise LabError(f"could not stop PIDs {still} (signalled TERM and KILL)")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)
        if self.info_path.exists() and not purge:
            self._write_info(supervisord_pid=None, gateway_pid=None)
        return {"stopped": stopped, "purged": False}

    def status(self):
        info = self.read_info()
        sup_pid = self.supervisord_pid()
        state, gw_pid = self.program()
        result = {
            "state_dir": str(self.state_dir),
            "api_url": self.api_url if info or self._listen_arg else None,
            "supervisord_pid": sup_pid,
            "service_name": SERVICE_NAME,
            "state": state,
            "gateway_pid": gw_pid,
            "healthz": None,
            "readyz": None,
            "healthy": False,
        }
        if info:
            for name in ("healthz", "readyz"):
                status, body = http_json(f"{self.api_url}/{name}", timeout=2)
                result[name] = {"status": status, "body": body}
        result["healthy"] = bool(
            state == sup.RUNNING
            and result["healthz"] and result["healthz"]["status"] == 200
            and result["readyz"] and result["readyz"]["status"] == 200
        )
        if gw_pid and gw_pid != info.get("gateway_pid") and info:
            with contextlib.suppress(OSError):
                self._write_info(gateway_pid=gw_pid)
        return result

    def gateway_pid(self):
        return self.program()[1]

    def record_gateway_pid(self, pid):
        """Record the gateway's PID in lab.json (None: not running); `down` checks it before any signal."""
        self._write_info(gateway_pid=pid)

    def program_state(self):
        return self.program()[0]

    # ------------------------------------------------------------------ seed

    def seed(self, force=False):
        with self._locked():
            state, pid = self.program()
            if state in (sup.RUNNING, sup.STARTING, sup.BACKOFF):
                where = f" (pid {pid})" if pid else ""
                raise LabError(f"the lab gateway is {state}{where}; `mcpops lab down` "
                               f"(or `mcpops lab break stop`) before seeding {self.data_dir}")
            if state == sup.NOT_RUNNING and self.read_info().get("listen"):
                status, _ = http_json(self.api_url + "/healthz", timeout=1)
                if status is not None:
                    raise LabError(f"something answers on {self.api_url}; stop it before seeding")
            self._prepare_dirs()
            if not self._data_dir_empty() and not force:
                raise LabError(f"{self.data_dir} already holds data; `mcpops lab seed --force` to reseed")
            if not self.admin_token_file.exists():
                atomic_write(self.admin_token_file, _secrets.token_urlsafe(32) + "\n", 0o600)
            result = self._run_seed(force=force)
            return {"data_dir": str(self.data_dir), "mcp_token_id": result.get("ops_token_id")}

    # ------------------------------------------------------------------ faults

    def break_(self, fault):
        return faults.inject(self, fault)
