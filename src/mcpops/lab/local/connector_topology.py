"""The parts of a connector-mcp lab beside supervisord and the datastores (docs/dev/connector-contract.md,
"Topology"): the private nginx load balancer in front of the backend instances, the releases dir, the
CONNECTOR_CONFIG file, the API token file, the backup dir, root's TCP login to the MariaDB, and the `filler`
session holder of the mysql-max-connections fault.

Layout (under the lab's state dir):

    nginx/                 the nginx prefix (mcpops.lab.fixtures.nginx_server): conf/nginx.conf,
                           conf/blocklist.conf (the operator's deny rules), conf/upstreams.conf (the operator's
                           further upstream servers: a scale-out; emptied by a fresh `up` and by `break healthy`),
                           logs/nginx.pid, logs/access.log
    releases/<version>/release.json, releases/current, releases/previous (relative symlinks)
    config/connector.json  CONNECTOR_CONFIG: {"rate_limit_per_minute": 60} (written when missing; then the operator's)
    backups/mysql/         where mysql backups go (connector_backup_dir)
    run/                   the filler holder's status file
    secrets/api_token      API_TOKEN_FILE (0600), secrets/mysql_filler_password (0600)

The backend instances nginx starts with are `instances` (connectormcp-backend-1, -2); the standby instance
(connectormcp-backend-3, `standby`) is defined in supervisord with autostart=false and is in no upstream until an
operator starts it and writes its `server 127.0.0.1:PORT;` line into conf/upstreams.conf and reloads nginx.

lab.json keeps {"connector": {"nginx": {"port", "prefix", "conf", "pid"}, "filler": {"pid", ...}}}. Every process
started here is stopped by its recorded PID after checking it is still ours (command line), never by name.
"""

import contextlib
import json
import os
import secrets as _secrets
import sys
import time
from pathlib import Path

from mcpops.lab import pids
from mcpops.lab.fixtures.nginx_server import NginxServer, NginxServerError
from mcpops.lab.gateway.fsutil import atomic_write
from mcpops.lab.http_client import http_json
from mcpops.lab.local import supervisor as sup
from mcpops.lab.local.errors import LabError
from mcpops.lab.local.service_catalog import CONNECTOR_LAB_ENV, MYSQL, REDIS, instance_name
from mcpops.lab.loopback import free_port

BASE_VERSION = "1.0.0"
WAIT = 60.0
HOLDER_MODULE = "mcpops.lab.local.mysql_session_holder"
FILLER_USER = "filler"
ROOT_PASSWORD_SECRET = "mysql_root_password"
FILLER_PASSWORD_SECRET = "mysql_filler_password"
API_TOKEN_SECRET = "api_token"


def _port_free(port):
    import socket

    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def poll(fn, done, timeout=WAIT, interval=0.2):
    """Call fn() until done(result) or the deadline; the last result."""
    deadline = time.monotonic() + timeout
    while True:
        result = fn()
        if done(result) or time.monotonic() >= deadline:
            return result
        time.sleep(interval)


class ConnectorTopology:
    """The connector-mcp lab's nginx, releases, config file and filler holder; given the ServiceLab (its public
    methods only)."""

    def __init__(self, lab):
        self.lab = lab
        self._upstreams_emptied = []  # what prepare(fresh=True) removed from the upstreams file (up reloads nginx)

    # ------------------------------------------------------------------ paths

    @property
    def state_dir(self):
        return self.lab.state_dir

    @property
    def nginx_prefix(self):
        return self.state_dir / "nginx"

    @property
    def releases_dir(self):
        return self.state_dir / "releases"

    @property
    def config_file(self):
        return self.state_dir / "config" / "connector.json"

    @property
    def backup_dir(self):
        return self.state_dir / "backups" / "mysql"

    @property
    def run_dir(self):
        return self.state_dir / "run"

    @property
    def filler_status_file(self):
        return self.run_dir / "filler.json"

    @property
    def api_token_file(self):
        return self.lab.secret_file(API_TOKEN_SECRET)

    @property
    def instances(self):
        """The supervisord programs of the backend instances, in order."""
        return tuple(p.name for p in self.lab.spec.instance_programs)

    @property
    def standby(self):
        """The supervisord programs of the standby instances (autostart=false; in no upstream at start), in order."""
        return tuple(p.name for p in self.lab.spec.standby_programs)

    def instance_host(self, program):
        """The instance's name (INSTANCE_NAME, the inventory host): backend-<n> (a standby one too)."""
        every = self.lab.spec.instance_programs + self.lab.spec.standby_programs
        return instance_name(next(p for p in every if p.name == program))

    def instance_urls(self):
        return {program: self.lab.program_url(program) for program in self.instances}

    def standby_urls(self):
        return {program: self.lab.program_url(program) for program in self.standby}

    def program_listen(self, program):
        """The recorded "127.0.0.1:PORT" of an instance (a standby one too)."""
        listen = ((self.lab.read_info().get("programs") or {}).get(program) or {}).get("listen")
        if not listen:
            raise LabError(f"no listen address of {program} recorded in {self.lab.info_path}: `mcpops lab up` first")
        return listen

    def upstream_line(self, program):
        """The line a scale-out writes into the upstreams file for an instance: `server 127.0.0.1:PORT;`."""
        return f"server {self.program_listen(program)};"

    @property
    def upstreams_file(self):
        """nginx's conf/upstreams.conf: included inside the upstream block, the operator's (empty at start)."""
        return self.nginx_prefix / "conf" / "upstreams.conf"

    def program_paths(self):
        """The paths every backend instance gets in its environment."""
        return {"CONNECTOR_RELEASE_DIR": str(self.releases_dir / "current"),
                "CONNECTOR_CONFIG": str(self.config_file),
                "API_TOKEN_FILE": str(self.api_token_file)}

    # ------------------------------------------------------------------ lab.json

    def record(self):
        return dict(self.lab.read_info().get("connector") or {})

    def _update(self, **fields):
        record = self.record()
        for key, value in fields.items():
            if value is None:
                record.pop(key, None)
            else:
                record[key] = value
        self.lab.update_info(connector=record)
        return record

    def nginx_record(self):
        return dict(self.record().get("nginx") or {})

    # ------------------------------------------------------------------ nginx

    def nginx(self):
        """The NginxServer of this lab (its port as recorded; its upstreams the instances' recorded listens)."""
        rec = self.nginx_record()
        if not rec.get("port"):
            raise LabError(f"no nginx recorded in {self.lab.info_path}: `mcpops lab up` first")
        programs = self.lab.read_info().get("programs") or {}
        upstreams = [(programs.get(p) or {}).get("listen") for p in self.instances]
        if not all(upstreams):
            raise LabError(f"the backend instances' listen addresses are not recorded in {self.lab.info_path}")
        try:
            return NginxServer(self.nginx_prefix, rec["port"], upstreams)
        except NginxServerError as exc:
            raise LabError(f"nginx: {exc}") from None

    @property
    def lb_url(self):
        port = self.nginx_record().get("port")
        return f"http://127.0.0.1:{port}" if port else None

    def nginx_pid(self):
        """The nginx master's PID when it runs and is ours, else None."""
        rec = self.nginx_record()
        if not rec.get("port"):
            return None
        try:
            return self.nginx().running_pid([rec.get("pid")])
        except LabError:
            return None

    def start_nginx(self):
        """Start nginx when it is not running (recorded); returns (pid, started)."""
        server = self.nginx()
        pid = server.running_pid([self.nginx_record().get("pid")])
        if pid:
            return pid, False
        try:
            pid = server.start()
        except NginxServerError as exc:
            raise LabError(f"nginx: {exc}") from None
        self._update(nginx=dict(self.nginx_record(), pid=pid))
        return pid, True

    def stop_nginx(self):
        """Stop nginx by its recorded PID (checked to be ours); returns that PID or None."""
        if not self.nginx_record().get("port"):
            return None
        try:
            pid = self.nginx().stop(self.nginx_record().get("pid"))
        except NginxServerError as exc:
            raise LabError(f"nginx: {exc}") from None
        self._update(nginx=dict(self.nginx_record(), pid=None))
        return pid

    def reload_nginx(self):
        """`nginx -t` and SIGHUP to the running master; returns its PID, or None when it is not running."""
        pid = self.nginx_pid()
        if not pid:
            return None
        try:
            return self.nginx().reload(pid)
        except NginxServerError as exc:
            raise LabError(f"nginx: {exc}") from None

    def reset_upstreams(self):
        """Empty the upstreams file (the `up` state: nginx routes to the started instances only); returns the
        addresses it held. Does not reload nginx."""
        server = self.nginx()
        held = server.upstream_servers()
        if held or not server.upstreams_file.exists():
            server.write_upstreams()
        return held

    def retire_standby(self):
        """Back to the `up` state for the scale-out: the upstreams file emptied (nginx reloaded when it held
        servers and runs), then each standby instance stopped, its faults.json and env overrides removed. Returns
        what was done, as phrases."""
        did = []
        held = self.reset_upstreams()
        if held:
            pid = self.reload_nginx()
            did.append(f"removed {', '.join(held)} from {self.upstreams_file}"
                       + (f" and reloaded nginx pid {pid}" if pid else ""))
        for program in self.standby:
            if self.lab.read_faults(program):
                self.lab.write_faults({}, program)
                did.append(f"removed {self.lab.faults_path(program)}")
            if self.lab.env_overrides(program):
                self.lab.set_env_overrides(program, {})
                did.append(f"restored the environment of {program}")
            state, pid = self.lab.program(program)
            if state in (sup.RUNNING, sup.STARTING, sup.BACKOFF):
                self.lab.stop_program(program)
                self.lab.wait_program((sup.STOPPED, sup.EXITED, sup.FATAL), program)
                did.append(f"stopped the standby {program}" + (f" (was pid {pid})" if pid else ""))
        return did

    def lb_get(self, path, timeout=5.0):
        url = self.lb_url
        if not url:
            return None, {"error": "no nginx recorded"}
        return http_json(url + path, timeout=timeout)

    # ------------------------------------------------------------------ releases

    def write_release(self, version, defect=None):
        vdir = self.releases_dir / version
        vdir.mkdir(parents=True, exist_ok=True)
        atomic_write(vdir / "release.json", json.dumps({"version": version, "defect": defect}, indent=2) + "\n", 0o644)
        return vdir

    def link(self, name, version):
        """Point releases/<name> (current, previous) at releases/<version> with a relative symlink, atomically."""
        link = self.releases_dir / name
        tmp = self.releases_dir / f".{name}.tmp"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        os.symlink(version, tmp)
        os.replace(tmp, link)

    def unlink(self, name):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.releases_dir / name)

    def release_links(self):
        """{"current": version or None, "previous": version or None}."""
        found = {}
        for name in ("current", "previous"):
            try:
                found[name] = os.path.basename(os.readlink(self.releases_dir / name))
            except OSError:
                found[name] = None
        return found

    # ------------------------------------------------------------------ datastores

    def mysql_record(self):
        record = self.lab.datastore_records().get(MYSQL)
        if not record:
            raise LabError(f"connector-mcp has no MariaDB recorded in {self.lab.info_path}")
        return record

    def mysql_root(self, database=None, timeout=10):
        """An autocommit root connection over the MariaDB's unix socket (PyMySQL)."""
        import pymysql

        record = self.mysql_record()
        return pymysql.connect(unix_socket=record["socket"], user="root", password=self.lab.secret(ROOT_PASSWORD_SECRET),
                               database=database, autocommit=True, connect_timeout=timeout)

    def _grant_root_over_tcp(self):
        """root@127.0.0.1 with root's password: the operator's admin login over TCP (mariadb-binlog
        --read-from-remote-server, mariadb-dump); the fixture's root is root@localhost (socket) only."""
        import pymysql

        try:
            conn = self.mysql_root()
        except pymysql.MySQLError as exc:
            raise LabError(f"MariaDB: cannot log in as root over its socket: {exc.args[-1]}") from None
        try:
            with conn.cursor() as cur:
                password = self.lab.secret(ROOT_PASSWORD_SECRET)
                cur.execute("CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY %s", (password,))
                cur.execute("ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY %s", (password,))
                cur.execute("GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION")
        finally:
            conn.close()

    def redis(self):
        import redis

        record = self.lab.datastore_records().get(REDIS)
        if not record:
            raise LabError(f"connector-mcp has no Redis recorded in {self.lab.info_path}")
        return redis.Redis(host="127.0.0.1", port=record["port"], db=int(record.get("database") or 0),
                           socket_timeout=5, socket_connect_timeout=5)

    # ------------------------------------------------------------------ the filler holder

    def filler_pid(self):
        """The holder's PID when it runs and is ours, else None."""
        pid = (self.record().get("filler") or {}).get("pid")
        if not pid or not pids.pid_alive(int(pid)):
            return None
        joined = " ".join(pids.cmdline(int(pid)))
        return int(pid) if HOLDER_MODULE in joined and str(self.filler_status_file) in joined else None

    def stop_filler(self):
        """Stop the holder by its PID (its sessions close with it); returns that PID or None."""
        pid = self.filler_pid()
        if pid:
            left = pids.terminate([pid], timeout=10.0, kill_timeout=5.0)
            if left:
                raise LabError(f"could not stop the filler session holder pid {pid}")
        filler = self.record().get("filler")
        if filler:
            self._update(filler=dict(filler, pid=None))
        return pid

    # ------------------------------------------------------------------ lifecycle (ServiceLab calls these)

    def _choose_nginx_port(self):
        rec = self.nginx_record()
        if rec.get("port") and not self.nginx_pid():
            try:
                orphans = self.nginx().stop_orphans()  # workers of a killed master hold its port
            except NginxServerError as exc:
                raise LabError(f"nginx: {exc}") from None
            if orphans:
                self.lab._say(f"stopped nginx workers {orphans} left behind by a dead master")
        if rec.get("port") and (self.nginx_pid() or _port_free(rec["port"])):
            return rec["port"]
        return free_port()

    def prepare(self, fresh=False):
        """Before the backends start: dirs, the first release, the config file, the token file, root's TCP login,
        and nginx's conf (its upstreams the instances' recorded listens). fresh (supervisord is being started: every
        standby instance is stopped): the upstreams file is emptied, as at the first start."""
        for d in (self.releases_dir, self.config_file.parent, self.backup_dir, self.run_dir, self.nginx_prefix):
            d.mkdir(parents=True, exist_ok=True)
        if not (self.releases_dir / BASE_VERSION / "release.json").exists():
            self.write_release(BASE_VERSION)
        if self.release_links()["current"] is None:
            self.link("current", BASE_VERSION)
        if not self.config_file.exists():
            limit = int(CONNECTOR_LAB_ENV["RATE_LIMIT_PER_MINUTE"])
            atomic_write(self.config_file, json.dumps({"rate_limit_per_minute": limit}, indent=2) + "\n", 0o644)
        if not self.api_token_file.exists():
            atomic_write(self.api_token_file, _secrets.token_urlsafe(32) + "\n", 0o600)
        os.chmod(self.api_token_file, 0o600)
        self._grant_root_over_tcp()
        port = self._choose_nginx_port()
        rec = self.nginx_record()
        self._update(nginx={"port": port, "prefix": str(self.nginx_prefix),
                            "conf": str(self.nginx_prefix / "conf" / "nginx.conf"),
                            "pid": rec.get("pid") if rec.get("port") == port else None})
        self._upstreams_emptied = self.reset_upstreams() if fresh else []
        if self._upstreams_emptied:
            self.lab._say(f"emptied {self.upstreams_file} (it held {', '.join(self._upstreams_emptied)}): "
                          f"the standby instances are stopped")

    def wait_instances(self, timeout=WAIT):
        """Wait until every instance's liveness check passes on its own URL; LabError naming the first that does not."""
        check = self.lab.spec.liveness
        for program, url in self.instance_urls().items():
            status, body = poll(lambda u=url: http_json(u + check.path, timeout=5.0),
                                lambda r: check.passes(*r), timeout=timeout)
            if not check.passes(status, body):
                raise LabError(f"{program} did not answer {check.path} 200 on {url} within {timeout:.0f}s "
                               f"(last {status} {body})")

    def up(self):
        """After the backends are RUNNING: wait for each, start nginx (or reload it when its conf changed), wait
        until it answers through to a backend."""
        server = self.nginx()
        before = server.conf.read_text() if server.conf.exists() else None
        running = server.running_pid([self.nginx_record().get("pid")])
        if running:
            server.render()
            if server.conf.read_text() != before or self._upstreams_emptied:
                try:
                    server.reload(running)
                except NginxServerError as exc:
                    raise LabError(f"nginx: {exc}") from None
                self.lab._say(f"reloaded nginx pid {running}: its upstreams changed")
        if not self.lab.read_faults():
            self.wait_instances()
        pid, started = self.start_nginx()
        if started:
            self.lab._say(f"started nginx pid {pid} on {self.lb_url} ({server.conf})")
        status, body = poll(lambda: self.lb_get("/health"), lambda r: r[0] is not None, timeout=WAIT)
        if status is None:
            raise LabError(f"nginx pid {pid} on {self.lb_url} does not answer: {body}; see {server.error_log}")

    def down(self):
        """Stop the filler holder and nginx by their PIDs; returns the PIDs stopped."""
        stopped = []
        errors = []
        for stop in (self.stop_filler, self.stop_nginx):
            try:
                pid = stop()
            except LabError as exc:
                errors.append(str(exc))
                continue
            if pid:
                stopped.append(pid)
        if errors:
            raise LabError("; ".join(errors))
        return stopped

    def status(self):
        pid = self.nginx_pid()
        lb = self.lb_get("/health", timeout=3.0) if pid else (None, {"error": "nginx is not running"})
        return {
            "lb_url": self.lb_url,
            "nginx": {"pid": pid, "running": bool(pid), "conf": self.nginx_record().get("conf"),
                      "recorded_pid": self.nginx_record().get("pid")},
            "lb_check": {"path": "/health", "status": lb[0], "body": lb[1]},
            "releases": self.release_links(),
            "filler_pid": self.filler_pid(),
            "upstreams": {"file": str(self.upstreams_file), "servers": self._upstream_servers()},
            "standby": {program: {"host": self.instance_host(program), "state": self.lab.program_state(program),
                                  "listen": ((self.lab.read_info().get("programs") or {}).get(program) or {})
                                  .get("listen")}
                        for program in self.standby},
            "healthy": bool(pid) and lb[0] == 200,
        }

    def _upstream_servers(self):
        try:
            return self.nginx().upstream_servers()
        except LabError:
            return []

    def summary(self):
        return {"lb_url": self.lb_url, "nginx_pid": self.nginx_pid(), "releases": self.release_links()}

    def holder_command(self, port, password_file, limit):
        return [sys.executable if not self.lab.python else self.lab.python, "-m", HOLDER_MODULE,
                "--port", str(port), "--user", FILLER_USER, "--password-file", str(password_file),
                "--status-file", str(self.filler_status_file), "--max", str(limit)]


def read_status_file(path):
    try:
        data = json.loads(Path(path).read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}
