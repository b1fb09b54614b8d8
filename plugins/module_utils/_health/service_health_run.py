# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""service_health's work: a service profile's health checks, retried until healthy, one verdict per check.

run(params, check_mode, check=, transport=, sleep=) refuses bad input before any request (base_url, the health
section, select, every selected check's auth and secret), then runs rounds of the selected checks. It returns the
result (every secret value redacted) or raises TaskError(msg, result). No Ansible here: unit tests call it directly.
"""

from __future__ import annotations

import time

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.http_transport import UrllibTransport
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.secret_redaction import redact, secret_values
from ansible_collections.mcpops.runbooks.plugins.module_utils._health.base_url import check_base_url
from ansible_collections.mcpops.runbooks.plugins.module_utils._health.http_check import (
    build_request,
    problem_line,
    run_check,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._health.selection import health_checks, roles_of, select

__all__ = ["check_base_url", "run", "secret_values"]  # check_base_url and secret_values: their old import path


def _numbers(params):
    for key, minimum in (("retries", 0), ("delay", 0), ("timeout", 1)):
        value = params.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise TaskError("%s must be an integer >= %d, not %r; nothing was checked" % (key, minimum, value))


def run(params, check_mode=False, *, check=run_check, transport=None, sleep=time.sleep):
    """check(spec, request, transport) for each selected check, once, then up to params["retries"] more rounds
    params["delay"] seconds apart until every check is ok. Read-only: check mode runs the checks too."""
    secrets = secret_values(params.get("secrets"))
    try:
        base_url = check_base_url(params["base_url"])
        _numbers(params)
        health = params["health"]
        checks = health_checks(health)
        names = select(health, checks, params.get("select") or [])
        by_name = dict((spec["name"], spec) for spec in checks)
        # Every request is built (auth known, secret present) before the first is sent.
        planned = [(by_name[name], build_request(by_name[name], base_url, params.get("auth") or {},
                                                 params.get("secrets")))
                   for name in names]
    except TaskError as exc:
        raise TaskError(redact(exc.msg, secrets), redact(exc.result, secrets))
    # redirects are answers, never followed: a secret header must not travel to wherever Location points
    transport = transport or UrllibTransport(params["validate_certs"], params["timeout"], follow_redirects=False)
    attempts = 0
    while True:
        attempts += 1
        verdicts = []
        for spec, request in planned:
            verdict = dict(check(spec, request, transport))
            verdicts.append(dict(name=spec["name"], roles=roles_of(health, spec["name"]), **verdict))
        failed = [v for v in verdicts if not v["ok"]]
        if not failed or attempts > params["retries"]:
            break
        sleep(params["delay"])
    problems = [problem_line(v["name"], v) for v in failed]
    result = redact(dict(changed=False, healthy=not failed, attempts=attempts, checks=verdicts, problems=problems,
                         failed_checks=[v["name"] for v in failed]), secrets)
    if failed and params["fail_when_unhealthy"]:
        raise TaskError(redact("service at %s unhealthy after %d checks: %s"
                               % (base_url, attempts, "; ".join(result["problems"])), secrets), result)
    return result
