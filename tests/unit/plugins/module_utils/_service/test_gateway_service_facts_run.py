"""gateway_service_facts' run(): log_lines checked, the manager found (a bare name on PATH through which(), an
absolute path as given), its answers read into {changed: false, status}; a missing manager is a status, not a failure."""

import json
import os

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._service.gateway_service_facts_run import run

SHOW = ("LoadState=loaded\nActiveState=active\nSubState=running\nMainPID=51\nNRestarts=0\nExecMainCode=0\n"
        "ExecMainStatus=0\n")


def params(platform="systemd", **extra):
    base = dict(platform=platform, name="onec-mcp-gateway", log_lines=2, supervisor_config=None,
                supervisorctl_path="supervisorctl", compose_project_src=None, compose_service="gateway",
                k8s_namespace="default", k8s_deployment="gateway", kubeconfig=None, k8s_context=None,
                previous=None, restart_threshold=3)
    base.update(extra)
    return base


class Commands:
    def __init__(self):
        self.calls = []

    def __call__(self, argv):
        self.calls.append(list(argv))
        if argv[:2] == ["systemctl", "show"]:
            return 0, SHOW, ""
        if argv[0] == "journalctl":
            return 0, "a\nb\nc\n", ""
        raise AssertionError("unexpected command %r" % argv)


def test_a_systemd_unit_is_read_and_nothing_changes():
    commands = Commands()
    result = run(params(), check_mode=True, run_command=commands, which=lambda name: "/usr/bin/" + name)
    assert result["changed"] is False and set(result) == {"changed", "status"}
    status = result["status"]
    assert status["available"] is True and status["running"] is True and status["pid"] == 51
    assert status["log_lines"] == ["b", "c"] and status["crash_loop"] is False
    assert [c[0] for c in commands.calls] == ["systemctl", "journalctl"]


def test_a_manager_not_on_path_is_an_unavailable_status():
    commands = Commands()
    result = run(params(), run_command=commands, which=lambda name: None)
    assert result["status"]["available"] is False and commands.calls == []
    assert result["status"]["error"] == ("systemctl not found on this host: cannot read the systemd state of "
                                         "onec-mcp-gateway")


def test_an_absolute_supervisorctl_is_taken_as_given(tmp_path):
    looked_up = []
    ctl = tmp_path / "supervisorctl"
    ctl.write_text("#!/bin/sh\nexit 0\n")  # not executable yet
    result = run(params("supervisor", supervisorctl_path=str(ctl)), run_command=Commands(), which=looked_up.append)
    assert result["status"]["available"] is False and str(ctl) in result["status"]["error"]
    assert looked_up == []  # never searched on PATH
    os.chmod(ctl, 0o755)

    def supervisorctl(argv):
        return (0, "onec-mcp-gateway RUNNING pid 42, uptime 0:01:00\n", "") if "status" in argv else (0, "", "")

    status = run(params("supervisor", supervisorctl_path=str(ctl)), run_command=supervisorctl, which=looked_up.append)["status"]
    assert status["available"] is True and status["state"] == "RUNNING" and status["pid"] == 42


def test_negative_log_lines_are_refused():
    with pytest.raises(TaskError, match="log_lines must be 0 or more, got -1"):
        run(params(log_lines=-1), run_command=Commands(), which=lambda name: None)


def test_kubernetes_set_env_and_rollback_input_is_refused_before_anything_is_read():
    commands = Commands()
    with pytest.raises(TaskError) as bad:
        run(params("kubernetes", k8s_env={"NOT VALID": "1", "API_TOKEN": "CANARYfactsRun42"}), run_command=commands,
            which=lambda name: "/usr/bin/" + name)
    assert "'NOT VALID' is not a valid environment variable name" in str(bad.value)
    assert "CANARYfactsRun42" not in str(bad.value) and commands.calls == []
    with pytest.raises(TaskError, match="k8s_rollback_revision must be 0"):
        run(params("kubernetes", k8s_rollback_revision=-1), run_command=commands, which=lambda name: "/usr/bin/" + name)
    assert commands.calls == []


def test_the_patches_are_apart_from_the_status():
    deployment = {"metadata": {"name": "gateway", "uid": "u",
                               "annotations": {"deployment.kubernetes.io/revision": "1"}},
                  "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "gateway"}},
                           "template": {"spec": {"containers": [{"name": "gateway", "image": "gw:1"}]}}},
                  "status": {}}

    def kubectl(argv):
        if "deployment" in argv:  # kubectl -n default get deployment gateway -o json
            return 0, json.dumps(deployment), ""
        if "logs" in argv:
            return 1, "", "no pods"
        return 0, '{"items": []}', ""  # pods, replicasets

    result = run(params("kubernetes", k8s_env={"API_TOKEN": "CANARYfactsRun42"}, k8s_env_containers=[]),
                 run_command=kubectl, which=lambda name: "/usr/bin/" + name)
    assert result["k8s_patches"]["set_env"]["spec"]["template"]["spec"]["containers"][0]["env"] == [
        {"name": "API_TOKEN", "value": "CANARYfactsRun42"}]
    assert "CANARYfactsRun42" not in str(result["status"]) and result["status"]["env_plan"]["changed"]
    assert "k8s_patches" not in run(params("kubernetes"), run_command=kubectl, which=lambda n: "/usr/bin/" + n)
