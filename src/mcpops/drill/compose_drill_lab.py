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
    """The Loyalty API's compose lab. Its faults are mcpops.lab.compose.loyalty_faults', and four of the drill's own:
    api-stopped (`compose stop api`: what loyalty-api-down repairs), dead-events (the merchant answered 429 until
    events died in the outbox, then accepts again: what loyalty-outbox-dead resends), server-errors (5xx-storm while the
    drill's users keep calling the API, from the fault to its repair: what LoyaltyApiServerErrors measures and triage
    names) and outbox-backlog (the worker disabled while users earn: over LoyaltyOutboxBacklog's 1000 events wait, what
    loyalty-workers-outbox drains). With the worker disabled, events are made to wait (earn calls). Where a runbook
    judges traffic, the drill sends requests while the runbook runs (during_run): balance reads for slow statements,
    earn calls for webhook deliveries. And db-connections-exhausted: a leaking client (application drill-leaked-pool)
    holds idle sessions to the Loyalty database, over LoyaltyPostgresConnectionsExhausted's threshold (what
    db-connection-exhaustion terminates, as the inventory's pg_login_* superuser)."""

    kind = COMPOSE
    service = LOYALTY
    HOST = "loyalty-compose"  # the inventory's host (LoyaltyLab.inventory_text)
    ALERT_JOB = "loyalty-api"  # its /metrics, as the rules' job= names it (alert_targets)
    DB_ALERT_JOB = "loyalty-postgres"  # postgres_exporter of the lab's PostgreSQL (LoyaltyPostgresConnectionsExhausted's)
    DB_ALERT = "LoyaltyPostgresConnectionsExhausted"
    OWN_FAULTS = ("api-stopped", "dead-events", "server-errors", "outbox-backlog", "db-connections-exhausted")
    # db-connections-exhausted: a leaking client's idle sessions as the loyalty role, held by a process of their own
    # (mcpops.lab.compose.pg_session_holder) until the repair stops it by its PID: 92 of max_connections' 100, over
    # LoyaltyPostgresConnectionsExhausted's 90% of the 97 a non-superuser can get with the API's pool and the exporter
    LEAK_APPLICATION, LEAKED, HOLDER_WAIT = "drill-leaked-pool", 92, 120.0
    TRAFFIC = {"slow-queries": ("GET", "/api/v1/loyalty/balance/drill-traffic"),  # statements in flight to sample
               "webhook-500": ("POST", "/api/v1/loyalty/earn")}                   # deliveries that fail
    EVENTS = 3          # earn calls made while the worker is off or the merchant refuses: events in the outbox
    OUTBOX_WAIT = 90.0  # seconds for the worker to act on them (retries, dead) on a loaded machine
    # outbox-backlog: earn calls while the worker is off, over LoyaltyOutboxBacklog's threshold (pending > 1000), made
    # by a few users at once; the repair waits until the worker delivered them all (the next drill starts clean)
    BACKLOG_THRESHOLD, BACKLOG, BACKLOG_USERS, BACKLOG_WAIT = 1000, 1010, 4, 240.0
    # server-errors: the users' balance reads while the API answers 500 (one every USERS_PAUSE s): the rate of 5xx
    # LoyaltyApiServerErrors measures needs requests, and a 500 of a burst long gone is not a storm
    USERS_PATH, USERS_PAUSE = "/api/v1/loyalty/balance/drill-users", 0.2

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
        self._users = None  # server-errors' traffic (a _traffic block entered at the fault, left at its repair)
        self.db_exporter = None  # LoyaltyPostgresConnectionsExhausted's postgres_exporter (alert_targets)
        self.holder = None  # db-connections-exhausted's session holder (a Popen, stopped by its PID at the repair)

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
        self._stop_users()
        self._release_sessions()
        self.stop_alert_targets()
        return self.recorded.down() if self.recorded is not None else None

    def env(self):
        """The environment of every run against the lab (and of an alert drill's watcher): DOCKER_CONFIG, the lab's
        private docker config dir holding the compose v2 plugin, for the runbooks whose play does not set it from the
        inventory's gateway_compose_docker_config (triage's gateway_service status runs `docker compose`). Not a
        secret."""
        return {"DOCKER_CONFIG": str(self.lab.docker.config_dir)} if self.lab is not None else {}

    def run_vars(self, scenario):
        """What only the lab knows, for a drill without the alert (mcpops.drill.command): db-connection-exhaustion's
        hosts, the lab's host (its play's default group, gateways, is not in the lab's inventory), as the watcher sets
        them to the alert's host (an approver may not)."""
        return {"db_exhaustion_hosts": self.HOST} if scenario.fault == "db-connections-exhausted" else {}

    def targets(self):
        return [Target(self.HOST, self.lab.url, service=LOYALTY, profile=self.profile,
                       api_key_file=self.lab.metrics_token_file, unit="api")]

    def alert_targets(self, scenario):
        """What an alert drill's Prometheus scrapes (mcpops.drill.alert_chain): the API's /metrics, job loyalty-api,
        its metrics token sent as a Bearer key from the lab's token file (Prometheus 2.42 sends no X-Metrics-Token;
        the reference service takes either). For LoyaltyPostgresConnectionsExhausted instead a private
        postgres_exporter of the lab's PostgreSQL, job loyalty-postgres, as the same host, connecting as the superuser
        (a reserved slot: the exhaustion never refuses it), until stop_alert_targets()."""
        from urllib.parse import urlsplit

        from mcpops.drill.alert_chain import AlertTarget

        if scenario is not None and scenario.alert == self.DB_ALERT:
            from mcpops.lab.fixtures.loopback_daemon import DaemonError
            from mcpops.lab.fixtures.postgres_exporter import PostgresExporter
            from mcpops.lab.loopback import free_port

            if self.db_exporter is None:
                try:
                    self.db_exporter = PostgresExporter(free_port(), "127.0.0.1", self.lab.ports["postgres"],
                                                        "loyalty", "postgres",
                                                        self.lab.secret("pg_superuser_password")).start()
                except DaemonError as exc:
                    self.stop_alert_targets()
                    raise DrillError(str(exc)) from None
            return [AlertTarget(self.DB_ALERT_JOB, self.HOST, self.db_exporter.address)]
        return [AlertTarget(self.ALERT_JOB, self.HOST, urlsplit(self.lab.url).netloc,
                            bearer_token_file=str(self.lab.metrics_token_file))]

    def stop_alert_targets(self):
        """postgres_exporter stopped by its PID (the alert drill's finally); what was stopped, or None."""
        if self.db_exporter is None:
            return None
        pid, exporter, self.db_exporter = self.db_exporter.pid, self.db_exporter, None
        exporter.stop()
        return f"postgres_exporter (pid {pid}) stopped by PID"

    def inject(self, target, fault):
        """The fault into the lab (one project, one target); the release serving before it recorded (fault_facts)."""
        self._facts = {"release_before": self.lab.read_env().get("IMAGE_TAG")}
        if fault == "api-stopped":
            self.lab.compose("stop", "api")
            return "api-stopped: injected (compose stop api)"
        if fault == "dead-events":
            return self._dead_events()
        if fault == "server-errors":
            line = self.lab.break_("5xx-storm")
            self._start_users()
            return (f"server-errors: {line}; the drill's users read a balance every {self.USERS_PAUSE:g}s until the "
                    "repair (500 each)")
        if fault == "outbox-backlog":
            return self._outbox_backlog()
        if fault == "db-connections-exhausted":
            return self._hold_sessions()
        line = self.lab.break_(fault)
        if fault == "worker-disabled":
            self._earn("drill-waiting")
            state = self._wait_outbox(lambda s: s["pending"] >= self.EVENTS, "events waiting")
            line += f"; {self.EVENTS} earn calls: {state['pending']} events waiting in the outbox"
        return line

    def _earn(self, prefix, count=None, users=1):
        """count (default EVENTS) earn calls of 1 point, by `users` callers at once; DrillError at the first that
        does not answer 200."""
        from concurrent.futures import ThreadPoolExecutor

        def one(n):
            status, body = self.lab.call("POST", "/api/v1/loyalty/earn", {"customerId": f"{prefix}-{n % 50}",
                                                                          "points": 1})
            return None if status == 200 else f"POST /api/v1/loyalty/earn answered {status}: {body}"

        with ThreadPoolExecutor(max_workers=users) as pool:
            failed = [why for why in pool.map(one, range(self.EVENTS if count is None else count)) if why]
        if failed:
            raise DrillError(f"{failed[0]} ({len(failed)} calls failed)")

    def _outbox_now(self):
        """The outbox's counts (loyalty_outbox's, read from the lab's database: a poll takes milliseconds where
        `compose exec ... loyalty_outbox status` takes a second, so the drill sees a change when Prometheus does)."""
        from mcpops.lab.services.loyalty_outbox import counts

        with self.lab.db() as conn:
            return counts(conn)

    def _wait_outbox(self, condition, what, timeout=None):
        timeout = self.OUTBOX_WAIT if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            state = self._outbox_now()
            if condition(state):
                return state
            if time.monotonic() >= deadline:
                raise DrillError(f"{what}: the outbox still says {state} after {timeout:g}s")
            time.sleep(0.2)

    def _dead_events(self):
        from mcpops.lab.compose.loyalty_faults import heal_merchant

        self.lab.break_("webhook-429")
        self._earn("drill-dead")
        state = self._wait_outbox(lambda s: s["dead"] >= self.EVENTS and s["pending"] == 0, "events dead")
        heal_merchant(self.lab)  # the merchant fixed its side; nothing requeued: that is the runbook's
        return (f"dead-events: injected (the merchant answered 429 until {state['dead']} events died; it accepts "
                "again, nothing requeued)")

    def _outbox_backlog(self):
        """The worker disabled, then users' earn calls up to LoyaltyOutboxBacklog's 1000 waiting events, and the last
        few past it: the backlog crosses the threshold as the fault ends (its time is the alert's detection's start)."""
        self.lab.break_("worker-disabled")
        started = time.monotonic()
        waiting = self._outbox_now()["pending"]
        below = max(0, self.BACKLOG_THRESHOLD - waiting)
        self._earn("drill-backlog", below, self.BACKLOG_USERS)
        self._earn("drill-backlog-last", self.BACKLOG - below if waiting < self.BACKLOG_THRESHOLD else 1)
        state = self._outbox_now()
        return (f"outbox-backlog: injected (WORKERS_ENABLED=0, up -d worker; {self.BACKLOG} earn calls by "
                f"{self.BACKLOG_USERS} users in {time.monotonic() - started:.1f}s: {state['pending']} events waiting "
                "in the outbox)")

    def _hold_sessions(self):
        """The session holder started (a session of its own, our child), waited for until it holds LEAKED sessions."""
        import subprocess
        import sys
        import tempfile

        if self.holder is not None and self.holder.poll() is None:
            raise DrillError(f"a session holder (pid {self.holder.pid}) runs already")
        status_file = Path(tempfile.mkdtemp(prefix="mcpops-pg-holder-")) / "status.json"
        params = {"host": "127.0.0.1", "port": self.lab.ports["postgres"], "user": "loyalty", "dbname": "loyalty",
                  "password": self.lab.secret("db_password"), "count": self.LEAKED,
                  "application": self.LEAK_APPLICATION}
        self.holder = subprocess.Popen([sys.executable, "-m", "mcpops.lab.compose.pg_session_holder", "--status-file",
                                        str(status_file)], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL, start_new_session=True)
        self.holder.stdin.write(json.dumps(params).encode())
        self.holder.stdin.close()
        deadline = time.monotonic() + self.HOLDER_WAIT
        try:
            while not status_file.exists():
                if self.holder.poll() is not None or time.monotonic() >= deadline:
                    raise DrillError(f"the session holder (pid {self.holder.pid}) held no sessions "
                                     f"(exit {self.holder.poll()})")
                time.sleep(0.2)
            status = json.loads(status_file.read_text())
        finally:
            import shutil

            shutil.rmtree(status_file.parent, ignore_errors=True)
        if status.get("error"):
            self._release_sessions()
            raise DrillError(f"the session holder held {status.get('held')} sessions: {status['error']}")
        return (f"db-connections-exhausted: injected ({status['held']} idle sessions of {self.LEAK_APPLICATION} as "
                f"loyalty, held by pid {self.holder.pid})")

    def _release_sessions(self):
        """The session holder stopped by its PID (it closes what it still holds); the PID, or None."""
        from mcpops.lab.pids import stop_child

        holder, self.holder = self.holder, None
        if holder is None:
            return None
        stop_child(holder, 15)
        return holder.pid

    def leaked_sessions(self):
        """Client sessions of LEAK_APPLICATION in pg_stat_activity, asked as the superuser (None: no answer)."""
        import psycopg

        try:
            with self.lab.db(superuser=True) as conn:
                return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                                    (self.LEAK_APPLICATION,)).fetchone()[0]
        except psycopg.Error:
            return None

    def _start_users(self):
        if self._users is None:
            self._users = _traffic(self.lab.url + self.USERS_PATH, "GET", workers=1, pause=self.USERS_PAUSE)
            self._users.__enter__()

    def _stop_users(self):
        users, self._users = self._users, None
        if users is not None:
            users.__exit__(None, None, None)

    def repair(self, target, fault):
        """Undo a fault the runbook did not (a read-only runbook's, or after a denial): loyalty_faults' repair, or
        `compose start api`; server-errors' users stop first; outbox-backlog's events are delivered before it returns
        (a drill leaves the lab as it found it: nothing pending for the next one)."""
        if fault == "api-stopped":
            self.lab.compose("up", "-d", "--pull", "never", "api")
            self.lab.wait_ready()
            return "api-stopped: repaired (compose up -d api)"
        if fault == "server-errors":
            self._stop_users()
            return f"server-errors: the drill's users stopped; {self.lab.repair('5xx-storm')}"
        if fault == "db-connections-exhausted":
            pid = self._release_sessions()
            return (f"db-connections-exhausted: the session holder (pid {pid}) stopped by PID; "
                    f"{self.leaked_sessions()} sessions of {self.LEAK_APPLICATION} left")
        if fault == "outbox-backlog":
            line = self.lab.repair("worker-disabled")
            state = self._wait_outbox(lambda s: s["pending"] == 0, "the backlog delivered", self.BACKLOG_WAIT)
            return f"outbox-backlog: {line}; the worker delivered the backlog (outbox pending {state['pending']})"
        return self.lab.repair("webhook-429" if fault == "dead-events" else fault)

    def fault_facts(self, fault):
        return dict(self._facts)

    def symptom_check(self, target, symptom, facts, run_output=""):
        """One of checks.COMPOSE_SYMPTOMS on this lab (mcpops.drill.compose_checks); run_output: what the run printed
        (a read-only runbook's symptom reads the bundle it names)."""
        from mcpops.drill.compose_checks import compose_symptom_check

        if symptom == "leaked_sessions_terminated":  # one of checks.LEGO_SYMPTOMS, here on the Loyalty database
            from mcpops.drill.check import Check

            left, ready = self.leaked_sessions(), self.lab.get("/ready")[0]
            return Check(symptom, left == 0 and ready == 200, f"{left} sessions of {self.LEAK_APPLICATION} left in "
                                                              f"pg_stat_activity; the API's /ready {ready}", target.name)
        return compose_symptom_check(self, target, symptom, facts, run_output)

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


def _traffic(url, method="GET", workers=2, pause=None):
    """Requests to url in a loop from `workers` threads until the block ends (answers and errors ignored: it is
    load), each thread waiting `pause` seconds between them (default 0.05 s a GET, 0.3 s a POST); a POST is an earn
    call of 1 point for one of five drill customers."""
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
                stop.wait(pause if pause is not None else 0.05 if method == "GET" else 0.3)

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
