# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runbook's "restart during index job -> stale index, re-run discover" guard.

Before a stop or restart: wait (bounded) for running `index.discover` jobs to finish, refuse when they
do not, or, forced, say which jobs the restart will interrupt so that discover is run again after it."""

from __future__ import annotations

import time

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.client import GatewayError

DISCOVER = "index.discover"


def running_discover_jobs(jobs):
    return [job for job in jobs or [] if job.get("kind") == DISCOVER and job.get("state") == "running"]


def _describe(jobs):
    return ", ".join("%s (started %s)" % (job.get("id"), job.get("startedAt")) for job in jobs)


def wait_until_idle(client, wait_timeout, force, poll=2.0, clock=time.monotonic, sleep=time.sleep):
    """Wait up to wait_timeout seconds for no running index.discover job.

    A gateway that does not answer has no job to interrupt (answered: false). Returns running_jobs
    (those still running at the end), waited_seconds, answered and interrupts (the jobs a forced
    stop will interrupt, [] otherwise). Raises TaskError(msg, result) when jobs still run and not force."""
    if not client.answers():
        return {"answered": False, "running_jobs": [], "waited_seconds": 0, "interrupts": []}
    start = clock()
    while True:
        try:
            running = running_discover_jobs(client.jobs())
        except GatewayError as exc:
            if exc.status is None:  # it stopped answering while we waited: nothing left to interrupt
                return {"answered": False, "running_jobs": [], "waited_seconds": int(clock() - start),
                        "interrupts": []}
            raise
        waited = clock() - start
        if not running or waited >= wait_timeout or force:
            break
        sleep(min(poll, max(0.1, wait_timeout - waited)))
    result = {"answered": True, "running_jobs": running, "waited_seconds": int(waited),
              "interrupts": running if force else []}
    if running and not force:
        raise TaskError(
            "%s job(s) still running after waiting %ds: %s. A stop or restart now would leave a stale "
            "index (runbook: restart during index job). Wait for it (raise the wait timeout), or pass "
            "force=true: the restart then interrupts it and the gateway_service role runs discover again "
            "once the gateway is back." % (DISCOVER, int(waited), _describe(running)), result)
    return result


def start_discover(client, check_mode):
    """POST /api/system/index/discover, or join the one already running; check mode only says it would."""
    running = running_discover_jobs(client.jobs())
    if running:
        return {"changed": False, "job": running[0], "running_jobs": running}
    if check_mode:
        return {"changed": True, "job": None}
    body = client.request("POST", "/api/system/index/discover", body={}, ok=(200, 202))[1]
    job = body.get("job") if isinstance(body, dict) else None
    return {"changed": True, "job": job, "running_jobs": [job] if job else []}
