"""The service lab: one of the reference services beside the 1C gateway (cctelegram-mcp, lego-mcp, loyalty-api,
connector-mcp; mcpops.lab.services) under a private supervisord, with the private datastores it needs, on
loopback, no root needed (`mcpops lab up --service <name>`).

State dir layout:

    <state_dir>/
      lab.json              what the lab is and where: "service", ports, PIDs, datastore records (no secrets)
      supervisord.conf      the private supervisord's config (no secrets: each program reads an env file)
      supervisor.sock, supervisord.pid
      secrets/              0700; each 0600: the service's secrets (api_key, metrics_token, db_password), the
                            datastores' admin passwords, <program>.env (the program's whole environment)
      services/<program>/   each program's MCPOPS_SERVICE_STATE_DIR (faults.json: unhealthy / slow on demand)
      ds/                   the datastores' dirs (in /tmp instead when the socket path would be too long, or for
                            PostgreSQL run as `postgres` when we are root, when that user cannot reach the state dir)
      logs/                 supervisord.log, <program>.stdout.log, <program>.stderr.log, the services' own logs
      nginx/, releases/, config/, backups/, run/
                            connector-mcp only (mcpops.lab.local.connector_topology): its nginx load balancer in
                            front of its two instances (connectormcp-backend-1 is the main program: api_url, the
                            checks and the common faults are its own), releases, CONNECTOR_CONFIG, backups

A service may define standby programs (connector-mcp: connectormcp-backend-3): in supervisord.conf with
autostart=false, with their own port, state dir and env file, but not started by `up`, not waited for, not counted
by `status`'s "healthy" (shown with "standby": true) and stopped again by `break healthy`; `down` stops them with the
rest. program_names are the programs the lab keeps running; supervised_names every program it defines.

Everything the lab starts is recorded by PID (supervisord, its programs, each datastore) and stopped by that
PID after checking that it still is the process we started; nothing is killed by name.
"""

import contextlib
import json
import os
import secrets as _secrets
import shlex
import shutil
import socket
import sys
import time
import types
from pathlib import Path

from mcpops.lab import pids
from mcpops.lab.gateway.fsutil import atomic_write
from mcpops.lab.http_client import http_json
from mcpops.lab.local import connector_topology, service_datastores as ds, service_faults, supervisor as sup, \
    supervisord_conf as sc
from mcpops.lab.local.env_exec import render_env_file
from mcpops.lab.local.errors import LabError
from mcpops.lab.local.lab import default_state_dir, parse_listen
from mcpops.lab.local.service_catalog import (
    CONNECTOR_MCP, MYSQL, POSTGRES, SERVICES, log_paths, program_env, spec as service_spec)
from mcpops.lab.loopback import free_port

HEALTH_TIMEOUT = 60.0  # a loaded CI machine: python start, psycopg import, first connection
STOP_TIMEOUT = 20.0
KILL_TIMEOUT = 5.0
CHECK_TIMEOUT = 5.0
SERVICES_MODULE = "mcpops.lab.services"
ENV_EXEC_MODULE = "mcpops.lab.local.env_exec"

# The admin logins the datastore fixtures make, kept as secrets files (0600).
_ADMIN_SECRETS = {POSTGRES: ("pg_superuser_password", "superuser_password"),
                  MYSQL: ("mysql_root_password", "root_password")}


def _port_free(host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def http_get(url, headers=None, timeout=CHECK_TIMEOUT):
    """(status, parsed JSON body); status None and {"error": ...} when nothing answered."""
    return http_json(url, headers=headers, timeout=timeout)


def recorded_service(state_dir):
    """The service a state dir's lab.json records: its "service", "onec-gateway" for a 1C gateway lab (no such
    key), None when there is no lab there."""
    try:
        info = json.loads((Path(state_dir) / "lab.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or not info:
        return None
    return info.get("service") or "onec-gateway"


class ServiceLab:
    """One service lab in one state dir. Usable from the CLI and from pytest fixtures.

    service: one of service_catalog.SERVICES; None takes the one the state dir records."""

    def __init__(self, state_dir=None, service=None, listen=None, python=None, out=None):
        self.state_dir = Path(state_dir or default_state_dir()).expanduser().resolve()
        recorded = recorded_service(self.state_dir)
        service = service or recorded
        if not service:
            raise LabError(f"no service lab in {self.state_dir}: `mcpops lab up --service <name>` first "
                           f"(services: {', '.join(SERVICES)})")
        if service not in SERVICES:
            raise LabError(f"unknown service {service!r}; the service lab runs {', '.join(SERVICES)} "
                           f"(onec-gateway is the gateway lab: `mcpops lab up` without --service)")
        if recorded and recorded != service:
            raise LabError(f"the lab in {self.state_dir} runs {recorded}, not {service}: "
                           f"`mcpops lab down --purge` first, or choose another --dir")
        self.service = service
        self.spec = service_spec(service)
        if listen is not None:
            parse_listen(listen)
        self._listen_arg = listen
        self.python = python or sys.executable
        self._out = out
        self._popen = None
        # the parts of the lab beside supervisord and the datastores (connector-mcp: nginx, releases, config)
        self.topology = connector_topology.ConnectorTopology(self) if service == CONNECTOR_MCP else None

    # ------------------------------------------------------------------ paths

    @property
    def info_path(self):
        return self.state_dir / "lab.json"

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
    def socket_path(self):
        return sc.socket_path(self.state_dir)

    @property
    def main_program(self):
        """The supervisord program of the service itself (its profile's runtime.program)."""
        return self.spec.main_instance.name

    service_name = main_program  # as LocalLab calls its program

    @property
    def program_names(self):
        """The programs the lab keeps running (`up` starts and waits for them; the standby ones are not among them)."""
        return tuple(p.name for p in self.spec.kept_running)

    @property
    def supervised_names(self):
        """Every program in supervisord.conf: program_names, then the standby ones."""
        return tuple(p.name for p in self.spec.supervised)

    @property
    def standby_names(self):
        """The standby programs (autostart=false): defined in supervisord, stopped after `up`."""
        return tuple(p.name for p in self.spec.supervised if p.standby)

    def program_state_dir(self, program):
        """The program's MCPOPS_SERVICE_STATE_DIR (where its faults.json goes)."""
        return self.state_dir / "services" / program

    def env_file(self, program):
        return self.secrets_dir / f"{program}.env"

    def secret_file(self, name):
        return self.secrets_dir / name

    def stdout_log(self, program):
        return self.logs_dir / f"{program}.stdout.log"

    def stderr_log(self, program):
        return self.logs_dir / f"{program}.stderr.log"

    @property
    def listen(self):
        return (self._listen_arg or self.read_info().get("listen")
                or f"127.0.0.1:{self.spec.default_port}")

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
            info = json.loads(self.info_path.read_text())
            return info if isinstance(info, dict) else {}
        except (OSError, ValueError):
            return {}

    def _write_info(self, **updates):
        info = self.read_info()
        info.update({
            "service": self.service,
            "listen": self.listen,
            "api_url": self.api_url,
            "state_dir": str(self.state_dir),
            "supervisor_config": str(self.config_path),
            "supervisor_socket": str(self.socket_path),
            "supervisord_pid": info.get("supervisord_pid"),
            "service_name": self.main_program,
            "programs": info.get("programs") or {},
            "datastores": info.get("datastores") or {},
            "env_overrides": info.get("env_overrides") or {},
            "logs_dir": str(self.logs_dir),
            "python": self.python,
            "secrets_dir": str(self.secrets_dir),
            "secret_files": {s.var: str(self.secret_file(s.name)) for s in self.spec.secrets},
            "faults": list(self.spec.faults),
        })
        info.update(updates)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(self.info_path, json.dumps(info, indent=2, sort_keys=True) + "\n", 0o644)
        return info

    def update_info(self, **fields):
        """Set top-level fields of lab.json (no secrets), keeping the others; returns the whole record."""
        return self._write_info(**fields)

    def _update_program(self, program, **fields):
        programs = self.read_info().get("programs") or {}
        programs.setdefault(program, {}).update(fields)
        self._write_info(programs=programs)

    def _update_datastore(self, kind, record):
        stores = self.read_info().get("datastores") or {}
        stores[kind] = record
        self._write_info(datastores=stores)

    def secret(self, name):
        """The value of one of the service's secrets (Secret.name) or of a datastore admin secret."""
        try:
            return self.secret_file(name).read_text().strip()
        except OSError:
            raise LabError(f"no secret {name} at {self.secret_file(name)}: run `mcpops lab up` first") from None

    def secret_vars(self):
        """{inventory variable: value} of the service's secrets (the profile's secret_var names)."""
        return {s.var: self.secret(s.name) for s in self.spec.secrets}

    def _prepare_dirs(self):
        self.state_dir.mkdir(parents=True, exist_ok=True)
        for d in (self.logs_dir, self.state_dir / "services"):
            d.mkdir(exist_ok=True)
        for program in self.supervised_names:
            self.program_state_dir(program).mkdir(exist_ok=True)
        self.secrets_dir.mkdir(mode=0o700, exist_ok=True)
        os.chmod(self.secrets_dir, 0o700)
        if self.socket_path.parent != self.state_dir:
            sc.prepare_socket_dir(self.socket_path)

    def _ensure_secrets(self):
        for s in self.spec.secrets:
            path = self.secret_file(s.name)
            if not path.exists():
                value = ds.new_password() if s.name == "db_password" else _secrets.token_urlsafe(32)
                atomic_write(path, value + "\n", 0o600)
            os.chmod(path, 0o600)

    # ------------------------------------------------------------------ datastores

    def datastore_records(self):
        return self.read_info().get("datastores") or {}

    def datastore_pid(self, kind):
        record = self.datastore_records().get(kind)
        return ds.running_pid(record) if record else None

    def _datastore_password(self, store):
        return self.secret(store.secret) if store.secret else None

    def datastore_url(self, kind):
        """The URL the service is given for one of its datastores (with its password)."""
        record = self.datastore_records().get(kind)
        if not record:
            raise LabError(f"{self.service} has no {kind} datastore recorded in {self.info_path}")
        return ds.url(record, self._datastore_password(self.spec.datastore(kind)))

    def _ensure_datastores(self):
        """Every datastore the service needs running: the recorded one (started again when down), else a new one."""
        started = []
        for store in self.spec.datastores:
            record = self.datastore_records().get(store.kind)
            if record and ds.running_pid(record):
                continue
            if record and os.path.isdir(record.get("data_dir") or record["dir"]):
                pid = ds.restart(record)
                self._update_datastore(store.kind, record)
                self._say(f"started {store.kind} pid {pid} on 127.0.0.1:{record['port']} again ({record['dir']})")
                started.append(pid)
                continue
            port = free_port()
            base = ds.base_dir(self.state_dir, store.kind)
            self._say(f"creating {store.kind} on 127.0.0.1:{port} under {base}")
            record, admin = ds.create(store.kind, port, base, store.database, store.user,
                                      self._datastore_password(store))
            self._update_datastore(store.kind, record)
            if store.kind in _ADMIN_SECRETS:
                name, key = _ADMIN_SECRETS[store.kind]
                atomic_write(self.secret_file(name), admin[key] + "\n", 0o600)
            self._say(f"started {store.kind} pid {record['pid']} on 127.0.0.1:{port}")
            started.append(record["pid"])
        return started

    def stop_datastore(self, kind):
        """Stop one datastore by its recorded PID (checked to be ours); returns that PID or None (not running)."""
        record = self.datastore_records().get(kind)
        if not record:
            raise LabError(f"{self.service} has no {kind} datastore")
        pid = ds.stop(record)
        record["pid"] = None
        self._update_datastore(kind, record)
        return pid

    def start_datastores(self):
        """Start every datastore that is down again (on its data); returns {kind: pid} of those started."""
        started = {}
        for store in self.spec.datastores:
            record = self.datastore_records().get(store.kind)
            if not record:
                raise LabError(f"{self.service} has no {store.kind} datastore recorded: `mcpops lab up` first")
            if ds.running_pid(record):
                continue
            started[store.kind] = ds.restart(record)
            self._update_datastore(store.kind, record)
        return started

    def datastore_login(self, kind):
        """How an operator logs in to a datastore: host, port, user, password, database (admin user where the
        fixture made one that logs in over TCP, PostgreSQL's superuser; the service's own user otherwise)."""
        record = self.datastore_records().get(kind)
        if not record:
            raise LabError(f"{self.service} has no {kind} datastore")
        login = {"host": "127.0.0.1", "port": record["port"], "database": record.get("database")}
        if kind == POSTGRES:
            login.update(user=record["admin_user"], password=self.secret(_ADMIN_SECRETS[POSTGRES][0]))
        elif kind == MYSQL:
            login.update(user=record["user"], password=self._datastore_password(self.spec.datastore(MYSQL)),
                         unix_socket=record.get("socket"))
        return login

    # ------------------------------------------------------------------ what an inventory of this lab says

    def _spec_program(self, name):
        return next(p for p in self.spec.supervised if p.name == (name or self.main_program))

    def log_files(self, program=None):
        """The profile's `logs` fields where this lab's service writes its log files ({} for stdout only); of one
        instance (program, default the main one) for a service of several."""
        return log_paths(self.spec, self.logs_dir, self._spec_program(program))

    def program_url(self, program=None):
        """The URL of one program's own listener (default the main program: api_url)."""
        name = program or self.main_program
        if name == self.main_program:
            return self.api_url
        listen = ((self.read_info().get("programs") or {}).get(name) or {}).get("listen")
        if not listen:
            raise LabError(f"no listen address of {name} recorded in {self.info_path}: `mcpops lab up` first")
        host, port = parse_listen(listen)
        return f"http://{host}:{port}"

    def profile_overrides(self, program=None):
        """mcp_service_overrides for an inventory of this lab: the profile fields that say where the lab put things
        (its URL, cctelegram's metrics listener, the datastores' ports, the log files); those of one instance
        (program, default the main one) for a service of several."""
        info = self.read_info()
        overrides = {"api": {"default_url": self.program_url(program)}}
        if info.get("metrics_url"):
            overrides["metrics"] = {"url": info["metrics_url"]}
        stores = {kind: {"host": "127.0.0.1", "port": rec["port"]} for kind, rec in self.datastore_records().items()}
        if stores:
            overrides["datastores"] = stores
        if self.log_files(program):
            overrides["logs"] = self.log_files(program)
        return overrides

    # ------------------------------------------------------------------ programs and their environment

    def _ports(self, fresh):
        """{program: listen} (the main program on self.listen, the others on free ports) and the metrics listen."""
        info = self.read_info()
        programs = info.get("programs") or {}
        listens = {}
        for p in self.spec.supervised:
            if p.main:
                listens[p.name] = self.listen
                continue
            recorded = (programs.get(p.name) or {}).get("listen")
            if recorded and (not fresh or _port_free(*parse_listen(recorded))):
                listens[p.name] = recorded
            else:
                listens[p.name] = f"127.0.0.1:{free_port()}"
        metrics = None
        if self.service == "cctelegram-mcp":
            metrics = info.get("metrics_listen")
            if not metrics or (fresh and not _port_free(*parse_listen(metrics))):
                metrics = f"127.0.0.1:{free_port()}"
        return listens, metrics

    def _env_ctx(self, listens, metrics):
        stores = self.datastore_records()
        urls = {store.kind: ds.url(stores[store.kind], self._datastore_password(store))
                for store in self.spec.datastores}
        return types.SimpleNamespace(
            listen=listens,
            state_dirs={p: self.program_state_dir(p) for p in self.supervised_names},
            secret_files={s.name: self.secret_file(s.name) for s in self.spec.secrets},
            urls=urls,
            logs_dir=self.logs_dir,
            metrics_listen=metrics,
            connector_paths=self.topology.program_paths() if self.topology else None,
        )

    def env_overrides(self, program):
        return dict((self.read_info().get("env_overrides") or {}).get(program) or {})

    def _write_env_files(self, ctx):
        overrides = self.read_info().get("env_overrides") or {}
        for p in self.spec.supervised:
            env = program_env(self.spec, p, ctx)
            env.update(overrides.get(p.name) or {})
            atomic_write(self.env_file(p.name), render_env_file(env), 0o600)

    def _rewrite_env_files(self):
        info = self.read_info()
        listens = {name: rec.get("listen") for name, rec in (info.get("programs") or {}).items()}
        listens[self.main_program] = self.listen
        self._write_env_files(self._env_ctx(listens, info.get("metrics_listen")))

    def set_env_overrides(self, program, overrides):
        """Replace the program's environment overrides (KEY -> value; {} restores its own environment) and rewrite
        its env file; takes effect at its next start. No secrets here: lab.json keeps them."""
        if program not in self.supervised_names:
            raise LabError(f"{self.service} has no program {program!r}")
        all_overrides = self.read_info().get("env_overrides") or {}
        if overrides:
            all_overrides[program] = {str(k): str(v) for k, v in overrides.items()}
        else:
            all_overrides.pop(program, None)
        self._write_info(env_overrides=all_overrides)
        self._rewrite_env_files()

    def render_config(self):
        parts = [sc.render_header(self.socket_path, self.pidfile, self.logs_dir, self.state_dir)]
        for p in self.spec.supervised:
            argv = [self.python, "-m", ENV_EXEC_MODULE, str(self.env_file(p.name)), "--",
                    self.python, "-m", SERVICES_MODULE, p.service]
            command = " ".join(shlex.quote(a) for a in argv)
            parts.append(sc.render_program(p.name, command, self.state_dir, {"PYTHONUNBUFFERED": "1"},
                                           self.stdout_log(p.name), self.stderr_log(p.name),
                                           autostart=not p.standby))
        return "".join(parts)

    # ------------------------------------------------------------------ supervisord

    def supervisord_pid(self):
        """The recorded supervisord PID when that process is alive and ours, else None."""
        return sc.our_supervisord([self.read_info().get("supervisord_pid"), sc.pidfile_pid(self.pidfile)],
                                  self.config_path)

    def _supervisord_up(self):
        pid = self.supervisord_pid()
        return pid if pid and self.client().alive() else None

    def _start_supervisord(self):
        def started(popen):
            self._popen = popen
            self._write_info(supervisord_pid=popen.pid)

        try:
            sc.start(self.python, self.config_path, self.logs_dir, self.state_dir, self.socket_path,
                     on_started=started)
        except LabError:
            if self._popen is not None and self._popen.poll() is not None:
                self._write_info(supervisord_pid=None)
            raise
        return self._popen.pid

    def program(self, name=None):
        """(statename, pid) of a program (default the main one); (NOT_RUNNING, None) without supervisord."""
        name = name or self.main_program
        if not self.supervisord_pid():
            return sup.NOT_RUNNING, None
        try:
            info = self.client().process_info(name)
        except sup.SupervisorError:
            return sup.NOT_RUNNING, None
        return info.get("statename"), (info.get("pid") or None)

    def program_state(self, name=None):
        return self.program(name)[0]

    def program_pid(self, name=None):
        return self.program(name)[1]

    def is_our_program(self, pid):
        """True when pid is alive and one of this lab's programs (its command line, and its state dir)."""
        if not pid or not pids.pid_alive(int(pid)):
            return False
        args = pids.cmdline(int(pid))
        if not args:
            return not os.path.isdir(f"/proc/{pid}")
        joined = " ".join(args)
        if ENV_EXEC_MODULE in joined:  # between start and exec
            return str(self.secrets_dir) in joined
        if SERVICES_MODULE not in joined:
            return False
        env = pids.environ(int(pid))
        return not env or env.get("MCPOPS_SERVICE_STATE_DIR", "").startswith(str(self.state_dir / "services"))

    def record_program_pids(self):
        """Record each program's live PID (None when not running; the standby ones too) in lab.json; returns
        {program: pid}."""
        found = {name: self.program_pid(name) for name in self.supervised_names}
        programs = self.read_info().get("programs") or {}
        for name, pid in found.items():
            programs.setdefault(name, {})["pid"] = pid
        self._write_info(programs=programs)
        return found

    def start_program(self, name=None):
        name = name or self.main_program
        try:
            self.client().start(name, False)
        except sup.SupervisorError as exc:
            if "ALREADY_STARTED" not in str(exc):
                raise LabError(str(exc)) from exc

    def stop_program(self, name=None):
        name = name or self.main_program
        try:
            self.client().stop(name, True)
        except sup.SupervisorError as exc:
            if "NOT_RUNNING" not in str(exc):
                raise LabError(str(exc)) from exc

    def restart_program(self, name=None):
        """Stop (when running) and start a program, without waiting for it to be RUNNING."""
        name = name or self.main_program
        if self.program_state(name) in (sup.RUNNING, sup.STARTING, sup.BACKOFF):
            with contextlib.suppress(LabError):
                self.stop_program(name)
        self.start_program(name)

    def wait_program(self, wanted, name=None, timeout=STOP_TIMEOUT):
        """Wait until the program is in one of the wanted states; returns it, LabError at the deadline."""
        name = name or self.main_program
        deadline = time.monotonic() + timeout
        state = None
        while time.monotonic() < deadline:
            state = self.program_state(name)
            if state in wanted:
                return state
            time.sleep(0.1)
        raise LabError(f"{name} did not reach {'/'.join(wanted)} within {timeout:.0f}s (state {state}); "
                       f"last lines of {self.stderr_log(name)}:\n{sc.tail(self.stderr_log(name))}")

    # ------------------------------------------------------------------ checks and faults.json

    def check_headers(self, role):
        check = self.spec.checks[role]
        if not check.auth:
            return {}
        s = self.spec.secret(check.auth)
        return {s.header: self.secret(s.name)}

    def get(self, path, secret=None, timeout=CHECK_TIMEOUT):
        """GET a path of the service (with the header of one of its secrets, by Secret.name): (status, body)."""
        headers = {}
        if secret:
            s = self.spec.secret(secret)
            headers[s.header] = self.secret(s.name)
        return http_get(self.api_url + path, headers, timeout=timeout)

    def check(self, role, timeout=CHECK_TIMEOUT):
        """GET the profile's liveness / readiness / deep check, with its auth header: (status, body)."""
        check = self.spec.checks[role]
        return http_get(self.api_url + check.path, self.check_headers(role), timeout=timeout)

    def wait_check(self, role, statuses=None, timeout=HEALTH_TIMEOUT):
        """Poll a check until its status is one of statuses (None: until it passes, 200 and the profile's
        conditions); (status, body), LabError at the deadline."""
        check = self.spec.checks[role]
        deadline = time.monotonic() + timeout
        status, body = None, None
        while time.monotonic() < deadline:
            status, body = self.check(role)
            if (status in statuses) if statuses else check.passes(status, body):
                return status, body
            time.sleep(0.2)
        wanted = "/".join(map(str, statuses)) if statuses else "200 with " + " and ".join(check.conditions)
        raise LabError(f"{self.api_url}{check.path} answered {status} {body}, not {wanted}, within {timeout:.0f}s")

    def faults_path(self, program=None):
        return self.program_state_dir(program or self.main_program) / "faults.json"

    def read_faults(self, program=None):
        try:
            data = json.loads(self.faults_path(program).read_text())
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def write_faults(self, faults, program=None):
        """Replace the program's faults.json (read by the service on every request); {} removes it."""
        path = self.faults_path(program)
        if not faults:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, json.dumps(faults, sort_keys=True) + "\n", 0o644)
        return path

    # ------------------------------------------------------------------ up / down / status

    def _check_ports_free(self, listens):
        for program, listen in listens.items():
            host, port = parse_listen(listen)
            if not _port_free(host, port):
                hint = "; choose another with --listen host:port" if program == self.main_program else ""
                raise LabError(f"{listen} ({program}) is already in use by a process that is not this lab's{hint}")

    def _stop_orphan_programs(self, info):
        """Programs we recorded that outlived their supervisord (e.g. it was SIGKILLed)."""
        orphans = [int(rec["pid"]) for rec in (info.get("programs") or {}).values()
                   if rec.get("pid") and self.is_our_program(int(rec["pid"]))]
        if orphans:
            self._say(f"stopping programs {orphans} left behind by a dead supervisord")
            left = pids.terminate(orphans, timeout=10.0, kill_timeout=KILL_TIMEOUT)
            if left:
                raise LabError(f"could not stop the orphaned programs {left}")
        return orphans

    def _wait_healthy(self, timeout=HEALTH_TIMEOUT):
        """Wait until every program is RUNNING and the liveness check passes (only RUNNING while a faults.json
        makes the service unhealthy or slow on purpose)."""
        deadline = time.monotonic() + timeout
        states, status, body = {}, None, None
        while time.monotonic() < deadline:
            states = {name: self.program_state(name) for name in self.program_names}
            if all(s == sup.RUNNING for s in states.values()):
                if self.read_faults():
                    self._say(f"{self.faults_path()} is set: not waiting for {self.spec.liveness.path}")
                    return
                status, body = self.check("liveness")
                if self.spec.liveness.passes(status, body):
                    return
            elif any(s in (sup.FATAL, sup.NOT_RUNNING) for s in states.values()):
                break
            time.sleep(0.2)
        main = self.main_program
        hint = ""
        if self.read_info().get("env_overrides") or self.read_faults():
            hint = " (a fault is set: `mcpops lab break healthy` undoes it)"
        raise LabError(
            f"{self.service} did not become healthy on {self.api_url}{self.spec.liveness.path} within "
            f"{timeout:.0f}s{hint} (programs {states}; last answer {status} {body}); last lines of "
            f"{self.stderr_log(main)}:\n{sc.tail(self.stderr_log(main))}"
        )

    def up(self):
        """Start the lab (idempotent). Returns a summary dict."""
        with sc.locked(self.state_dir):
            return self._up()

    def _up(self):
        info = self.read_info()
        sup_pid = self._supervisord_up()
        if not sup_pid and self.supervisord_pid():
            raise LabError(
                f"supervisord pid {self.supervisord_pid()} of this lab is running but does not answer on "
                f"{self.socket_path}; `mcpops lab down` (stops it by that PID) and `up` again")
        if sup_pid:
            running = info.get("listen")
            if self._listen_arg and running and self._listen_arg != running:
                raise LabError(f"the lab in {self.state_dir} is running on {running}; "
                               f"`mcpops lab down` first to move it to {self._listen_arg}")
            self._listen_arg = running or self._listen_arg
        else:
            self._stop_orphan_programs(info)
        listens, metrics = self._ports(fresh=not sup_pid)
        if not sup_pid:
            self._check_ports_free({**listens, **({"metrics": metrics} if metrics else {})})
        self._prepare_dirs()
        self._ensure_secrets()
        started = not sup_pid
        self._write_info(programs={name: {"listen": listens[name],
                                          "state_dir": str(self.program_state_dir(name)),
                                          "pid": (info.get("programs") or {}).get(name, {}).get("pid")}
                                   for name in self.supervised_names},
                         metrics_listen=metrics,
                         metrics_url=f"http://{metrics}" if metrics else None)
        try:
            datastores_started = self._ensure_datastores()
            if self.topology:
                self.topology.prepare(fresh=not sup_pid)
            self._write_env_files(self._env_ctx(listens, metrics))
            if not sup_pid:
                self._write_info(supervisord_pid=None)
                atomic_write(self.config_path, self.render_config(), 0o600)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.socket_path)  # a stale socket of a dead supervisord
                sup_pid = self._start_supervisord()
                self._say(f"started supervisord pid {sup_pid} ({self.config_path})")
            else:
                for name in self.program_names:
                    state = self.program_state(name)
                    if state in (sup.STOPPED, sup.EXITED, sup.FATAL):
                        self.start_program(name)
                        self._say(f"started {name} (was {state})")
            self._wait_healthy()
            if self.topology:
                self.topology.up()
        except BaseException:
            if started:
                with contextlib.suppress(LabError):
                    self._down()
            raise
        found = self.record_program_pids()
        return {
            "state_dir": str(self.state_dir),
            "service": self.service,
            "api_url": self.api_url,
            "supervisord_pid": sup_pid,
            "programs": found,
            "datastores": {kind: {"pid": rec.get("pid"), "port": rec.get("port")}
                           for kind, rec in self.datastore_records().items()},
            "datastores_started": datastores_started,
            "started": started,
            **({"topology": self.topology.summary()} if self.topology else {}),
        }

    def down(self, purge=False):
        """Stop everything the lab started, by PID (idempotent). Returns the PIDs that were stopped."""
        if not self.state_dir.exists():
            return {"stopped": [], "purged": False}
        with sc.locked(self.state_dir):
            result = self._down(purge=purge)
        if purge:
            outside = [rec.get("dir") for rec in self.datastore_records().values()
                       if rec.get("dir") and not Path(rec["dir"]).is_relative_to(self.state_dir)]
            shutil.rmtree(self.state_dir, ignore_errors=True)
            for path in outside:
                shutil.rmtree(path, ignore_errors=True)
            sockdir = self.socket_path.parent
            if sockdir != self.state_dir:
                shutil.rmtree(sockdir, ignore_errors=True)
            result["purged"] = True
        return result

    def _down(self, purge=False):
        info = self.read_info()
        sup_pid = self.supervisord_pid()
        program_pids = {int(rec["pid"]) for rec in (info.get("programs") or {}).values() if rec.get("pid")}
        if sup_pid:
            program_pids |= {pid for pid in (self.program_pid(name) for name in self.supervised_names) if pid}
        program_pids = {p for p in program_pids if self.is_our_program(p)}
        stopped = []
        if sup_pid:
            sc.stop(sup_pid, self.client(), self.config_path, STOP_TIMEOUT, KILL_TIMEOUT)
            stopped.append(sup_pid)
        orphans = [p for p in program_pids if self.is_our_program(p)]
        if orphans:
            pids.terminate(orphans, timeout=10.0, kill_timeout=KILL_TIMEOUT)
        stopped.extend(sorted(program_pids))
        errors = []
        topology_pids = []
        if self.topology:
            try:
                topology_pids = self.topology.down()
            except LabError as exc:
                errors.append(str(exc))
            stopped.extend(topology_pids)
        store_pids = []
        for kind, record in (info.get("datastores") or {}).items():
            try:
                pid = ds.stop(record)
            except LabError as exc:
                errors.append(str(exc))
                continue
            if pid:
                store_pids.append(pid)
                stopped.append(pid)
        if self._popen is not None:
            with contextlib.suppress(Exception):
                self._popen.wait(timeout=0.5)
        still = [p for p in [sup_pid, *program_pids, *topology_pids, *store_pids] if p and pids.pid_alive(p)]
        if still or errors:
            raise LabError(f"could not stop PIDs {still} (signalled TERM and KILL)" + "".join(f"; {e}" for e in errors))
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)
        if self.info_path.exists() and not purge:
            programs = info.get("programs") or {}
            for rec in programs.values():
                rec["pid"] = None
            stores = info.get("datastores") or {}
            for rec in stores.values():
                rec["pid"] = None
            self._write_info(supervisord_pid=None, programs=programs, datastores=stores)
        return {"stopped": stopped, "purged": False}

    def status(self):
        info = self.read_info()
        sup_pid = self.supervisord_pid()
        programs = {}
        standby = self.standby_names
        for name in self.supervised_names:
            state, pid = self.program(name)
            programs[name] = {"state": state, "pid": pid,
                              "listen": ((info.get("programs") or {}).get(name) or {}).get("listen")}
            if name in standby:
                programs[name]["standby"] = True
        stores = {}
        for kind, record in (info.get("datastores") or {}).items():
            pid = ds.running_pid(record)
            stores[kind] = {"port": record.get("port"), "pid": pid, "running": bool(pid), "dir": record.get("dir")}
        checks = {}
        if info:
            for role, check in self.spec.checks.items():
                status, body = self.check(role, timeout=3)
                checks[role] = {"name": check.name, "path": check.path, "status": status, "body": body}
        for role, check in checks.items():
            check["passes"] = self.spec.checks[role].passes(check["status"], check["body"])
        topology = self.topology.status() if self.topology and info else None
        healthy = bool(
            all(programs[name]["state"] == sup.RUNNING for name in self.program_names)
            and checks and checks["liveness"]["passes"] and checks["readiness"]["passes"]
            and (topology is None or topology["healthy"])
        )
        return {
            "state_dir": str(self.state_dir),
            "service": self.service,
            "api_url": self.api_url if info or self._listen_arg else None,
            "supervisord_pid": sup_pid,
            "service_name": self.main_program,
            "state": programs[self.main_program]["state"],
            "programs": programs,
            "datastores": stores,
            "checks": checks,
            "env_overrides": info.get("env_overrides") or {},
            "faults_json": self.read_faults(),
            "healthy": healthy,
            **({"topology": topology} if topology is not None else {}),
        }

    # ------------------------------------------------------------------ faults

    @property
    def faults(self):
        return self.spec.faults

    def break_(self, fault):
        with sc.locked(self.state_dir):
            return service_faults.inject(self, fault)
