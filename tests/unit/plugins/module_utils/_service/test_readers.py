"""Which read-only commands each platform runs, and how their answers become the status."""

import datetime
import json

from ansible_collections.mcpops.runbooks.plugins.module_utils._service.readers import read_status

UTC = datetime.timezone.utc


class FixedClock:
    def monotonic(self):
        return 2000.0

    def utcnow(self):
        return datetime.datetime(2026, 11, 24, 16, 10, tzinfo=UTC)


class Runner:
    """Answers argv prefixes with (rc, stdout, stderr) and records every call."""

    def __init__(self, answers):
        self.answers, self.calls = answers, []

    def __call__(self, argv):
        self.calls.append(list(argv))
        for prefix, answer in self.answers:
            if argv[:len(prefix)] == prefix:
                return answer
        raise AssertionError("unexpected command %r" % argv)


def params(platform, **extra):
    base = dict(platform=platform, name="onec-mcp-gateway", log_lines=2, supervisor_config=None,
                supervisorctl_path="supervisorctl", compose_project_src=None, compose_service="gateway",
                k8s_namespace="default", k8s_deployment="gateway", kubeconfig=None, k8s_context=None,
                previous=None, restart_threshold=3)
    base.update(extra)
    return base


def test_systemd_reads_show_and_the_journal():
    run = Runner([
        (["systemctl", "show"], (0, "LoadState=loaded\nActiveState=failed\nSubState=failed\nMainPID=0\n"
                                    "NRestarts=5\nExecMainCode=1\nExecMainStatus=1\n", "")),
        (["journalctl"], (0, "l1\nl2\nStoreMigrationRunner: unknown migration 099_future\n", "")),
    ])
    status = read_status(params("systemd"), run, lambda b: True, FixedClock())
    assert run.calls[1] == ["journalctl", "-u", "onec-mcp-gateway", "-n", "2", "--no-pager", "-o", "short-iso"]
    assert status["log_lines"] == ["l2", "StoreMigrationRunner: unknown migration 099_future"]
    assert status["crash_loop"] and status["data_corrupt"] and status["restarts"] == 5


def test_systemd_running_unit_finds_its_last_exit_in_a_longer_journal_tail():
    run = Runner([
        (["systemctl", "show"], (0, "LoadState=loaded\nActiveState=active\nSubState=running\nMainPID=51\n"
                                    "NRestarts=1\nExecMainCode=0\nExecMainStatus=0\n"
                                    "ExecMainExitTimestampMonotonic=0\n", "")),
        (["journalctl"], (0, "x: Main process exited, code=killed, status=9/KILL\nStarted\nlistening on\n", "")),
    ])
    status = read_status(params("systemd"), run, lambda b: True, FixedClock())
    assert run.calls[1][3:5] == ["-n", "200"]
    assert status["running"] and status["pid"] == 51 and status["last_exit_status"] == 137
    assert status["log_lines"] == ["Started", "listening on"] and not status["crash_loop"]


def test_supervisor_passes_the_config_and_reads_stderr():
    run = Runner([
        (["/v/supervisorctl", "-c", "/lab/supervisord.conf", "status"], (3, "onec-mcp-gateway FATAL Exited too quickly\n", "")),
        (["/v/supervisorctl", "-c", "/lab/supervisord.conf", "maintail"], (0, "", "")),
        (["/v/supervisorctl", "-c", "/lab/supervisord.conf", "tail"], (0, "a\nb\nc\n", "")),
    ])
    status = read_status(params("supervisor", supervisorctl_path="/v/supervisorctl",
                                supervisor_config="/lab/supervisord.conf"), run, lambda b: True, FixedClock())
    assert run.calls[2][-2:] == ["onec-mcp-gateway", "stderr"]
    assert status["state"] == "FATAL" and status["log_lines"] == ["b", "c"] and status["crash_loop"]


def test_supervisorctl_that_cannot_reach_supervisord_is_unavailable():
    run = Runner([(["supervisorctl", "status"], (2, "", "unix:///x.sock no such file"))])
    status = read_status(params("supervisor"), run, lambda b: True, FixedClock())
    assert status["available"] is False and "no such file" in status["error"] and "exited 2" in status["error"]


def test_missing_binary_is_unavailable_without_running_anything():
    run = Runner([])
    status = read_status(params("docker_compose", compose_project_src="/srv/gw"), run, lambda b: False, FixedClock())
    assert status["available"] is False and "docker not found" in status["error"] and run.calls == []


def test_compose_inspects_the_service_containers():
    inspect = [{"Id": "abc", "RestartCount": 0, "Config": {"Image": "gw:2"},
                "State": {"Status": "running", "Pid": 9, "ExitCode": 0, "StartedAt": "2026-11-24T16:09:00Z"}}]
    run = Runner([
        (["docker", "compose", "--project-directory", "/srv/gw", "ps"], (0, "abc\n", "")),
        (["docker", "inspect", "abc"], (0, json.dumps(inspect), "")),
        (["docker", "compose", "--project-directory", "/srv/gw", "logs"], (0, "up\n", "")),
    ])
    status = read_status(params("docker_compose", compose_project_src="/srv/gw"), run, lambda b: True, FixedClock())
    assert status["running"] and status["uptime_seconds"] == 60 and status["log_lines"] == ["up"]


def test_kubernetes_selects_pods_by_the_deployment_selector():
    deployment = {"metadata": {"annotations": {"deployment.kubernetes.io/revision": "4"}},
                  "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "gateway", "tier": "api"}}},
                  "status": {"readyReplicas": 1}}
    run = Runner([
        (["kubectl", "--kubeconfig", "/k", "-n", "mcp", "get", "deployment"], (0, json.dumps(deployment), "")),
        (["kubectl", "--kubeconfig", "/k", "-n", "mcp", "get", "pods"], (0, json.dumps({"items": []}), "")),
        (["kubectl", "--kubeconfig", "/k", "-n", "mcp", "get", "replicasets"], (0, json.dumps({"items": []}), "")),
        (["kubectl", "--kubeconfig", "/k", "-n", "mcp", "logs"], (1, "", "no pods")),
    ])
    status = read_status(params("kubernetes", kubeconfig="/k", k8s_namespace="mcp"), run, lambda b: True, FixedClock())
    assert run.calls[1][-4:] == ["-l", "app=gateway,tier=api", "-o", "json"]
    assert run.calls[2][-5:] == ["replicasets", "-l", "app=gateway,tier=api", "-o", "json"]
    assert status["revision"] == "4" and status["desired_replicas"] == 2 and status["state"] == "absent"
    assert status["log_lines"] == []
