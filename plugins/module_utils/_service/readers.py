# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the status of the gateway is read on each platform: which read-only commands, in which order.

``read_status(params, run, which, clock)`` runs them through ``run(argv) -> (rc, stdout, stderr)``
(AnsibleModule.run_command in the module, a fake in unit tests) and hands the output to the parsers
in status.py; crash_loop adds the verdict. supervisor's three reads go over supervisord's XML-RPC socket
in this process when they can (supervisor_rpc.py), else through supervisorctl. Nothing here changes anything."""

from __future__ import annotations

import datetime
import json
import time

from ansible_collections.mcpops.runbooks.plugins.module_utils._service import crash_loop
from ansible_collections.mcpops.runbooks.plugins.module_utils._service import k8s_env
from ansible_collections.mcpops.runbooks.plugins.module_utils._service import k8s_rollback
from ansible_collections.mcpops.runbooks.plugins.module_utils._service import k8s_rollout
from ansible_collections.mcpops.runbooks.plugins.module_utils._service import status as service_status
from ansible_collections.mcpops.runbooks.plugins.module_utils._service import supervisor_rpc

SUPERVISOR_MAINTAIL_BYTES = 65536
# How far back in the journal the last exit of a unit that runs again is looked for.
SYSTEMD_EXIT_SEARCH_LINES = 200
# supervisorctl tail counts bytes, not lines: enough bytes for the lines asked for.
SUPERVISOR_BYTES_PER_LINE = 400


class Clock:
    """The two clocks a status needs: the host's monotonic clock (systemd) and UTC now (docker, k8s)."""

    def monotonic(self):
        return time.monotonic()

    def utcnow(self):
        return datetime.datetime.now(datetime.timezone.utc)


class ReadError(Exception):
    pass


def _checked(run, argv, ok=(0,)):
    rc, out, err = run(argv)
    if rc not in ok:
        raise ReadError("`%s` exited %s: %s" % (" ".join(argv), rc, (err or out or "").strip()[-400:]))
    return out


def _tail(lines, count):
    return lines[-count:] if count > 0 else []


def supervisorctl_argv(params):
    argv = [params.get("supervisorctl_path") or "supervisorctl"]
    if params.get("supervisor_config"):
        argv += ["-c", params["supervisor_config"]]
    return argv


def compose_argv(params):
    return ["docker", "compose", "--project-directory", params["compose_project_src"]]


def kubectl_argv(params):
    argv = ["kubectl"]
    if params.get("kubeconfig"):
        argv += ["--kubeconfig", params["kubeconfig"]]
    if params.get("k8s_context"):
        argv += ["--context", params["k8s_context"]]
    return argv + ["-n", params.get("k8s_namespace") or "default"]


def _read_systemd(params, run, clock):
    name, count = params["name"], params["log_lines"]
    show = _checked(run, ["systemctl", "show", name, "--property=" + ",".join(service_status.SYSTEMD_PROPERTIES)])
    status = service_status.systemd_status(name, show, clock.monotonic())
    if status["available"]:
        # More lines than asked for when the last exit status is to be found in them (a running unit's).
        fetch = count if status["last_exit_status"] is not None else max(count, SYSTEMD_EXIT_SEARCH_LINES)
        rc, out, dummy = run(["journalctl", "-u", name, "-n", str(fetch), "--no-pager", "-o", "short-iso"])
        lines = out.splitlines() if rc == 0 else []
        status["log_lines"] = _tail(lines, count)
        status["log_source"] = "journalctl -u %s" % name
        if status["last_exit_status"] is None:
            status["last_exit_status"] = service_status.systemd_exit_from_log(lines)
    return status


class _Supervisorctl:
    """The three reads by starting supervisorctl (the path that always works), answering with its stdout."""

    def __init__(self, params, run):
        self.ctl, self.run = supervisorctl_argv(params), run

    def status(self, name):
        # supervisorctl status exits 3 for a program that is not running: an answer, not a failure.
        return _checked(self.run, self.ctl + ["status", name], ok=(0, 3))

    def maintail(self, size):
        rc, out, dummy = self.run(self.ctl + ["maintail", "-%d" % size])
        return out if rc == 0 else None

    def tail(self, name, size):
        rc, out, dummy = self.run(self.ctl + ["tail", "-%d" % size, name, "stderr"])
        return out if rc == 0 else None


def _read_supervisor(params, run, clock):
    # supervisord's own XML-RPC socket in this process when it can stand for supervisorctl (3 Python
    # start-ups a read); anything it cannot answer is asked of supervisorctl, as before.
    rpc = supervisor_rpc.reader(params.get("supervisor_config"))
    if rpc is not None:
        try:
            return _supervisor_status(params, rpc)
        except supervisor_rpc.Unusable:
            pass
    return _supervisor_status(params, _Supervisorctl(params, run))


def _supervisor_status(params, ask):
    name, count = params["name"], params["log_lines"]
    line = ask.status(name).strip()
    if not line:
        raise ReadError("`%s status %s` printed nothing: is supervisord running?"
                        % (" ".join(supervisorctl_argv(params)), name))
    maintail = ask.maintail(SUPERVISOR_MAINTAIL_BYTES)
    status = service_status.supervisor_status(name, line.splitlines()[-1], maintail or "")
    if status["available"]:
        out = ask.tail(name, max(8192, count * SUPERVISOR_BYTES_PER_LINE))
        status["log_lines"] = _tail(out.splitlines(), count) if out is not None else []
        status["log_source"] = "supervisorctl tail %s stderr" % name
    return status


def _read_compose(params, run, clock):
    service, count = params.get("compose_service") or "gateway", params["log_lines"]
    base = compose_argv(params)
    ids = _checked(run, base + ["ps", "--all", "-q", service]).split()
    inspect = _checked(run, ["docker", "inspect"] + ids) if ids else "[]"
    status = service_status.docker_status(service, inspect, clock.utcnow())
    rc, out, dummy = run(base + ["logs", "--tail", str(count), "--no-color", "--no-log-prefix", service])
    status["log_lines"] = _tail(out.splitlines(), count) if rc == 0 else []
    status["log_source"] = "docker compose logs %s" % service
    return status


def _read_kubernetes(params, run, clock):
    name, count = params.get("k8s_deployment") or "gateway", params["log_lines"]
    base = kubectl_argv(params)
    deployment = json.loads(_checked(run, base + ["get", "deployment", name, "-o", "json"]))
    labels = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    selector = ",".join("%s=%s" % item for item in sorted(labels.items()))
    pods = _checked(run, base + ["get", "pods", "-l", selector, "-o", "json"]) if selector else "{}"
    replicasets = (json.loads(_checked(run, base + ["get", "replicasets", "-l", selector, "-o", "json"]))
                   if selector else {}).get("items") or []
    status = service_status.kubernetes_status(name, pods, clock.utcnow())
    spec, dstatus = deployment.get("spec") or {}, deployment.get("status") or {}
    status["desired_replicas"] = spec.get("replicas")
    status["ready_replicas"] = dstatus.get("readyReplicas", 0)
    status["revision"] = ((deployment.get("metadata") or {}).get("annotations") or {}).get(
        "deployment.kubernetes.io/revision")
    status["revisions"] = k8s_rollout.revisions(deployment, replicasets)
    status["rollout"] = k8s_rollout.rollout_state(deployment, status["revisions"], status["replicas"])
    # What set_env and rollback would do: their plans (no secret values) in the status, their patches apart.
    patches = {}
    if params.get("k8s_env") is not None:
        status["env_plan"], patches["set_env"] = k8s_env.env_plan(
            deployment, k8s_env.normalize(params["k8s_env"]), params.get("k8s_env_containers"))
    if params.get("k8s_rollback_revision") is not None:
        status["rollback_plan"], patches["rollback"] = k8s_rollback.rollback_plan(
            deployment, replicasets, params["k8s_rollback_revision"])
    status["k8s_patches"] = patches
    rc, out, dummy = run(base + ["logs", "deployment/%s" % name, "--tail", str(count)])
    status["log_lines"] = _tail(out.splitlines(), count) if rc == 0 else []
    status["log_source"] = "kubectl logs deployment/%s" % name
    return status


_READERS = {
    "systemd": (_read_systemd, lambda p: "systemctl"),
    "supervisor": (_read_supervisor, lambda p: supervisorctl_argv(p)[0]),
    "docker_compose": (_read_compose, lambda p: "docker"),
    "kubernetes": (_read_kubernetes, lambda p: "kubectl"),
}


def read_status(params, run, which, clock=None, previous=None):
    """The status of the gateway on params["platform"], with the crash-loop verdict.

    A manager that cannot be asked (its command missing, its daemon not answering) gives
    available: false and error naming the command and what it said; the caller decides whether that
    is fatal (a real stop is; a check-mode plan is not)."""
    clock = clock or Clock()
    platform = params["platform"]
    reader, binary = _READERS[platform]
    label = params.get("name") if platform in ("systemd", "supervisor") else (
        params.get("compose_service") if platform == "docker_compose" else params.get("k8s_deployment"))
    if not which(binary(params)):
        status = service_status.new_status(platform, label)
        status.update(available=False, error="%s not found on this host: cannot read the %s state of %s"
                      % (binary(params), platform, label))
    else:
        try:
            status = reader(params, run, clock)
        except (ReadError, ValueError) as exc:
            status = service_status.new_status(platform, label)
            status.update(available=False, error=str(exc))
    verdict = crash_loop.assess(status, previous, params.get("restart_threshold") or crash_loop.DEFAULT_RESTART_THRESHOLD)
    status.update(crash_loop=verdict["crash_loop"], crash_loop_reasons=verdict["reasons"],
                  restarts_rising=verdict["restarts_rising"], migration_error=verdict["migration_error"],
                  data_corrupt=verdict["data_corrupt"])
    return status
