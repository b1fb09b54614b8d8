"""What proves a LEGO MCP fault gone on the Kubernetes lab (`mcpops drill <lego runbook> --lab kubernetes`): the
dashboard's image is the one before the bad one and its rollout is complete; the dashboard is scaled back; the
compromised pod is gone with its quarantine, the DB password rotated (the old one refused, the inventory's new one
accepted); the wiped namespace is back with the database as dumped; the software fallback is off again and the audit
chain verified end to end; under a high load the three workloads scaled up, Ready, the load reaching every dashboard
pod and the run's assessment seeing it, then (after the undo run's scale down) back to the healthy size; the leaking
application's sessions gone from PostgreSQL (counted as the superuser, whose slots a full server keeps). Each of them
with the lab healthy: every dashboard pod of the current template Ready and answering /health healthy, signing with
the HSM, and celery-worker available (LegoStack.healthy).

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
# The scale runbook's assessment of the load (playbooks/lego-scale-high-load.yml, step 1)
LOAD_ASSESSED = re.compile(r"Load \(access logs of the dashboard pods, last (\d+) s\): (\d+) requests, "
                           r"([0-9.]+)/s")
LOADED_RATE = 1.0  # requests a second the assessment must count: the readiness probes alone are 0.1/s a pod
# seconds for the dashboard to be healthy again once the leaked sessions are gone: a readiness probe every 10 s, and
# a pod whose liveness failed through the exhaustion (6 x 20 s) restarted by the node agent
HEALTHY_AGAIN_WAIT = 120.0
# The workloads lego-scale-high-load scales, as the drill names them, and the extra vars of their size under load
SCALED = {"deployment/dashboard": "dashboard_replicas", "deployment/celery-worker": "worker_replicas",
          "statefulset/postgresql-replica": "replica_replicas"}


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


def _sizes(wanted, now):
    """The workloads not at their wanted size, each "<workload> <spec>/<ready> Ready (want N)"."""
    wrong = []
    for workload, want in wanted.items():
        spec, ready = now.get(workload) or (None, None)
        if spec != want or ready != want:
            wrong.append(f"{workload} {spec}/{ready} Ready (want {want})")
    return wrong


def check_scaled_for_load(target, wanted, now, healthy, load, run_output):
    """wanted: {workload: replicas asked for}; now: {workload: (spec replicas, ready replicas)}; healthy:
    LegoStack.healthy at the dashboard's wanted size; load: the load process's last status (its per_pod answers);
    the run's assessment must have counted the load (LOADED_RATE)."""
    problems = _sizes(wanted, now)
    if healthy is not True:
        problems.append(_healthy_detail(healthy))
    pods = sorted((load or {}).get("pods") or [])
    served = {name for name, count in ((load or {}).get("per_pod") or {}).items() if count > 0}
    if not load or not pods:
        problems.append("no load status")
    elif set(pods) - served:
        problems.append(f"the load reached no answer from {', '.join(sorted(set(pods) - served))}")
    match = LOAD_ASSESSED.search(run_output or "")
    if not match:
        problems.append("no line of the run assesses the dashboard's load")
    elif float(match.group(3)) < LOADED_RATE:
        problems.append(f"the run's assessment counted {match.group(3)} requests/s, under {LOADED_RATE:g}")
    sizes = ", ".join(f"{w} {now.get(w, (None,))[0]}" for w in wanted)
    detail = (f"{sizes}, every pod Ready, the dashboard healthy; the load ({(load or {}).get('requests')} requests) "
              f"answered by all {len(pods)} dashboard pods; the run assessed {match.group(2) if match else '?'} "
              f"requests in {match.group(1) if match else '?'} s") if not problems else "; ".join(problems)
    return Check("scaled_for_load", not problems and bool(wanted), detail, target)


def check_leaked_sessions_terminated(target, application, left, healthy):
    """left: sessions of the leaking application in pg_stat_activity now (None: PostgreSQL did not answer the
    superuser); healthy: LegoStack.healthy once none is left (the dashboard's new connections get through again)."""
    if left is None:
        return Check("leaked_sessions_terminated", False, "PostgreSQL did not answer the superuser's count", target)
    ok = left == 0 and healthy is True
    return Check("leaked_sessions_terminated", ok, f"{left} sessions of {application} left in pg_stat_activity; "
                                                   f"{_healthy_detail(healthy)}", target)


def check_back_to_size(target, wanted, now, healthy, load_running):
    """After the undo run's scale down: each workload at its size before the load, Ready, healthy, the load gone."""
    problems = _sizes(wanted, now)
    if healthy is not True:
        problems.append(_healthy_detail(healthy))
    if load_running:
        problems.append("the load process still runs")
    sizes = ", ".join(f"{w} {n}" for w, n in wanted.items())
    return Check("back_to_size", not problems and bool(wanted),
                 f"after the scale down: {sizes} as before the load, every pod Ready, the dashboard healthy"
                 if not problems else "; ".join(problems), target)


def workload_sizes(stack, workloads):
    """{workload: (spec replicas, ready replicas)} of "kind/name" workloads."""
    sizes = {}
    for workload in workloads:
        obj = stack.get_json(*workload.split("/"))
        sizes[workload] = (obj["spec"].get("replicas"), (obj.get("status") or {}).get("readyReplicas", 0))
    return sizes


def lego_undone_check(lab, symptom, facts):
    """After the undo run (kube_drill_lab.KubeDrillLab.undone_check); None where the symptom has none."""
    if symptom != "scaled_for_load":
        return None
    before = facts.get("workloads_before") or {}
    now = workload_sizes(lab.stack, before)
    return check_back_to_size(lab.HOST, before, now, lab.stack.healthy(before.get("deployment/dashboard")),
                              lab.recorded.load_running())


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
    if symptom == "scaled_for_load":
        wanted = {workload: facts.get(var) for workload, var in SCALED.items()}
        now = workload_sizes(stack, wanted)
        return check_scaled_for_load(name, wanted, now, stack.healthy(wanted["deployment/dashboard"]),
                                     facts.get("load"), run_output)
    if symptom == "leaked_sessions_terminated":
        from mcpops.lab.lego.faults import LEAK_APPLICATION

        left = _sessions_of(stack, LEAK_APPLICATION)
        # the dashboard's pods come back Ready on their readiness probe's schedule: waited for only once none is left
        healthy = _healthy_within(stack, HEALTHY_AGAIN_WAIT) if left == 0 else stack.healthy()
        return check_leaked_sessions_terminated(name, LEAK_APPLICATION, left, healthy)
    raise DrillError(f"no check for symptom {symptom!r}")


def _sessions_of(stack, application):
    """Client sessions of application_name in pg_stat_activity, asked as the superuser over the cluster's socket (a
    slot PostgreSQL keeps for it when lego_mcp holds every other); None when PostgreSQL does not answer."""
    import psycopg

    try:
        with psycopg.connect(autocommit=True, connect_timeout=5, **stack.pg.dsn()) as conn:
            return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
                                "AND application_name = %s", (application,)).fetchone()[0]
    except psycopg.Error:
        return None


def _healthy_within(stack, seconds):
    """LegoStack.healthy, asked until it is True or seconds passed; its last answer."""
    import time

    deadline = time.monotonic() + seconds
    while True:
        healthy = stack.healthy()
        if healthy is True or time.monotonic() >= deadline:
            return healthy
        time.sleep(1)


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
