# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""loyalty_quick_check's work: the Loyalty API's "Быстрый чек" (seed 003) in one pass, its steps side by side.

The seed runs them one after the other: the containers' status (`deploy.sh production status`), smoke-check.sh
(health/ready/live/metrics), smoke-integrations.sh (read-only unless SMOKE_ALLOW_MUTATIONS=1) and `logs api
--tail=1000`. None depends on another's answer, so here each runs in its own thread and the whole takes about as long
as the slowest of them. The checks are the service profile's, run by _health's own request and verdict code. The
containers and the log lines are read from the Docker Engine API on its unix socket (no CLI to start: each `docker
compose` costs about 0.1 s of CPU) when the CLI would talk to a unix socket, else with `docker compose ps --all
--format json` and `docker compose logs` (read_via: auto, engine_api, cli).

run(params, check_mode, command=, transport=, mutation_transport=, check=) refuses bad input before any command or
request (TaskError), then returns {changed: false, ok, findings, containers, containers_down, containers_error, smoke,
integration, logs, read_via, elapsed_seconds}; a finding is a line as the playbook reports it. Read-only, so check mode
runs it all except the mutating calls. Every secret value (the metrics token, the mask values) is redacted from the
result; the log lines are masked first (log_masking)."""

from __future__ import annotations

import os
import re
import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.http_transport import UrllibTransport
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.secret_redaction import redact, secret_values
from ansible_collections.mcpops.runbooks.plugins.module_utils._health.base_url import check_base_url
from ansible_collections.mcpops.runbooks.plugins.module_utils._health.http_check import (
    build_request,
    problem_line,
    run_check,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._health.selection import health_checks, roles_of
from ansible_collections.mcpops.runbooks.plugins.module_utils._service import compose_cli
from ansible_collections.mcpops.runbooks.plugins.module_utils._service import compose_containers
from ansible_collections.mcpops.runbooks.plugins.module_utils._service import docker_engine_api
from ansible_collections.mcpops.runbooks.plugins.module_utils._service import log_masking
from ansible_collections.mcpops.runbooks.plugins.module_utils._service import loyalty_smoke

SERVICE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
MAX_LOG_LINES = 100000
ERROR_TAIL = 400  # characters of a failed command's stderr kept in its finding
READ_VIA = ("auto", "engine_api", "cli")


def _whole(params, key, low, high):
    value = params.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise TaskError("%s must be a whole number from %d to %d, not %r; nothing was checked"
                        % (key, low, high, value))
    return value


def _engine_socket(params, environ):
    """The Engine API's unix socket to read through, or None for the CLI; TaskError when engine_api cannot be."""
    via = params.get("read_via") or "auto"
    if via not in READ_VIA:
        raise TaskError("read_via must be one of %s, not %r; nothing was checked" % (", ".join(READ_VIA), via))
    if via == "cli":
        return None
    path = docker_engine_api.socket_path(params.get("docker_host"), environ)
    if path is None and via == "engine_api":
        raise TaskError("read_via engine_api needs a unix:// docker_host (or DOCKER_HOST), not %r; nothing was checked"
                        % (params.get("docker_host") or environ.get("DOCKER_HOST") or "a docker context"))
    return path


def _plan(params, environ=None):
    """Everything checked and every request built before the first command or request: TaskError on bad input."""
    base_url = check_base_url(params["base_url"])
    for key, high in (("timeout", 3600), ("command_timeout", 3600)):
        _whole(params, key, 1, high)
    log_lines = _whole(params, "log_lines", 0, MAX_LOG_LINES)
    service = params.get("log_service")
    if not isinstance(service, str) or not SERVICE_RE.match(service):
        raise TaskError("log_service must be a compose service name (letters, digits, _ . -), not %r; nothing was "
                        "checked" % (service,))
    src = params.get("project_src")
    if not isinstance(src, str) or not os.path.isabs(src) or not os.path.isdir(src):
        raise TaskError("project_src must be the compose project's directory, an absolute path that exists, not %r; "
                        "nothing was checked" % (src,))
    names = [check["name"] for check in health_checks(params["health"])]
    limits = loyalty_smoke.check_max_ms(params.get("smoke_max_ms"), names)
    customer = loyalty_smoke.check_customer(params.get("smoke_customer_id") or "")
    smoke = loyalty_smoke.smoke_health(params["health"], limits)
    balance = loyalty_smoke.balance_health(customer, limits)
    auth, secrets = params.get("auth") or {}, params.get("secrets")
    env = compose_cli.command_env(params, environ)
    return dict(
        base_url=base_url, limits=limits, customer=customer, smoke=smoke, balance=balance, log_lines=log_lines,
        smoke_planned=[(spec, build_request(spec, base_url, auth, secrets)) for spec in health_checks(smoke)],
        balance_planned=[(spec, build_request(spec, base_url, {}, {})) for spec in health_checks(balance)],
        argv=compose_cli.project_argv(params), env=env, socket=_engine_socket(params, env),
        project_src=os.path.normpath(src))


def _failed_command(argv, rc, err):
    return "`%s` %s: %s" % (" ".join(argv[1:2] + argv[-4:]), "timed out" if rc is None else "exited %s" % rc,
                            (err or "").strip()[-ERROR_TAIL:] or "no output")


def _read_through_engine(plan, service, timeout):
    """{rows, containers_error, lines, logs_error} from the Engine API: the project's containers, then the last lines
    of each container of `service`, prefixed as `compose logs` prefixes them (api-1  | ...)."""
    sock, tail = plan["socket"], plan["log_lines"]
    try:
        rows = docker_engine_api.project_containers(sock, plan["project_src"], timeout)
    except docker_engine_api.EngineError as exc:
        return dict(rows=[], containers_error=str(exc), lines=[], logs_error=str(exc))
    lines, error = [], None
    replicas = sorted((r for r in rows if r["Service"] == service), key=lambda r: int(r["Number"] or 0))
    width = max([len("%s-%s" % (service, r["Number"])) for r in replicas] or [0])
    for row in replicas if tail > 0 else []:
        prefix = "%-*s  | " % (width, "%s-%s" % (service, row["Number"]))
        try:
            lines += [prefix + line for line in docker_engine_api.log_lines(sock, row["Id"], tail, timeout)]
        except docker_engine_api.EngineError as exc:
            error = str(exc)
    if replicas == [] and tail > 0:
        error = "no container of service %s in the project" % service
    return dict(rows=rows, containers_error=None, lines=lines, logs_error=error)


def _read_through_cli(pool, plan, command, service, timeout):
    """The same from `docker compose ps --all --format json` and `docker compose logs`, run side by side."""
    argv, env, tail = plan["argv"], plan["env"], plan["log_lines"]
    ps_argv = argv + ["ps", "--all", "--format", "json"]
    logs_job = pool.submit(command, argv + ["logs", "--no-color", "--tail", str(tail), service], env, timeout) \
        if tail > 0 else None
    rc, out, err = command(ps_argv, env, timeout)
    rows, containers_error = [], None
    if rc != 0:
        containers_error = _failed_command(ps_argv, rc, err)
    else:
        try:
            rows = compose_containers.parse_ps(out)
        except ValueError:
            containers_error = "`compose ps --format json` printed something that is not JSON: %r" % (out[:200],)
    lines, logs_error = [], None
    if logs_job:
        rc, out, err = logs_job.result()
        lines = out.splitlines() + err.splitlines()
        logs_error = None if rc == 0 else _failed_command(argv + ["logs"], rc, err)
    return dict(rows=rows, containers_error=containers_error, lines=lines, logs_error=logs_error)


def _verdicts(health, planned, answers):
    return [dict(name=spec["name"], roles=roles_of(health, spec["name"]), **answer)
            for (spec, dummy), answer in zip(planned, answers)]


def run(params, check_mode=False, *, command=compose_cli.run_command, transport=None, mutation_transport=None,
        check=run_check, environ=None):
    """The quick check; command(argv, env, timeout) -> (rc, out, err) and check(spec, request, transport) -> verdict
    are the compose CLI and _health's HTTP check, environ os.environ, unless a test gives its own."""
    secrets = secret_values(params.get("secrets"))
    hidden = sorted(set(secrets) | set(str(v) for v in params.get("mask") or [] if v), key=lambda v: (-len(v), v))
    try:
        plan = _plan(params, environ)
    except TaskError as exc:
        raise TaskError(redact(exc.msg, hidden), redact(exc.result, hidden))
    transport = transport or UrllibTransport(params["validate_certs"], params["timeout"], follow_redirects=False)
    mutate = bool(params.get("allow_mutations")) and not check_mode
    if mutate and mutation_transport is None:
        mutation_transport = UrllibTransport(params["validate_certs"], loyalty_smoke.mutation_timeout(plan["limits"]),
                                             follow_redirects=False)
    service, timeout = params["log_service"], params["command_timeout"]

    def integration():
        verdicts = [check(spec, request, transport) for spec, request in plan["balance_planned"]]
        problems = loyalty_smoke.run_mutations(mutation_transport, plan["base_url"], plan["customer"]) if mutate else []
        return verdicts, problems

    started = time.monotonic()
    # one thread a step (and a check): each waits on a socket or a child process, none on another's answer
    with ThreadPoolExecutor(max_workers=len(plan["smoke_planned"]) + 4) as pool:
        if plan["socket"]:
            project_job = pool.submit(_read_through_engine, plan, service, timeout)
        else:
            project_job = pool.submit(_read_through_cli, pool, plan, command, service, timeout)
        smoke_jobs = [pool.submit(check, spec, request, transport) for spec, request in plan["smoke_planned"]]
        integration_job = pool.submit(integration)
        project = project_job.result()
        smoke_checks = _verdicts(plan["smoke"], plan["smoke_planned"], [job.result() for job in smoke_jobs])
        balance_answers, mutation_problems = integration_job.result()
    balance_checks = _verdicts(plan["balance"], plan["balance_planned"], balance_answers)

    states = compose_containers.states_by_service(project["rows"])
    down = compose_containers.not_running(states)
    smoke_failed = [v for v in smoke_checks if not v["ok"]]
    balance_failed = [v for v in balance_checks if not v["ok"]]
    smoke_problems = [problem_line(v["name"], v) for v in smoke_failed]
    integration_problems = [problem_line(v["name"], v) for v in balance_failed] + mutation_problems
    if not project["rows"] and not project["containers_error"]:
        project["containers_error"] = "no container of the compose project in %s exists" % plan["project_src"]
    findings = (["containers not running: " + ", ".join(down)] if down else []) \
        + (["containers' status not read: " + project["containers_error"]] if project["containers_error"] else []) \
        + smoke_problems + integration_problems
    result = dict(
        changed=False, ok=not findings, findings=findings,
        containers=dict((name, ",".join(words)) for name, words in states.items()),
        containers_down=down, containers_error=project["containers_error"],
        smoke=dict(healthy=not smoke_failed, checks=smoke_checks, problems=smoke_problems,
                   failed_checks=[v["name"] for v in smoke_failed]),
        integration=dict(ok=not integration_problems, checks=balance_checks, problems=integration_problems,
                         mutations="ran" if mutate else "not run (check mode)" if params.get("allow_mutations")
                         else "not run (read-only)"),
        logs=dict(service=service, tail=plan["log_lines"], error=project["logs_error"],
                  lines=log_masking.mask_lines(project["lines"], hidden)),
        read_via="engine API (unix://%s)" % plan["socket"] if plan["socket"] else "docker compose CLI",
        elapsed_seconds=round(time.monotonic() - started, 3))
    return redact(result, hidden)
