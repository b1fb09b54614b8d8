"""The fleet lab: N Debian hosts booted with systemd-nspawn from the cached image, on one machine.

State dir ($MCPOPS_FLEET_DIR, default ./.fleet):

    fleet.json        the fleet: host count, service, image, and each host's address and systemd-nspawn PID
    ssh/              id_ed25519(.pub): the fleet's client key; known_hosts: every host key, pinned
    hosts/<name>/     one host's files (host.py)

Each host shares this machine's network and listens on its own loopback address 127.0.0.(10+i): sshd on
port 22, the gateway (systemd unit onec-mcp-gateway) on port 3000; or, in a fleet booted with
`--service cctelegram-mcp`, cctelegram-mcp on 8080 (metrics 9090) and cctelegram-bridge on 8091 instead of the
gateway (services.py); or, with `--service lego-mcp|loyalty-api|connector-mcp`, that service as one unit on its
profile's port (reference_services.py). Every host is recorded by the PID of
its systemd-nspawn and stopped by that PID; nothing is killed by name.

The datastores of lego-mcp (PostgreSQL), loyalty-api (PostgreSQL, Redis) and connector-mcp (MariaDB, Redis) run on
this machine, not in the hosts: one private set a fleet on free ports of 127.0.0.1 (which the hosts reach: they share
this machine's network), shared by all its hosts as a real deployment's hosts share their database. `up` starts them
(the local lab's service_datastores: the fixtures the first time, then the same data again), fleet.json records them
("datastores": port, dir, PID, no secrets) and `down` stops them by that PID. Their secrets are 0600 files in
secrets/ (0700): db_password (the service's database user), pg_superuser_password / mysql_root_password.

A CCTelegram fleet also has a controller side on 127.0.0.1 (cctelegram_controller.py): the Telegram Bot API stand-in
(its bot token in secrets/telegram_bot_token, 0600), a private nginx load balancer in front of the serving hosts
(lb/, with prometheus-nginx-exporter) and Prometheus (prometheus/); fleet.json records them ("controller": port,
PID, no secret), `up` starts them (and writes the load balancer's confs anew), `down` stops them by those PIDs.
`up --standby N` boots N more hosts whose units are installed but stopped, outside the load balancer.

`--register=no --keep-unit` keep systemd-nspawn away from systemd-machined and from creating a scope
unit, so the fleet also runs where PID 1 is not systemd (a Firecracker VM with a hybrid cgroup
hierarchy, for one). There the hosts' systemd cannot signal a whole control group (EIO), which is why
the crash fault signals the gateway's main PID only.
"""

import contextlib
import errno
import fcntl
import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import mcpops
from mcpops.lab.fleet import cctelegram_controller as controller, faults, image, inventory, services
from mcpops.lab.fleet import reference_services as reference
from mcpops.lab.fleet.errors import FleetError
from mcpops.lab.fleet.host import DEFAULT_NET, MAX_HOSTS, FleetHost, HostError, check_net, keygen
from mcpops.lab.gateway.fsutil import atomic_write
from mcpops.lab.http_client import http_json
from mcpops.lab.local import service_datastores as ds
from mcpops.lab.local.errors import LabError
from mcpops.lab.local.service_catalog import MYSQL, POSTGRES
from mcpops.lab.loopback import free_port

BOOT_TIMEOUT = 180.0  # from systemd-nspawn to sshd and a healthy gateway, on a loaded 2-core machine
DEFAULT_INVENTORY = "inventories/fleet"
CCTELEGRAM_API_KEY = "cctelegram_api_key"  # the CCTelegram fleet's one API key, in secrets/ (0600)
DB_PASSWORD = "db_password"  # the service's database user's password: one a fleet, in secrets/ (0600)
# The admin logins the datastore fixtures make, kept in secrets/ (0600): file name, key in ds.create's admin dict.
ADMIN_SECRETS = {POSTGRES: ("pg_superuser_password", "superuser_password"),
                 MYSQL: ("mysql_root_password", "root_password")}
# command -> the Debian package that provides it
PREREQUISITES = {"debootstrap": "debootstrap", "systemd-nspawn": "systemd-container",
                 "ssh": "openssh-client", "ssh-keygen": "openssh-client", "nsenter": "util-linux"}


def default_state_dir():
    return Path(os.environ.get("MCPOPS_FLEET_DIR") or ".fleet")


def preflight():
    """Refuse, before anything is touched, on a machine that cannot run the fleet."""
    problems = []
    if os.geteuid() != 0:
        problems.append("not root: debootstrap and systemd-nspawn need root (run it with sudo)")
    missing = {cmd: pkg for cmd, pkg in PREREQUISITES.items() if shutil.which(cmd) is None}
    if missing:
        pkgs = " ".join(sorted(set(missing.values())))
        problems.append(f"missing {', '.join(missing)} (apt-get install {pkgs}; scripts/bootstrap does it as root)")
    if problems:
        raise FleetError("the fleet lab cannot start on this machine: " + "; ".join(problems)
                         + ". Nothing was started.")


def _port_in_use(address, port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((address, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def _port_open(address, port):
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex((address, port)) == 0


def _tail(path, lines=15):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class FleetLab:
    """One fleet in one state dir. Usable from the CLI and from pytest fixtures."""

    def __init__(self, state_dir=None, inventory_dir=None, out=None, net=None, service=None):
        self.state_dir = Path(state_dir or default_state_dir()).expanduser().resolve()
        # Another /24 (MCPOPS_FLEET_NET=127.0.1) lets two fleets run side by side; a booted fleet keeps its own.
        try:
            self.net = check_net(net or self.read_info().get("net") or os.environ.get("MCPOPS_FLEET_NET")
                                 or DEFAULT_NET)
        except HostError as exc:
            raise FleetError(str(exc)) from None
        # What the hosts serve (services.py): the 1C gateway unless told; a fleet keeps the one it was booted with.
        self.service = services.check(service or self.read_info().get("service") or services.DEFAULT)
        self.inventory_dir = Path(inventory_dir or DEFAULT_INVENTORY).expanduser().resolve()
        self.mcpops_src = Path(mcpops.__file__).resolve().parent
        self._out = out

    # ------------------------------------------------------------------ records

    @property
    def info_path(self):
        return self.state_dir / "fleet.json"

    @property
    def client_key(self):
        return self.state_dir / "ssh" / "id_ed25519"

    @property
    def known_hosts(self):
        return self.state_dir / "ssh" / "known_hosts"

    def read_info(self):
        try:
            return json.loads(self.info_path.read_text())
        except (OSError, ValueError):
            return {}

    def _write_info(self, info):
        self.state_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(self.info_path, json.dumps(info, indent=2, sort_keys=True) + "\n", 0o644)

    write_info = _write_info  # for the controller side (cctelegram_controller), which gets the lab, never imports it

    def record_pid(self, host, pid):
        """Record host's systemd-nspawn PID in fleet.json (None: powered off)."""
        info = self.read_info()
        info.setdefault("hosts", {}).setdefault(host.name, {"address": host.address})["pid"] = pid
        self._write_info(info)

    def hosts(self):
        return [FleetHost(self.state_dir, i, self.net, self.service)
                for i in range(1, int(self.read_info().get("count") or 0) + 1)]

    def standby_count(self):
        return int(self.read_info().get("standby") or 0)

    def serving_hosts(self):
        """The hosts behind the load balancer: all but the standby ones (the last `standby_count()`)."""
        hosts = self.hosts()
        return hosts[:len(hosts) - self.standby_count()]

    def standby_hosts(self):
        """A CCTelegram fleet's standby hosts (`up --standby N`: the last N), booted with their units stopped."""
        hosts = self.hosts()
        return hosts[len(hosts) - self.standby_count():] if self.standby_count() else []

    def host(self, name):
        for host in self.hosts():
            if host.name == name or host.address == name:
                return host
        names = ", ".join(h.name for h in self.hosts()) or "none: `mcpops fleet up` first"
        raise FleetError(f"no host {name!r} in the fleet in {self.state_dir} (hosts: {names})")

    def pid(self, host):
        """The recorded systemd-nspawn PID of host when that process is alive and is that host."""
        pid = (self.read_info().get("hosts", {}).get(host.name) or {}).get("pid")
        return int(pid) if pid and host.is_ours(int(pid)) else None

    def _say(self, line):
        if self._out:
            self._out(line)

    say = _say

    @contextlib.contextmanager
    def _locked(self):
        self.state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.state_dir / ".fleet.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    # ------------------------------------------------------------------ ssh

    def ssh_argv(self, host, *command, known_hosts=None):
        return ["ssh", "-F", "/dev/null", "-i", str(self.client_key),
                "-o", f"UserKnownHostsFile={known_hosts or self.known_hosts}",
                "-o", "GlobalKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=yes",
                "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
                f"root@{host.address}", *command]

    def ssh(self, host, *command, known_hosts=None, timeout=60):
        return subprocess.run(self.ssh_argv(host, *command, known_hosts=known_hosts), stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout, check=False)

    # ------------------------------------------------------------------ up

    def up(self, count, standby=None):
        """Boot `count` hosts, and `standby` more (a CCTelegram fleet only) with their units stopped (idempotent:
        running hosts are kept, stopped ones booted again). standby None: as many as the fleet was booted with when
        it had `count` serving hosts, else none."""
        if standby is None:
            info = self.read_info()
            kept = int(info.get("standby") or 0)
            standby = kept if int(info.get("count") or 0) - kept == int(count) else 0
        standby = int(standby)
        if not 1 <= int(count) <= MAX_HOSTS:
            raise FleetError(f"--hosts {count}: choose 1..{MAX_HOSTS}")
        if standby and self.service != services.CCTELEGRAM:
            raise FleetError(f"--standby {standby}: only a {services.CCTELEGRAM} fleet has standby hosts")
        if not 0 <= standby <= MAX_HOSTS - int(count):
            raise FleetError(f"--standby {standby}: choose 0..{MAX_HOSTS - int(count)} with --hosts {count}")
        preflight()
        with self._locked():
            return self._up(int(count), standby)

    def _up(self, serving, standby=0):
        count = serving + standby
        info = self.read_info()
        recorded = int(info.get("count") or 0)
        running = {h.name: self.pid(h) for h in self.hosts() if self.pid(h)}
        if recorded and (recorded, int(info.get("standby") or 0)) != (count, standby) and running:
            raise FleetError(f"the fleet in {self.state_dir} runs {recorded} hosts "
                             f"({int(info.get('standby') or 0)} standby); `mcpops fleet down` first to boot "
                             f"{serving} ({standby} standby)")
        if running and info.get("net", DEFAULT_NET) != self.net:
            raise FleetError(f"the fleet in {self.state_dir} runs on {info.get('net', DEFAULT_NET)}.x; "
                             f"`mcpops fleet down` first to boot it on {self.net}.x")
        if running and info.get("service", services.DEFAULT) != self.service:
            raise FleetError(f"the fleet in {self.state_dir} runs {info.get('service', services.DEFAULT)}; "
                             f"`mcpops fleet down` first to boot it with {self.service}")
        hosts = [FleetHost(self.state_dir, i, self.net, self.service) for i in range(1, count + 1)]
        busy = [f"{h.address}:{port}" for h in hosts if h.name not in running
                for port in services.PORTS[self.service] if _port_in_use(h.address, port)]
        if busy:
            raise FleetError(f"{', '.join(busy)} already in use by something that is not this fleet; "
                             "stop it (another fleet? `mcpops fleet down --dir ...`). Nothing was started.")
        rootfs = image.Image(out=self._say).ensure()
        self.client_key.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        keygen(self.client_key, "mcpops fleet")
        public = Path(str(self.client_key) + ".pub").read_text()
        telegram_url = bot_token = api_key = None
        if self.service == services.CCTELEGRAM:  # the hosts' units name the stand-in's URL
            api_key = self._ensure_api_key()
            try:
                telegram_url, bot_token = controller.ensure_telegram(self)
            except FleetError:
                if not running:
                    controller.stop_all(self)
                raise
            info = self.read_info()
        for host in hosts:
            host.prepare(public, telegram_url=telegram_url, bot_token=bot_token, standby=host.index > serving,
                         api_key=api_key)
        atomic_write(self.known_hosts, "".join(h.known_hosts_line() for h in hosts), 0o644)
        info.update(count=count, standby=standby, net=self.net, image=str(rootfs), image_hash=image.recipe_hash(),
                    mcpops_src=str(self.mcpops_src), inventory_dir=str(self.inventory_dir), service=self.service)
        info["hosts"] = {h.name: {"address": h.address, "pid": running.get(h.name)} for h in hosts}
        self._write_info(info)

        started, pids = [], dict(running)
        stores = {}  # kind -> PID of the shared datastores this up started
        try:
            for host in hosts:
                if host.name not in running:
                    pid = host.start(rootfs, self.mcpops_src)
                    started.append((host, pid))
                    pids[host.name] = pid
                    self.record_pid(host, pid)
                    self._say(f"{host.name}: systemd-nspawn pid {pid} on {host.address}")
            changed = set()
            if self.service in reference.SERVICES:  # while the hosts boot; before any unit starts
                self._ensure_datastores(stores)
                env = self.datastore_env()
                changed = {h.name for h in hosts if reference.write_env(h, env)}
            for host in hosts:
                if host.name in running:
                    self._start_services(host, running[host.name])
                # A running host whose datastore URLs changed (a datastore made anew) restarts its unit.
                self._wait_ready(host, pids[host.name], restart=host.name in running and host.name in changed,
                                 standby=host.index > serving)
            backups = {h.name: self._ensure_backup(h) if self.service == services.ONEC else None  # 1C data only
                       for h in hosts}
            if self.service == services.CCTELEGRAM:
                controller.ensure_front(self)
        except BaseException:
            for host, pid in started:
                with contextlib.suppress(HostError):
                    host.stop(pid)
                self.record_pid(host, None)
            for kind in stores:
                with contextlib.suppress(FleetError):
                    self.stop_datastore(kind)
            if self.service == services.CCTELEGRAM and not running:
                controller.stop_all(self)
            raise
        controller_vars = controller.inventory_vars(self) if self.service == services.CCTELEGRAM else None
        inventory.write(self.inventory_dir, self.state_dir, hosts[:serving], self.service, self.datastore_logins(),
                        standby=hosts[serving:], controller_vars=controller_vars)
        self._say(f"inventory: {self.inventory_dir}")
        result = {"state_dir": str(self.state_dir), "inventory_dir": str(self.inventory_dir), "image": str(rootfs),
                  "started": [h.name for h, _ in started],
                  "hosts": [{"name": h.name, "address": h.address, "pid": self.pid(h), "backup": backups[h.name],
                             "standby": h.index > serving}
                            for h in hosts]}
        if self.service == services.CCTELEGRAM:
            result["controller"] = {name: {"pid": pid, "port": controller.records(self)[name].get("port")}
                                    for name, pid in controller.running(self).items()}
        if self.service in reference.SERVICES:
            result["datastores"] = {kind: {"pid": self.datastore_pid(kind), "port": rec["port"],
                                           "started": kind in stores}
                                    for kind, rec in self.datastore_records().items()
                                    if kind in reference.datastore_kinds(self.service)}
        return result

    def _start_services(self, host, pid):
        """On a host that was already running: start its sshd and gateway units where they are not
        (a host made unreachable, a gateway stopped or failed), as `lab up` does. A CCTelegram host's units
        are _wait_ready's (services.activate, once sshd answers)."""
        for unit in ("ssh.service", image.SERVICE_NAME) if self.service == services.ONEC else ("ssh.service",):
            state = host.unit_state(pid, unit).get("ActiveState")
            if state not in ("active", "activating", "reloading"):
                host.run(pid, ["systemctl", "reset-failed", unit], check=False)
                host.run(pid, ["systemctl", "start", "--no-block", unit])
                self._say(f"{host.name}: started {unit} (was {state})")

    def _wait_ready(self, host, pid, timeout=BOOT_TIMEOUT, restart=False, standby=False):
        """sshd answers with the pinned host key and the fleet key, and the gateway's /healthz is 200 (a
        CCTelegram host: its units are set up once sshd answers, then cctelegram-mcp's /health with the key; a
        CCTelegram standby: its units set up, then stopped and disabled; a lego-mcp, loyalty-api or connector-mcp
        host: its unit, then its liveness and readiness checks)."""
        deadline = time.monotonic() + timeout
        ssh_ok = health = None
        last_ssh = ""
        activated = self.service == services.ONEC
        while time.monotonic() < deadline:
            if not host.is_ours(pid):
                raise FleetError(f"{host.name}: systemd-nspawn pid {pid} exited during boot; "
                                 f"{host.console_log} ends with:\n{_tail(host.console_log)}")
            if not ssh_ok:
                proc = self.ssh(host, "true", timeout=30)
                ssh_ok = proc.returncode == 0
                last_ssh = proc.stderr.strip()
            if ssh_ok and not activated:
                services.activate(host, pid, restart=restart)
                activated = True
                if standby:  # services.activate installed its units, disabled and stopped: no health to wait for
                    self._say(f"{host.name}: standby ({services.MCP_UNIT} and {services.BRIDGE_UNIT} stopped)")
                    return
            health = self._health(host)
            if ssh_ok and health == 200:
                return
            time.sleep(1)
        raise FleetError(f"{host.name} did not come up within {timeout:.0f}s (ssh root@{host.address}: "
                         f"{'ok' if ssh_ok else last_ssh or 'no answer'}; {host.api_url}{self._health_path}: "
                         f"{health}); {host.console_log} ends with:\n{_tail(host.console_log)}")

    @property
    def _health_path(self):
        if self.service in reference.SERVICES:
            return reference.health_paths(self.service)
        return "/health" if self.service == services.CCTELEGRAM else "/healthz"

    def _health(self, host):
        """The status of the host's health endpoint: the gateway's /healthz, cctelegram-mcp's /health (with
        the host's key), the liveness then readiness check of the others; None when nothing answers."""
        if self.service == services.CCTELEGRAM:
            return services.health(host, timeout=2)[0]
        if self.service in reference.SERVICES:
            return reference.health_status(host, timeout=2)
        return http_json(host.api_url + "/healthz", timeout=2)[0]

    def _ensure_backup(self, host):
        """A first backup, made by the gateway, so that INC-003 has something to restore."""
        token = host.admin_token()
        status, body = http_json(host.api_url + "/api/system/backups", token=token, timeout=10)
        if status != 200:
            raise FleetError(f"{host.name}: GET {host.api_url}/api/system/backups returned {status}: {body}")
        if (body or {}).get("backups"):
            return None
        status, body = http_json(host.api_url + "/api/system/backups", method="POST", token=token, body={},
                                 timeout=60)
        if status not in (200, 201):
            raise FleetError(f"{host.name}: POST {host.api_url}/api/system/backups returned {status}: {body}")
        return ((body or {}).get("backup") or {}).get("id")

    # ------------------------------------------------------------------ the fleet's shared datastores

    @property
    def secrets_dir(self):
        return self.state_dir / "secrets"

    def secret_file(self, name):
        return self.secrets_dir / name

    def secret(self, name):
        try:
            return self.secret_file(name).read_text().strip()
        except OSError:
            raise FleetError(f"no secret {name} at {self.secret_file(name)}: `mcpops fleet up` first") from None

    def datastore_records(self):
        """{kind: record} of the fleet's shared datastores, as fleet.json keeps them (port, dir, PID; no secret)."""
        return self.read_info().get("datastores") or {}

    def _record_datastore(self, kind, record):
        info = self.read_info()
        stores = info.setdefault("datastores", {})
        if record is None:
            stores.pop(kind, None)
        else:
            stores[kind] = record
        self._write_info(info)

    def datastore_pid(self, kind):
        """The PID of the shared datastore of that kind when it runs and is ours (its command line), else None."""
        record = self.datastore_records().get(kind)
        return ds.running_pid(record) if record else None

    def datastore_url(self, kind):
        """The URL the hosts' service is given for one datastore (the database user's password in it)."""
        record = self.datastore_records().get(kind)
        if not record:
            raise FleetError(f"the fleet in {self.state_dir} has no {kind} datastore recorded: `mcpops fleet up`")
        return ds.url(record, self.secret(DB_PASSWORD) if record.get("user") else None)

    def datastore_env(self):
        """{DATABASE_URL, REDIS_URL} of the fleet's service: what each host's 0600 environment file holds."""
        return {reference.URL_VARS[kind]: self.datastore_url(kind) for kind in reference.datastore_kinds(self.service)}

    def datastore_logins(self):
        """{kind: {host, port, user, database, secret}} of the service's datastores, for the inventory: how a runbook
        logs in (PostgreSQL's superuser, MariaDB's service user, Redis without one); secret names the file in
        secrets/ that holds the password, never the password."""
        logins = {}
        for kind, record in self.datastore_records().items():
            if kind not in reference.datastore_kinds(self.service):
                continue
            login = {"host": "127.0.0.1", "port": record["port"], "database": record.get("database"),
                     "user": None, "secret": None}
            if kind == POSTGRES:
                login.update(user=record.get("admin_user") or "postgres", secret=ADMIN_SECRETS[POSTGRES][0])
            elif kind == MYSQL:
                login.update(user=record.get("user"), secret=DB_PASSWORD)
            logins[kind] = login
        return logins

    def _ensure_api_key(self):
        """The CCTelegram fleet's API key (secrets/cctelegram_api_key, 0600, made once): every instance behind the load
        balancer takes the same key, so a client of the load balancer (a verify step, a smoke test) has one to send."""
        self._ensure_secrets_dir()
        path = self.secret_file(CCTELEGRAM_API_KEY)
        if not path.exists():
            atomic_write(path, "cctg_" + ds.new_password() + "\n", 0o600)
        return self.secret(CCTELEGRAM_API_KEY)

    def _ensure_secrets_dir(self):
        self.secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.secrets_dir, 0o700)
        path = self.secret_file(DB_PASSWORD)
        if not path.exists():
            atomic_write(path, ds.new_password() + "\n", 0o600)
        os.chmod(path, 0o600)

    def _drop_datastore(self, kind, record):
        """Stop (by PID) and remove a recorded datastore this fleet's service cannot use (another service's)."""
        with contextlib.suppress(LabError):
            ds.stop(record)
        shutil.rmtree(record["dir"], ignore_errors=True)
        self._record_datastore(kind, None)
        self._say(f"removed the {kind} of another service ({record['dir']})")

    def _ensure_datastores(self, started):
        """Every datastore the fleet's service needs, running: the recorded one (started again when down), else a
        new one on a free port. Fills started {kind: PID} with those this call started."""
        self._ensure_secrets_dir()
        try:
            for store in reference.layout(self.service).spec.datastores:
                kind = store.kind
                record = self.datastore_records().get(kind)
                if record and store.user and (record.get("database"), record.get("user")) != (store.database,
                                                                                              store.user):
                    self._drop_datastore(kind, record)
                    record = None
                if record and ds.running_pid(record):
                    continue
                if record and os.path.isdir(record.get("data_dir") or record["dir"]):
                    started[kind] = ds.restart(record)
                    self._record_datastore(kind, record)
                    self._say(f"started the fleet's {kind} again: pid {started[kind]} on 127.0.0.1:{record['port']}")
                    continue
                port = free_port()
                base = ds.base_dir(self.state_dir, kind)
                self._say(f"creating the fleet's {kind} on 127.0.0.1:{port} under {base}")
                record, admin = ds.create(kind, port, base, store.database, store.user,
                                          self.secret(DB_PASSWORD) if store.user else None)
                started[kind] = record["pid"]
                self._record_datastore(kind, record)
                if kind in ADMIN_SECRETS:
                    name, key = ADMIN_SECRETS[kind]
                    atomic_write(self.secret_file(name), admin[key] + "\n", 0o600)
                self._say(f"started the fleet's {kind}: pid {record['pid']} on 127.0.0.1:{port}")
        except LabError as exc:
            raise FleetError(f"the fleet's datastores: {exc}") from None
        return started

    def stop_datastore(self, kind):
        """Stop one shared datastore by its recorded PID (checked to be ours); that PID, or None (not running)."""
        record = self.datastore_records().get(kind)
        if not record:
            raise FleetError(f"the fleet in {self.state_dir} has no {kind} datastore")
        try:
            pid = ds.stop(record)
        except LabError as exc:
            raise FleetError(f"the fleet's {kind}: {exc}") from None
        record["pid"] = None
        self._record_datastore(kind, record)
        return pid

    def start_datastores(self):
        """Start the service's shared datastores that are down again, on their data; {kind: PID} of those started."""
        started = {}
        for kind in reference.datastore_kinds(self.service):
            record = self.datastore_records().get(kind)
            if not record:
                raise FleetError(f"the fleet in {self.state_dir} has no {kind} datastore recorded: `mcpops fleet up`")
            if ds.running_pid(record):
                continue
            try:
                started[kind] = ds.restart(record)
            except LabError as exc:
                raise FleetError(f"the fleet's {kind}: {exc}") from None
            self._record_datastore(kind, record)
        return started

    def _stop_datastores(self):
        """Stop every recorded datastore by its PID; (PIDs stopped, errors)."""
        stopped, errors = [], []
        for kind, record in self.datastore_records().items():
            try:
                pid = ds.stop(record)
            except LabError as exc:
                errors.append(f"{kind}: {exc}")
                continue
            if pid:
                self._say(f"stopped the fleet's {kind} (pid {pid})")
                stopped.append(pid)
            record["pid"] = None
            self._record_datastore(kind, record)
        return stopped, errors

    # ------------------------------------------------------------------ down / status

    def down(self, purge=False):
        """Stop every host by its recorded PID, then the fleet's datastores by theirs (idempotent). Returns the PIDs
        that were stopped."""
        if not self.state_dir.exists():
            return {"stopped": [], "purged": False}
        stopped = []
        written = Path(self.read_info().get("inventory_dir") or self.inventory_dir)  # where `up` wrote it
        outside = [rec["dir"] for rec in self.datastore_records().values()
                   if rec.get("dir") and not Path(rec["dir"]).is_relative_to(self.state_dir)]
        with self._locked():
            for host in self.hosts():
                pid = self.pid(host)
                if pid:
                    self._say(f"{host.name}: powering off (systemd-nspawn pid {pid})")
                    host.stop(pid)
                    stopped.append(pid)
                if self.info_path.exists():
                    self.record_pid(host, None)
            store_pids, errors = self._stop_datastores()
            stopped.extend(store_pids)
            front_pids, front_errors = controller.stop_all(self)
            stopped.extend(front_pids)
            errors.extend(front_errors)
        if errors:
            raise FleetError("could not stop the fleet's datastores or controller-side daemons: " + "; ".join(errors))
        if purge:
            for name in ("hosts.yml", *inventory.GROUP_VARS_FILES):
                with contextlib.suppress(FileNotFoundError):
                    (written / name).unlink()
            shutil.rmtree(self.state_dir, ignore_errors=True)
            for path in outside:  # a datastore made in /tmp (the postgres user could not reach the state dir)
                shutil.rmtree(path, ignore_errors=True)
        return {"stopped": stopped, "purged": purge}

    def status(self):
        hosts = []
        standby = {h.name for h in self.standby_hosts()}
        for host in self.hosts():
            pid = self.pid(host)
            entry = {"name": host.name, "address": host.address, "pid": pid, "running": bool(pid),
                     "sshd": False, "gateway": None, "healthz": None}
            if self.service != services.DEFAULT:  # "gateway" is the main unit's state, "healthz" its health's
                entry.update(service=self.service, unit=host.unit)
            if pid:
                entry["sshd"] = _port_open(host.address, 22)
                with contextlib.suppress(HostError, subprocess.TimeoutExpired):
                    entry["gateway"] = host.unit_state(pid).get("ActiveState")
                entry["healthz"] = self._health(host)
            entry["healthy"] = bool(pid and entry["sshd"] and entry["gateway"] == "active"
                                    and entry["healthz"] == 200)
            if host.name in standby:  # booted, its units stopped until a scale-up starts them
                entry.update(standby=True, healthy=bool(pid and entry["sshd"]))
            hosts.append(entry)
        result = {"state_dir": str(self.state_dir), "inventory_dir": self.read_info().get("inventory_dir"),
                  "hosts": hosts, "healthy": bool(hosts) and all(h["healthy"] for h in hosts)}
        if self.service == services.CCTELEGRAM:
            result["controller"] = controller.running(self)
        if self.service in reference.SERVICES:
            result["datastores"] = {kind: {"pid": self.datastore_pid(kind), "port": rec["port"],
                                           "running": bool(self.datastore_pid(kind))}
                                    for kind, rec in self.datastore_records().items()
                                    if kind in reference.datastore_kinds(self.service)}
        return result

    # ------------------------------------------------------------------ faults

    def run(self, host, argv, **kwargs):
        """Run argv inside a running host (nsenter), for faults and tests."""
        return host.run(self.pid(host), argv, **kwargs)

    def break_(self, name, fault):
        with self._locked():
            if name == controller.LB:  # the load balancer, not a host
                return controller.break_lb(self, fault)
            return faults.inject(self, self.host(name), fault)
