"""The seed's faults on the LEGO lab, each with its repair. A fault breaks the real thing (the HSM process, the
token, the deployment's spec, PostgreSQL's connection slots, the namespace) so that a runbook's own steps cure it;
the repair is what the lab does when no runbook did, and ends with the stack healthy again (stack.wait_healthy).

| fault | breaks | repair |
| --- | --- | --- |
| hsm-down | the HSM service stopped (by its PID): /health 503, signed writes refused | start it again, same port |
| hsm-slow | every HSM answer delayed past the dashboard's 1 s HSM timeout | clear the delay |
| hsm-token-removed | the SoftHSM2 token dir moved away: signing fails | move it back |
| bad-image | `set image` to a `-broken` tag: the new pods crash-loop, the rollout never completes | `rollout undo` |
| scaled-to-zero | dashboard scaled to 0: no pod answers | scale back to the stack's replicas |
| db-connections-exhausted | idle sessions of lego_mcp up to max_connections: "too many clients" | close them |
| compromised-pod | an unexpected process and an outbound connection attempt written into a pod's log | delete the pod |
| namespace-wiped | the namespace deleted (and waited for) | full recovery: stack.deploy() |
"""

import datetime

from mcpops.lab.lego import dashboard
from mcpops.lab.lego.hsm_process import LegoError
from mcpops.lab.lego.stack import DB_NAME, DB_USER, NAMESPACE

HSM_SLOW_MS = 2500  # over the manifests' HSM_TIMEOUT_SECONDS=1
BAD_IMAGE_SUFFIX = "-broken"  # the node agent's default bad suffix
LEAK_APPLICATION = "celery-worker"  # application_name of the leaked sessions, as pg_stat_activity shows them
# What the security runbook looks for in a compromised pod's log (documentation addresses: RFC 5737).
INTRUDER_PROCESS = "/tmp/.X11-cache/kworkerds"
INTRUDER_PEER = "203.0.113.66:3333"


def _stamp():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- the HSM

def hsm_down(stack):
    stack.hsm.stop()


def hsm_down_repair(stack):
    stack.hsm.start()


def hsm_slow(stack):
    stack.hsm.set_slow(HSM_SLOW_MS)


def hsm_slow_repair(stack):
    stack.hsm.clear_slow()


def hsm_token_removed(stack):
    stack.hsm.remove_token()


def hsm_token_removed_repair(stack):
    stack.hsm.restore_token()


# -- the deployment

def bad_image(stack):
    """The dashboard's image set to its tag + `-broken`; returns the bad image."""
    deployment = stack.get_json("deployment", "dashboard")
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    if image.endswith(BAD_IMAGE_SUFFIX):
        return image
    bad = image + BAD_IMAGE_SUFFIX
    stack.kubectl("set", "image", "deployment/dashboard", f"dashboard={bad}")
    return bad


def bad_image_repair(stack):
    deployment = stack.get_json("deployment", "dashboard")
    if deployment["spec"]["template"]["spec"]["containers"][0]["image"].endswith(BAD_IMAGE_SUFFIX):
        stack.kubectl("rollout", "undo", "deployment/dashboard")


def scaled_to_zero(stack):
    stack.kubectl("scale", "deployment/dashboard", "--replicas=0")


def scaled_to_zero_repair(stack):
    stack.kubectl("scale", "deployment/dashboard", f"--replicas={stack.replicas}")


# -- PostgreSQL

def db_connections_exhausted(stack):
    """Open idle lego_mcp sessions until the server refuses one; returns how many are held."""
    import psycopg

    while True:
        try:
            conn = psycopg.connect(autocommit=True, connect_timeout=5, application_name=LEAK_APPLICATION,
                                   **stack.pg.dsn(user=DB_USER, dbname=DB_NAME, password=stack.db_password, tcp=True))
        except psycopg.OperationalError as exc:
            if "too many" in str(exc) or "remaining connection slots" in str(exc):
                break
            raise LegoError(f"cannot open a lego_mcp session: {exc}") from None
        conn.execute("SELECT 1")  # then idle, as a leaked pool's sessions are
        stack.held_connections.append(conn)
        if len(stack.held_connections) > stack.pg.max_connections:
            raise LegoError("PostgreSQL accepted more sessions than max_connections")
    return len(stack.held_connections)


def db_connections_exhausted_repair(stack):
    stack.release_connections()


# -- security

def compromised_pod(stack):
    """Write an unexpected process and an outbound connection attempt into a Ready dashboard pod's log, as a
    runtime security sensor would report them; returns the pod's name."""
    pods = [p for p in dashboard.pods(stack.plane) if dashboard.is_ready(p)]
    if not pods:
        raise LegoError("no Ready dashboard pod to compromise")
    name = sorted(p["metadata"]["name"] for p in pods)[0]
    lines = [f"{_stamp()} WARN security: unexpected process started: {INTRUDER_PROCESS} -o stratum+tcp://"
             f"{INTRUDER_PEER} (pid 31337, parent /bin/sh, user app)",
             f"{_stamp()} WARN security: outbound connection attempt to {INTRUDER_PEER} (tcp) by pid 31337 "
             f"({INTRUDER_PROCESS})"]
    with open(stack.agent.pod_log(NAMESPACE, name, "dashboard"), "a", encoding="utf-8") as log:
        log.write("\n".join(lines) + "\n")
    stack.compromised = name
    return name


def compromised_pod_repair(stack):
    """The compromised pod deleted (its ReplicaSet makes a clean one); the quarantine policy removed."""
    name = getattr(stack, "compromised", None)
    if name:
        stack.kubectl("delete", "pod", name, "--ignore-not-found", "--wait=true", timeout=120)
    stack.kubectl("delete", "networkpolicy", "quarantine", "--ignore-not-found")
    stack.compromised = None


# -- everything

def namespace_wiped(stack):
    stack.plane.kubectl("delete", "namespace", NAMESPACE, "--wait=true", "--timeout=300s", timeout=330)


def namespace_wiped_repair(stack):
    stack.deploy()


FAULTS = {
    "hsm-down": (hsm_down, hsm_down_repair),
    "hsm-slow": (hsm_slow, hsm_slow_repair),
    "hsm-token-removed": (hsm_token_removed, hsm_token_removed_repair),
    "bad-image": (bad_image, bad_image_repair),
    "scaled-to-zero": (scaled_to_zero, scaled_to_zero_repair),
    "db-connections-exhausted": (db_connections_exhausted, db_connections_exhausted_repair),
    "compromised-pod": (compromised_pod, compromised_pod_repair),
    "namespace-wiped": (namespace_wiped, namespace_wiped_repair),
}


def inject(stack, name):
    """Break the stack with fault `name`; returns what the fault reports (a pod, an image, a count) or None."""
    if name not in FAULTS:
        raise LegoError(f"unknown LEGO fault {name!r}; known: {', '.join(FAULTS)}")
    return FAULTS[name][0](stack)


def repair(stack, name):
    """Undo fault `name` (a no-op when a runbook already did) and wait until the stack is healthy again."""
    if name not in FAULTS:
        raise LegoError(f"unknown LEGO fault {name!r}; known: {', '.join(FAULTS)}")
    FAULTS[name][1](stack)
    return stack.wait_healthy()
