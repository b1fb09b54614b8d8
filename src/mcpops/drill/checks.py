"""What must be true after a drill's run, as Check(name, ok, detail, target) lines: the gateway healthy
(/healthz and /readyz 200), its storage-meta at the supported schemaVersion with every store ok, no token
lost or added, the runbook's exit the one expected, and the fault's own symptom gone (or named).

A target of another service (a CCTelegram host) is checked its profile's way: healthy when the profile's
liveness and readiness checks answer as the profile says (status and body conditions); storage-meta and tokens
only for a service whose profile has those features (features: gateway_backups, tokens).

A ConnectorMCP instance (the connector lab, --service connector-mcp) is checked its profile's way too (/health
and its deep check /api/health); its symptoms read the instance (its PID, RSS, /api/health) and the lab (MariaDB,
nginx from a chosen source address, the release links) through the adapter (lab_adapters.ConnectorDrillLab), and
compare with what the adapter recorded right after the fault (facts["after_fault"]). A symptom of the whole lab
(LAB_WIDE) is checked once, not once an instance.

The Loyalty API on the compose lab (--lab compose) is checked its profile's way (/live and /ready); its symptoms read
the compose project through the adapter (mcpops.drill.compose_checks, compose_drill_lab.ComposeDrillLab).

The check_* functions are pure (tests/unit/mcpops/drill/test_checks.py); common_checks and symptom_check
read a target (its API and its data dir) and ask the lab for its service state.
"""

import calendar
import json
import re
import time
from pathlib import Path

from mcpops.drill.check import Check  # noqa: F401  (checks.Check: every caller's import)
from mcpops.drill.scenarios import DrillError
from mcpops.lab.http_client import http_json

SUPPORTED_SCHEMA_VERSION = 3  # docs/dev/conventions.md, "Data dir"; the reference gateway's newest

# What proves a symptom gone (or, for a read-only runbook, named); symptom_check implements each.
SYMPTOMS = {
    "service_running": "the gateway's service is running again (supervisor RUNNING / systemd active)",
    "store_parses": "tokens.json in the data dir is valid JSON again",
    "schema_supported": "storage-meta.json is back at a supported schemaVersion without 099_future",
    "rate_limited": "the storming token's rateLimit is the one the drill asked for",
    "token_reissued": "the failing token is revoked, its client has one new active token, and the new secret is in "
                      "the mode 0600 file the run names",
    "backup_fresh": "the newest backup was taken after the fault and is under OnecGatewayBackupStale's 26 h",
    "named_upstream": "the run names the upstream as the failed check",
    "named_certificate": "the run names the certificate as the failed check",
    "named_gate": "the rollout stopped at the host that failed its health gate",
    "bundle_names_index": "the triage bundle the run names (opened with the lab's forensic key) has the host's /readyz "
                          "failing with its index check failing",
    "named_server_errors": "the health check ends red naming the MCP call the gateway answered with a 5xx",
    "certificate_renewed": "the gateway's TLS endpoint serves another certificate than the fault's, with over 14 days "
                           "left (mcpops.drill.cert_drill)",
    "unit_restarted": "the broken host's main unit was restarted (a new main PID or invocation), is active, and "
                      "the units it depends on (its profile's runtime.depends_on: the bridge) are active again",
    # ConnectorMCP (the connector lab)
    "exhausted_restarted": "the instance whose pool was exhausted was restarted (a new PID), the others were not",
    "idle_sessions_killed": "no MariaDB session of the idle sessions' user (kill_users) is left",
    "breakers_closed": "every circuit breaker of every instance is closed (/api/health mcp_connectors)",
    "storm_blocked": "through nginx the storm's source address gets 403, another loopback address 200",
    "expired_states_gone": "no row of connectorMCP.oauth_states has expired (by the database's clock)",
    "named_skew": "the run names the instance whose clock is off (Clock sync: <instance> is more than N s off)",
    "named_unhealthy_instance": "the validation's verdict names the broken instance (Verdict: FAIL: ... instance <host> not healthy)",
    "memory_released": "the instance over the memory threshold was restarted and holds less memory, the others "
                       "were not restarted",
    "instances_restarted": "every instance runs again with a new PID (the stopped one too)",
    "release_rolled_back": "releases/current is the release before the fault again and every instance says that "
                           "version",
    # CCTelegram on the fleet's full stack (mcpops.drill.fleet_checks)
    "bridge_restarted": "the units the broken host's service depends on (its profile's runtime.depends_on: the "
                        "bridge) were restarted (a new main PID or invocation) and are active, and its deep check "
                        "(the bridge's status) answers as the profile says",
    "rerouted": "the broken host's server is marked down in nginx's upstream and GET /health through the load "
                "balancer answers 200",
    "rolled_back": "the broken host's releases/current is the release it was before the fault, its service is "
                   "active and its /health says that version",
    "standby_serving": "every standby host's service is active and healthy the profile's way, its server is in "
                       "nginx's upstream (not down), and GET /health through the load balancer answers 200",
    "timer_restarted": "the broken host's main unit was restarted and is active, and the auto-recovery timer's "
                       "metrics count the restart (mcpops_auto_recovery_restarts_total 1 or more)",
    "bundle_cctelegram_5xx": "triage's bundle of the broken host (the run names it) counts ERROR lines of the fault's "
                             "error type (the tool calls it answered 500) in its application log",
    "bundle_cctelegram_auth_failures": "triage's bundle of the broken host (the run names it) counts auth failures "
                                       "(SECURITY lines) of the stale-key client's address",
    # The Loyalty API on the compose lab (mcpops.drill.compose_checks)
    "api_running": "the api container runs again (compose ps) and the API is ready",
    "postgres_running": "the postgres container runs again (compose ps) and the API is ready (/ready checks the DB)",
    "redis_running": "the redis container runs again (compose ps) and the API is ready (/ready checks Redis)",
    "modes_off": "the API says maintenance and read-only mode are both off (/health maintenance, readOnly false)",
    "migrations_applied": "`migrate status` in the api container: up to date, nothing pending or failed",
    "release_rolled_back_compose": "the release that served before the bad one serves again (/health version) and "
                                   "the env file's IMAGE_TAG names it",
    "named_api_5xx": "the run names the failing integration smoke (The API answers but fails: check balance ...)",
    "named_quick_5xx": "the run names the integration smoke's HTTP 500 (check balance ... HTTP 500)",
    "named_slow_statement": "the run names pg_sleep among PostgreSQL's slow statements",
    "outbox_drained": "the worker runs with WORKERS_ENABLED=1 and the outbox is drained (nothing pending, not paused)",
    "dead_resent": "no dead event is left in the outbox, nothing is pending and delivery is not paused",
    "named_telegram_token": "the run names the token the Bot API refuses (the Bot API refuses the worker's token)",
    "named_webhook_errors": "the run names the merchant webhook's errors by provider and result",
    "bundle_api_5xx": "the triage bundle the run names lists the API's business requests answered 5xx among its last "
                      "errors",
    # LEGO MCP on the Kubernetes lab (mcpops.drill.lego_checks); each with the dashboard healthy (every pod of the
    # current template Ready, /health healthy signing with the HSM, celery-worker available)
    "image_rolled_back": "the dashboard's image is the one before the bad image and its rollout is complete",
    "dashboard_scaled_back": "the dashboard wants the replicas the runbook was asked for and has them Ready",
    "pod_contained_and_replaced": "the compromised pod is gone, no pod is quarantined, the quarantine policy is "
                                  "lifted, the DB password before the incident is refused and the inventory's new one "
                                  "accepted",
    "namespace_recovered": "the namespace is back and the database is the dump's (audit_log as many rows as then)",
    "fallback_off_chain_verified": "HSM_FALLBACK_ENABLED=false and the run verified the audit chain end to end, the "
                                   "record the fallback signed among the fallback's",
    "leaked_sessions_terminated": "no session of the leaking application (celery-worker) is left in PostgreSQL and "
                                  "the dashboard is healthy again (it gets its connections)",
    "named_lego_db_slots": "the morning check ends red with a finding that PostgreSQL has no session left for "
                           "lego_mcp (out of connection slots)",
    "scaled_for_load": "the dashboard, the workers and the read replicas at the size asked for, every pod Ready and "
                       "the dashboard healthy, the load answered by every dashboard pod and counted by the run's "
                       "assessment; after the undo run, back at the size before the load",
}
# checked by mcpops.drill.fleet_checks (steps.symptom_check sends them there)
FLEET_SYMPTOMS = ("bridge_restarted", "rerouted", "rolled_back", "standby_serving", "timer_restarted")
# read from triage's bundle of a CCTelegram host, the run's output naming it (cctelegram_bundle_check)
CCTELEGRAM_BUNDLE_SYMPTOMS = ("bundle_cctelegram_5xx", "bundle_cctelegram_auth_failures")
# The symptoms of the whole lab, checked once (not once a target).
LAB_WIDE = ("idle_sessions_killed", "storm_blocked", "expired_states_gone", "named_skew", "standby_serving")
# checked by mcpops.drill.compose_checks, through the compose lab's adapter (compose_drill_lab.ComposeDrillLab)
COMPOSE_SYMPTOMS = ("api_running", "postgres_running", "redis_running", "modes_off", "migrations_applied",
                    "release_rolled_back_compose", "outbox_drained", "dead_resent", "bundle_api_5xx")
# checked by mcpops.drill.lego_checks, through the Kubernetes lab's adapter (kube_drill_lab.KubeDrillLab)
LEGO_SYMPTOMS = ("image_rolled_back", "dashboard_scaled_back", "pod_contained_and_replaced", "namespace_recovered",
                 "fallback_off_chain_verified", "scaled_for_load", "leaked_sessions_terminated")
# The symptoms whose check compares a target's units with what they were before the fault (lab.unit_snapshot).
NEEDS_UNIT_BASELINE = ("unit_restarted", "bridge_restarted", "timer_restarted")


# The runbook's output line that names the fault, for the named_* symptoms (searched in the run's stdout).
NAMED_PATTERNS = {
    "named_upstream": r"FAILED: [a-z, ]*upstream",
    "named_certificate": r"FAILED: [a-z, ]*certificate",
    "named_gate": r"Rolling restart stopped at \S+",
    # the health check's findings (its last step's fail_msg) name the MCP request the gateway answered 5xx
    "named_server_errors": r"(?s)Health check of \S+ found:.{0,4000}?MCP \S+ at \S+ -> HTTP 5\d\d",
    "named_skew": r"Clock sync: (\S+) is more than \d+ s off",
    "named_unhealthy_instance": r"Verdict: FAIL: [^\n]*?instance (\S+) not healthy",
    "named_api_5xx": r"The API answers but fails: check balance",
    "named_quick_5xx": r"check balance[^\n]*HTTP 500",
    "named_slow_statement": r"slow statements in PostgreSQL[^\n]*pg_sleep",
    "named_telegram_token": r"the Bot API refuses the worker\\?'s token",  # \' where ansible's output escapes it
    "named_webhook_errors": r'provider=\\?"merchant_webhook\\?" result=\\?"http_error',  # \" in ansible's JSON
    "named_lego_db_slots": r"(?s)Morning health check of LEGO MCP found:.{0,4000}?PostgreSQL \S+: no session as "
                           r"lego_mcp: [^\n]*?out of connection slots",
}


def check_health(target, healthz, readyz):
    """healthz/readyz: (status, body) of GET /healthz and /readyz."""
    ok = healthz[0] == 200 and readyz[0] == 200
    detail = f"/healthz {healthz[0]}, /readyz {readyz[0]}"
    if readyz[0] != 200 and isinstance(readyz[1], dict) and readyz[1].get("checks"):
        detail += f" {json.dumps(readyz[1]['checks'], sort_keys=True)}"
    return Check("healthy", ok, detail, target)


def probe_problem(spec, status, body, evaluate):
    """None when one profile check's answer (status, decoded JSON body) is as the profile says, else why not.
    spec: a validated profile's health check; evaluate(text, body): None or why the condition fails."""
    if status != spec["expect_status"]:
        return f"{spec['path']} {status}, expected {spec['expect_status']}"
    for text in spec.get("conditions") or []:
        why = evaluate(text, body)
        if why is not None:
            return f"{spec['path']}: {text!r} fails ({why})"
    return None


def check_service_health(target, answers, evaluate):
    """answers: [(profile check, status, body)] of the profile's liveness and readiness checks (each once)."""
    problems = [why for spec, status, body in answers if (why := probe_problem(spec, status, body, evaluate))]
    detail = ", ".join(f"{spec['path']} {status}" for spec, status, _ in answers)
    names = sorted({spec["name"] for spec, _, _ in answers})
    detail += f" (the profile's liveness and readiness: {', '.join(names)})"
    if problems:
        detail += "; " + "; ".join(problems)
    return Check("healthy", bool(answers) and not problems, detail, target)


def check_unit_restarted(target, unit, before, after, depends_on):
    """before/after: {unit: systemctl show's MainPID, InvocationID, ActiveState, ...}; the main unit restarted
    (another main PID or invocation) and active, and every unit it depends on active."""
    was, now = before.get(unit) or {}, after.get(unit) or {}
    moved = [key for key in ("MainPID", "InvocationID") if was.get(key) and now.get(key) and was[key] != now[key]]
    restarted = bool(moved) and now.get("MainPID") not in (None, "", "0")
    active = now.get("ActiveState") == "active"
    down = [name for name in depends_on if (after.get(name) or {}).get("ActiveState") != "active"]
    detail = (f"{unit} {'restarted' if restarted else 'not restarted'} (main PID {was.get('MainPID')} -> "
              f"{now.get('MainPID')}), {now.get('ActiveState')}")
    for name in depends_on:
        detail += f"; {name} {(after.get(name) or {}).get('ActiveState')}"
    return Check("unit_restarted", restarted and active and not down, detail, target)


def check_storage_meta(target, status, meta, expected=None):
    expected = SUPPORTED_SCHEMA_VERSION if expected is None else expected
    if status != 200 or not isinstance(meta, dict):
        return Check("storage-meta", False, f"GET /api/system/storage-meta answered {status}", target)
    version = meta.get("schemaVersion")
    bad = sorted(name for name, store in (meta.get("stores") or {}).items()
                 if not (isinstance(store, dict) and store.get("ok")))
    ok = version == expected and not bad
    detail = f"schemaVersion {version} (expected {expected})"
    detail += f", stores not ok: {', '.join(bad)}" if bad else ", every store ok"
    return Check("storage-meta", ok, detail, target)


def check_tokens(target, before, after, issued=0):
    """before/after: {token id: revoked (bool)}, or None when the gateway did not answer; issued: how many tokens the
    runbook issues (INC-002: one), added ones that are expected."""
    if before is None:
        return Check("tokens", True, "no baseline (the gateway did not answer before the fault); not compared",
                     target)
    if after is None:
        return Check("tokens", False, "the gateway did not answer GET /api/mcp-tokens after the run", target)
    lost = sorted(set(before) - set(after))
    added = sorted(set(after) - set(before))
    flipped = sorted(t for t in set(before) & set(after) if before[t] != after[t])
    ok = not (lost or flipped) and len(added) == issued
    if ok:
        revoked = sum(1 for v in after.values() if v)
        said = f"{issued} issued by the run, the others unchanged" if issued else "unchanged"
        return Check("tokens", True, f"{len(after)} tokens ({revoked} revoked), {said}", target)
    parts = [f"{issued} expected to be issued"] if issued else []
    for words, ids in (("lost", lost), ("added", added), ("revoked state changed", flipped)):
        if ids:
            parts.append(f"{words}: {', '.join(ids[:5])}" + (f" (+{len(ids) - 5})" if len(ids) > 5 else ""))
    return Check("tokens", False, f"{len(before)} before, {len(after)} after; " + "; ".join(parts), target)


BACKUP_STALE_SECONDS = 26 * 3600  # OnecGatewayBackupStale (extensions/prometheus/rules/onec-gateway.rules.yml)
# INC-002's summary: "New token <id> prefix <prefix> for <client> (scopes ...); secret in <path> (mode 0600)"
REISSUED_LINE = re.compile(r"New token (\S+) prefix (\S+) for (\S+) \(scopes [^)]*\); secret in (\S+) \(mode 0600\)")


def check_token_reissued(target, fault_token, tokens, said, secret_file):
    """fault_token: the failing token's id and client (the fault's record); tokens: the gateway's token records now;
    said: REISSUED_LINE's match in the run's output (None: no such line); secret_file: (mode, whether its content
    starts with the new token's prefix) of the file the line names, None when it is missing. The secret itself is
    never read into the detail."""
    records = {t.get("id"): t for t in tokens}
    old = records.get(fault_token.get("token_id")) or {}
    revoked = f"token {fault_token.get('token_id')} {'revoked' if old.get('revokedAt') else 'NOT revoked'}"
    if said is None:
        return Check("token_reissued", False, f"{revoked}; the run names no new token", target)
    new_id, prefix, _client, path = said
    new = records.get(new_id) or {}
    issued = new.get("clientId") == fault_token.get("client_id") and new.get("prefix") == prefix \
        and not new.get("revokedAt")
    mode, matches = secret_file or (None, False)
    ok = bool(old.get("revokedAt")) and issued and mode == 0o600 and matches
    return Check("token_reissued", ok,
                 f"{revoked}; new token {new_id} prefix {prefix}: "
                 + (f"active, of {new.get('clientId')}" if issued else f"not an active token of "
                    f"{fault_token.get('client_id')} ({new.get('clientId')}, revokedAt {new.get('revokedAt')})")
                 + f"; its secret in {path}: "
                 + ("missing" if secret_file is None else f"mode {mode:o}, "
                    + ("the new token's" if matches else "NOT the new token's")), target)


def check_backup_fresh(target, newest, fault_at, now):
    """newest: the newest backup's createdAt in Unix seconds (None: no backup); fault_at: the fault's, in Unix seconds.
    The backup must be one taken since the fault (by the run) and under the alert's threshold."""
    if newest is None:
        return Check("backup_fresh", False, "no backup", target)
    age = now - newest
    after_fault = fault_at is None or newest >= fault_at
    ok = after_fault and age < BACKUP_STALE_SECONDS
    when = "taken after" if after_fault else "from before"
    return Check("backup_fresh", ok, f"newest backup {age / 3600:.1f} h old ({when} the fault; stale over "
                                     f"{BACKUP_STALE_SECONDS // 3600} h)", target)


def check_named(symptom, run_output):
    pattern = NAMED_PATTERNS[symptom]
    match = re.search(pattern, run_output or "")
    if match:
        return Check(symptom, True, f"the run says {match.group(0)!r}")
    return Check(symptom, False, f"no line of the run's output matches {pattern!r}")


def check_runbook_exit(status, expected):
    words = {0: "ok", 1: "ansible-playbook failed", 2: "some host failed", 3: "some host unreachable"}
    ok = status == expected
    detail = f"exit {status} ({words.get(status, '?')}), expected {expected} ({words.get(expected, '?')})"
    return Check("runbook", ok, detail)


def check_named_instances(symptom, run_output, wanted):
    """check_named, and every instance in wanted named by a match (the pattern's group 1)."""
    pattern = NAMED_PATTERNS[symptom]
    matches = list(re.finditer(pattern, run_output or ""))
    named = sorted({m.group(1) for m in matches})
    missing = sorted(set(wanted) - set(named))
    if not matches:
        return Check(symptom, False, f"no line of the run's output matches {pattern!r}")
    detail = f"the run says {matches[0].group(0)!r}"
    if missing:
        detail += f"; it does not name {', '.join(missing)} (the instance the fault broke)"
    return Check(symptom, not missing, detail)


# -- ConnectorMCP: pure checks of what the adapter read ----------------------------------------------------

def check_restarted_where_needed(symptom, target, was, now, needed, why):
    """was/now: the instance's PID right after the fault and now; needed: it had to be restarted (why: the
    reason, or why not). An instance that had no need must keep its PID: the runbook restarts only what it must."""
    moved = bool(now) and now != was
    if needed:
        ok = moved
        detail = f"{why}: {'restarted' if moved else 'not restarted'} (PID {was} -> {now})"
    else:
        ok = now == was and bool(now)
        detail = f"{why}: {'left alone' if ok else 'restarted or not running, though it had no need'} " \
                 f"(PID {was} -> {now})"
    return Check(symptom, ok, detail, target)


def check_breakers(target, status, body):
    connectors = (body or {}).get("mcp_connectors") if isinstance(body, dict) else None
    if status is None or not isinstance(connectors, dict):
        return Check("breakers_closed", False, f"/api/health answered {status}, no mcp_connectors", target)
    not_closed = sorted(f"{name} {(c or {}).get('circuit')}" for name, c in connectors.items()
                        if (c or {}).get("circuit") != "closed")
    detail = f"{len(connectors)} breakers" + (f", not closed: {', '.join(not_closed)}" if not_closed
                                               else ", every one closed")
    return Check("breakers_closed", not not_closed, detail, target)


def check_memory_released(target, was, now, threshold_mb):
    """was/now: {"pid", "rss_mb"} right after the fault and now; threshold_mb: the runbook's restart threshold."""
    over = (was.get("rss_mb") or 0) >= threshold_mb
    check = check_restarted_where_needed(
        "memory_released", target, was.get("pid"), now.get("pid"), over,
        f"RSS {was.get('rss_mb')} MB at the fault, {'over' if over else 'under'} {threshold_mb:g} MB")
    check.detail += f", RSS now {now.get('rss_mb')} MB"
    if over and now.get("rss_mb") is not None and was.get("rss_mb") is not None:
        check.ok = check.ok and now["rss_mb"] < was["rss_mb"]
    return check


def check_release(target, links, wanted, status, body):
    """links: {"current", "previous"}; wanted: the release current pointed at before the fault."""
    version = (body or {}).get("version") if isinstance(body, dict) else None
    ok = links.get("current") == wanted and version == wanted and status == 200
    detail = f"releases/current -> {links.get('current')} (before the fault: {wanted}); /api/health {status} " \
             f"version {version}"
    return Check("release_rolled_back", ok, detail, target)


def check_storm_blocked(source, blocked_status, other_status):
    ok = blocked_status == 403 and other_status == 200
    return Check("storm_blocked", ok, f"GET /health through nginx from {source}: {blocked_status} (expected 403); "
                                      f"from 127.0.0.1: {other_status} (expected 200)")


def check_count_zero(symptom, count, what):
    if count is None:
        return Check(symptom, False, f"{what}: the database did not answer")
    return Check(symptom, count == 0, f"{count} {what}")


# -- the checks that read a target (a lab_adapters.Target) after the run --------------------------------

def common_checks(target, healthy_after):
    """healthy (when the scenario wants it) and storage-meta (where the service has it), for one target after the
    run. The 1C gateway: /healthz and /readyz; another service: its profile's liveness and readiness checks."""
    checks = []
    if healthy_after:
        if target.profile is None:
            checks.append(check_health(target.name, http_json(target.api_url + "/healthz", timeout=5),
                                       http_json(target.api_url + "/readyz", timeout=5)))
        else:
            from mcpops.drill.profiles import evaluate

            answers = [(spec,) + target.probe(spec, timeout=5) for spec in target.health_specs()]
            checks.append(check_service_health(target.name, answers, evaluate))
    if target.has("storage-meta"):
        status, meta = target.admin("/api/system/storage-meta")
        checks.append(check_storage_meta(target.name, status, meta))
    return checks


def symptom_check(lab, target, symptom, facts, run_output):
    """The fault's own symptom, gone (or named by a read-only runbook)."""
    if symptom in CONNECTOR_SYMPTOMS:
        return connector_symptom_check(lab, target, symptom, facts, run_output)
    if symptom in COMPOSE_SYMPTOMS:  # the compose lab's adapter reads the project (mcpops.drill.compose_checks)
        return lab.symptom_check(target, symptom, facts, run_output)
    if symptom in LEGO_SYMPTOMS:  # the Kubernetes lab's adapter reads the cluster (mcpops.drill.lego_checks)
        return lab.symptom_check(target, symptom, facts, run_output)
    if symptom == "bundle_names_index":  # triage ends green: what it found is in its bundle
        path, bundle = read_triage_bundle(lab, target, run_output)
        return check_bundle_names_index(target.name, path, bundle)
    if symptom in CCTELEGRAM_BUNDLE_SYMPTOMS:  # triage's bundle of a CCTelegram host: what its fault did, counted
        return cctelegram_bundle_check(lab, target, symptom, run_output)
    if symptom == "named_unhealthy_instance":  # the verdict must name this very host, not just any
        check = check_named_instances(symptom, run_output, [target.name])
        check.target = target.name
        return check
    if symptom.startswith("named_"):
        check = check_named(symptom, run_output)
        check.target = target.name
        return check
    if symptom == "certificate_renewed":
        from mcpops.drill.cert_drill import certificate_renewed

        return certificate_renewed(lab, target, facts)
    if symptom == "service_running":
        state = lab.service_state(target)
        return Check(symptom, state in ("RUNNING", "active"), f"service state {state}", target.name)
    if symptom == "store_parses":
        path = target.data_dir / "tokens.json"
        try:
            json.loads(path.read_text())
            return Check(symptom, True, f"{path.name} parses", target.name)
        except (OSError, ValueError) as exc:
            return Check(symptom, False, f"{path.name}: {exc}", target.name)
    if symptom == "schema_supported":
        try:
            meta = json.loads((target.data_dir / "storage-meta.json").read_text())
        except (OSError, ValueError) as exc:
            return Check(symptom, False, f"storage-meta.json: {exc}", target.name)
        applied = meta.get("appliedMigrations") or []
        ok = meta.get("schemaVersion") == 3 and "099_future" not in applied
        return Check(symptom, ok, f"schemaVersion {meta.get('schemaVersion')}, migrations {', '.join(applied)}",
                     target.name)
    if symptom == "rate_limited":
        wanted = facts.get("rate_limit")
        status, body = target.admin(f"/api/mcp-tokens?prefix={facts.get('token_prefix')}")
        records = (body or {}).get("tokens") or [] if status == 200 else []
        record = next((r for r in records if r.get("id") == facts.get("token_id")), None)
        if record is None:
            return Check(symptom, False, f"token {facts.get('token_id')} not found (HTTP {status})", target.name)
        rpm = (record.get("rateLimit") or {}).get("requestsPerMinute")
        return Check(symptom, rpm == wanted, f"token {record['id']} rateLimit {rpm}/min (drill asked {wanted})",
                     target.name)
    if symptom == "token_reissued":
        return _token_reissued(target, facts, run_output)
    if symptom == "backup_fresh":
        status, body = target.admin("/api/system/backups")
        stamps = [_unix(b.get("createdAt")) for b in ((body or {}).get("backups") or [] if status == 200 else [])]
        return check_backup_fresh(target.name, max([s for s in stamps if s is not None], default=None),
                                  _unix(facts.get("at")), time.time())
    if symptom == "unit_restarted":
        before = (facts.get("units_before") or {}).get(target.name) or {}
        depends_on = tuple((target.profile or {}).get("runtime", {}).get("depends_on") or ())
        return check_unit_restarted(target.name, target.unit, before, lab.unit_snapshot(target), depends_on)
    raise DrillError(f"no check for symptom {symptom!r}")


def triage_bundle_path(run_output, host):
    """The path of host's triage bundle as the run's summary names it (`bundle <dir>/<host>.json[.sealed]`), or None."""
    found = re.findall(r"bundle (/\S*?/%s\.json(?:\.sealed)?)(?![\w.])" % re.escape(host), run_output or "")
    return found[-1] if found else None


def read_triage_bundle(lab, target, run_output):
    """(path, the JSON of target's triage bundle) the run named; a sealed one opened with the lab's forensic key
    (lab.open_sealed); the bundle None when it cannot be read."""
    path = triage_bundle_path(run_output, target.name)
    if path is None:
        return None, None
    try:
        if path.endswith(".sealed"):
            data = lab.open_sealed(path) if hasattr(lab, "open_sealed") else None
        else:
            data = Path(path).read_bytes()
        return path, json.loads(data) if data is not None else None
    except Exception:  # noqa: BLE001 (a missing, changed or unreadable bundle: the check says it could not read it)
        return path, None


def check_bundle_names_index(target, path, bundle):
    """path: the bundle the run named (None: none); bundle: its JSON (None: unreadable). Its health must have the
    readyz check failing, with the gateway's answer naming the index check failing (checks.index)."""
    if path is None:
        return Check("bundle_names_index", False, "the run's output names no triage bundle of this host", target)
    if not isinstance(bundle, dict):
        return Check("bundle_names_index", False, f"the bundle {path} could not be read", target)
    checks = (bundle.get("health") or {}).get("checks") or []
    readyz = next((c for c in checks if isinstance(c, dict) and c.get("name") == "readyz"), None) or {}
    body = readyz.get("body") if isinstance(readyz.get("body"), dict) else {}
    index = (body.get("checks") or {}).get("index") if isinstance(body.get("checks"), dict) else None
    ok = readyz.get("ok") is False and isinstance(index, str) and index.startswith("failing")
    return Check("bundle_names_index", ok, f"the bundle {path}: readyz {readyz.get('status')} "
                                           f"({'failing' if readyz.get('ok') is False else 'passing'}), its index "
                                           f"check {index!r}", target)


def _bundle_counts(entries):
    """{key: count} of app_log_scan's ranked list ([{"key", "count"}])."""
    return {e.get("key"): e.get("count") or 0 for e in entries or () if isinstance(e, dict)}


def _no_bundle(name, target, path, bundle):
    """The failed check when the run named no triage bundle of this host, or it could not be read; else None."""
    if path is None:
        return Check(name, False, "the run's output names no triage bundle of this host", target)
    if not isinstance(bundle, dict):
        return Check(name, False, f"the bundle {path} could not be read", target)
    return None


def check_cctelegram_bundle_5xx(target, path, bundle, error_type):
    """path: triage's bundle of the host the run named (None: none); bundle: its JSON (None: unreadable). Its
    application log scan must count ERROR lines of error_type (the fault's 500s), by type."""
    name = "bundle_cctelegram_5xx"
    missing = _no_bundle(name, target, path, bundle)
    if missing is not None:
        return missing
    errors = (bundle.get("app_log") or {}).get("errors") or {}
    by_type = _bundle_counts(errors.get("by_type"))
    counted = by_type.get(error_type, 0)
    return Check(name, counted > 0, f"the bundle {path}: {errors.get('total', 0)} errors in the application log, "
                                    f"{counted} {error_type} (by type: {by_type or 'none'})", target)


def check_cctelegram_bundle_auth_failures(target, path, bundle, source):
    """As check_cctelegram_bundle_5xx: the bundle's log scan must count auth failures (SECURITY lines) of the client
    at source."""
    name = "bundle_cctelegram_auth_failures"
    missing = _no_bundle(name, target, path, bundle)
    if missing is not None:
        return missing
    failures = (bundle.get("app_log") or {}).get("auth_failures") or {}
    by_ip = _bundle_counts(failures.get("by_client_ip"))
    counted = by_ip.get(source, 0)
    return Check(name, counted > 0, f"the bundle {path}: {failures.get('total', 0)} auth failures, {counted} from "
                                    f"{source} (by client: {by_ip or 'none'})", target)


def cctelegram_bundle_check(lab, target, symptom, run_output):
    """A symptom read from triage's bundle of a CCTelegram host, the one the run's output names (read_triage_bundle):
    what the fault of mcpops.lab.fleet.services did (its error type, its client's address), counted there."""
    from mcpops.lab.fleet import services

    path, bundle = read_triage_bundle(lab, target, run_output)
    if symptom == "bundle_cctelegram_5xx":
        return check_cctelegram_bundle_5xx(target.name, path, bundle, services.SERVER_ERROR_TYPE)
    if symptom == "bundle_cctelegram_auth_failures":
        return check_cctelegram_bundle_auth_failures(target.name, path, bundle, services.OFFENDER_SOURCE)
    raise DrillError(f"no check for symptom {symptom!r}")


def _unix(stamp):
    """Unix seconds of a contract timestamp (2026-12-05T11:20:01Z), None for anything else."""
    try:
        return calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))
    except (TypeError, ValueError):
        return None


def _token_reissued(target, facts, run_output):
    """token_reissued on a 1C target: its tokens (every page), the run's summary line, the secret file it names."""
    from mcpops.drill.lab_adapters import read_token_records

    match = REISSUED_LINE.search(run_output or "")
    said = match.groups() if match else None
    secret_file = None
    if said:
        path = Path(said[3])
        try:
            secret_file = (path.stat().st_mode & 0o777, path.read_text().strip().startswith(said[1]))
        except OSError:
            secret_file = None
    return check_token_reissued(target.name, facts, read_token_records(target) or [], said, secret_file)


def undone_check(lab, symptom, facts):
    """After the scenario's undo run: the symptom's repair taken back where the drill checks it, else None."""
    if symptom == "storm_blocked":
        source = facts.get("storm_source")
        status = lab.lb_status("/health", source, expect=200)
        return Check("undone", status == 200, f"after the undo run, GET /health through nginx from {source}: "
                                              f"{status} (expected 200)")
    if symptom in LEGO_SYMPTOMS:  # the Kubernetes lab's adapter reads the cluster (mcpops.drill.lego_checks)
        return lab.undone_check(symptom, facts)
    return None


CONNECTOR_SYMPTOMS = ("exhausted_restarted", "idle_sessions_killed", "breakers_closed", "storm_blocked",
                      "expired_states_gone", "named_skew", "memory_released", "instances_restarted",
                      "release_rolled_back")


def connector_symptom_check(lab, target, symptom, facts, run_output):
    """A ConnectorMCP symptom; lab: a lab_adapters.ConnectorDrillLab, facts: its fault_facts and the extra vars."""
    after = (facts.get("after_fault") or {}).get(target.name) or {}
    if symptom == "exhausted_restarted":
        exhausted = bool(after.get("pool_exhausted"))
        return check_restarted_where_needed(symptom, target.name, after.get("pid"), lab.program_pid(target),
                                            exhausted, "pool exhausted at the fault" if exhausted
                                            else "pool not exhausted at the fault")
    if symptom == "instances_restarted":
        now = lab.program_pid(target)
        state = lab.service_state(target)
        check = check_restarted_where_needed(symptom, target.name, after.get("pid"), now, True,
                                             f"{after.get('state')} after the fault")
        check.ok = check.ok and state == "RUNNING"
        check.detail += f", now {state}"
        return check
    if symptom == "memory_released":
        percent = facts.get("restart_over_percent", 80)
        threshold = float(facts.get("memory_limit_mb", 1024)) * float(percent) / 100
        now = {"pid": lab.program_pid(target), "rss_mb": lab.rss_mb(target)}
        return check_memory_released(target.name, after, now, threshold)
    if symptom == "breakers_closed":
        return check_breakers(target.name, *http_json(target.api_url + "/api/health", timeout=10))
    if symptom == "release_rolled_back":
        wanted = (facts.get("before_fault") or {}).get("releases", {}).get("current")
        status, body = http_json(target.api_url + "/api/health", timeout=10)
        return check_release(target.name, lab.release_links(), wanted, status, body)
    if symptom == "storm_blocked":
        source = facts.get("storm_source")  # nginx reloads its workers gracefully: wait for the answer wanted
        return check_storm_blocked(source, lab.lb_status("/health", source, expect=403),
                                   lab.lb_status("/health", "127.0.0.1", expect=200))
    if symptom == "idle_sessions_killed":
        users = list(facts.get("kill_users") or [])
        count = lab.sql_count("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER IN ("
                              + ", ".join(["%s"] * len(users)) + ")", users) if users else None
        return check_count_zero(symptom, count, f"sessions of {', '.join(users) or '(no kill_users)'} left")
    if symptom == "expired_states_gone":
        count = lab.sql_count("SELECT COUNT(*) FROM oauth_states WHERE expires_at < NOW()")
        return check_count_zero(symptom, count, "expired rows in oauth_states")
    if symptom == "named_skew":
        return check_named_instances(symptom, run_output, facts.get("skewed") or ())
    raise DrillError(f"no check for symptom {symptom!r}")
