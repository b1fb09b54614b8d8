"""The gateway_service role's docker_compose backend for real, on the private engine: a project in the seed's shape
(two tags of a tiny HTTP service built here FROM the base image), driven through ansible-playbook and the role.
Check mode changes nothing (container ids, start times, env file); stop, start, restart, rollback to the previous
image tag (the env file's IMAGE_TAG_PREVIOUS, verified by what the service serves) and scale to 2 and back do what
they say and are idempotent; the status carries every service's containers; no previous image, a service not in
the project and an unreachable engine are refused with a clear message and change nothing; the env file's secret
never reaches the output."""

import time
import urllib.error
import urllib.request

import pytest

from compose_backend_helpers import (PROJECT, SECRET_CANARY, build_images, containers, project_containers, run_steps,
                                     write_project)
from loopback import free_port

ANSWER_TIMEOUT = 30  # seconds until a (re)created api answers


def served_version(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/version" % port, timeout=2) as answer:
            return answer.read().decode().strip()
    except (urllib.error.URLError, OSError):
        return None


def wait_version(port, want):
    deadline = time.monotonic() + ANSWER_TIMEOUT
    while served_version(port) != want:
        if time.monotonic() >= deadline:
            raise AssertionError("api on 127.0.0.1:%d did not serve version %s within %ss (serves %r)"
                                 % (port, want, ANSWER_TIMEOUT, served_version(port)))
        time.sleep(0.2)


@pytest.fixture(scope="module")
def project(docker, base_image, tmp_path_factory):
    """The project up at IMAGE_TAG=2 (IMAGE_TAG_PREVIOUS=1): (dir, api port, env file)."""
    work = tmp_path_factory.mktemp("h11-compose")
    build_images(docker, base_image.tag, work)
    directory, port = work / "loyalty", free_port()
    env_file = write_project(directory, port)
    docker.compose(directory, "up", "-d", "--pull", "never", timeout=300)
    try:
        wait_version(port, "2")
        yield directory, port, env_file
    finally:
        docker.compose(directory, "down", "--timeout", "5", timeout=300)


def test_check_mode_changes_nothing(docker, project):
    directory, port, env_file = project
    env_before = env_file.read_bytes()
    before = project_containers(docker)
    steps = [{"action": "restart"}, {"action": "stop"}, {"action": "rollback"},
             {"action": "scale", "service": "worker", "replicas": 2}]
    records, proc = run_steps(directory, docker, steps, "--check", "--diff")

    for record in records:
        assert record["failed"] == "", record
        assert record["compose_changed"] is True, record  # compose's dry run: it would
        assert containers(record) == before, record["action"]  # ... and did not
    assert records[2]["env_changed"] is True  # the file holds secrets: no diff of its content
    assert [(d.get("before", ""), d.get("after", "")) for d in records[2]["env_diff"]] in ([], [("", "")] * 2)
    assert env_file.read_bytes() == env_before
    assert served_version(port) == "2"
    text = " ".join(proc.stdout.split())
    assert "Would change %s/.env.production: IMAGE_TAG 2 -> 1, IMAGE_TAG_ROLLED_BACK=2 (no other line;" % directory in text
    plan = text[text.index("Check mode: would rollback"):][:600]
    assert ("write IMAGE_TAG=1 to %s/.env.production, then IMAGE_TAG=1 docker compose --project-directory %s "
            "--env-file .env.production -f docker-compose.production.yml up -d --no-deps --force-recreate api"
            % (directory, directory)) in plan, plan
    assert SECRET_CANARY not in proc.stdout + proc.stderr


def test_each_action_for_real(docker, project):
    directory, port, env_file = project
    steps = [{"action": "status"}, {"action": "stop"}, {"action": "stop"}, {"action": "start"}, {"action": "restart"},
             {"action": "rollback"}, {"action": "rollback"},
             {"action": "scale", "service": "worker", "replicas": 2},
             {"action": "scale", "service": "worker", "replicas": 2},
             {"action": "scale", "service": "worker", "replicas": 1}]
    records, proc = run_steps(directory, docker, steps)
    assert [r["failed"] for r in records] == [""] * len(steps)
    assert [r["compose_changed"] for r in records] == [False, True, False, True, True, True, False, True, False, True]
    api = "%s-api-1" % PROJECT
    seen = [containers(r) for r in records]

    status = records[0]["status"]
    assert status["running"] is True and status["state"] == "running"
    assert sorted(status["services"]) == ["api", "worker"]
    assert [c["State"] for c in status["services"]["worker"]] == ["running"]
    assert status["services"]["api"][0]["Image"] == "mcpops-lab/h11-tinyhttp:2"

    stop, stop_again, start, restart = records[1:5]
    assert stop["compose_changed"] and seen[1][api]["state"] == "exited" and stop["status"]["running"] is False
    assert not stop_again["compose_changed"] and seen[2][api] == seen[1][api]
    assert start["compose_changed"] and seen[3][api]["state"] == "running"
    assert seen[3][api]["id"] == seen[0][api]["id"]  # started again, not recreated
    assert restart["compose_changed"] and seen[4][api]["id"] == seen[3][api]["id"]
    assert seen[4][api]["started"] != seen[3][api]["started"]
    assert seen[4]["%s-worker-1" % PROJECT] == seen[3]["%s-worker-1" % PROJECT]  # only the service asked for

    rollback, rollback_again = records[5:7]
    assert rollback["compose_changed"] and rollback["env_changed"]
    assert seen[5][api]["image"] == "mcpops-lab/h11-tinyhttp:1" and seen[5][api]["id"] != seen[4][api]["id"]
    assert seen[5]["%s-worker-1" % PROJECT] == seen[4]["%s-worker-1" % PROJECT]  # --no-deps: worker untouched
    assert not rollback_again["compose_changed"] and not rollback_again["env_changed"]
    assert seen[6][api] == seen[5][api]
    env = env_file.read_text()
    assert "\nIMAGE_TAG=1\n" in env and "\nIMAGE_TAG_PREVIOUS=1\n" in env and "\nIMAGE_TAG_ROLLED_BACK=2\n" in env
    wait_version(port, "1")  # what the service serves, not only what the env file says

    scale2, scale2_again, scale1 = records[7:10]
    workers = [sorted(n for n in s if "-worker-" in n) for s in seen[7:10]]
    assert scale2["compose_changed"] and workers[0] == ["%s-worker-1" % PROJECT, "%s-worker-2" % PROJECT]
    assert all(seen[7][n]["state"] == "running" for n in workers[0])
    assert len(scale2["status"]["replicas"]) == 2
    assert not scale2_again["compose_changed"] and seen[8] == seen[7]
    assert scale1["compose_changed"] and workers[2] == ["%s-worker-1" % PROJECT]
    assert SECRET_CANARY not in proc.stdout + proc.stderr


def test_refusals_change_nothing(docker, project):
    directory, port, env_file = project
    env_before = env_file.read_bytes()
    before = project_containers(docker)
    steps = [{"action": "rollback", "image_var": "OTHER_TAG"},
             {"action": "restart", "service": "nosuch"},
             {"action": "restart", "docker_host": "unix:///tmp/h11-no-such-engine.sock"}]
    records, proc = run_steps(directory, docker, steps)
    no_previous, no_service, no_engine = (" ".join(r["failed"].split()) for r in records)
    assert ("Cannot roll back api: no previous image. %s/.env.production has no OTHER_TAG_PREVIOUS" % directory
            in no_previous), no_previous
    assert "has no service nosuch; its services: api, worker." in no_service, no_service
    assert no_engine.startswith("Cannot read the state of the gateway through docker_compose"), no_engine
    assert "Cannot connect to the Docker daemon at unix:///tmp/h11-no-such-engine.sock" in no_engine
    for text in (no_previous, no_service, no_engine):
        assert text.endswith("Nothing was changed.")
    for record in records:
        assert containers(record) == before and not record["compose_changed"]
    assert env_file.read_bytes() == env_before
    assert SECRET_CANARY not in proc.stdout + proc.stderr
