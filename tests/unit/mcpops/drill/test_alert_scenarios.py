"""The alert drills' table: every scenario an alert starts (Scenario.alert) names an alert the collection's rules
define, labelled with that scenario's runbook, on a scrape job its lab's adapter offers the chain (ALERT_JOB); and
`mcpops drill --via-alert` is refused before anything starts where no alert can start the runbook, the lab is not the
service's, or the runbook needs a person."""

import pytest
import yaml

from mcpops.drill import scenarios
from mcpops.drill.alert_chain import PROBE_JOBS, alert_names, rule_jobs
from mcpops.drill.alert_drill import ALERT_LABS, approval_inputs, plan_alert_drill
from mcpops.drill.compose_drill_lab import ComposeDrillLab
from mcpops.drill.kube_drill_lab import KubeDrillLab
from mcpops.drill.lab_adapters import ConnectorDrillLab, FleetDrillLab, LocalDrillLab
from mcpops.drill.scenarios import CCTELEGRAM, COMPOSE, CONNECTOR, FLEET, LEGO, LOCAL, LOYALTY, ONEC, DrillError
from mcpops.lab.fixtures.alerting_config import RULES_DIR
from mcpops.run.runbooks import discover

RUNBOOKS = {r.id: r for r in discover()}
RULES = {rule["alert"]: rule for path in sorted(RULES_DIR.glob("*.rules.yml"))
         for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"] if "alert" in rule}
ALERT_SCENARIOS = [(runbook_id, s) for runbook_id, drills in scenarios.DRILLS.items() for s in drills if s.alert]
# the jobs each service's lab offers its alert chain (its adapter's alert_targets); the 1C gateway's TLS probe is
# the chain's own (PROBE_JOBS)
ADAPTER = {ONEC: LocalDrillLab, CONNECTOR: ConnectorDrillLab, LOYALTY: ComposeDrillLab, CCTELEGRAM: FleetDrillLab,
           LEGO: KubeDrillLab}


def scenario(runbook_id, fault):
    return next(s for s in scenarios.DRILLS[runbook_id] if s.fault == fault)


def test_the_alert_drills_are_every_service_s_on_its_own_lab():
    assert [(r, s.fault, s.alert) for r, s in ALERT_SCENARIOS] == [
        ("inc-001-gateway-down", "stop", "OnecGatewayDown"),
        ("inc-003-restore", "corrupt-store-live", "OnecGatewayStorageNotReady"),
        ("inc-002-auth-failures", "auth-spike", "OnecGatewayAuthFailures"),
        ("inc-004-upstream-degraded", "upstream-down", "OnecUpstreamDown"),
        ("inc-005-rate-limit", "rate-storm", "OnecGatewayRateLimited"),
        ("backup-scheduled", "stale-backup", "OnecGatewayBackupStale"),
        ("backup-scheduled", "no-backup", "OnecGatewayNoBackup"),
        ("health-check", "usage-log-unwritable", "OnecGatewayServerErrors"),
        ("cert-renewal", "gateway-cert-expiring", "OnecGatewayCertificateExpiring"),
        ("triage", "not-ready", "OnecGatewayIndexNotReady"),
        ("triage", "server-errors", "LoyaltyApiServerErrors"),
        ("triage", "server-errors", "CctelegramServerErrors"),
        ("triage", "auth-failures", "CctelegramSecurityEvents"),
        ("service-outage", "bridge-down", "CctelegramBridgeDown"),
        ("service-outage", "stop", "CctelegramDown"),
        ("cctelegram-p1-response", "memory-leak", "MemoryLeakDetection"),
        ("cctelegram-p1-response", "wedged", "ConsecutiveErrors"),
        ("connector-db-connections", "mysql-max-connections", "ConnectorMysqlConnectionsHigh"),
        ("connector-restart", "stop", "ConnectorMcpHealthFailing"),
        ("loyalty-api-down", "api-stopped", "LoyaltyApiDown"),
        ("loyalty-workers-outbox", "outbox-backlog", "LoyaltyOutboxBacklog"),
        ("loyalty-outbox-dead", "dead-events", "LoyaltyOutboxDeadEvents"),
        ("lego-service-outage", "scaled-to-zero", "LegoMcpHealthFailing"),
        ("db-connection-exhaustion", "db-connections-exhausted", "LegoPostgresConnectionsExhausted"),
        ("db-connection-exhaustion", "db-connections-exhausted", "LoyaltyPostgresConnectionsExhausted")]
    assert scenarios.alert_drillable() == [
        "backup-scheduled --fault stale-backup", "backup-scheduled --fault no-backup",
        "cert-renewal --fault gateway-cert-expiring", "health-check --fault usage-log-unwritable",
        "inc-001-gateway-down --fault stop", "inc-002-auth-failures --fault auth-spike",
        "inc-003-restore --fault corrupt-store-live", "inc-004-upstream-degraded --fault upstream-down",
        "inc-005-rate-limit --fault rate-storm", "triage --fault not-ready",
        "triage --fault server-errors", "triage --fault server-errors", "triage --fault auth-failures",
        "cctelegram-p1-response --fault memory-leak", "cctelegram-p1-response --fault wedged",
        "service-outage --fault bridge-down", "service-outage --fault stop",
        "connector-db-connections --fault mysql-max-connections", "connector-restart --fault stop",
        # db-connection-exhaustion among the Loyalty API's runbooks now (its first service's, then by id)
        "db-connection-exhaustion --fault db-connections-exhausted",
        "db-connection-exhaustion --fault db-connections-exhausted",
        "loyalty-api-down --fault api-stopped", "loyalty-outbox-dead --fault dead-events",
        "loyalty-workers-outbox --fault outbox-backlog", "lego-service-outage --fault scaled-to-zero"]


# Alerts no drill starts yet, each with the reason; every other rule of extensions/prometheus/rules is drilled.
NOT_DRILLED = {}


def test_every_rule_is_drilled_through_its_alert_or_says_why_not():
    drilled = {s.alert for _, s in ALERT_SCENARIOS}
    assert set(RULES) - drilled == set(NOT_DRILLED), sorted(set(RULES) - drilled)
    assert not drilled & set(NOT_DRILLED)


@pytest.mark.parametrize("runbook_id, drill", ALERT_SCENARIOS, ids=[f"{r}-{s.fault}" for r, s in ALERT_SCENARIOS])
def test_the_alert_of_a_scenario_starts_that_scenario_s_runbook_on_the_lab(runbook_id, drill):
    rule = RULES.get(drill.alert)
    assert rule is not None, f"{drill.alert} is in no rule file of {RULES_DIR}"
    assert rule["labels"]["runbook"] == runbook_id
    assert drill.alert in alert_names(sorted(RULES_DIR.glob("*.rules.yml")))
    # the service's lab offers its chain the jobs the rule selects on (its /metrics, or a blackbox probe)
    [service] = drill.services
    assert ALERT_LABS[service] in drill.labs
    jobs = rule_jobs(sorted(RULES_DIR.glob("*.rules.yml")), drill.alert)
    offered = {ADAPTER[service].ALERT_JOB, getattr(ADAPTER[service], "DB_ALERT_JOB", None),
               getattr(ADAPTER[service], "UPSTREAM_ALERT_JOB", None), *(PROBE_JOBS if service == ONEC else ())}
    assert jobs and set(jobs) <= offered, jobs
    runbook = RUNBOOKS[runbook_id]
    # auto_remediate on the rule only where the runbook's metadata allows it (else the label only asks)
    assert (rule["labels"].get("auto_remediate") == "true") == runbook.auto_remediate
    # what the approver gives (`mcpops approve -e`) is declared by the runbook
    assert set(drill.extra_vars) <= set(runbook.extra_vars)


def test_the_rules_naming_a_drilled_runbook_include_the_alert_its_scenario_waits_for():
    rules_of = {}
    for name, rule in RULES.items():
        rules_of.setdefault(rule["labels"]["runbook"], set()).add(name)
    for runbook_id, drill in ALERT_SCENARIOS:
        assert drill.alert in rules_of.get(runbook_id, set()), (runbook_id, rules_of.get(runbook_id))
        # and no other runbook's rule carries that alert name (the drill waits for a decision on it)
        assert [r for r, names in rules_of.items() if drill.alert in names] == [runbook_id]


def test_a_changing_runbook_without_auto_remediation_is_drilled_through_an_approval():
    inc005, drill = RUNBOOKS["inc-005-rate-limit"], scenario("inc-005-rate-limit", "rate-storm")
    with pytest.raises(DrillError, match="does not allow auto-remediation: drill it with --approval"):
        plan_alert_drill(inc005, drill, LOCAL, ONEC)
    plan_alert_drill(inc005, drill, LOCAL, ONEC, "approve")
    plan_alert_drill(inc005, drill, LOCAL, ONEC, "deny")
    # the new rateLimit is not in the alert: the approver gives it, as an operator would
    assert approval_inputs(drill) == ["-e", "rate_limit=2"]
    assert approval_inputs(scenario("inc-001-gateway-down", "stop")) == []


def test_inc_002_waits_for_an_approval_that_needs_no_input_and_the_stale_backup_runs_at_once():
    inc002, spike = RUNBOOKS["inc-002-auth-failures"], scenario("inc-002-auth-failures", "auth-spike")
    with pytest.raises(DrillError, match="does not allow auto-remediation: drill it with --approval"):
        plan_alert_drill(inc002, spike, LOCAL, ONEC)
    plan_alert_drill(inc002, spike, LOCAL, ONEC, "approve")
    # the runbook finds the failing token's prefix itself (the most auth.failed) and writes the new secret under the
    # runs dir: the approver only approves; the drill expects the one token it issues
    assert approval_inputs(spike) == [] and spike.issued_tokens == 1
    backup, stale = RUNBOOKS["backup-scheduled"], scenario("backup-scheduled", "stale-backup")
    assert backup.auto_remediate and backup.changes
    plan_alert_drill(backup, stale, LOCAL, ONEC)
    plan_alert_drill(backup, stale, LOCAL, ONEC, "deny")  # the same alert without its label: the drill repairs


def test_connector_mcp_and_the_loyalty_api_are_drilled_through_an_approval_on_their_own_labs():
    restart, stop = RUNBOOKS["connector-restart"], scenario("connector-restart", "stop")
    with pytest.raises(DrillError, match="does not allow auto-remediation: drill it with --approval"):
        plan_alert_drill(restart, stop, LOCAL, CONNECTOR)
    plan_alert_drill(restart, stop, LOCAL, CONNECTOR, "approve")
    assert approval_inputs(stop) == []
    down, api_stopped = RUNBOOKS["loyalty-api-down"], scenario("loyalty-api-down", "api-stopped")
    plan_alert_drill(down, api_stopped, COMPOSE, LOYALTY, "approve")
    plan_alert_drill(down, api_stopped, COMPOSE, LOYALTY, "deny")
    assert approval_inputs(api_stopped) == ["-e", "log_lines=20"]
    with pytest.raises(DrillError, match=r"drills loyalty-api on the compose lab \(--lab compose\) only"):
        plan_alert_drill(down, api_stopped, LOCAL, LOYALTY, "approve")


def test_cctelegram_s_outage_alerts_start_service_outage_on_the_fleet_through_an_approval():
    outage = RUNBOOKS["service-outage"]
    for fault in ("stop", "bridge-down"):
        drill = scenario("service-outage", fault)
        assert ALERT_LABS[CCTELEGRAM] == FLEET and drill.labs == (FLEET,) and drill.services == (CCTELEGRAM,)
        with pytest.raises(DrillError, match="does not allow auto-remediation: drill it with --approval"):
            plan_alert_drill(outage, drill, FLEET, CCTELEGRAM)
        plan_alert_drill(outage, drill, FLEET, CCTELEGRAM, "approve")
        plan_alert_drill(outage, drill, FLEET, CCTELEGRAM, "deny")
        # the remedy is the approver's (an alert cannot choose restart, rollback or scale); the watcher sets the host
        assert approval_inputs(drill) == ["-e", "remedy=restart"]
    assert outage.changes and not outage.auto_remediate


@pytest.mark.parametrize("runbook_id, fault, lab, service, approval, reason", [
    ("inc-003-restore", "corrupt-store", LOCAL, ONEC, "approve", "has no alert that fires on the lab"),
    ("inc-001-gateway-down", "stop", scenarios.FLEET, ONEC, None, "on the local lab only"),
    ("inc-001-gateway-down", "stop", LOCAL, ONEC, "maybe", "approve or deny"),
    ("inc-004-upstream-degraded", "upstream-down", LOCAL, ONEC, "approve", "is read-only: an alert starts it at once"),
    ("inc-004-upstream-degraded", "cert-expiring", LOCAL, ONEC, None, "has no alert that fires on the lab"),
    ("triage", "not-ready", LOCAL, ONEC, "deny", "is read-only: an alert starts it at once"),
    ("connector-db-connections", "pool-exhausted", LOCAL, CONNECTOR, "approve", "has no alert that fires on the lab"),
    ("loyalty-db-unavailable", "postgres-down", COMPOSE, LOYALTY, "approve", "has no alert that fires on the lab"),
    ("cctelegram-bridge-recovery", "bridge-down", FLEET, CCTELEGRAM, "approve", "has no alert that fires on the lab"),
    ("service-outage", "stop", LOCAL, CCTELEGRAM, "approve",
     r"drills cctelegram-mcp on the fleet lab \(--fleet N\) only"),
])
def test_a_drill_no_alert_can_start_is_refused_before_anything_starts(runbook_id, fault, lab, service, approval,
                                                                       reason):
    with pytest.raises(DrillError, match=reason):
        plan_alert_drill(RUNBOOKS[runbook_id], scenario(runbook_id, fault), lab, service, approval)


def test_via_alert_without_a_fault_drills_the_first_scenario_an_alert_starts():
    # the default faults of these fire no alert (corrupt-store: a crash loop; bad-image: the old pods keep serving)
    assert scenarios.alerted_scenario("inc-003-restore").fault == "corrupt-store-live"
    assert scenarios.alerted_scenario("lego-service-outage", scenarios.KUBERNETES, LEGO).fault == "scaled-to-zero"
    assert scenarios.alerted_scenario("inc-004-upstream-degraded").fault == "upstream-down"
    assert scenarios.alerted_scenario("backup-scheduled").fault == "stale-backup"  # no-backup: --fault no-backup
    assert scenarios.alerted_scenario("triage").fault == "not-ready"  # the 1C gateway's, on the local lab
    assert scenarios.alerted_scenario("lego-service-outage") is None  # not on the local lab


def test_loyalty_postgres_connections_exhausted_starts_db_connection_exhaustion_on_the_compose_lab():
    """Issue 21's last alert: a leaking client's sessions to the Loyalty database start db-connection-exhaustion through
    an approval, the chain scraping a private postgres_exporter alone (job loyalty-postgres, as loyalty-compose)."""
    from types import SimpleNamespace

    from mcpops.drill import alert_chain

    drill = scenarios.alerted_scenario("db-connection-exhaustion", COMPOSE, LOYALTY)
    assert (drill.fault, drill.alert, drill.labs) == ("db-connections-exhausted",
                                                      "LoyaltyPostgresConnectionsExhausted", (COMPOSE,))
    assert drill.fault in ComposeDrillLab.OWN_FAULTS
    plan_alert_drill(RUNBOOKS["db-connection-exhaustion"], drill, COMPOSE, LOYALTY, "approve")
    with pytest.raises(DrillError, match="does not allow auto-remediation: drill it with --approval"):
        plan_alert_drill(RUNBOOKS["db-connection-exhaustion"], drill, COMPOSE, LOYALTY)
    # the approver ends the leaking application's sessions only, idle for a second already (the host is the alert's:
    # the watcher sets db_exhaustion_hosts, which the approver may not; the drill without the alert sets it itself)
    assert approval_inputs(drill) == ["-e", "idle_for=1s", "-e", 'only_applications=["drill-leaked-pool"]']
    assert lab_without_init().run_vars(drill) == {"db_exhaustion_hosts": "loyalty-compose"}
    lab = lab_without_init()
    lab.db_exporter = SimpleNamespace(address="127.0.0.1:9187", pid=4242, stop=lambda: None)
    assert lab.alert_targets(drill) == [alert_chain.AlertTarget("loyalty-postgres", "loyalty-compose",
                                                                "127.0.0.1:9187")]
    assert rule_jobs(sorted(RULES_DIR.glob("*.rules.yml")), drill.alert) == [ComposeDrillLab.DB_ALERT_JOB]
    assert lab.stop_alert_targets() == "postgres_exporter (pid 4242) stopped by PID" and lab.db_exporter is None
    # the 1C gateway's labs still have no PostgreSQL: the refusal says where it is drilled
    with pytest.raises(DrillError, match=r"cannot be drilled for onec-gateway: .*--lab kubernetes.*--lab compose"):
        scenarios.choose("db-connection-exhaustion")


def lab_without_init():
    return ComposeDrillLab.__new__(ComposeDrillLab)
