"""The drill's side of cert-renewal on the local lab (fault gateway-cert-expiring, alert
OnecGatewayCertificateExpiring): what the approver gives, and what proves the certificate renewed.

An alert cannot carry a new certificate: in production the operator fetches it from the CA and approves the check
run with its paths. The drill plays that CA: it issues a new long certificate (and key, 0600) from the lab's test CA
of the gateway's TLS endpoint (mcpops.lab.fixtures.gateway_tls) and approves with cert-renewal's own extra vars
(`mcpops approve <id> -e new_cert=... -e new_key=... -e cert_endpoint=...`); the reload is the lab endpoint's, as
nginx's would be (`kill -HUP <pid>`). Paths go into the approval and the reports, the key's content never.

approver_inputs is the hook the alert drill calls before `mcpops approve`, run_vars the local lab's for a drill without
the alert; certificate_renewed is the scenario's symptom (mcpops.drill.checks); check_certificate_renewed is pure
(tests/unit/mcpops/drill/test_cert_drill.py).
"""

import datetime
import json
from pathlib import Path

from mcpops.drill.check import Check

FAULT = "gateway-cert-expiring"
SYMPTOM = "certificate_renewed"
RULE_DAYS = 14  # OnecGatewayCertificateExpiring: under 14 days left fires; a renewed certificate has more


def renewal_vars(facts, new_cert, new_key):
    """cert-renewal's extra vars for the lab: the endpoint the fault recorded, its files, the new pair and the reload
    of the lab's endpoint (its PID)."""
    return {
        "cert_endpoint": facts["endpoint"],
        "cert_ca_path": facts["ca_file"],
        "cert_path": facts["cert_file"],
        "key_path": facts["key_file"],
        "new_cert": str(new_cert),
        "new_key": str(new_key),
        "tls_service_reload_method": "command",
        "tls_service_reload_command": ["kill", "-HUP", str(facts["pid"])],
    }


def renewal_inputs(facts, new_cert, new_key):
    """renewal_vars as the approver's `-e name=value` pairs (a list as JSON, as `mcpops approve -e` reads it)."""
    args = []
    for name, value in renewal_vars(facts, new_cert, new_key).items():
        args += ["-e", f"{name}={json.dumps(value) if isinstance(value, list) else value}"]
    return args


def _issue_renewal(lab, target_name, out):
    """The drill as the CA: a new LONG_DAYS pair for the gateway's TLS endpoint into <its dir>/renewal/; (fault's
    facts, cert path, key path)."""
    from mcpops.lab.fixtures.gateway_tls import LONG_DAYS, LabGatewayTls

    facts = lab.fault_facts(FAULT)
    tls = LabGatewayTls(lab.env()["MCPOPS_LAB_DIR"])
    renewal = tls.dir / "renewal"
    new_cert, new_key = renewal / "fullchain.pem", renewal / "privkey.pem"
    serial = tls.issue(days=LONG_DAYS, cert_path=new_cert, key_path=new_key)
    out(f"{target_name}: the drill plays the CA: certificate {serial:X} ({LONG_DAYS} days) from the lab's test CA "
        f"{tls.ca_file}, in {renewal}")
    return facts, new_cert, new_key


def approver_inputs(lab, target, scenario, out=print):
    """The `-e` pairs the approver adds beyond the scenario's static extra vars (the alert drill, before `mcpops
    approve`): for gateway-cert-expiring, a new pair the drill issues as the CA; [] for every other fault."""
    if scenario.fault != FAULT:
        return []
    return renewal_inputs(*_issue_renewal(lab, target.name, out))


def run_vars(lab, scenario, out=print):
    """The same as extra vars of the drill without the alert (`mcpops drill cert-renewal`: the lab's run_vars): the
    operator runs the runbook with the new pair at once; {} for every other fault."""
    if scenario.fault != FAULT:
        return {}
    return renewal_vars(*_issue_renewal(lab, "lab-gateway", out))


def days_left(not_after, now=None):
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return (not_after - now).total_seconds() / 86400


def check_certificate_renewed(target_name, expiring_serial, served, now=None):
    """served: (serial, not_after) the endpoint serves now, or None when nothing answered. Renewed when it is
    another certificate than the fault's and has more than RULE_DAYS left (the alert can resolve)."""
    if served is None:
        return Check(SYMPTOM, False, "the gateway's TLS endpoint serves nothing (not running)", target_name)
    serial, not_after = served
    left = days_left(not_after, now)
    ok = serial != expiring_serial and left > RULE_DAYS
    return Check(SYMPTOM, ok, f"the gateway's TLS endpoint serves {serial}, {left:.1f} days left (the fault's was "
                              f"{expiring_serial}; renewed means another one with over {RULE_DAYS} days)", target_name)


def certificate_renewed(lab, target, facts):
    """The symptom's check on the lab: what the gateway's TLS endpoint serves now, verified against its CA."""
    from mcpops.lab.fixtures.gateway_tls import served_certificate

    try:
        served = served_certificate(facts["endpoint"], Path(facts["ca_file"]))
    except (KeyError, OSError) as exc:
        return Check(SYMPTOM, False, f"the gateway's TLS endpoint {facts.get('endpoint')}: {exc}", target.name)
    return check_certificate_renewed(target.name, facts.get("serial"), served)
