"""What proves a LEGO MCP fault gone on the Kubernetes lab (`mcpops drill <lego runbook> --lab kubernetes`): the
dashboard's image is the one before the bad one and its rollout is complete; the dashboard is scaled back; the
compromised pod is gone with its quarantine, the DB password rotated (the old one refused, the inventory's new one
accepted); the wiped namespace is back with the database as dumped; the software fallback is off again and the audit
chain verified end to end. Each of them with the lab healthy: every dashboard pod of the current template Ready and
answering /health healthy, signing with the HSM, and celery-worker available (LegoStack.healthy).

The check_* functions are pure (tests/unit/mcpops/drill/test_lego_drills.py); lego_symptom_check reads the lab
through the adapter (kube_drill_lab.KubeDrillLab.symptom_check, which checks.symptom_check asks for the
LEGO_SYMPTOMS: so checks never imports this module back). The read-only morning check's named symptom is
checks.NAMED_PATTERNS'.
"""

import re

from mcpops.drill.check import Check
from mcpops.drill.scenarios import DrillError

# The after-recovery run's summary line of the audit chain (playbooks/lego-hsm-unavailable.yml, step 5)
CHAIN_VERIFIED = re.compile(r"Audit chain: (\d+) records, verified end to end[^\n;]*; signed in software fallback: "
                            r"(\d+)(?: \(ids ([^;)]*))?")


def _healthy_detail(healthy):
    return "the dashboard is healthy" if healthy is True else f"not healthy: {healthy}"


def check_image_rolled_back(target, wanted, image, healthy):
    """wanted: the dashboard's image before the fault; image: its template's image now; healthy: LegoStack.healthy."""
    ok = image == wanted and healthy is True
    return Check("image_rolled_back", ok, f"deployment/dashboard image {image} (before the fault: {wanted}); "
                                          f"{_healthy_detail(healthy)}", target)


def check_scaled_back(target, wanted, replicas, healthy):
    """wanted: the replicas the runbook was asked for; replicas: the deployment's spec now; healthy: at that size."""
    ok = replicas == wanted and bool(wanted) and healthy is True
    return Check("dashboard_scaled_back", ok, f"deployment/dashboard wants {replicas} replicas (asked for {wanted}); "
                                              f"{_healthy_detail(healthy)}", target)


def check_contained_and_replaced(target, pod, pod_left, quarantined, policy_left, old_refused, new_accepted, healthy):
    """pod: the compromised pod; pod_left: it still exists; quarantined: pods labelled quarantine now; policy_left:
    the quarantine NetworkPolicy exists; old_refused / new_accepted: PostgreSQL's answer to the password before the
    fault and to the inventory's password now."""
    problems = []
    if pod_left:
        problems.append(f"pod {pod} still exists")
    if quarantined:
        problems.append(f"pods still labelled quarantine: {', '.join(quarantined)}")
    if policy_left:
        problems.append("networkpolicy quarantine still exists")
    if not old_refused:
        problems.append("the DB password before the incident is still accepted")
    if not new_accepted:
        problems.append("the inventory's DB password is refused")
    if healthy is not True:
        problems.append(_healthy_detail(healthy))
    detail = (f"pod {pod} replaced, quarantine lifted, the old DB password refused and the new one accepted, "
              "the dashboard is healthy") if not problems else "; ".join(problems)
    return Check("pod_contained_and_replaced", not problems and bool(pod), detail, target)


def check_namespace_recovered(target, namespace_phase, rows, rows_at_dump, healthy):
    """namespace_phase: the namespace's status.phase (None: there is none); rows, rows_at_dump: audit_log's rows now
    and when the dump was taken (the restore takes the database back to it)."""
    ok = namespace_phase == "Active" and rows == rows_at_dump and rows_at_dump is not None and healthy is True
    return Check("namespace_recovered", ok, f"namespace {namespace_phase or 'missing'}; audit_log {rows} rows "
                                            f"(at the dump: {rows_at_dump}); {_healthy_detail(healthy)}", target)


def check_fallback_off(target, env, healthy, run_output, fallback_id=None):
    """env: the dashboard template's literal env; the run's summary must say the chain verified end to end with the
    record signed in the fallback (fallback_id) among the fallback's."""
    flag = env.get("HSM_FALLBACK_ENABLED")
    match = CHAIN_VERIFIED.search(run_output or "")
    ids = [part.strip() for part in (match.group(3) or "").split(",")] if match else []
    listed = fallback_id is None or str(fallback_id) in ids
    ok = flag == "false" and healthy is True and bool(match) and int(match.group(2)) >= 1 and listed
    chain = (f"the run says {match.group(0)!r}" if match else
             "no line of the run says the audit chain was verified end to end")
    if match and not listed:
        chain += f" (the fallback's record {fallback_id} not among them)"
    return Check("fallback_off_chain_verified", ok, f"HSM_FALLBACK_ENABLED={flag}; {_healthy_detail(healthy)}; "
                                                    f"{chain}", target)


def lego_symptom_check(lab, target, symptom, facts, run_output=""):
    """One LEGO symptom on the Kubernetes lab; lab: a kube_drill_lab.KubeDrillLab, facts: its fault_facts and the
    scenario's extra vars."""
    stack = lab.stack
    name = target.name
    if symptom == "image_rolled_back":
        deployment = stack.get_json("deployment", "dashboard")
        image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        return check_image_rolled_back(name, facts.get("image_before"), image, stack.healthy())
    if symptom == "dashboard_scaled_back":
        replicas = stack.get_json("deployment", "dashboard")["spec"].get("replicas")
        return check_scaled_back(name, facts.get("replicas"), replicas, stack.healthy(replicas))
    if symptom == "pod_contained_and_replaced":
        pod = facts.get("pod")
        pod_left = bool(pod) and stack.kubectl("get", "pod", pod, check=False).returncode == 0
        quarantined = stack.kubectl("get", "pods", "-l", "quarantine", "-o", "name").stdout.split()
        policy_left = stack.kubectl("get", "networkpolicy", "quarantine", check=False).returncode == 0
        return check_contained_and_replaced(name, pod, pod_left, quarantined, policy_left,
                                            not _accepts(lab, lab.password_before), _accepts(lab, None),
                                            stack.healthy())
    if symptom == "namespace_recovered":
        import json

        proc = stack.plane.kubectl("get", "namespace", "lego-mcp", "-o", "json", check=False)
        phase = (json.loads(proc.stdout).get("status") or {}).get("phase") if proc.returncode == 0 else None
        return check_namespace_recovered(name, phase, lab._audit_rows(), facts.get("audit_rows_at_dump"),
                                         stack.healthy())
    if symptom == "fallback_off_chain_verified":
        container = stack.get_json("deployment", "dashboard")["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e.get("value") for e in container.get("env") or [] if "name" in e}
        return check_fallback_off(name, env, stack.healthy(), run_output, facts.get("fallback_audit_id"))
    raise DrillError(f"no check for symptom {symptom!r}")


def _accepts(lab, password):
    """Whether PostgreSQL accepts lego_mcp with this password over TCP (None: the inventory's)."""
    import psycopg

    if password is None and not lab.stack.db_password:
        return False
    try:
        with lab.db(password):
            return True
    except psycopg.OperationalError:
        return False
