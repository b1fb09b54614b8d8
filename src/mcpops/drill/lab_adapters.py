"""The two labs a drill runs on, behind one small interface: bring the lab up (or find it running), its
targets (one gateway, or one host of another service, each), inject a fault into a target, read what the checks
need, and down what the drill started.

    LocalDrillLab   the local lab (mcpops.lab.local.lab.LocalLab): one gateway under supervisord, the
                    inventory `inventories/lab` with MCPOPS_LAB_DIR pointing at the lab's state dir
    FleetDrillLab   the fleet lab (mcpops.lab.fleet.lab.FleetLab): N hosts under systemd-nspawn, the
                    inventory the fleet wrote (`inventories/fleet` unless told otherwise); hosts of the 1C
                    gateway, or of CCTelegram MCP with --service cctelegram-mcp
    ConnectorDrillLab
                    the connector lab (mcpops.lab.local.service_lab.ServiceLab, --service connector-mcp): two
                    backend instances under supervisord behind nginx, MariaDB, Redis; the inventory the drill writes
                    into the lab's state dir (mcpops.lab.local.connector_inventory: no secret in it); its faults are the
                    lab's (injected once), and what the instances were right after the fault is recorded for the
                    checks (fault_facts)
    ComposeDrillLab the Loyalty API's compose lab (`--lab compose`): in mcpops.drill.compose_drill_lab
"""

import json
import time
from dataclasses import dataclass
from pathlib import Path

from mcpops.drill.scenarios import (CCTELEGRAM, COMPOSE, CONNECTOR, DEFAULT_SERVICE, FLEET, LOCAL, LOYALTY, ONEC,
                                    STORM_SOURCE, DrillError)
from mcpops.lab.http_client import http_json
from mcpops.run.runbooks import REPO

LOCAL_INVENTORY = REPO / "inventories" / "lab"
TOKEN_PAGE = 100
LB_WAIT = 15.0  # seconds a check waits for nginx's answer to change after a reload
MEMORY_SEEN_WAIT = 90.0  # seconds for Prometheus (2 s scrapes) to see a memory-leak fault's growth
MEMORY_SEEN_BYTES = 40 * 2 ** 20  # over the P1 drill's memory_growth_mb (32)
TOO_MANY_CONNECTIONS = 1040  # MariaDB's "Too many connections"
TOO_MANY_WAIT = 5.0  # seconds a check's root login is tried again while the reserved slot is taken (sql_count)
# What the auto-recovery runbook installs on a host (roles/auto_recovery)
AUTO_RECOVERY_TIMER = "mcpops-auto-recovery.timer"
AUTO_RECOVERY_METRICS = "/var/lib/node_exporter/textfile/mcpops_auto_recovery.prom"
# What a drill checks beyond health, and the profile feature a service needs for it (profiles/<name>.yml).
FEATURES = {"tokens": "tokens", "storage-meta": "gateway_backups"}


@dataclass
class Target:
    """One gateway (or one host of another service) of a lab, as the checks see it. The 1C gateway's target has
    no profile: it is checked as it always was (/healthz, /readyz, storage-meta, tokens). Another service's target
    carries its profile and is checked the profile's way, with the secret read from api_key_file when a check's
    auth needs it (never kept in the object)."""

    name: str                   # the inventory host name
    api_url: str
    token_file: Path = None     # the 1C gateway's admin token, read only when a request needs it
    data_dir: Path = None
    service: str = DEFAULT_SERVICE
    profile: dict = None        # the service's validated profile; None for the 1C gateway
    api_key_file: Path = None   # the service's secret (the profile's auth), read only when a request needs it
    unit: str = None            # the main systemd unit (fleet)

    def has(self, what):
        """Whether the service has what a check needs: "tokens", "storage-meta" (FEATURES)."""
        if self.profile is None:
            return True
        return FEATURES[what] in (self.profile.get("features") or ())

    def admin(self, path, timeout=10):
        if self.token_file is None:
            raise DrillError(f"{self.name}: {self.service} has no admin API (GET {path} not sent)")
        token = self.token_file.read_text().strip()
        return http_json(self.api_url + path, token=token, timeout=timeout)

    def health_specs(self):
        """The profile's liveness and readiness checks, each once (one check may be both)."""
        health = self.profile["health"]
        by_name = {spec["name"]: spec for spec in health["checks"]}
        return [by_name[name] for name in dict.fromkeys((health["liveness"], health["readiness"]))]

    def probe(self, spec, timeout=5):
        """(status, body) of one of the profile's checks against this target, with its auth."""
        headers = {"Accept": "application/json"}
        auth = spec.get("auth") or "none"
        if auth != "none":
            entry = self.profile["auth"][auth]
            secret = self.api_key_file.read_text().strip()
            if entry["style"] == "bearer":
                headers["Authorization"] = f"Bearer {secret}"
            else:
                headers[entry["header"]] = secret
        return http_json(self.api_url + spec["path"], method=spec.get("method") or "GET", headers=headers,
                         timeout=timeout)


def read_token_records(target):
    """Every token's record (the API never returns a secret), every page; None when the gateway does not answer."""
    records, cursor = [], None
    for _ in range(1000):  # 100 000 tokens: far beyond a lab
        path = f"/api/mcp-tokens?limit={TOKEN_PAGE}" + (f"&cursor={cursor}" if cursor else "")
        status, body = target.admin(path)
        if status != 200 or not isinstance(body, dict):
            return None
        records += body.get("tokens") or []
        cursor = body.get("nextCursor")
        if not cursor:
            return records
    return records


def read_tokens(target):
    """{token id: revoked} of every token, every page; None when the gateway does not answer."""
    records = read_token_records(target)
    return None if records is None else {record["id"]: bool(record.get("revokedAt")) for record in records}


def take_backup(target):
    """A backup right before the fault, as the nightly one would be: INC-003 must restore it."""
    time.sleep(1.1)  # backup ids have one-second resolution: never the same id as an earlier one
    token = target.token_file.read_text().strip()
    status, body = http_json(target.api_url + "/api/system/backups", method="POST", token=token, body={},
                             timeout=60)
    if status not in (200, 201):
        raise DrillError(f"{target.name}: POST {target.api_url}/api/system/backups answered {status}: {body}")
    return ((body or {}).get("backup") or {}).get("id")


class LocalDrillLab:
    kind = LOCAL
    service = ONEC  # the local lab's drills are the 1C gateway's (scenarios.LAB_SERVICES)
    ALERT_JOB = "onec-gateway"  # its /metrics, as the rules' job= names it (alert_targets)
    UPSTREAM_ALERT_JOB = "onec-upstream"  # the blackbox probe of its 1C upstream, for the alerts that select on it

    def __init__(self, state_dir=None, listen=None, inventory=None, upstream=None):
        from mcpops.lab.local.lab import LocalLab

        self.lab = LocalLab(state_dir, listen=listen, upstream=upstream, out=print)
        _check_recorded_service(self.lab.state_dir, ONEC)
        self._check_inventory(inventory)
        self.inventory = LOCAL_INVENTORY
        self.started = False

    @staticmethod
    def _check_inventory(inventory):
        if inventory is not None and Path(inventory).expanduser().resolve() != LOCAL_INVENTORY.resolve():
            raise DrillError(f"inventory {inventory} is not the local lab's ({LOCAL_INVENTORY}): "
                             "a drill breaks things and runs on its own lab only")

    def faults(self):
        from mcpops.lab.local.faults import FAULTS

        return FAULTS

    def up(self):
        result = self.lab.up()
        self.started = bool(result["started"])
        return result

    def down(self):
        return self.lab.down()

    def env(self):
        return {"MCPOPS_LAB_DIR": str(self.lab.state_dir)}

    @property
    def listen(self):
        """host:port of the gateway (what an alert drill's Prometheus scrapes)."""
        return self.lab.listen

    def repair(self, target, fault):
        """Undo a fault the runbook was not allowed to (an alert drill's denial) or does not (a read-only runbook's
        alert drill), as mcpops.lab.local.faults.repair does (`mcpops lab repair`): the gateway started after
        `stop`, the TLS endpoint back on a long certificate, the backups' dates or the backups themselves back,
        index/ back, the usage log a file again, the 1C upstream serving again."""
        from mcpops.lab.local import faults
        from mcpops.lab.local.errors import LabError

        try:
            return faults.repair(self.lab, fault)
        except LabError:
            raise DrillError(f"the drill cannot repair {fault} itself") from None

    def targets(self):
        return [Target("lab-gateway", self.lab.api_url, self.lab.admin_token_file, self.lab.data_dir)]

    def alert_targets(self, scenario):
        """What an alert drill's Prometheus scrapes (mcpops.drill.alert_chain): the gateway's own /metrics, job
        onec-gateway (the chain adds its TLS probe where the alert needs it); and for an alert whose rule selects on
        onec-upstream (OnecUpstreamDown), blackbox_exporter's probe of the lab's 1C upstream (upstream_probe)."""
        from mcpops.drill.alert_chain import AlertTarget, rule_jobs
        from mcpops.lab.fixtures.alerting_config import RULES_DIR

        targets = [AlertTarget(self.ALERT_JOB, "lab-gateway", self.listen)]
        alert = getattr(scenario, "alert", None)
        if alert and self.UPSTREAM_ALERT_JOB in rule_jobs(sorted(RULES_DIR.glob("*.rules.yml")), alert):
            targets.append(self.upstream_probe())
        return targets

    def upstream_probe(self):
        """The probe a site runs of the 1C publication its gateway uses: GET <odataUrl>/$metadata of the first
        production profile (the data dir's profiles.json), over TLS verified against the lab upstream's own test CA,
        `instance` the gateway host that uses it. The upstream is started when it does not run (the lab's, stopped by
        `mcpops lab down`); a publication with a password (credentials.json) would answer the probe 401."""
        from mcpops.drill.alert_chain import AlertTarget
        from mcpops.lab.fixtures.odata_upstream import LabUpstream, UpstreamError

        upstream = LabUpstream(self.lab.state_dir, self.lab.data_dir)
        try:
            upstream.ensure()
        except UpstreamError as exc:
            raise DrillError(str(exc)) from None
        url = _production_odata_url(self.lab.data_dir) + "/$metadata"
        return AlertTarget(self.UPSTREAM_ALERT_JOB, "lab-gateway", url, probe=True, ca_file=str(upstream.ca_file))

    def open_sealed(self, path):
        """The clear bytes of a file the lab's runbooks sealed with its forensic key (a triage bundle)."""
        import io

        from mcpops.drill.profiles import _collection_importable

        _collection_importable()
        from ansible_collections.mcpops.runbooks.plugins.module_utils._forensic.forensic_key import read_key_file
        from ansible_collections.mcpops.runbooks.plugins.module_utils._forensic.sealed_stream import unseal

        clear = io.BytesIO()
        with open(path, "rb") as handle:
            unseal(read_key_file(str(self.lab.forensic_key_file)), handle.read, clear.write, label=str(path))
        return clear.getvalue()

    def run_vars(self, scenario):
        """What only the lab knows for the runbook's run (cert-renewal: the new pair the drill issues as the CA)."""
        from mcpops.drill.cert_drill import run_vars

        return run_vars(self, scenario)

    def inject(self, target, fault):
        return self.lab.break_(fault)

    def fault_facts(self, fault):
        """What the fault recorded (token faults write <state dir>/faults/<fault>.json), or {}."""
        try:
            return json.loads((self.lab.state_dir / "faults" / f"{fault}.json").read_text())
        except (OSError, ValueError):
            return {}

    def service_state(self, target):
        return self.lab.program_state()


def _production_odata_url(data_dir):
    """odataUrl of the first production profile in the data dir's profiles.json (https); DrillError when none."""
    try:
        profiles = json.loads((Path(data_dir) / "profiles.json").read_text())["profiles"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DrillError(f"{data_dir}/profiles.json: {exc}") from None
    for profile in profiles:
        url = str(profile.get("odataUrl") or "")
        if profile.get("environment") == "production" and url.lower().startswith("https://"):
            return url.rstrip("/")
    raise DrillError(f"{data_dir}/profiles.json has no production profile with an https odataUrl to probe")


def _check_recorded_service(state_dir, service):
    """DrillError when the state dir holds a lab of another service (before anything starts)."""
    from mcpops.lab.local.service_lab import recorded_service

    recorded = recorded_service(state_dir)
    if recorded and recorded != service:
        raise DrillError(f"the lab in {state_dir} runs {recorded}, not {service}: `mcpops lab down --purge` first, "
                         f"or another --dir, or --service {recorded}")


class ConnectorDrillLab:
    """The connector lab: targets are its backend instances (backend-1, backend-2), checked their profile's way."""

    kind = LOCAL
    service = CONNECTOR
    ALERT_JOB = "connector-mcp-health"  # the blackbox probe of each instance's /api/health (alert_targets)
    DB_ALERT_JOB = "connector-mysql"  # mysqld_exporter of the lab's MariaDB (ConnectorMysqlConnectionsHigh's)
    # Each of its scrapes logs in through the one slot a full MariaDB keeps beyond max_connections, the runbook's admin
    # login's too: every 5 s, not the lab's 1 s, the runbook's login finds it taken five times less often (measured
    # here: 2.5 % of root logins refused at 1 s, 0.6 % at 5 s); the rule's last_over_time bridges a refused scrape
    DB_SCRAPE_INTERVAL = "5s"
    EXPORTER_USER = "mcpops_exporter"  # its account on the MariaDB (mcpops.lab.fixtures.mysqld_exporter.create_login)
    EXPORTER_SECRET = "mysql_exporter_password"  # the account's password, a 0600 file in the lab's secrets dir
    INVENTORY_NAME = "drill/connector-inventory.json"  # under the lab's state dir

    def __init__(self, state_dir=None, listen=None, inventory=None):
        from mcpops.drill.profiles import load_profile
        from mcpops.lab.local.errors import LabError
        from mcpops.lab.local.service_lab import ServiceLab

        try:
            self.lab = ServiceLab(state_dir, CONNECTOR, listen=listen, out=print)
        except LabError as exc:
            raise DrillError(str(exc)) from None
        self.inventory = self.lab.state_dir / self.INVENTORY_NAME
        if inventory is not None and Path(inventory).expanduser().resolve() != self.inventory:
            raise DrillError(f"inventory {inventory} is not the connector lab's ({self.inventory}, written by the "
                             "drill): a drill breaks things and runs on its own lab only")
        self.profile = load_profile(CONNECTOR)
        self.started = False
        self._facts = {}
        self.db_exporter = None  # the mysqld_exporter an alert drill's chain scrapes (alert_targets)

    @property
    def topology(self):
        return self.lab.topology

    def faults(self):
        return self.lab.faults

    def up(self):
        from mcpops.lab.local.connector_inventory import write_connector_inventory

        result = self.lab.up()
        self.started = bool(result["started"])
        try:
            write_connector_inventory(self.inventory, self.lab)
        except BaseException:
            if self.started:  # the drill's `finally` is not reached yet: down what was just started
                self.lab.down()
            raise
        return result

    def down(self):
        return self.lab.down()

    def env(self):
        return {"MCPOPS_LAB_DIR": str(self.lab.state_dir)}

    def targets(self):
        return [Target(self.topology.instance_host(program), self.lab.program_url(program), service=CONNECTOR,
                       profile=self.profile, unit=program) for program in self.topology.instances]

    def alert_targets(self, scenario):
        """What an alert drill's Prometheus scrapes (mcpops.drill.alert_chain): ConnectorMCP has no /metrics, so
        blackbox_exporter probes each instance's /api/health (its profile's deep check), job connector-mcp-health,
        `instance` the inventory host (ConnectorMcpHealthFailing's)."""
        from mcpops.drill.alert_chain import AlertTarget, rule_jobs
        from mcpops.lab.fixtures.alerting_config import RULES_DIR

        alert = getattr(scenario, "alert", None)
        if alert and self.DB_ALERT_JOB in rule_jobs(sorted(RULES_DIR.glob("*.rules.yml")), alert):
            return [AlertTarget(self.DB_ALERT_JOB, self.targets()[0].name, self.mysql_exporter().address,
                                scrape_interval=self.DB_SCRAPE_INTERVAL)]
        return [AlertTarget(self.ALERT_JOB, target.name, target.api_url + "/api/health", probe=True)
                for target in self.targets()]

    def mysql_exporter(self):
        """The private mysqld_exporter of the lab's MariaDB an alert on it needs (ConnectorMysqlConnectionsHigh: job
        connector-mysql), started once, logged in (mysql_up 1) before the chain scrapes it, until stop_alert_targets().
        Its account is its own (EXPORTER_USER, CONNECTION ADMIN only: the slot MariaDB keeps beyond max_connections,
        which the fault's filler takes every other of), its password in the lab's secrets dir and the exporter's 0600
        my.cnf. Scraped as backend-1, the first instance: the one MariaDB is every instance's, and
        connector-db-connections (run_once against it) runs on the host the alert names."""
        import pymysql

        from mcpops.lab.fixtures.loopback_daemon import DaemonError
        from mcpops.lab.fixtures.mysqld_exporter import MysqldExporter, create_login
        from mcpops.lab.gateway.fsutil import atomic_write
        from mcpops.lab.loopback import free_port

        if self.db_exporter is not None:
            return self.db_exporter
        secret = self.lab.secret_file(self.EXPORTER_SECRET)
        if not secret.exists():
            import secrets

            atomic_write(secret, secrets.token_hex(16) + "\n", 0o600)
        password = secret.read_text().strip()
        try:
            conn = self.topology.mysql_root()
            try:
                create_login(conn, self.EXPORTER_USER, password)
            finally:
                conn.close()
        except pymysql.MySQLError as exc:
            raise DrillError(f"the exporter's account on the lab's MariaDB: {exc.args[-1] if exc.args else exc}") \
                from None
        exporter = None
        try:
            exporter = MysqldExporter(free_port(), "127.0.0.1", self.topology.mysql_record()["port"],
                                      self.EXPORTER_USER, password)
            exporter.start()
            exporter.wait_logged_in()
        except DaemonError as exc:  # the binary missing (its Debian package named), or it cannot log in
            if exporter is not None:
                exporter.stop()
            raise DrillError(str(exc)) from None
        self.db_exporter = exporter
        return exporter

    def stop_alert_targets(self):
        """The mysqld_exporter stopped by its PID (the alert drill's finally); what was stopped, or None."""
        exporter, self.db_exporter = getattr(self, "db_exporter", None), None
        if exporter is None:
            return None
        pid = exporter.pid
        exporter.stop()
        return f"mysqld_exporter (pid {pid}) stopped by PID"

    def inject(self, target, fault):
        """The lab's fault (target is not used: the fault chooses its instances); records the release links before
        it and each instance right after it (fault_facts)."""
        before = {"releases": self.topology.release_links()}
        line = self.lab.break_(fault)
        self._facts = {"before_fault": before, "after_fault": self.snapshot(), "storm_source": STORM_SOURCE,
                       "skewed": [self.topology.instance_host(p) for p in self.topology.instances
                                  if str(self.lab.env_overrides(p).get("CLOCK_SKEW_SECONDS") or "0") != "0"]}
        return line

    def snapshot(self):
        """{host: {"pid", "state", "rss_mb", "deep_status", "pool_exhausted"}} of every instance now."""
        found = {}
        for target in self.targets():
            pid = self.program_pid(target)
            rss = self.rss_mb(target)  # before the request below: a leaking instance grows with every request
            status, body = http_json(target.api_url + "/api/health", timeout=10)
            database = (body or {}).get("database") if isinstance(body, dict) else None
            database = database if isinstance(database, dict) else {}
            pool = database.get("pool") if isinstance(database.get("pool"), dict) else {}
            exhausted = "pool exhausted" in str(database.get("error") or "") or \
                (status == 503 and pool.get("available") == 0)
            found[target.name] = {"pid": pid, "state": self.service_state(target), "rss_mb": rss,
                                  "deep_status": status, "pool_exhausted": exhausted}
        return found

    def fault_facts(self, fault):
        return dict(self._facts)

    def repair(self, target, fault):
        """Undo a fault the runbook was not allowed to (an alert drill's denial): `stop` (the main instance started
        again), and mysql-max-connections (the lab's `healthy`: the filler's sessions closed, max_connections back);
        DrillError for the others."""
        from mcpops.lab.local import supervisor as sup
        from mcpops.lab.local.errors import LabError

        if fault == "mysql-max-connections":
            try:
                return self.lab.break_("healthy")
            except LabError as exc:
                raise DrillError(f"{fault}: {exc}") from None
        if fault != "stop":
            raise DrillError(f"the drill cannot repair {fault} itself")
        try:
            self.lab.start_program()
            state = self.lab.wait_program((sup.RUNNING,))
        except LabError as exc:
            raise DrillError(f"stop: {exc}") from None
        return f"supervisorctl start {self.lab.main_program}; now {state}"

    def service_state(self, target):
        return self.lab.program_state(target.unit)

    def program_pid(self, target):
        return self.lab.program_pid(target.unit)

    def rss_mb(self, target):
        """The instance's resident memory in MB (/proc/<pid>/status VmRSS), None when it does not run."""
        pid = self.program_pid(target)
        if not pid:
            return None
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
        except (OSError, ValueError, IndexError):
            return None
        return None

    def release_links(self):
        return self.topology.release_links()

    def lb_status(self, path, source, expect=None, timeout=LB_WAIT):
        """The status of GET path through the lab's nginx from a loopback source address (None when none came);
        with expect: asked again until it is that status or timeout seconds passed (nginx reloads gracefully)."""
        deadline = time.monotonic() + timeout
        while True:
            status = self._lb_status_once(path, source)
            if expect is None or status == expect or time.monotonic() >= deadline:
                return status
            time.sleep(0.2)

    def _lb_status_once(self, path, source):
        import http.client

        url = self.topology.lb_url or ""
        host, _, port = url.rsplit("/", 1)[-1].partition(":")
        if not port:
            return None
        conn = http.client.HTTPConnection(host, int(port), timeout=10, source_address=(source, 0))
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            return response.status
        except (OSError, http.client.HTTPException):
            return None
        finally:
            conn.close()

    def sql_count(self, statement, args=None):
        """The first column of the first row of a COUNT query as root on the lab's MariaDB (args bound); None when
        the database does not answer. Root's login takes the one slot beyond max_connections when every other is
        taken (mysql-max-connections), which an alert drill's mysqld_exporter takes for a moment at each scrape: a
        login refused with "Too many connections" is tried again, for TOO_MANY_WAIT seconds."""
        import pymysql

        deadline = time.monotonic() + TOO_MANY_WAIT
        while True:
            try:
                conn = self.topology.mysql_root(database=self.lab.spec.datastore("mysql").database)
                break
            except pymysql.MySQLError as exc:
                if not exc.args or exc.args[0] != TOO_MANY_CONNECTIONS or time.monotonic() >= deadline:
                    return None
                time.sleep(0.1)
        try:
            with conn.cursor() as cur:
                cur.execute(statement, args)
                return int(cur.fetchone()[0])
        except pymysql.MySQLError:
            return None
        finally:
            conn.close()


class FleetDrillLab:
    """A fleet of `count` serving hosts (and `standby` more a runbook may start: a CCTelegram fleet's); the targets
    are the serving hosts. A CCTelegram fleet comes with its controller side (nginx in front, Prometheus, the Telegram
    stand-in): a fault of the load balancer goes into the lab (inject with no target)."""

    kind = FLEET
    ALERT_JOB = "cctelegram-mcp"  # a CCTelegram host's /metrics, as the rules' job= names it (alert_targets)
    # The faults of a CCTelegram host an alert drill's denial undoes (repair): the unit each one stopped
    REPAIR_UNITS = {"stop": "cctelegram-mcp", "bridge-down": "cctelegram-bridge"}

    def __init__(self, count, state_dir=None, inventory=None, service=DEFAULT_SERVICE, standby=0):
        from mcpops.lab.fleet.errors import FleetError
        from mcpops.lab.fleet.lab import DEFAULT_INVENTORY, FleetLab

        try:
            probe = FleetLab(state_dir)
        except FleetError as exc:
            raise DrillError(str(exc)) from None
        recorded = probe.read_info().get("inventory_dir")
        running = [h for h in probe.hosts() if probe.pid(h)]
        if running and probe.service != service:  # FleetLab.up refuses it too; say it before anything starts
            raise DrillError(f"the fleet in {probe.state_dir} runs {probe.service}, not {service}: "
                             f"`mcpops fleet down` first, or --service {probe.service}")
        if running and inventory is not None and recorded and \
                Path(inventory).expanduser().resolve() != Path(recorded).resolve():
            raise DrillError(f"inventory {inventory} is not the running fleet's ({recorded}): "
                             "a drill breaks things and runs on its own lab only")
        if running and len(probe.serving_hosts()) != count:
            raise DrillError(f"the fleet in {probe.state_dir} runs {len(probe.serving_hosts())} hosts, not {count}: "
                             f"`mcpops fleet down` first, or --fleet {len(probe.serving_hosts())}")
        if running and probe.standby_count() < standby:
            raise DrillError(f"the fleet in {probe.state_dir} has {probe.standby_count()} standby hosts and this drill "
                             f"starts {standby}: `mcpops fleet down` first (the drill boots it with --standby "
                             f"{standby})")
        self.count = count
        # None: the standby hosts the fleet has (FleetLab.up keeps them); a fleet the drill boots gets the drill's
        self.standby = None if running or not standby else standby
        self.service = service
        # Another service's hosts are checked its profile's way (read now: a bad profile refuses before the lab).
        self.profile = None
        if service != ONEC:
            from mcpops.drill.profiles import load_profile

            self.profile = load_profile(service)
        where = (recorded if running and recorded else None) or inventory or REPO / DEFAULT_INVENTORY
        try:
            # The service always given: a stopped fleet that last ran another service boots this one.
            self.fleet = FleetLab(state_dir, inventory_dir=where, out=print, service=service)
        except FleetError as exc:
            raise DrillError(str(exc)) from None
        self.inventory = self.fleet.inventory_dir
        self.was_running = bool(running)
        self.started = False
        self._before = {}  # {host: its release links} right before its fault

    def faults(self):
        """The hosts' faults, and a CCTelegram fleet's load balancer's (`mcpops fleet break lb FAULT`)."""
        from mcpops.lab.fleet import cctelegram_controller
        from mcpops.lab.fleet.faults import faults_for

        lb_faults = tuple(cctelegram_controller.FAULTS) if self.service == CCTELEGRAM else ()
        return faults_for(self.service) + lb_faults

    def up(self):
        from mcpops.lab.fleet.errors import FleetError
        from mcpops.lab.fleet.host import HostError
        from mcpops.lab.fleet.image import ImageError

        try:
            result = self.fleet.up(self.count, standby=self.standby)
        except (FleetError, HostError, ImageError) as exc:
            raise DrillError(f"fleet up: {exc}") from None
        self.started = not self.was_running
        return result

    def down(self):
        return self.fleet.down()

    def env(self):
        return {}

    def targets(self):
        """The serving hosts (a standby host is not a target: standby_targets)."""
        if self.profile is None:
            return [Target(h.name, h.api_url, h.admin_token_file, h.data_dir) for h in self.fleet.serving_hosts()]
        return [self._service_target(h) for h in self.fleet.serving_hosts()]

    def standby_targets(self):
        return [self._service_target(h) for h in self.fleet.standby_hosts()]

    def alert_targets(self, scenario):
        """What an alert drill's Prometheus scrapes (mcpops.drill.alert_chain): each serving CCTelegram host's metrics
        listener (<address>:9090/metrics), job cctelegram-mcp, `instance` the inventory host, with the host's own API
        key file as the Bearer key, as the fleet's Prometheus scrapes it (mcpops.lab.fleet.fleet_prometheus). The
        chain's Prometheus is its own: the fleet's has no Alertmanager. A standby host is not scraped (its units are
        stopped: CctelegramDown would fire for it)."""
        from mcpops.drill.alert_chain import AlertTarget
        from mcpops.lab.fleet import services

        if self.service != CCTELEGRAM:
            raise DrillError(f"a fleet of {self.service} offers an alert chain nothing to scrape (CCTelegram's only)")
        return [AlertTarget(self.ALERT_JOB, host.name, f"{host.address}:{services.METRICS_PORT}",
                            bearer_token_file=str(host.api_key_file)) for host in self.fleet.serving_hosts()]

    def repair(self, target, fault):
        """Undo a fault the runbook was not allowed to (an alert drill's denial) or does not (a read-only runbook's
        alert drill): a CCTelegram host's `stop` or `bridge-down`, the unit it stopped started again (REPAIR_UNITS);
        server-errors, wedged, auth-failures and memory-leak as mcpops.lab.fleet.services.REPAIRS undoes them (the
        steady client stopped, the storm out of faults.json, the leaking process restarted); DrillError for the
        others."""
        from mcpops.lab.fleet import services
        from mcpops.lab.fleet.errors import FleetError
        from mcpops.lab.fleet.host import HostError

        unit = self.REPAIR_UNITS.get(fault) if self.service == CCTELEGRAM else None
        undo = services.REPAIRS.get(fault) if self.service == CCTELEGRAM else None
        if unit is None and undo is None:
            raise DrillError(f"the drill cannot repair {fault} itself")
        host = self.fleet.host(target.name)
        pid = self.fleet.pid(host)
        if not pid:
            raise DrillError(f"{target.name} is powered off")
        try:
            if undo is not None:
                return undo(self.fleet, host)
            host.run(pid, ["systemctl", "start", f"{unit}.service"])
        except (HostError, FleetError) as exc:
            raise DrillError(f"{fault}: {exc}") from None
        return f"systemctl start {unit} on {target.name}; /health {services.wait_health(host, (200,))}"

    def _service_target(self, host):
        return Target(host.name, host.api_url, service=self.service, profile=self.profile,
                      api_key_file=host.api_key_file, unit=host.unit)

    def inject(self, target, fault):
        """The fault into the target's host; with no target, into the lab's load balancer. The release links of a
        CCTelegram host are recorded first (fault_facts' before_fault: what a rollback must put back)."""
        from mcpops.lab.fleet.cctelegram_controller import LB

        if target is None:
            return self.fleet.break_(LB, fault)
        if self.service == CCTELEGRAM:
            self._before[target.name] = self.release_links(target)
        said = self.fleet.break_(target.name, fault)
        if self.service == CCTELEGRAM and fault == "memory-leak":
            said = f"{said}; {self._memory_growth_seen(target)}"
        return said

    def _memory_growth_seen(self, target):
        """Wait until Prometheus has scraped the leak (P1 names a leaking host from its memory growth): the runbook run
        right after the fault would otherwise find no growth yet."""
        import urllib.parse

        from mcpops.lab.fleet import cctelegram_controller

        port = cctelegram_controller.records(self.fleet)["prometheus"]["port"]
        query = 'delta(process_memory_bytes{job="cctelegram-mcp",instance="%s"}[10m])' % target.name
        url = "http://127.0.0.1:%d/api/v1/query?%s" % (port, urllib.parse.urlencode({"query": query}))
        deadline, grown = time.monotonic() + MEMORY_SEEN_WAIT, None
        while time.monotonic() < deadline:
            status, body = http_json(url, timeout=10)
            result = ((body or {}).get("data") or {}).get("result") or [] if status == 200 else []
            grown = float(result[0]["value"][1]) if result else None
            if grown is not None and grown >= MEMORY_SEEN_BYTES:
                return f"Prometheus sees {grown / 2 ** 20:.0f} MB of growth"
            time.sleep(1)
        return (f"Prometheus saw {'no series' if grown is None else f'{grown / 2 ** 20:.0f} MB'} of growth within "
                f"{MEMORY_SEEN_WAIT:g}s")

    def unit_snapshot(self, target):
        """{unit: systemctl show's ActiveState, SubState, MainPID, InvocationID, NRestarts} of the target's main
        unit and the units its profile says it depends on; {} for a host that is not running."""
        host = self.fleet.host(target.name)
        pid = self.fleet.pid(host)
        if not pid:
            return {}
        units = [target.unit or host.unit]
        units += list(((target.profile or {}).get("runtime") or {}).get("depends_on") or ())
        snapshot = {}
        for unit in units:
            proc = host.run(pid, ["systemctl", "show", unit,
                                  "--property=ActiveState,SubState,MainPID,InvocationID,NRestarts"], check=False)
            snapshot[unit] = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
        return snapshot

    def fault_facts(self, fault):
        return {"before_fault": dict(self._before)} if self._before else {}

    def service_state(self, target):
        host = self.fleet.host(target.name)
        pid = self.fleet.pid(host)
        if not pid:
            return "powered off"
        return host.unit_state(pid).get("ActiveState")

    # -- a CCTelegram fleet: its releases, its load balancer, the auto-recovery timer (mcpops.drill.fleet_checks) --

    def release_links(self, target):
        """{"current", "previous"}: the versions the host's release links name (None: no link)."""
        from mcpops.lab.fleet import cctelegram_releases, services

        where = services.releases_dir(self.fleet.host(target.name))
        return {name: cctelegram_releases.link_target(where, name) for name in ("current", "previous")}

    def upstream_server(self, target):
        """The target's server as nginx's upstream names it (<address>:<port>)."""
        from mcpops.lab.fleet import services

        return f"{self.fleet.host(target.name).address}:{services.API_PORT}"

    def lb_upstream(self):
        """{server: drained (bool)} of every server in the load balancer's site conf."""
        from mcpops.lab.fleet.cctelegram_controller import load_balancer

        try:
            text = load_balancer(self.fleet).site_conf.read_text()
        except OSError:
            return {}
        servers = {}
        for line in text.splitlines():
            words = line.split("#", 1)[0].replace(";", " ; ").split()
            if len(words) > 1 and words[0] == "server" and ":" in words[1]:
                servers[words[1]] = "down" in words[2:]
        return servers

    def lb_health(self, expect=None, timeout=LB_WAIT):
        """The status of GET /health through the load balancer with the clients' API key (None: no answer); with
        expect: asked again until it is that status or timeout seconds passed (nginx reloads gracefully)."""
        from mcpops.lab.fleet.cctelegram_controller import load_balancer

        url = load_balancer(self.fleet).url + "/health"
        key_file = self.fleet.secret_file("cctelegram_api_key")
        deadline = time.monotonic() + timeout
        while True:
            status = http_json(url, headers={"X-API-Key": key_file.read_text().strip()}, timeout=5)[0]
            if expect is None or status == expect or time.monotonic() >= deadline:
                return status
            time.sleep(0.5)

    def _host_text(self, target, argv):
        host = self.fleet.host(target.name)
        pid = self.fleet.pid(host)
        if not pid:
            return None
        proc = host.run(pid, argv, check=False)
        return proc.stdout if proc.returncode == 0 else None

    def auto_recovery_restarts(self, target):
        """mcpops_auto_recovery_restarts_total in the host's textfile metrics; None when there is none."""
        text = self._host_text(target, ["cat", AUTO_RECOVERY_METRICS]) or ""
        for line in text.splitlines():
            if line.startswith("mcpops_auto_recovery_restarts_total"):
                try:
                    return int(float(line.rsplit(None, 1)[-1]))
                except ValueError:
                    return None
        return None

    def timer_load_state(self, target):
        """systemd's LoadState of the auto-recovery timer on the host ("not-found" once removed)."""
        text = self._host_text(target, ["systemctl", "show", AUTO_RECOVERY_TIMER, "--property=LoadState"]) or ""
        return text.strip().partition("=")[2] or None

