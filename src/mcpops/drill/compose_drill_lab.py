"""The drill's adapter for the Loyalty API's compose lab (mcpops.lab.compose, `--lab compose`): a private dockerd and
the compose project, found running in its state dir (`mcpops lab up --platform compose`) or started by the drill, or a
LoyaltyLab someone else runs (the tests' session lab); one target, the API; the inventory the lab writes
(<lab dir>/inventory.yml, no secret in it). The other labs' adapters are in mcpops.drill.lab_adapters."""

import json
import time
from pathlib import Path

from mcpops.drill.lab_adapters import Target
from mcpops.drill.scenarios import COMPOSE, LOYALTY, DrillError


class ComposeDrillLab:
    """The Loyalty API's compose lab. Its faults are mcpops.lab.compose.loyalty_faults', and two of the drill's own:
    api-stopped (`compose stop api`: what loyalty-api-down repairs) and dead-events (the merchant answered 429 until
    events died in the outbox, then accepts again: what loyalty-outbox-dead resends). With the worker disabled, events
    are made to wait (earn calls). Where a runbook judges traffic, the drill sends requests while the runbook runs
    (during_run): balance reads for slow statements, earn calls for webhook deliveries."""

    kind = COMPOSE
    service = LOYALTY
    HOST = "loyalty-compose"  # the inventory's host (LoyaltyLab.inventory_text)
    ALERT_JOB = "loyalty-api"  # its /metrics, as the rules' job= names it (alert_targets)
    OWN_FAULTS = ("api-stopped", "dead-events")
    TRAFFIC = {"slow-queries": ("GET", "/api/v1/loyalty/balance/drill-traffic"),  # statements in flight to sample
               "webhook-500": ("POST", "/api/v1/loyalty/earn")}                   # deliveries that fail
    EVENTS = 3          # earn calls made while the worker is off or the merchant refuses: events in the outbox
    OUTBOX_WAIT = 90.0  # seconds for the worker to act on them (retries, dead) on a loaded machine

    def __init__(self, state_dir=None, inventory=None, lab=None):
        """lab: a LoyaltyLab already up (used as it is, never downed by the drill); else the state dir's lab."""
        from mcpops.drill.profiles import load_profile
        from mcpops.lab.compose.loyalty_lab import LoyaltyLabError
        from mcpops.lab.compose.recorded_lab import RecordedComposeLab

        self.lab = lab
        self.recorded = None if lab is not None else RecordedComposeLab(state_dir, out=print)
        if inventory is not None:
            try:
                own = (self.lab or self.recorded.attach()).inventory_path.resolve()
            except LoyaltyLabError:
                own = None
            if own is None or Path(inventory).expanduser().resolve() != own:
                own = own or "<lab dir>/inventory.yml, written when the drill starts the lab"
                raise DrillError(f"inventory {inventory} is not the compose lab's ({own}): a drill breaks things and "
                                 "runs on its own lab only")
        self.profile = load_profile(LOYALTY)
        self.started = False
        self._facts = {}

    @property
    def inventory(self):
        return self.lab.inventory_path

    def faults(self):
        from mcpops.lab.compose.loyalty_faults import FAULTS

        return tuple(FAULTS) + self.OWN_FAULTS

    def up(self):
        """The lab ready: the one given, else the state dir's running one, else a new one (started: the drill downs
        it). Its /ready must answer 200 before anything is broken."""
        from mcpops.lab.compose.loyalty_lab import LoyaltyLabError

        try:
            if self.lab is None:
                result = self.recorded.up()
                self.started = result["started"]
                self.lab = self.recorded.attach()
            self.lab.wait_ready()
        except LoyaltyLabError as exc:
            raise DrillError(f"compose lab up: {exc}") from None
        return {"started": self.started}

    def down(self):
        return self.recorded.down() if self.recorded is not None else None

    def env(self):
        return {}

    def targets(self):
        return [Target(self.HOST, self.lab.url, service=LOYALTY, profile=self.profile,
                       api_key_file=self.lab.metrics_token_file, unit="api")]

    def alert_targets(self, scenario):
        """What an alert drill's Prometheus scrapes (mcpops.drill.alert_chain): the API's /metrics, job loyalty-api,
        its metrics token sent as a Bearer key from the lab's token file (Prometheus 2.42 sends no X-Metrics-Token;
        the reference service takes either)."""
        from urllib.parse import urlsplit

        from mcpops.drill.alert_chain import AlertTarget

        return [AlertTarget(self.ALERT_JOB, self.HOST, urlsplit(self.lab.url).netloc,
                            bearer_token_file=str(self.lab.metrics_token_file))]

    def inject(self, target, fault):
        """The fault into the lab (one project, one target); the release serving before it recorded (fault_facts)."""
        self._facts = {"release_before": self.lab.read_env().get("IMAGE_TAG")}
        if fault == "api-stopped":
            self.lab.compose("stop", "api")
            return "api-stopped: injected (compose stop api)"
        if fault == "dead-events":
            return self._dead_events()
        line = self.lab.break_(fault)
        if fault == "worker-disabled":
            self._earn("drill-waiting")
            state = self._wait_outbox(lambda s: s["pending"] >= self.EVENTS, "events waiting")
            line += f"; {self.EVENTS} earn calls: {state['pending']} events waiting in the outbox"
        return line

    def _earn(self, prefix):
        for n in range(self.EVENTS):
            status, body = self.lab.call("POST", "/api/v1/loyalty/earn", {"customerId": f"{prefix}-{n}", "points": 1})
            if status != 200:
                raise DrillError(f"POST /api/v1/loyalty/earn answered {status}: {body}")

    def _wait_outbox(self, condition, what):
        deadline = time.monotonic() + self.OUTBOX_WAIT
        while True:
            state = self.lab.outbox()
            if condition(state):
                return state
            if time.monotonic() >= deadline:
                raise DrillError(f"{what}: the outbox still says {state} after {self.OUTBOX_WAIT:g}s")
            time.sleep(0.5)

    def _dead_events(self):
        from mcpops.lab.compose.loyalty_faults import heal_merchant

        self.lab.break_("webhook-429")
        self._earn("drill-dead")
        state = self._wait_outbox(lambda s: s["dead"] >= self.EVENTS and s["pending"] == 0, "events dead")
        heal_merchant(self.lab)  # the merchant fixed its side; nothing requeued: that is the runbook's
        return (f"dead-events: injected (the merchant answered 429 until {state['dead']} events died; it accepts "
                "again, nothing requeued)")

    def repair(self, target, fault):
        """Undo a fault the runbook did not (a read-only runbook's): loyalty_faults' repair, or `compose start api`."""
        if fault == "api-stopped":
            self.lab.compose("up", "-d", "--pull", "never", "api")
            self.lab.wait_ready()
            return "api-stopped: repaired (compose up -d api)"
        return self.lab.repair("webhook-429" if fault == "dead-events" else fault)

    def fault_facts(self, fault):
        return dict(self._facts)

    def symptom_check(self, target, symptom, facts):
        """One of checks.COMPOSE_SYMPTOMS on this lab (mcpops.drill.compose_checks)."""
        from mcpops.drill.compose_checks import compose_symptom_check

        return compose_symptom_check(self, target, symptom, facts)

    def service_state(self, target):
        state, code = self.lab.states().get(target.unit) or (None, None)
        return f"{state or 'no container'}" + (f" (last exit {code})" if state not in (None, "running") else "")

    def during_run(self, scenario):
        """A context for the runbook's run: business requests two at a time while it runs, for a fault the runbook
        sees only in traffic; else nothing."""
        import contextlib

        if scenario.fault not in self.TRAFFIC:
            return contextlib.nullcontext()
        method, path = self.TRAFFIC[scenario.fault]
        return _traffic(self.lab.url + path, method)


def _traffic(url, method="GET", workers=2):
    """Requests to url in a loop from `workers` threads until the block ends (answers and errors ignored: it is
    load); a POST is an earn call of 1 point for one of five drill customers."""
    import contextlib
    import itertools
    import threading
    import urllib.request

    @contextlib.contextmanager
    def running():
        stop = threading.Event()
        counter = itertools.count()

        def loop():
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            while not stop.is_set():
                data = None
                if method == "POST":
                    data = json.dumps({"customerId": f"drill-traffic-{next(counter) % 5}", "points": 1}).encode()
                request = urllib.request.Request(url, data=data, method=method,
                                                 headers={"Content-Type": "application/json"})
                with contextlib.suppress(OSError):
                    opener.open(request, timeout=5).read()
                stop.wait(0.05 if method == "GET" else 0.3)

        threads = [threading.Thread(target=loop, daemon=True) for _ in range(workers)]
        for thread in threads:
            thread.start()
        try:
            yield
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=10)

    return running()
