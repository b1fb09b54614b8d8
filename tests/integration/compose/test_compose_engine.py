"""The compose lab's platform end to end, on a real private dockerd: the base image imported (built here, never
pulled), a compose project in the seed's shape (`--env-file .env.production -f docker-compose.production.yml`) whose
redis and postgres answer on loopback, community.docker.docker_compose_v2 driving it through ansible (check mode
changes nothing), `down`, and an engine stopped by PID leaving no process, mount or dir of its own behind."""

import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

from loopback import free_port
from mcpops.lab import pids
from mcpops.lab.compose.docker_client import DockerClient
from mcpops.lab.fixtures.docker_engine import DockerEngine, DockerEngineError

BIN = Path(sys.executable).parent
ANSWER_TIMEOUT = 90  # seconds until both services answer after `up -d` (initdb included) on a loaded CI machine
PROJECT = "mcpops-compose-smoke"

COMPOSE_FILE = """\
# The seed's shape, its datastores only: both from the lab's base image, on the host's loopback.
name: %s
services:
  redis:
    image: ${BASE_IMAGE}
    network_mode: host
    init: true
    command: ["redis-server", "--port", "${REDIS_PORT}", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
  postgres:
    image: ${BASE_IMAGE}
    network_mode: host
    init: true
    user: postgres
    command: ["/usr/local/bin/mcpops-postgres"]
    environment:
      PGPORT: ${PG_PORT}
      PGLISTEN: 127.0.0.1
      POSTGRES_PASSWORD_FILE: /run/secrets/pg_password
    secrets: [pg_password]
secrets:
  pg_password:
    file: ./pg_password
""" % PROJECT

PLAYBOOK = """\
- name: Drive the smoke project with community.docker.docker_compose_v2
  hosts: localhost
  connection: local
  gather_facts: false
  environment:
    DOCKER_CONFIG: "{{ docker_config }}"
  module_defaults:
    community.docker.docker_compose_v2:
      project_src: "{{ project_dir }}"
      files: [docker-compose.production.yml]
      env_files: [.env.production]
      docker_host: "{{ docker_host }}"
      docker_cli: "{{ docker_cli }}"
      pull: never
  tasks:
    - name: Present, when it is up already
      community.docker.docker_compose_v2:
        state: present
    - name: Stopped, in check mode
      community.docker.docker_compose_v2:
        state: stopped
      check_mode: true
    - name: The containers' states after the check-mode stop
      ansible.builtin.command:
        argv: ["{{ docker_cli }}", "--host", "{{ docker_host }}", "inspect", "--format",
               !unsafe "{{.State.Status}} {{.State.StartedAt}}",
               "%(project)s-redis-1", "%(project)s-postgres-1"]
      changed_when: false
    - name: Stopped
      community.docker.docker_compose_v2:
        state: stopped
""" % {"project": PROJECT}


def redis_pong(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.settimeout(2)
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64) == b"+PONG\r\n"
    except OSError:
        return False


def postgres_answer(port, password):
    """The result of SELECT 1 over TCP with the superuser's password, or None when it does not answer."""
    try:
        with psycopg.connect(host="127.0.0.1", port=port, user="postgres", password=password, dbname="postgres",
                             connect_timeout=2) as conn:
            return conn.execute("SELECT 1").fetchone()[0]
    except psycopg.Error:
        return None


def wait_until(condition, what, timeout):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} within {timeout}s")
        time.sleep(0.2)


def started_at(docker, project_dir):
    out = docker.compose(project_dir, "ps", "--all", "--format", "json").stdout
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    names = sorted(row["Name"] for row in rows)
    assert names == [f"{PROJECT}-postgres-1", f"{PROJECT}-redis-1"], out
    return {name: docker.run("inspect", "--format", "{{.State.Status}} {{.State.StartedAt}}", name).stdout.strip()
            for name in names}


def write_project(directory, image, redis_port, pg_port, password):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "docker-compose.production.yml").write_text(COMPOSE_FILE)
    (directory / ".env.production").write_text(
        f"BASE_IMAGE={image}\nREDIS_PORT={redis_port}\nPG_PORT={pg_port}\n")
    secret = directory / "pg_password"
    secret.write_text(password + "\n")
    secret.chmod(0o644)  # the container's postgres user reads it through the bind mount; the dir above is 0700
    os.chmod(directory, 0o700)


def run_playbook(directory, docker):
    playbook = directory / "smoke.yml"
    playbook.write_text(PLAYBOOK)
    extra = {"project_dir": str(directory), "docker_host": docker.host, "docker_cli": docker.cli,
             "docker_config": docker.config_dir, "ansible_python_interpreter": sys.executable}
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    for name in ("DOCKER_HOST", "DOCKER_CONFIG", "DOCKER_CONTEXT"):
        env.pop(name, None)  # only what the play says reaches the module
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", str(playbook),
                           "-e", json.dumps(extra)], cwd=directory, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    data = json.loads(proc.stdout[proc.stdout.index("{"):])
    return {task["task"]["name"]: task["hosts"]["localhost"] for task in data["plays"][0]["tasks"]}


def test_compose_project_on_the_private_engine(docker, base_image, tmp_path):
    project_dir = tmp_path / "loyalty"
    password = secrets.token_urlsafe(18)
    redis_port, pg_port = free_port(), free_port()
    write_project(project_dir, base_image.tag, redis_port, pg_port, password)

    docker.compose(project_dir, "up", "-d", "--pull", "never", timeout=300)
    try:
        wait_until(lambda: redis_pong(redis_port), f"redis did not answer PING on 127.0.0.1:{redis_port}",
                   ANSWER_TIMEOUT)
        wait_until(lambda: postgres_answer(pg_port, password) == 1,
                   f"postgres did not answer SELECT 1 on 127.0.0.1:{pg_port}", ANSWER_TIMEOUT)
        assert postgres_answer(pg_port, "wrong-" + password) is None  # TCP logins need the password
        before = started_at(docker, project_dir)
        assert all(state.startswith("running ") for state in before.values()), before

        results = run_playbook(project_dir, docker)

        assert results["Present, when it is up already"]["changed"] is False
        check = results["Stopped, in check mode"]
        assert check["changed"] is True, check  # it would stop them...
        states = results["The containers' states after the check-mode stop"]["stdout_lines"]
        assert states == [before[f"{PROJECT}-redis-1"], before[f"{PROJECT}-postgres-1"]]  # running, not restarted
        assert results["Stopped"]["changed"] is True  # ...and does, when not in check mode
        after = started_at(docker, project_dir)
        assert all(state.startswith("exited ") for state in after.values()), after
        assert not redis_pong(redis_port)
    finally:
        docker.compose(project_dir, "down", "--volumes", "--timeout", "10", timeout=300)
    # this project's containers are gone (the session's loyalty lab may share the engine)
    ours_left = docker.run("ps", "--all", "--quiet", "--filter", f"label=com.docker.compose.project={PROJECT}")
    assert ours_left.stdout.strip() == ""
    assert docker.run("image", "inspect", "--format", "{{index .Config.Labels \"org.mcpops.recipe\"}}",
                      base_image.tag).stdout.strip() == base_image.hash


def ours(engine, dockerd_pid):
    """The live processes of engine: dockerd by its PID, and any whose command line names its dir."""
    left = [dockerd_pid] if pids.pid_alive(dockerd_pid) else []
    return left + engine.leftover_pids()


def import_sleep_image(docker, tag="mcpops-lab/sleep:1"):
    """A tiny image made here: the host's sleep and the two libraries it loads (a second, where the base image's
    import takes ten)."""
    members = ["usr/bin/sleep", "lib/x86_64-linux-gnu/libc.so.6", "lib64/ld-linux-x86-64.so.2"]
    tar = subprocess.run(["tar", "-C", "/", "--dereference", "-cf", "-"] + members, capture_output=True, check=True)
    proc = subprocess.run([docker.cli, "import", "-", tag], input=tar.stdout, env=docker.env(), capture_output=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return tag


@pytest.mark.parametrize("dockerd_dies_first", [False, True], ids=["stopped", "dockerd-killed-first"])
def test_engine_stops_by_pid_and_leaves_nothing(as_root, dockerd_dies_first):
    """stop() ends what the engine started; when dockerd died first (killed, as a crash), its containerd, the runc
    shim and the container's processes are still running, and stop() finds and ends them by PID all the same."""
    docker_sock_before = os.path.exists("/var/run/docker.sock")
    engine = DockerEngine().start()
    try:
        dockerd = engine.pid
        assert engine.driver == "overlay2", engine.driver_note  # this machine's root is ext4
        assert os.path.exists(os.path.join(engine.exec_root, "containerd", "containerd.sock"))  # its own containerd
        docker = DockerClient(engine.host, os.path.join(engine.dir, "config"))
        tag = import_sleep_image(docker)
        docker.run("run", "--detach", "--init", "--network", "host", tag, "/usr/bin/sleep", "600")
        names = {Path(pids.cmdline(p)[0]).name for p in ours(engine, dockerd) if pids.cmdline(p)}
        assert {"dockerd", "containerd", "containerd-shim-runc-v2", "docker-init", "sleep"} <= names, names
        if dockerd_dies_first:
            engine.proc.kill()
            engine.proc.wait(30)
            orphans = {Path(pids.cmdline(p)[0]).name for p in engine.leftover_pids() if pids.cmdline(p)}
            assert {"containerd-shim-runc-v2", "docker-init", "sleep"} <= orphans, orphans
    finally:
        engine.stop()
    assert ours(engine, dockerd) == []
    assert not os.path.exists(engine.dir)
    with open("/proc/self/mountinfo") as handle:
        assert engine.dir not in handle.read()
    assert os.path.exists("/var/run/docker.sock") == docker_sock_before  # the system's socket: never made


def test_engine_falls_back_to_vfs_where_overlay2_cannot_run(as_root):
    """On an overlayfs data root (as inside a container) overlay2 refuses; the engine says so and uses vfs."""
    top = tempfile.mkdtemp(prefix="mcpops-ovl-", dir="/tmp")
    lower, upper, work, merged = (os.path.join(top, n) for n in ("lower", "upper", "work", "merged"))
    for path in (lower, upper, work, merged):
        os.mkdir(path)
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", f"lowerdir={lower},upperdir={upper},workdir={work}",
                    merged], check=True)
    try:
        engine = DockerEngine(base=merged).start()
        try:
            assert engine.driver == "vfs"
            assert engine.driver_note.startswith("overlay2: exited"), engine.driver_note
            assert engine.api("/info")["Driver"] == "vfs"
        finally:
            engine.stop()
    finally:
        subprocess.run(["umount", "-l", merged], check=False)
        subprocess.run(["rm", "-rf", "--one-file-system", top], check=False)


def test_engine_that_cannot_start_says_why(as_root):
    engine = DockerEngine(drivers=("no-such-driver",))
    with pytest.raises(DockerEngineError) as err:
        engine.start()
    message = str(err.value)
    assert "no-such-driver: exited" in message and engine.log_path in message
    assert "no-such-driver" in message.split("log ", 1)[1]  # dockerd's own words, from its log's tail
    engine.stop()
    assert not os.path.exists(engine.dir)
