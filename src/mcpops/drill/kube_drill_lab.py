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
    inventory's lego_dump_dir, as the nightly backup would have; the runbook restores it."""

    kind = KUBERNETES
    service = LEGO
    HOST = "lego-controller"  # the inventory's host (mcpops.lab.lego.inventory)
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
            self.stack.wait_healthy()
        except (LegoError, KubeLabError) as exc:
            raise DrillError(f"kubernetes lab up: {exc}") from None
        return {"started": self.started}

    def down(self):
        return self.recorded.down()

    def env(self):
        return {}

    def targets(self):
        urls = sorted(self.stack.dashboard_urls().values())
        return [DashboardTarget(self.HOST, urls[0] if urls else "", service=LEGO, profile=self.profile,
                                unit="deployment/dashboard", stack=self.stack)]

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
