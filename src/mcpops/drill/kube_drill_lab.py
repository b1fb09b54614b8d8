"""The drill's adapter for the LEGO MCP lab on Kubernetes (mcpops.lab.lego, `--lab kubernetes`): a control plane of
its own, the node agent, PostgreSQL and the HSM, found running in its state dir (`mcpops lab up --platform
kubernetes`) or started by the drill; one target, the dashboard (every Ready pod of it, on its pod IP: there is no
Service routing in the lab); the inventory the lab writes (<state dir>/inventory/hosts.yml, its secrets in a 0600
file beside it). The other labs' adapters are in mcpops.drill.lab_adapters and mcpops.drill.compose_drill_lab."""

import json
import time
from dataclasses import dataclass
from pathlib import Path

from mcpops.drill.lab_adapters import Target
from mcpops.drill.scenarios import KUBERNETES, LEGO, DrillError
from mcpops.lab.http_client import http_json

FALLBACK_WAIT = 240.0  # seconds for the dashboard's rollout into the software fallback on a loaded machine
LOAD_SPREAD_WAIT = 60.0  # seconds, after the scale-up run, for the load to reach a pod Ready since its last listing


@dataclass
class DashboardTarget(Target):
    """The dashboard as one target: a check is asked of every Ready pod (their IPs change with each rollout), and the
    first answer that is not 200, else the first answer, is the target's; no Ready pod: no answer."""

    stack: object = None

    def probe(self, spec, timeout=5):
        urls = self.stack.dashboard_urls() if self.stack is not None else {}
        if not urls:
            return None, "no Ready dashboard pod"
        answers = []
        for name, url in sorted(urls.items()):
            self.api_url = url
            answers.append(super().probe(spec, timeout=timeout))
        bad = [answer for answer in answers if answer[0] != 200]
        return bad[0] if bad else answers[0]


class KubeDrillLab:
    """The LEGO lab. Its faults are mcpops.lab.lego.faults', and one of the drill's own: hsm-back-fallback-on (the
    HSM was down, the dashboard was put on the software fallback and signed a write with it, then the HSM came back:
    what lego-hsm-unavailable's after-recovery run ends). Before namespace-wiped the lab takes a pg_dump into the
    inventory's lego_dump_dir, as the nightly backup would have; the runbook restores it. high-load's traffic (the
    recorded lab's load process) lasts while lego-scale-high-load scales up, and ends with its run (during_run): the
    load is over, and the undo run scales down after it."""

    kind = KUBERNETES
    service = LEGO
    HOST = "lego-controller"  # the inventory's host (mcpops.lab.lego.inventory)
    ALERT_JOB = "lego-mcp-health"  # the blackbox probe of the dashboard's /health, as the rules' job= names it
    DB_ALERT_JOB = "lego-postgres"  # postgres_exporter of the lab's PostgreSQL (LegoPostgresConnectionsExhausted's)
    DB_ALERT = "LegoPostgresConnectionsExhausted"
    DBA_VARS = "group_vars/gateways/dba.yml"  # under the inventory's dir (write_dba_login)
    OWN_FAULTS = ("hsm-back-fallback-on",)

    def __init__(self, state_dir=None, inventory=None):
        from mcpops.drill.profiles import load_profile
        from mcpops.lab.lego.recorded_lab import RecordedLegoLab

        self.recorded = RecordedLegoLab(state_dir, out=print)
        if inventory is not None and Path(inventory).expanduser().resolve() != self.recorded.inventory_path:
            raise DrillError(f"inventory {inventory} is not the Kubernetes lab's ({self.recorded.inventory_path}): "
                             "a drill breaks things and runs on its own lab only")
        self.profile = load_profile(LEGO)
        self.started = False
        self.stack = None
        self.service_address = None  # the dashboard Service's stand-in an alert drill probes (alert_targets)
        self.db_exporter = None      # and the postgres_exporter it scrapes
        self.password_before = None
        self._facts = {}

    @property
    def inventory(self):
        return self.recorded.inventory_path

    def faults(self):
        from mcpops.lab.lego.faults import FAULTS

        return tuple(FAULTS) + self.OWN_FAULTS

    def up(self):
        """The lab ready: the state dir's running one, else a new one (started: the drill downs it); healthy before
        anything is broken."""
        from mcpops.lab.kube.errors import KubeLabError
        from mcpops.lab.lego.hsm_process import LegoError

        try:
            self.started = self.recorded.up()["started"]
            self.stack = self.recorded.attach()
            self.write_dba_login()
            self.stack.wait_healthy()
        except (LegoError, KubeLabError) as exc:
            raise DrillError(f"kubernetes lab up: {exc}") from None
        return {"started": self.started}

    def down(self):
        return self.recorded.down()

    def write_dba_login(self):
        """db-connection-exhaustion's DBA login (pg_login_*, as a site's inventory gives it) beside the lab's inventory:
        the superuser over the cluster's unix socket (local trust: no password in it), whose slots PostgreSQL keeps
        when lego_mcp holds every other, as a DBA's are. The lab's inventory (mcpops.lab.lego.inventory) names the
        lego_mcp role only, which the exhaustion refuses; the LEGO playbooks read pg_login_* nowhere else."""
        from mcpops.lab.gateway.fsutil import atomic_write

        pg = self.stack.pg
        login = {"pg_login_unix_socket": str(pg.dir), "pg_login_port": pg.port, "pg_login_user": "postgres",
                 "pg_login_db": "postgres"}
        path = self.inventory.parent / self.DBA_VARS
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, "---\n" + json.dumps(login, indent=2, sort_keys=True) + "\n", 0o644)
        return path

    def env(self):
        return {}

    def targets(self):
        urls = sorted(self.stack.dashboard_urls().values())
        return [DashboardTarget(self.HOST, urls[0] if urls else "", service=LEGO, profile=self.profile,
                                unit="deployment/dashboard", stack=self.stack)]

    def alert_targets(self, scenario):
        """What an alert drill's Prometheus scrapes (mcpops.drill.alert_chain): LEGO MCP has no /metrics, so
        blackbox_exporter probes the dashboard's /health, job lego-mcp-health, `instance` the inventory host
        (LegoMcpHealthFailing's). Not a pod IP (they change with every rollout): the Service's stable address, which
        the lab has no kube-proxy for; the drill's stand-in answers it from the Ready pods of the moment
        (mcpops.drill.kube_service_address). And a private postgres_exporter of the lab's PostgreSQL, job
        lego-postgres, as the same host (LegoPostgresConnectionsExhausted's), connecting as the inventory's lego_mcp
        role (it keeps its session, so the exhaustion counts it and never refuses it). Both run until
        stop_alert_targets(). For LegoPostgresConnectionsExhausted the exporter alone: the exhaustion fails the
        dashboard's /health too, and LegoMcpHealthFailing's lego-service-outage, a check run of minutes, would hold the
        watcher (it runs one action at a time) before the runbook the drill waits for."""
        from mcpops.drill.alert_chain import AlertTarget
        from mcpops.drill.kube_service_address import ServiceAddress
        from mcpops.lab.fixtures.loopback_daemon import DaemonError
        from mcpops.lab.fixtures.postgres_exporter import PostgresExporter
        from mcpops.lab.lego.stack import DB_NAME, DB_USER
        from mcpops.lab.loopback import free_port

        if self.db_exporter is None:
            try:
                self.db_exporter = PostgresExporter(free_port(), "127.0.0.1", self.stack.pg.port, DB_NAME, DB_USER,
                                                    self.stack.db_password).start()
            except DaemonError as exc:
                self.stop_alert_targets()
                raise DrillError(str(exc)) from None
        db = AlertTarget(self.DB_ALERT_JOB, self.HOST, self.db_exporter.address)
        if scenario is not None and scenario.alert == self.DB_ALERT:
            return [db]
        if self.service_address is None:
            self.service_address = ServiceAddress(lambda: self.stack.dashboard_urls().values()).start()
        return [AlertTarget(self.ALERT_JOB, self.HOST, self.service_address.url("/health"), probe=True), db]

    def stop_alert_targets(self):
        """postgres_exporter stopped by its PID and the Service's stand-in closed (the alert drill's finally); what
        was stopped, in a line, or None when nothing ran."""
        said = []
        if self.db_exporter is not None:
            pid, exporter, self.db_exporter = self.db_exporter.pid, self.db_exporter, None
            exporter.stop()
            said.append(f"postgres_exporter (pid {pid}) stopped by PID")
        if self.service_address is not None:
            url, self.service_address = self.service_address.url(), self.service_address.stop()
            said.append(f"the dashboard Service's stand-in {url} closed (a thread of the drill)")
        return "; ".join(said) or None

    # -- faults

    def inject(self, target, fault):
        """The fault into the lab; what the checks compare with recorded first (fault_facts)."""
        deployment = self.stack.get_json("deployment", "dashboard")
        self._facts = {"image_before": deployment["spec"]["template"]["spec"]["containers"][0]["image"],
                       "replicas_before": deployment["spec"]["replicas"]}
        self.password_before = self.stack.db_password  # the rotation check's; kept out of the facts (never printed)
        if fault == "hsm-back-fallback-on":
            return self._hsm_back_fallback_on()
        if fault == "namespace-wiped":
            self._facts["audit_rows_at_dump"] = self._audit_rows()
        if fault == "high-load":  # the size the undo run's scale down must come back to
            from mcpops.drill.lego_checks import SCALED, workload_sizes

            self._facts["workloads_before"] = {w: spec for w, (spec, _) in workload_sizes(self.stack, SCALED).items()}
        line = self.recorded.break_(fault)
        if fault == "compromised-pod":
            self._facts["pod"] = self.recorded.record()["compromised"]
        self.stack = self.recorded.attach()
        return line

    def _hsm_back_fallback_on(self):
        from mcpops.lab.lego import dashboard, faults

        stack = self.stack
        faults.inject(stack, "hsm-down")
        stack.kubectl("set", "env", "deployment/dashboard", "HSM_FALLBACK_ENABLED=true",
                      f"HSM_FALLBACK_KEY_DIR={self.recorded.fallback_key_dir}")
        stack.kubectl("rollout", "status", "deployment/dashboard", f"--timeout={int(FALLBACK_WAIT)}s",
                      timeout=FALLBACK_WAIT + 30)
        deadline = time.monotonic() + FALLBACK_WAIT
        while True:
            answers = stack.health_of_all()
            signing = [(code, (body or {}).get("signing")) for code, body in answers.values()]
            if len(answers) == stack.replicas and all(answer == (200, "software-fallback") for answer in signing):
                break
            if time.monotonic() >= deadline:
                raise DrillError(f"the dashboard did not sign with the software fallback within {FALLBACK_WAIT:g}s: "
                                 f"{answers}")
            time.sleep(0.5)
        url = sorted(stack.dashboard_urls().values())[0]
        status, body = http_json(f"{url}/api/v8/equipment/CNC-001/status", method="POST", timeout=20,
                                 body={"status": "operational", "actor": "mcpops-drill"})
        if status != 200 or (body or {}).get("signed_by") != "software-fallback":
            raise DrillError(f"a write on the software fallback answered {status}: {body}")
        self._facts["fallback_audit_id"] = body.get("audit_id")
        self.recorded.start_hsm()  # the vendor fixed the HSM; the fallback is still on: that is the runbook's
        return (f"hsm-back-fallback-on: injected (the HSM stopped, the dashboard rolled onto the software fallback, "
                f"audit record {body.get('audit_id')} signed by it, the HSM started again; HSM_FALLBACK_ENABLED=true "
                f"left on, with {len(dashboard.pods(stack.plane))} dashboard pods)")

    def repair(self, target, fault):
        """Undo a fault the runbook did not (a read-only runbook's)."""
        if fault == "hsm-back-fallback-on":
            self.recorded.start_hsm()
            self.stack.kubectl("set", "env", "deployment/dashboard", "HSM_FALLBACK_ENABLED=false",
                               "HSM_FALLBACK_KEY_DIR-")
            self.stack.wait_healthy()
            return "hsm-back-fallback-on: repaired (HSM_FALLBACK_ENABLED=false, the dashboard healthy)"
        return self.recorded.repair(fault)

    def fault_facts(self, fault):
        return dict(self._facts)

    def run_vars(self, scenario):
        """Extra vars only the lab knows when the fault is in: the compromised pod, the inventory's secrets file to
        update with rotated values (so that the lab keeps working with them)."""
        if scenario.fault == "compromised-pod":
            return {"pod": self._facts.get("pod"), "inventory_secrets_file": str(self.recorded.secrets_file)}
        return {}

    def during_run(self, scenario):
        """high-load: the load goes on through the run; when the run ends, once every dashboard pod Ready then has
        answered it (a pod the scale-up added gets its share within a second of being listed), the load stops and
        its last tally goes into the facts. Other faults: nothing."""
        import contextlib

        if scenario.fault != "high-load":
            return contextlib.nullcontext()

        @contextlib.contextmanager
        def load_until_the_run_ends():
            from mcpops.lab.lego import dashboard_load
            from mcpops.lab.lego.recorded_lab import LOAD_STATUS

            try:
                yield
                with contextlib.suppress(LookupError):  # the check says which pod it did not reach
                    dashboard_load.wait_spread(self.recorded.state_dir / LOAD_STATUS,
                                               lambda: self.stack.dashboard_urls(), LOAD_SPREAD_WAIT)
            finally:
                self._facts["load"] = self.recorded.stop_load()

        return load_until_the_run_ends()

    def undone_check(self, symptom, facts):
        """After the undo run: high-load's workloads back at their size before the load (mcpops.drill.lego_checks)."""
        from mcpops.drill.lego_checks import lego_undone_check

        self.stack = self.recorded.attach()
        return lego_undone_check(self, symptom, facts)

    # -- what the checks read

    def symptom_check(self, target, symptom, facts, run_output=""):
        from mcpops.drill.lego_checks import lego_symptom_check

        self.stack = self.recorded.attach()  # the secrets may have been rotated by the run
        target.stack = self.stack
        return lego_symptom_check(self, target, symptom, facts, run_output)

    def service_state(self, target):
        proc = self.stack.kubectl("get", "deployment", "dashboard", "-o", "json", check=False)
        if proc.returncode != 0:
            return "no deployment/dashboard"
        deployment = json.loads(proc.stdout)
        status = deployment.get("status") or {}
        return (f"deployment/dashboard {status.get('readyReplicas', 0)}/{deployment['spec'].get('replicas')} ready, "
                f"{status.get('updatedReplicas', 0)} updated, image "
                f"{deployment['spec']['template']['spec']['containers'][0]['image']}")

    def _audit_rows(self):
        with self.db() as conn:
            return conn.execute("SELECT count(*) FROM audit_log").fetchone()[0]

    def db(self, password=None):
        """A lego_mcp session over TCP with the inventory's password (or the one given)."""
        import psycopg

        stack = self.stack
        return psycopg.connect(autocommit=True, connect_timeout=5,
                               **stack.pg.dsn(user="lego_mcp", dbname="lego_mcp", tcp=True,
                                              password=password if password is not None else stack.db_password))
