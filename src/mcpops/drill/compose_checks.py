"""What proves a Loyalty API fault gone on the compose lab (`mcpops drill <loyalty runbook> --lab compose`): the
container the fault stopped runs again, the mode left on is off (by the API's own /health), the pending migration is
applied (`migrate status` in the api container), the release before the bad one serves again, the outbox drained
(nothing pending, delivery not paused; the worker on again, or no dead event left). And what a read-only runbook must
name: triage's bundle (the file its summary names) showing the API's business requests answered 5xx.

The check_* functions are pure (tests/unit/mcpops/drill/test_compose_drills.py); compose_symptom_check reads the lab
through the adapter (compose_drill_lab.ComposeDrillLab.symptom_check, which checks.symptom_check asks for the
COMPOSE_SYMPTOMS: so checks never imports this module back). The read-only runbooks' named symptoms are checks.NAMED_PATTERNS'.
"""

import json
import re

from mcpops.drill.checks import COMPOSE_SYMPTOMS, Check, triage_bundle_path
from mcpops.drill.scenarios import DrillError
from mcpops.lab.http_client import http_json

# symptom -> the compose service that must be running again
RUNNING = {"api_running": "api", "postgres_running": "postgres", "redis_running": "redis"}
# A log line of the API (pino JSON) answering one of its business routes with a 5xx
BUSINESS_5XX = re.compile(r'"url":\s*"(/api/[^"]*)"[^\n]*"statusCode":\s*(5\d\d)')


def check_service_running(symptom, target, service, states):
    """states: {service: (state, last exit code)} of the project (LoyaltyLab.states)."""
    state, code = states.get(service) or (None, None)
    detail = f"compose service {service}: {state or 'no container'}" + \
        (f" (last exit {code})" if state != "running" and code is not None else "")
    return Check(symptom, state == "running", detail, target)


def check_modes_off(target, status, body):
    """status, body: GET /health; maintenance and read-only both off, by what the API says of itself."""
    body = body if isinstance(body, dict) else {}
    maintenance, read_only = body.get("maintenance"), body.get("readOnly")
    ok = status == 200 and maintenance is False and read_only is False
    return Check("modes_off", ok, f"/health {status}: maintenance {maintenance}, readOnly {read_only}", target)


def check_migrations_applied(target, code, report):
    """code, report: `loyalty_migrations status --json` in the api container (LoyaltyLab.migrate)."""
    report = report if isinstance(report, dict) else {}
    pending, failed = report.get("pending") or [], report.get("failed") or []
    ok = code == 0 and report.get("up_to_date") is True and not pending and not failed
    detail = f"migrate status exit {code}: {len(report.get('applied') or [])} applied"
    detail += f", pending {', '.join(pending)}" if pending else ", none pending"
    if failed:
        detail += f", failed {', '.join(failed)}"
    return Check("migrations_applied", ok, detail, target)


def check_release(target, wanted, status, body, env_tag):
    """wanted: the tag serving before the bad release; status, body: GET /health; env_tag: IMAGE_TAG in the env file."""
    version = body.get("version") if isinstance(body, dict) else None
    ok = status == 200 and version == wanted and env_tag == wanted
    return Check("release_rolled_back_compose", ok,
                 f"/health {status} version {version}, IMAGE_TAG {env_tag} (before the bad release: {wanted})", target)


def check_outbox(symptom, target, outbox, worker_state=None, workers_enabled=None):
    """outbox: `loyalty_outbox status --json` (pending, dead, paused); worker_state, workers_enabled: the worker
    container's state and WORKERS_ENABLED in the env file, where the symptom is the worker's (outbox_drained)."""
    outbox = outbox if isinstance(outbox, dict) else {}
    ok = outbox.get("pending") == 0 and outbox.get("paused") is False
    detail = f"outbox pending {outbox.get('pending')}, dead {outbox.get('dead')}, paused {outbox.get('paused')}"
    if symptom == "dead_resent":
        ok = ok and outbox.get("dead") == 0
    else:
        ok = ok and worker_state == "running" and workers_enabled == "1"
        detail = f"worker {worker_state}, WORKERS_ENABLED={workers_enabled}; " + detail
    return Check(symptom, ok, detail, target)


def check_bundle_5xx(target, path, bundle):
    """path: the bundle the run named (None: it named none); bundle: its JSON (None: unreadable, or sealed). Its
    last_errors must show a business request of the API answered 5xx (the service's own log lines)."""
    if path is None:
        return Check("bundle_api_5xx", False, "the run's output names no triage bundle of this host", target)
    if not isinstance(bundle, dict):
        return Check("bundle_api_5xx", False, f"the bundle {path} could not be read as JSON (sealed, or missing)",
                     target)
    errors = [line for line in bundle.get("last_errors") or [] if isinstance(line, str)]
    shown = [match.groups() for match in map(BUSINESS_5XX.search, errors) if match]
    detail = f"the bundle {path}: {len(shown)} of its {len(errors)} last errors are business requests answered 5xx"
    if shown:
        detail += f", e.g. {shown[-1][0]} {shown[-1][1]}"
    return Check("bundle_api_5xx", bool(shown), detail, target)


def read_bundle(path):
    """The bundle's JSON, None when it cannot be read (a sealed bundle is not JSON)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError, TypeError):
        return None


def compose_symptom_check(lab, target, symptom, facts, run_output=""):
    """One Loyalty symptom on the compose lab; lab: a compose_drill_lab.ComposeDrillLab, facts: its fault_facts,
    run_output: what the run printed (a read-only runbook's symptom reads the bundle it names)."""
    loyalty = lab.lab
    if symptom == "bundle_api_5xx":
        path = triage_bundle_path(run_output, target.name)
        return check_bundle_5xx(target.name, path, read_bundle(path) if path else None)
    if symptom in RUNNING:
        return check_service_running(symptom, target.name, RUNNING[symptom], loyalty.states())
    if symptom == "modes_off":
        return check_modes_off(target.name, *http_json(target.api_url + "/health", timeout=10))
    if symptom == "migrations_applied":
        return check_migrations_applied(target.name, *loyalty.migrate("status"))
    if symptom == "release_rolled_back_compose":
        status, body = http_json(target.api_url + "/health", timeout=10)
        return check_release(target.name, facts.get("release_before"), status, body,
                             loyalty.read_env().get("IMAGE_TAG"))
    if symptom == "dead_resent":
        return check_outbox(symptom, target.name, loyalty.outbox("status"))
    if symptom == "outbox_drained":
        return check_outbox(symptom, target.name, loyalty.outbox("status"), (loyalty.states().get("worker") or ("",))[0],
                            loyalty.read_env().get("WORKERS_ENABLED"))
    raise DrillError(f"no check for symptom {symptom!r}")
