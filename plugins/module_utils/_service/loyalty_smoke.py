# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Loyalty API's two smoke scripts (seed 003) as health sections that _health runs: smoke-check.sh is the
profile's checks (health, ready, live, metrics) each within its SMOKE_MAX_MS_*; smoke-integrations.sh, read-only, is a
balance read (the smoke customer's: 200 with a balance; none given: a customer that does not exist, whose 404
customer_not_found proves the request reached the database) within SMOKE_MAX_MS_BALANCE, and with
SMOKE_ALLOW_MUTATIONS=1 one point earned and redeemed (200 each) within SMOKE_MAX_MS_MUTATION."""

from __future__ import annotations

import copy
import json
import math
import re

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.http_transport import NoAnswer

ABSENT_CUSTOMER = "mcpops-smoke-absent"
BALANCE_PATH = "/api/v1/loyalty/balance/"
MUTATIONS = ("earn", "redeem")
# The seed names SMOKE_MAX_MS_*, not their values: the profile's max_latency_ms, and these for the integration calls.
DEFAULT_MAX_MS = {"balance": 2000, "mutation": 3000}
CUSTOMER_RE = re.compile(r"^[A-Za-z0-9_.-]{0,64}\Z")


def check_max_ms(max_ms, profile_names):
    """smoke_max_ms as {name: int ms}: names are the profile's checks, balance and mutation; TaskError otherwise."""
    known = list(profile_names) + sorted(DEFAULT_MAX_MS)
    limits = {}
    for name, value in (max_ms or {}).items():
        if name not in known:
            raise TaskError("smoke_max_ms: unknown check %r (known: %s); nothing was checked" % (name, ", ".join(known)))
        try:
            limit = int(str(value), 10)
        except ValueError:
            limit = 0
        if limit < 1 or limit > 999999:
            raise TaskError("smoke_max_ms.%s must be whole milliseconds from 1 to 999999, not %r; nothing was checked"
                            % (name, value))
        limits[name] = limit
    return limits


def check_customer(customer_id):
    if not isinstance(customer_id, str) or not CUSTOMER_RE.match(customer_id):
        raise TaskError("smoke_customer_id must be letters, digits, _ . - (64 at most); nothing was checked")
    return customer_id


def smoke_health(health, limits):
    """The profile's health section with each check's max_latency_ms replaced by its SMOKE_MAX_MS_* when given."""
    section = copy.deepcopy(health)
    for check in section.get("checks") or []:
        if isinstance(check, dict) and check.get("name") in limits:
            check["max_latency_ms"] = limits[check["name"]]
    return section


def balance_health(customer_id, limits):
    """smoke-integrations.sh's read-only call as a one-check health section."""
    check = {"name": "balance", "path": BALANCE_PATH + (customer_id or ABSENT_CUSTOMER), "auth": "none",
             "expect_status": 200 if customer_id else 404,
             "max_latency_ms": limits.get("balance", DEFAULT_MAX_MS["balance"]),
             "conditions": ["balance exists" if customer_id else "error == customer_not_found"]}
    return {"checks": [check], "liveness": "balance", "readiness": "balance", "deep": "balance"}


def mutation_timeout(limits):
    """SMOKE_MAX_MS_MUTATION as the whole seconds a mutating call may take."""
    return int(math.ceil(limits.get("mutation", DEFAULT_MAX_MS["mutation"]) / 1000.0))


def run_mutations(transport, base_url, customer_id):
    """Earn 1 point, then redeem it; one problem line for each call that did not answer 200 in time."""
    problems = []
    body = json.dumps({"customerId": customer_id or "mcpops-smoke", "points": 1}).encode("utf-8")
    for name in MUTATIONS:
        try:
            status = transport.exchange("POST", "%s/api/v1/loyalty/%s" % (base_url, name), body,
                                        {"Content-Type": "application/json", "Accept": "application/json"}).status
        except NoAnswer:
            status = None
        if status != 200:
            problems.append("check %s (POST): no 200 within SMOKE_MAX_MS_MUTATION" % name)
    return problems
