"""The drill table: which runbook can be rehearsed with which lab fault, what the drill passes to it, and
which symptom must be gone (or named) afterwards.

A drill (`mcpops drill <runbook>`) breaks a lab the way production breaks, runs the runbook through the
same code as `mcpops run`, then checks the lab (mcpops.drill.checks). A read-only runbook cannot make a
symptom go: its drill expects the run to end red (exit 2) and checks that the run's output names the
fault instead.

Plain data and pure functions (tests/unit/mcpops/drill/test_scenarios.py); the checks live in
mcpops.drill.checks, talking to a lab in mcpops.drill.lab_adapters, the sequence in mcpops.drill.command.

A scenario is for one or more services (`mcpops drill --service`, default the 1C gateway): the 1C gateway on
either lab, CCTelegram MCP (cctelegram-mcp) on the fleet lab only, ConnectorMCP (connector-mcp) on the local lab
only (`mcpops lab up --service connector-mcp`: two backend instances behind nginx, MariaDB, Redis), the Loyalty API
(loyalty-api) on the compose lab only (`--lab compose`: a private dockerd and the compose project). Its fault goes
into every target, or into the first one only (`targets="first"`: one host of the fleet broken, the others
healthy), or into the lab once (`targets="lab"`: a ConnectorMCP fault is the lab's, it chooses the instances it
breaks; every instance is a target and is checked).
"""

from dataclasses import dataclass, field

LOCAL, FLEET, COMPOSE = "local", "fleet", "compose"
KUBERNETES = "kubernetes"  # the LEGO MCP lab on its own control plane (`mcpops lab up --platform kubernetes`)
LABS = (LOCAL, FLEET, COMPOSE, KUBERNETES)
ONEC, CCTELEGRAM, CONNECTOR = "onec-gateway", "cctelegram-mcp", "connector-mcp"  # profiles/<name>.yml
LOYALTY = "loyalty-api"
LEGO = "lego-mcp"
SERVICES = (ONEC, CCTELEGRAM, CONNECTOR, LOYALTY, LEGO)
DEFAULT_SERVICE = ONEC
# The services each lab can run for a drill (the local lab: `mcpops lab up [--service connector-mcp]`; the fleet:
# `mcpops fleet up --service`).
LAB_SERVICES = {LOCAL: (ONEC, CONNECTOR), FLEET: (ONEC, CCTELEGRAM), COMPOSE: (LOYALTY,), KUBERNETES: (LEGO,)}
ALL, FIRST, LAB = "all", "first", "lab"              # Scenario.targets: which targets get the fault (LAB: the lab,
                                                     # once; every target is checked)
OTHERS = "others"  # Scenario.healthy_after: only the targets the fault did not go into must be healthy (a drained one
                   # stays broken behind the load balancer until someone fixes it)
STORM_SOURCE = "127.0.0.77"  # the connector lab's rate-limit-storm comes from this loopback address


class DrillError(Exception):
    """The drill cannot start (nothing was started); the message is one line."""


@dataclass(frozen=True)
class Scenario:
    """One way to drill a runbook: the fault injected into every target, and what is checked after."""

    fault: str
    symptom: str                       # the check that proves the fault's symptom gone (or named): checks.SYMPTOMS
    extra_vars: dict = field(default_factory=dict)
    labs: tuple = (LOCAL, FLEET)       # where the lab has this fault
    backup_first: bool = False         # take a backup before breaking, as the nightly one would be
    expect_exit: int = 0               # 0: the runbook repairs; 2: a read-only runbook ends red naming it
    healthy_after: bool = True         # the gateway must answer /healthz and /readyz after the run (a service:
                                       # its profile's liveness and readiness checks)
    why: str = ""                      # one line for drill.md: what the drill rehearses
    services: tuple = (ONEC,)          # the services (profile names) this scenario drills
    targets: str = ALL                 # ALL: the fault into every target; FIRST: into the first only; LAB: into
                                       # the lab once
    undo_vars: dict = None             # after the checks, the runbook runs again with these extra vars to undo
                                       # what it did that would outlive the drill (a block at the load balancer)
    alert: str = None                  # the alert (extensions/prometheus/rules) this fault fires on its lab:
                                       # `mcpops drill --via-alert` lets it start the runbook (mcpops.drill.alert_drill)
    standby: int = 0                   # a fleet's standby hosts (`mcpops fleet up --standby N`: booted, units
                                       # stopped, outside the load balancer) the runbook may start
    guard_wait: float = 0              # 0: the runbook repairs. >0: the runbook installs a guard (a timer); the fault
                                       # goes in after the run and the checks wait up to this many seconds for the
                                       # guard to repair it
    issued_tokens: int = 0             # tokens the runbook issues (INC-002: one for the failing token's client): the
                                       # tokens check wants exactly that many added, none lost or flipped


DRILLS = {
    "inc-001-gateway-down": (
        Scenario("stop", "service_running", why="the gateway is down: INC-001 restarts it and waits for health",
                 alert="OnecGatewayDown"),
        Scenario("crash", "service_running",
                 why="the gateway was killed and its supervisor restarted it: INC-001 finds it healthy"),
        Scenario("corrupt-store", "store_parses", {"escalate_to_restore": True}, backup_first=True,
                 why="a crash loop on corrupt data: INC-001 captures the logs and escalates to INC-003"),
    ),
    "inc-003-restore": (
        Scenario("corrupt-store", "store_parses", backup_first=True,
                 why="invalid JSON in tokens.json: restore the newest valid backup"),
        Scenario("bad-migration", "schema_supported", backup_first=True,
                 why="a migration the binary does not know: restore the newest valid backup"),
        Scenario("corrupt-store-live", "store_parses", backup_first=True, labs=(LOCAL,),
                 alert="OnecGatewayStorageNotReady",
                 why="tokens.json no longer parses under the running gateway (/readyz fails, /metrics still served): "
                     "restore the newest valid backup"),
    ),
    "inc-002-auth-failures": (
        Scenario("auth-spike", "token_reissued", labs=(LOCAL,), issued_tokens=1, alert="OnecGatewayAuthFailures",
                 why="a revoked ci-bot token keeps calling /mcp (403) and an unknown secret too (401): INC-002 revokes "
                     "the failing token and issues its client a new one, the secret in a 0600 file under the runs dir"),
    ),
    "inc-004-upstream-degraded": (
        Scenario("upstream-down", "named_upstream", labs=(LOCAL,), expect_exit=2, alert="OnecUpstreamDown",
                 why="the 1C OData upstream answers 500: the read-only runbook must say it is the upstream"),
        Scenario("cert-expiring", "named_certificate", labs=(LOCAL,), expect_exit=2,
                 why="the upstream's certificate has 5 days left: the runbook must say it is the certificate"),
    ),
    "inc-005-rate-limit": (
        Scenario("rate-storm", "rate_limited", {"rate_limit": 2}, labs=(LOCAL,),
                 why="a ci-bot token storms the gateway into 429s: INC-005 lowers that token's rateLimit",
                 alert="OnecGatewayRateLimited"),
    ),
    "backup-scheduled": (
        Scenario("stale-backup", "backup_fresh", labs=(LOCAL,), alert="OnecGatewayBackupStale",
                 why="the newest backup is 30 h old (the nightly backup stopped): backup-scheduled takes one and the "
                     "gateway's onec_gateway_last_backup_timestamp_seconds is fresh again"),
        Scenario("no-backup", "backup_fresh", labs=(LOCAL,), alert="OnecGatewayNoBackup",
                 why="the gateway lists no backup at all (its backups moved away: onec_gateway_backups 0): "
                     "backup-scheduled takes one, a restore point for INC-003 again"),
    ),
    # Read-only, it ends red when it finds something: started by the 5xx alert at once
    "health-check": (
        Scenario("usage-log-unwritable", "named_server_errors", labs=(LOCAL,), expect_exit=2,
                 alert="OnecGatewayServerErrors",
                 why="the gateway cannot append its usage log (a link to a log volume that is not there) and answers "
                     "a client's tool calls 500 while /healthz and /readyz pass: the health check must end red "
                     "naming the MCP call answered 5xx"),
    ),
    "cert-renewal": (
        Scenario("gateway-cert-expiring", "certificate_renewed", labs=(LOCAL,), alert="OnecGatewayCertificateExpiring",
                 why="the gateway's TLS endpoint serves a certificate with 5 days left: the drill plays the CA (a new "
                     "90-day pair from the lab's test CA, mcpops.drill.cert_drill) and cert-renewal installs it, "
                     "reloads the endpoint and verifies the new one is served"),
    ),
    # Read-only: the alert starts it at once; it ends green whatever it finds, its bundle must name the fault
    "triage": (
        Scenario("not-ready", "bundle_names_index", labs=(LOCAL,), healthy_after=False,
                 alert="OnecGatewayIndexNotReady",
                 why="index/ is missing (moved aside): /readyz fails its index check; triage's bundle must show it"),
        Scenario("server-errors", "bundle_api_5xx", {"triage_hosts": "loyalty_api"}, labs=(COMPOSE,),
                 services=(LOYALTY,), alert="LoyaltyApiServerErrors",
                 why="every business request of the Loyalty API answers 500 while its users keep calling (the drill's "
                     "balance reads until the repair): triage's bundle must list those 5xx among the last errors"),
        # CCTelegram on the fleet: the bundle of the host the alert named names the fault (mcpops.drill.fleet_checks)
        Scenario("server-errors", "bundle_cctelegram_5xx", labs=(FLEET,), services=(CCTELEGRAM,), targets=FIRST,
                 alert="CctelegramServerErrors",
                 why="every tool call of one CCTelegram host answers 500 (TelegramConnectionError) under its clients' "
                     "steady calls: triage's bundle of that host must count those errors by their type"),
        Scenario("auth-failures", "bundle_cctelegram_auth_failures", labs=(FLEET,), services=(CCTELEGRAM,),
                 targets=FIRST, alert="CctelegramSecurityEvents",
                 why="a client with a stale API key calls one CCTelegram host twice a second (401, a SECURITY line "
                     "each): triage's bundle of that host must count the auth failures of that client's address"),
    ),
    "rolling-restart": (
        Scenario("not-ready", "named_gate", {"health_retries": 5}, labs=(LOCAL,), expect_exit=2, healthy_after=False,
                 why="a host that does not come back ready: the rollout must stop at it"),
        Scenario("bridge-down", "unit_restarted", labs=(FLEET,), services=(CCTELEGRAM,), targets=FIRST,
                 why="one CCTelegram host's bridge is down (its /health 503): the rollout restarts every host, the "
                     "restart brings the bridge back, and every host is healthy"),
    ),
    # Through their alerts (--via-alert, issue 21) both run on the one host the alert names (outage_hosts)
    "service-outage": (
        Scenario("bridge-down", "unit_restarted", {"remedy": "restart"}, labs=(FLEET,), services=(CCTELEGRAM,),
                 targets=FIRST, alert="CctelegramBridgeDown",
                 why="one of three CCTelegram hosts is broken (its bridge stopped, /health 503): the outage runbook "
                     "assesses every host, restarts them, and every host is healthy again"),
        Scenario("stop", "unit_restarted", {"remedy": "restart"}, labs=(FLEET,), services=(CCTELEGRAM,),
                 targets=FIRST, alert="CctelegramDown",
                 why="one of three CCTelegram hosts is stopped (its /metrics does not answer): the outage runbook "
                     "assesses, restarts it, and every host is healthy again"),
    ),
}

# CCTelegram (seed 002, issue 19) on the fleet's full stack: 3 hosts behind nginx, Prometheus, the Telegram stand-in
# (tests/fleet/test_cctelegram_p0.py, test_cctelegram_bridge_recovery.py and test_cctelegram_auto_recovery.py are the
# spec of each: the fault, the extra vars, what the playbook must change). One broken host of three unless the fault
# is the load balancer's.
_CCT = dict(labs=(FLEET,), services=(CCTELEGRAM,), targets=FIRST)
# Step 4's checks through the load balancer: 3, a second apart (the seed's 10 five seconds apart is a minute of waiting)
_P0_VERIFY = {"verify_checks": 3, "verify_delay": 1}
DRILLS.update({
    "cctelegram-p0-response": (
        Scenario("stop", "unit_restarted", {"mitigation": "restart", **_P0_VERIFY}, **_CCT,
                 why="one of three CCTelegram hosts is stopped: P0 option A restarts the failing instance behind the "
                     "health gate and verifies through the load balancer"),
        Scenario("unhealthy", "rerouted", {"mitigation": "reroute", **_P0_VERIFY}, **_CCT, healthy_after=OTHERS,
                 why="one of three hosts answers /health 503: P0 option B drains it at nginx; the load balancer "
                     "answers 200 from the two healthy ones (the drained host stays broken until it is fixed)"),
        Scenario("bad-release", "rolled_back", {"mitigation": "rollback", **_P0_VERIFY}, **_CCT,
                 why="release 2.5.0, which exits at start, is deployed on one host: P0 option C puts releases/current "
                     "back on the release before it and restarts the service"),
        Scenario("traffic-spike", "standby_serving", {"mitigation": "scale", "scale_count": 1, **_P0_VERIFY},
                 **dict(_CCT, targets=LAB), standby=1,
                 why="a burst of 300 requests through nginx from one client meets the rate limit: P0 option D starts "
                     "the standby host and adds it to the upstream"),
    ),
    "cctelegram-bridge-recovery": (
        Scenario("bridge-down", "bridge_restarted", {"bridge_wait": 6}, **_CCT,
                 why="one host's bridge is stopped (/health 503): the API restart is only a request nothing acts on, "
                     "so the runbook goes on to the unit restart, and the bridge runs again"),
        Scenario("bridge-hung", "bridge_restarted", {"remedy": "cleanup", "cleanup_grace": 2}, **_CCT,
                 why="one host's bridge is hung (SIGSTOP: systemd says active, nothing answers): the clean-up stops "
                     "the unit, ends what is left in its own cgroup and starts it"),
    ),
    "cctelegram-auto-recovery": (
        Scenario("stop", "timer_restarted", {"interval": "2s"}, **_CCT, guard_wait=90,
                 undo_vars={"auto_recovery_state": "absent"},
                 why="the runbook installs the auto-recovery timer (every 2 s); then one host's service is stopped and "
                     "the timer's next run restarts it (and, after the checks, the timer is removed again)"),
    ),
    "cctelegram-p1-response": (
        Scenario("memory-leak", "unit_restarted", {"resolve": "restart", "memory_growth_mb": 32,
                                                   "error_threshold": 1000000, "contain_connections": 8},
                 **_CCT, undo_vars={"contain_connections": 8, "contain_revert": True},
                 alert="MemoryLeakDetection",
                 why="one host's memory leaks: P1 investigates, names it from Prometheus' memory growth, lowers the "
                     "concurrent connections a client may hold at nginx (limit_conn 8), restarts that host behind the "
                     "health gate (the memory comes back); after the checks the containment is reverted"),
        # the memory criterion out of the way (999999 MB): the host is named by its ERROR lines alone
        Scenario("wedged", "unit_restarted", {"resolve": "restart", "memory_growth_mb": 999999, "error_threshold": 20},
                 **_CCT, alert="ConsecutiveErrors",
                 why="one host's process is wedged: every tool call answers 500 under its clients' steady calls until "
                     "it restarts; P1 names it by its ERROR lines and restarts it behind the health gate"),
    ),
    "cctelegram-post-incident-validation": (
        Scenario("stop", "named_unhealthy_instance", {"timed_requests": 20, "load_requests": 20}, **_CCT,
                 expect_exit=2, healthy_after=OTHERS,
                 why="after an incident one host is left stopped: the post-incident validation (read-only) must end "
                     "FAIL naming that host while the others pass"),
    ),
})

# ConnectorMCP (seed 004, issue 16): the playbooks' failure modes on the connector lab, each with the lab fault and
# the extra vars that make the playbook repair it (tests/integration/playbooks/test_connector_playbooks.py is the
# spec of each). Every instance must pass its profile's liveness and deep checks afterwards.
_CONNECTOR = dict(services=(CONNECTOR,), labs=(LOCAL,), targets=LAB)
# memory-leak: backend-1 leaks until its RSS passes the lab's MEMORY_WARN_MB (128 MB,
# mcpops.lab.local.service_catalog.CONNECTOR_LAB_ENV); a limit of 150 MB restarts from 80 % = 120 MB: the leaking
# instance is over it, an idle instance (a Python process with PyMySQL and redis-py: about 40 MB) far under it.
CONNECTOR_MEMORY_LIMIT_MB = 150
DRILLS.update({
    "connector-db-connections": (
        Scenario("pool-exhausted", "exhausted_restarted", **_CONNECTOR,
                 why="backend-1 leaks pool connections until its pool is exhausted (503, PoolExhausted): the runbook "
                     "restarts that instance only"),
        Scenario("mysql-max-connections", "idle_sessions_killed", {"kill_idle_for": "1s", "kill_users": ["filler"]},
                 **_CONNECTOR, alert="ConnectorMysqlConnectionsHigh",
                 why="MariaDB's max_connections taken by idle sessions of a `filler` user: the runbook kills that "
                     "user's idle sessions; started by its alert (mysqld_exporter sees every connection taken), on "
                     "backend-1"),
    ),
    "connector-connector-failures": (
        Scenario("datasource-failing", "breakers_closed", {"breaker_wait": 0}, **_CONNECTOR,
                 why="tool calls to slack fail until every instance's slack breaker opens: the runbook restarts the "
                     "instances whose breakers stay open, one at a time"),
    ),
    "connector-rate-limits": (
        Scenario("rate-limit-storm", "storm_blocked", {"block_ips": [STORM_SOURCE]}, **_CONNECTOR,
                 undo_vars={"block_ips": [STORM_SOURCE], "unblock": True},
                 why=f"400 requests through nginx from {STORM_SOURCE} hit the rate limit: the runbook blocks that "
                     "address at nginx (and, after the checks, unblocks it again)"),
    ),
    "connector-oauth-states": (
        Scenario("oauth-states-expired", "expired_states_gone", **_CONNECTOR,
                 why="5,000 expired OAuth states in connectorMCP.oauth_states: the runbook deletes them in batches"),
        Scenario("clock-skew", "named_skew", {"cleanup": False}, **_CONNECTOR, expect_exit=2,
                 why="backend-2's clock is 15 minutes ahead, so a state it starts is refused by the next instance: "
                     "the runbook must end red naming backend-2"),
    ),
    "connector-high-memory": (
        Scenario("memory-leak", "memory_released", {"memory_limit_mb": CONNECTOR_MEMORY_LIMIT_MB}, **_CONNECTOR,
                 why="backend-1 leaks memory past MEMORY_WARN_MB: the runbook restarts the instance over 80 % of "
                     f"{CONNECTOR_MEMORY_LIMIT_MB} MB, and that one only"),
    ),
    "connector-restart": (
        Scenario("stop", "instances_restarted", **_CONNECTOR, alert="ConnectorMcpHealthFailing",
                 why="backend-1 is stopped: the graceful restart restarts every instance behind the health gate; "
                     "started by its alert (backend-1's /api/health probe fails), on backend-1 alone"),
    ),
    "connector-rollback": (
        Scenario("bad-deploy", "release_rolled_back", **_CONNECTOR,
                 why="release 1.0.1 with a defect is deployed on every instance (/api/health 503): the runbook puts "
                     "releases/current back on the release before and restarts every instance"),
    ),
})

# Runbooks with no lab fault to rehearse them with, and why (the refusal says it in one line). A runbook that is
# in DRILLS too is drillable in part only: its line says what still is not, for the service or lab that has no drill.
NOT_DRILLABLE = {
    "inc-006-secret-leak": "it rotates the admin token and revokes a whole org; rehearse it on a lab you then drop",
    "db-connection-exhaustion": "it is drilled on LEGO MCP's PostgreSQL (--lab kubernetes) and the Loyalty API's "
                                "(--lab compose) only; the 1C gateway's labs have no PostgreSQL behind the gateway",
    "pg-backup-verify": "the labs have no PostgreSQL dumps to verify",
    "lego-shift-handover": "it is read-only and ends green whatever the shift's runs and findings say (a failed run "
                           "is a line of the handover, not a failure); rehearsed by "
                           "tests/integration/lego/test_lego_daily_operations.py",
    "service-outage": "only its restart remedy is drilled, on a fleet of cctelegram-mcp hosts (--fleet 3 --service "
                      "cctelegram-mcp); its rollback and scale remedies are drilled where they belong, by "
                      "loyalty-api-down on the compose lab and lego-service-outage on the Kubernetes lab, and the 1C "
                      "gateway's outage is rehearsed with inc-001-gateway-down",
    "connector-db-backup": "nothing breaks: it is a scheduled backup; rehearsed by "
                           "tests/integration/playbooks/test_connector_playbooks.py (before connector-db-recovery)",
    "connector-db-recovery": "its recovery point is a time the operator chooses, after a backup and before the bad "
                             "writes; rehearsed by tests/integration/playbooks/test_connector_playbooks.py",
    "connector-scale-out": "nothing breaks: it adds standby instances (inventory group connector_standby) behind "
                           "nginx when the load calls for it, and the drill's inventory of the connector lab has none",
    "connector-log-analysis": "it is read-only and ends green whatever it finds, so there is nothing to repair and no "
                              "failure to name; rehearsed by tests/integration/playbooks/test_connector_playbooks.py",
    # CCTelegram's read-only and notification runbooks (issue 19): nothing to break and repair.
    "cctelegram-stakeholder-notify": "nothing breaks: it posts an incident update to the status page, chat and "
                                     "webhooks; rehearsed by tests/integration/playbooks/"
                                     "test_cctelegram_stakeholder_notify.py against loopback receivers",
    "cctelegram-performance-analysis": "it is a read-only analysis of a past window from Prometheus; rehearsed by "
                                       "tests/integration/playbooks/test_cctelegram_prometheus_playbooks.py",
    "cctelegram-capacity-report": "nothing breaks: it is a scheduled read-only report; rehearsed by "
                                  "tests/integration/playbooks/test_cctelegram_prometheus_playbooks.py",
    "cctelegram-diagnostics": "it is read-only and ends green whatever it finds (an unreachable host is reported, "
                              "not a failure); rehearsed by tests/fleet/test_cctelegram_diagnostics.py",
    "cctelegram-log-analysis": "it is read-only and ends green whatever it finds, so there is nothing to repair and "
                               "no failure to name; rehearsed by tests/fleet/test_cctelegram_diagnostics.py",
    "cctelegram-lb-recovery": "nothing breaks: it adjusts, drains and restores nginx's upstream on request; rehearsed "
                              "by tests/fleet/test_cctelegram_p1.py",
    "cctelegram-db-recovery": "the CCTelegram fleet has no PostgreSQL; rehearsed against a private cluster by "
                              "tests/integration/playbooks/test_cctelegram_db_recovery.py",
    # The Loyalty API's compose runbooks (issue 17) that repair nothing: the others are drilled on the compose lab.
    "loyalty-backup": "nothing breaks: it creates, verifies or restores a backup on request; rehearsed on the compose "
                      "lab by tests/integration/compose/test_loyalty_playbooks_changes.py",
    "loyalty-release": "nothing breaks: it releases a tag on request (a bad release stopping at its smoke gate is "
                       "rehearsed by tests/integration/compose/test_loyalty_playbooks_changes.py; its repair is "
                       "`mcpops drill loyalty-rollback --lab compose`)",
}


# The Loyalty API (seed 003, issue 17) on the compose lab (`mcpops drill <runbook> --lab compose`: a private dockerd
# and the compose project, mcpops.lab.compose): the faults of mcpops.lab.compose.loyalty_faults and the drill's own
# (api-stopped, dead-events: compose_drill_lab.ComposeDrillLab), each with the extra vars of the playbook tests in
# tests/integration/compose/.
_LOYALTY = dict(labs=(COMPOSE,), services=(LOYALTY,))
# the seed's minute of metrics is a long drill: a few seconds of the drill's own traffic fill the window
_LOYALTY_SLOW = {"metrics_window": 3, "sample_seconds": 10}  # a deadline: sampling stops at the first slow one
_LOYALTY_QUICK = {"metrics_window": 3, "log_lines": 20}
DRILLS.update({
    "loyalty-api-down": (
        Scenario("api-stopped", "api_running", {"log_lines": 20}, **_LOYALTY, alert="LoyaltyApiDown",
                 why="the api container is stopped while the DB and Redis answer: the runbook starts it and the smoke "
                     "check passes"),
        Scenario("5xx-storm", "named_api_5xx", {"log_lines": 20}, **_LOYALTY, expect_exit=2,
                 why="the API answers but every business request fails with 500: the runbook must not restart it and "
                     "must name the failing integration smoke"),
    ),
    "loyalty-db-unavailable": (
        Scenario("postgres-down", "postgres_running", {"log_lines": 20}, **_LOYALTY,
                 why="the postgres container is stopped (/ready names the database): the runbook starts it, pg_isready "
                     "and SELECT 1 answer, the API is ready again"),
    ),
    "loyalty-redis-unavailable": (
        Scenario("redis-down", "redis_running", {"log_lines": 20}, **_LOYALTY,
                 why="the redis container is stopped (/ready names Redis): the runbook starts it and redis-cli ping "
                     "answers"),
    ),
    "loyalty-slow-requests": (
        Scenario("slow-queries", "named_slow_statement", _LOYALTY_SLOW, **_LOYALTY, expect_exit=2,
                 why="every business request waits 1.5 s in PostgreSQL (pg_sleep) under the drill's traffic: the "
                     "read-only runbook must name the slow statement and EXPLAIN it"),
    ),
    "loyalty-quick-check": (
        Scenario("5xx-storm", "named_quick_5xx", _LOYALTY_QUICK, **_LOYALTY, expect_exit=2,
                 why="every business request fails with 500: the read-only quick check must name the failing "
                     "integration smoke"),
    ),
    "loyalty-maintenance-mode": (
        Scenario("maintenance", "modes_off", {"mode": "maintenance", "state": "off"}, **_LOYALTY,
                 why="maintenance mode was left on (every write 503): the runbook switches it off and a write goes "
                     "through again"),
        Scenario("read-only", "modes_off", {"mode": "read_only", "state": "off"}, **_LOYALTY,
                 why="read-only mode was left on (writes 503 read_only): the runbook switches it off"),
    ),
    "loyalty-migrations": (
        Scenario("pending-migration", "migrations_applied", {"operation": "deploy", "force": True}, **_LOYALTY,
                 why="the last migration is pending: the runbook shows it and deploys it inside the api container"),
    ),
    "loyalty-workers-outbox": (
        Scenario("worker-disabled", "outbox_drained", {"metrics_window": 2, "log_lines": 20, "drain_seconds": 90},
                 **_LOYALTY,
                 why="the worker was started with WORKERS_ENABLED=0 and events wait in the outbox: the runbook sets "
                     "it to 1, starts the worker and waits for the outbox to drain"),
        Scenario("outbox-backlog", "outbox_drained", {"metrics_window": 2, "log_lines": 20, "drain_seconds": 120},
                 **_LOYALTY, alert="LoyaltyOutboxBacklog",
                 why="the worker is off while users keep earning: over 1000 events wait in the outbox "
                     "(LoyaltyOutboxBacklog); the runbook sets WORKERS_ENABLED=1, starts the worker and waits until "
                     "the backlog is delivered"),
    ),
    "loyalty-outbox-dead": (
        Scenario("dead-events", "dead_resent", {"metrics_window": 1, "log_lines": 5, "deliver_seconds": 90},
                 **_LOYALTY, alert="LoyaltyOutboxDeadEvents",
                 why="the merchant answered 429 until events died in the outbox and now accepts again: the runbook "
                     "sees the endpoint accept, requeues the dead events and waits until they are delivered"),
    ),
    "loyalty-telegram-notifications": (
        Scenario("telegram-token-wrong", "named_telegram_token", {"metrics_window": 1, "log_lines": 5}, **_LOYALTY,
                 expect_exit=2,
                 why="the worker has a wrong bot token and no right one is given: the runbook must name the token the "
                     "Bot API refuses (the fix needs the vault's token: tests/integration/compose/"
                     "test_loyalty_playbooks_outbox.py rehearses it)"),
    ),
    "loyalty-external-errors": (
        Scenario("webhook-500", "named_webhook_errors", {"metrics_window": 6, "log_lines": 5}, **_LOYALTY,
                 expect_exit=2,
                 why="the merchant webhook answers 500 under the drill's earn calls: the read-only runbook must name "
                     "merchant_webhook http_error"),
    ),
    "loyalty-rollback": (
        Scenario("bad-release", "release_rolled_back_compose", **_LOYALTY,
                 why="the broken release 1.5.0 is up (api restarting): the rollback puts the previous image back on "
                     "api and worker and the smoke check passes"),
    ),
})

# LEGO MCP (seed 001, issue 18) on the Kubernetes lab (`mcpops drill <runbook> --lab kubernetes`: a control plane of
# its own, the node agent, PostgreSQL, the HSM; mcpops.lab.lego): the faults of mcpops.lab.lego.faults and the drill's
# own (hsm-back-fallback-on: kube_drill_lab.KubeDrillLab), each with the extra vars of the playbook tests in
# tests/integration/lego/. The pod and the secrets file of the security incident are the lab's (KubeDrillLab.run_vars).
_LEGO = dict(labs=(KUBERNETES,), services=(LEGO,))
DRILLS.update({
    "lego-service-outage": (
        Scenario("bad-image", "image_rolled_back", **_LEGO,
                 why="a new dashboard image crash-loops and its rollout never completes: the P1 runbook finds the "
                     "crash loop after a recent change, rolls the deployment back and the smoke test passes"),
        Scenario("scaled-to-zero", "dashboard_scaled_back", {"replicas": 2}, **_LEGO, alert="LegoMcpHealthFailing",
                 why="the dashboard was scaled to 0 and nothing answers: the P1 runbook finds no pod to serve and "
                     "scales it back to 2"),
    ),
    "lego-hsm-unavailable": (
        Scenario("hsm-back-fallback-on", "fallback_off_chain_verified", {"after_recovery": True}, **_LEGO,
                 why="the HSM was down, the dashboard signed a write with the software fallback, the HSM is back: the "
                     "after-recovery run turns the fallback off and verifies the audit chain end to end, listing the "
                     "record the fallback signed"),
    ),
    "lego-full-recovery": (
        Scenario("namespace-wiped", "namespace_recovered", **_LEGO,
                 why="the namespace lego-mcp was deleted (the lab took a pg_dump first, as the nightly backup): full "
                     "recovery recreates it from the shipped manifests, restores the dump and smoke tests"),
    ),
    "lego-security-incident": (
        Scenario("compromised-pod", "pod_contained_and_replaced", **_LEGO,
                 why="a dashboard pod started a miner and called out to 203.0.113.66: the runbook quarantines it, "
                     "keeps the evidence, rotates the DB password, the API key and the Secret, rolls out clean pods "
                     "and lifts the quarantine"),
    ),
    "lego-scale-high-load": (
        Scenario("high-load", "scaled_for_load",
                 {"dashboard_replicas": 3, "worker_replicas": 3, "replica_replicas": 2, "load_window": 10,
                  "ready_timeout": 300}, **_LEGO,
                 undo_vars={"scale_down": True, "dashboard_floor": 2, "worker_floor": 2, "replica_floor": 1,
                            "scale_down_step": 1, "scale_down_pause": 1, "ready_timeout": 300},
                 why="concurrent clients load every dashboard pod (the lab's load process, as a Service spreads "
                     "them): the runbook's assessment counts the requests in the pods' access logs, it scales the "
                     "dashboard, the workers and the read replicas up and waits until every pod is Ready and serving; "
                     "the load ends with the run, and the undo run scales down a step at a time to the healthy size"),
    ),
    # The seed's "Database Connection Exhaustion" (docs/lego-mcp.md): the collection's runbook of it, on the lab's
    # PostgreSQL; its DBA login is the superuser over the cluster's socket (KubeDrillLab.up). healthy_after=False: the
    # dashboard's pods come back Ready on their readiness probe's schedule after the run, which the symptom waits for.
    "db-connection-exhaustion": (
        Scenario("db-connections-exhausted", "leaked_sessions_terminated",
                 {"idle_for": "1s", "only_applications": ["celery-worker"]}, **_LEGO, healthy_after=False,
                 alert="LegoPostgresConnectionsExhausted",
                 why="idle sessions of a leaking celery-worker hold every PostgreSQL slot lego_mcp can get (the "
                     "dashboard answers 503): the runbook terminates that application's idle sessions and the "
                     "dashboard is healthy again"),
        # The Loyalty API's compose lab: its DBA login is the inventory's pg_login_* superuser over TCP
        # (LoyaltyLab.inventory_text); the leaking client is a process of the drill's own (ComposeDrillLab).
        Scenario("db-connections-exhausted", "leaked_sessions_terminated",
                 {"idle_for": "1s", "only_applications": ["drill-leaked-pool"]}, **_LOYALTY,
                 alert="LoyaltyPostgresConnectionsExhausted",
                 why="a leaking client (drill-leaked-pool) holds 92 idle sessions of the Loyalty database as the "
                     "loyalty role, over 90% of what the role can get: the runbook terminates that application's "
                     "idle sessions as the superuser and the API stays ready"),
    ),
    "lego-morning-health-check": (
        Scenario("db-connections-exhausted", "named_lego_db_slots", **_LEGO, expect_exit=2, healthy_after=False,
                 why="idle lego_mcp sessions hold every PostgreSQL slot (the dashboard answers 503): the read-only "
                     "morning check must end red naming the database out of connection slots"),
    ),
})


def alerted_scenario(runbook_id, lab=LOCAL, service=DEFAULT_SERVICE):
    """The runbook's first scenario an alert can start on this lab for this service (what `--via-alert` without
    `--fault` drills: the default fault may fire no alert), or None."""
    return next((s for s in DRILLS.get(runbook_id, ()) if s.alert and lab in s.labs and service in s.services), None)


def alert_drillable():
    """"<runbook> --fault <fault>" of every scenario an alert can start (`mcpops drill --via-alert`)."""
    return [f"{runbook_id} --fault {s.fault}" for runbook_id in drillable() for s in DRILLS[runbook_id] if s.alert]


def drillable():
    """Every drillable runbook id, those of the 1C gateway first, then by service (SERVICES' order), then by id."""
    def key(runbook_id):
        return min(SERVICES.index(name) for s in DRILLS[runbook_id] for name in s.services), runbook_id

    return sorted(DRILLS, key=key)


def check_service(service, lab=LOCAL):
    """service, or DrillError when no lab runs it or this lab cannot (one line, before anything starts)."""
    if service not in SERVICES:
        raise DrillError(f"--service {service}: a drill runs one of {', '.join(SERVICES)}")
    if service not in LAB_SERVICES[lab]:
        where = [name for name, served in LAB_SERVICES.items() if service in served]
        flag = {FLEET: " (--fleet N)", COMPOSE: " (--lab compose)",
                KUBERNETES: " (--lab kubernetes)"}.get(where[0], "") if len(where) == 1 else ""
        raise DrillError(f"--service {service}: the {lab} lab cannot run it; it is drilled on the "
                         f"{' and '.join(where)} lab{flag} only")
    return service


def choose(runbook_id, fault=None, lab=LOCAL, service=DEFAULT_SERVICE):
    """The scenario for runbook_id on service and lab (its first one, or the one of `fault`); DrillError otherwise."""
    known = ", ".join(drillable())
    if runbook_id not in DRILLS:
        reason = NOT_DRILLABLE.get(runbook_id, "no lab fault rehearses it")
        raise DrillError(f"{runbook_id} cannot be drilled: {reason} (drillable: {known})")
    check_service(service, lab)
    scenarios = [s for s in DRILLS[runbook_id] if service in s.services]
    if not scenarios:
        drilled = sorted({name for s in DRILLS[runbook_id] for name in s.services})
        # the one option that would drill it: --service S, or --lab compose for the compose lab's only service
        lab_flags = {LAB_SERVICES[COMPOSE]: " (--lab compose)", LAB_SERVICES[KUBERNETES]: " (--lab kubernetes)"}
        hint = "" if len(drilled) != 1 else lab_flags.get((drilled[0],), f" (--service {drilled[0]})")
        reason = NOT_DRILLABLE.get(runbook_id, f"it is drilled for {', '.join(drilled)} only{hint}")
        raise DrillError(f"{runbook_id} cannot be drilled for {service}: {reason}")
    for_service = "" if service == DEFAULT_SERVICE else f" for {service}"
    if fault is None:
        usable = [s for s in scenarios if lab in s.labs]
        if not usable:
            labs = [name for name in LABS if any(name in s.labs for s in scenarios)]
            raise DrillError(f"{runbook_id} cannot be drilled{for_service} on the {lab} lab: its faults "
                             f"({', '.join(s.fault for s in scenarios)}) exist on the {' and '.join(labs)} lab only")
        return usable[0]
    for scenario in scenarios:
        if scenario.fault == fault:
            if lab not in scenario.labs:
                raise DrillError(f"{runbook_id} with --fault {fault}: the {lab} lab has no {fault} fault "
                                 f"(it runs on: {', '.join(scenario.labs)})")
            return scenario
    raise DrillError(f"{runbook_id} has no drill{for_service} with --fault {fault} "
                     f"(its faults: {', '.join(s.fault for s in scenarios)})")
