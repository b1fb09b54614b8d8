"""The small compose project the gateway_service role's docker_compose backend is tested on, and how the tests drive
the role: two image tags of a tiny HTTP service built here FROM the lab's base image (`docker build`, nothing pulled),
a project in the seed's shape (`--env-file .env.production -f docker-compose.production.yml`), and a playbook that
includes the role once a step and records, after each, the role's status fact and every container's id, image,
state and start time (from `docker inspect`)."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[3]
PROJECT = "h11-backend"
IMAGE = "mcpops-lab/h11-tinyhttp"
SECRET_CANARY = "CANARYcomposeSECRET0h11"
INSPECT_FORMAT = "{{.Id}} {{.Name}} {{.Config.Image}} {{.State.Status}} {{.State.StartedAt}}"

COMPOSE_FILE = """\
# api serves /srv (its image's version file) on a fixed loopback port; worker binds an ephemeral port, so it can run
# twice on the host network (api cannot: its second replica would find the port taken).
name: %s
services:
  api:
    image: %s:${IMAGE_TAG}
    network_mode: host
    init: true
    working_dir: /srv
    environment:
      API_SECRET: ${API_SECRET}
    command: ["python3", "-m", "http.server", "--bind", "127.0.0.1", "${API_PORT}"]
  worker:
    image: %s:${IMAGE_TAG}
    network_mode: host
    init: true
    working_dir: /srv
    command: ["python3", "-m", "http.server", "--bind", "127.0.0.1", "0"]
""" % (PROJECT, IMAGE, IMAGE)

STEP_TASKS = """\
- name: "Forget the last step's results"
  ansible.builtin.set_fact:
    gateway_service_compose_lifecycle: {}
    gateway_service_compose_rollback: {}
    gateway_service_compose_scale: {}
    gateway_service_rollback_env: {}
    step_failed: ""

- name: "Step: {{ step.action }} {{ step.service | default('api') }}"
  block:
    - name: "Gateway service {{ step.action }}"
      ansible.builtin.include_role:
        name: mcpops.runbooks.gateway_service
      vars:
        gateway_service_action: "{{ step.action }}"
        gateway_compose_service: "{{ step.service | default('api') }}"
        gateway_service_replicas: "{{ step.replicas | default(1) }}"
        gateway_compose_image_var: "{{ step.image_var | default('IMAGE_TAG') }}"
        gateway_compose_docker_host: "{{ step.docker_host | default(docker_host) }}"
  rescue:
    - name: "Keep what failed"
      ansible.builtin.set_fact:
        step_failed: "{{ ansible_failed_result.msg }}"

- name: "The project's containers"
  ansible.builtin.command:
    argv: ["{{ docker_cli }}", "--host", "{{ docker_host }}", "ps", "--all", "--quiet", "--no-trunc",
           "--filter", "label=com.docker.compose.project=%(project)s"]
  register: step_ids
  changed_when: false
  check_mode: false

- name: "Inspect them"
  ansible.builtin.command:
    argv: "{{ [docker_cli, '--host', docker_host, 'inspect', '--format', inspect_format] + step_ids.stdout_lines }}"
  register: step_inspect
  changed_when: false
  check_mode: false
  when: step_ids.stdout_lines | length > 0

- name: "Record the step"
  ansible.builtin.set_fact:
    steps_done: >-
      {{ steps_done + [{
           'action': step.action, 'failed': step_failed,
           'status': gateway_service_status | default({}),
           'compose_changed': ([gateway_service_compose_lifecycle, gateway_service_compose_rollback,
                                gateway_service_compose_scale] | selectattr('changed', 'defined')
                               | selectattr('changed') | list | length) > 0,
           'env_changed': gateway_service_rollback_env.changed | default(false),
           'env_diff': gateway_service_rollback_env.diff | default([]),
           'containers': step_inspect.stdout_lines | default([])}] }}
""" % {"project": PROJECT}

PLAYBOOK = """\
- name: Drive the gateway_service role's docker_compose backend, one step at a time
  hosts: localhost
  connection: local
  gather_facts: false
  environment:
    DOCKER_CONFIG: "{{ docker_config }}"
  vars:
    mcp_service: loyalty-api
    gateway_compose_project_src: "{{ project_dir }}"
    gateway_compose_files: [docker-compose.production.yml]
    gateway_compose_env_files: [.env.production]
    gateway_compose_docker_cli: "{{ docker_cli }}"
    gateway_service_start_timeout: 20
    steps_done: []
    inspect_format: !unsafe "%s"
  tasks:
    - name: Load the service profile, as the runbooks do first
      ansible.builtin.include_role:
        name: mcpops.runbooks.service_profile

    - name: Run the steps
      ansible.builtin.include_tasks: steps.yml
      loop: "{{ steps }}"
      loop_control:
        loop_var: step

    - name: The steps
      ansible.builtin.debug:
        var: steps_done
""" % INSPECT_FORMAT


def build_images(docker, base_tag, workdir):
    """Tags 1 and 2 of the tiny HTTP image, FROM the base image, each serving /srv/version with its own tag."""
    tags = {}
    for tag in ("1", "2"):
        context = Path(workdir) / ("image-" + tag)
        context.mkdir(parents=True, exist_ok=True)
        (context / "version").write_text(tag + "\n")
        (context / "Dockerfile").write_text("FROM %s\nCOPY version /srv/version\nLABEL org.mcpops.h11-tag=%s\n"
                                            % (base_tag, tag))
        ref = "%s:%s" % (IMAGE, tag)
        proc = subprocess.run([docker.cli, "build", "--quiet", "--tag", ref, str(context)],
                              env=dict(docker.env(), DOCKER_BUILDKIT="0"), capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        tags[tag] = ref
    return tags


def write_project(directory, api_port, image_tag="2", previous="1"):
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    (directory / "docker-compose.production.yml").write_text(COMPOSE_FILE)
    env = directory / ".env.production"
    env.write_text("# the seed's .env.production, its image and the one the last release replaced\n"
                   "IMAGE_TAG=%s\nIMAGE_TAG_PREVIOUS=%s\nAPI_PORT=%d\nAPI_SECRET=%s\n"
                   % (image_tag, previous, api_port, SECRET_CANARY))
    env.chmod(0o600)
    return env


def project_containers(docker):
    """{name: {id, image, state, started}} of the project's containers now, read with the docker CLI."""
    ids = docker.run("ps", "--all", "--quiet", "--no-trunc", "--filter",
                     "label=com.docker.compose.project=" + PROJECT).stdout.split()
    lines = docker.run("inspect", "--format", INSPECT_FORMAT, *ids).stdout.splitlines() if ids else []
    return containers({"containers": lines})


def containers(record):
    """{name: {id, image, state, started}} of a step's record."""
    out = {}
    for line in record["containers"]:
        cid, name, image, state, started = line.split()
        out[name.lstrip("/")] = {"id": cid, "image": image, "state": state, "started": started}
    return out


def run_steps(directory, docker, steps, *flags):
    """(records, proc): the role run once per step by ansible-playbook, each step's record (see STEP_TASKS)."""
    (directory / "steps.yml").write_text(STEP_TASKS)
    playbook = directory / "backend.yml"
    playbook.write_text(PLAYBOOK)
    extra = {"project_dir": str(directory), "docker_host": docker.host, "docker_cli": docker.cli,
             "docker_config": docker.config_dir, "ansible_python_interpreter": sys.executable, "steps": steps}
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
               ANSIBLE_COLLECTIONS_PATH=str(ROOT / "collections"), ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
               MCPOPS_RUNS_DIR=str(directory / "runs"))
    for name in ("DOCKER_HOST", "DOCKER_CONFIG", "DOCKER_CONTEXT"):
        env.pop(name, None)  # only what the play says reaches docker
    started = time.monotonic()
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", str(playbook), "-e", json.dumps(extra)]
                          + list(flags), cwd=directory, env=env, capture_output=True, text=True, timeout=600)
    print("%d steps %s: %.1fs" % (len(steps), " ".join(flags), time.monotonic() - started))
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    data = json.loads(proc.stdout[proc.stdout.index("{"):])
    last = [t for t in data["plays"][0]["tasks"] if t["task"]["name"] == "The steps"][0]
    return last["hosts"]["localhost"]["steps_done"], proc
