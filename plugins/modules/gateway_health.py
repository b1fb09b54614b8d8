#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mcpops-runbooks engineers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: gateway_health
short_description: Check an MCP gateway the way the runbook's post-recovery steps do
version_added: "0.1.0"
description:
  - Checks C(/healthz), C(/readyz) and, with O(api_token), C(/api/system/storage-meta) (a known
    C(schemaVersion) no newer than O(max_schema_version) and every store C(ok)).
  - With O(mcp_token), runs the runbook's post-recovery MCP checks over Streamable HTTP at O(mcp_url),
    C(tools/list), then C(list_profiles), then C(check_profile_health) for each critical profile, and
    verifies that no write tool (a name starting with C(write_), C(create_), C(update_) or C(delete_))
    is listed; give the token of a production-bound client.
  - Retries up to O(retries) more times, O(delay) seconds apart, until everything is healthy.
  - Read-only; runs in check mode.
author:
  - mcpops-runbooks engineers
options:
  api_url:
    description: Base URL of the gateway.
    type: str
    default: http://127.0.0.1:3000
  api_token:
    description: The admin (bootstrap) token; without it storage-meta is not checked.
    type: str
  mcp_url:
    description: The MCP endpoint; default O(api_url) followed by C(/mcp).
    type: str
  mcp_token:
    description: An MCP token bound to a production profile; without it the MCP checks are skipped.
    type: str
  critical_profiles:
    description:
      - Profiles to run C(check_profile_health) on. Default every profile C(list_profiles) reports with
        C(environment) V(production).
    type: list
    elements: str
  max_schema_version:
    description: The newest storage C(schemaVersion) the gateway binary supports.
    type: int
    default: 3
  retries:
    description: How many more times to check after the first, until healthy.
    type: int
    default: 10
  delay:
    description: Seconds between checks.
    type: int
    default: 2
  fail_when_unhealthy:
    description: Fail the task when the gateway is still unhealthy after the retries; otherwise only report.
    type: bool
    default: true
  validate_certs:
    description: Verify TLS certificates.
    type: bool
    default: true
  timeout:
    description: Seconds to wait for each HTTP call.
    type: int
    default: 10
attributes:
  check_mode:
    support: full
notes:
  - Runs on the managed host with its C(python3) and the standard library only.
seealso:
  - module: mcpops.runbooks.gateway_backup
"""

EXAMPLES = r"""
- name: INC-003 step 4 and the post-recovery tools/list checks
  mcpops.runbooks.gateway_health:
    api_url: http://127.0.0.1:3000
    api_token: "{{ gateway_admin_token }}"
    mcp_token: "{{ production_agent_mcp_token }}"
  register: health

- name: Report without failing
  mcpops.runbooks.gateway_health:
    retries: 0
    fail_when_unhealthy: false
"""

RETURN = r"""
healthy:
  description: Whether every check passed.
  returned: always
  type: bool
problems:
  description: What failed, one sentence each, naming the endpoint or tool and what came back.
  returned: always
  type: list
  elements: str
  sample: ["GET http://127.0.0.1:3000/readyz: not ready, failing checks: storage=corrupt"]
healthz:
  description: The C(/healthz) body; null when it did not answer.
  returned: always
  type: dict
readyz:
  description: The C(/readyz) body (a 503 body too); null when it did not answer.
  returned: always
  type: dict
storage_meta:
  description: The C(/api/system/storage-meta) body; null without O(api_token) or when it failed.
  returned: always
  type: dict
mcp:
  description: The MCP checks; null without O(mcp_token).
  returned: always
  type: dict
  contains:
    tools:
      description: Tool names C(tools/list) returned.
      type: list
      elements: str
    profiles:
      description: The profiles C(list_profiles) returned.
      type: list
      elements: dict
    profile_health:
      description: Per critical profile, C(healthy) and the tool's C(result).
      type: dict
    write_tools_listed:
      description: Write tools listed for the token (must be empty for a production-bound token).
      type: list
      elements: str
attempts:
  description: How many times the checks ran.
  returned: always
  type: int
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mcpops.runbooks.plugins.module_utils.gateway_client import (
    GatewayClient,
    GatewayError,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils.mcp_client import (
    McpClient,
    McpError,
    tool_result_payload,
)

WRITE_TOOL_PREFIXES = ("write_", "create_", "update_", "delete_")


def write_tools(names):
    return sorted(name for name in names if name.startswith(WRITE_TOOL_PREFIXES))


def profiles_from(payload):
    """list_profiles' answer as [{name, environment, ...}], whatever wrapper the server used."""
    if isinstance(payload, dict):
        payload = payload.get("profiles", payload.get("items", []))
    profiles = []
    for item in payload if isinstance(payload, list) else []:
        if isinstance(item, str):
            profiles.append({"name": item, "environment": None})
        elif isinstance(item, dict) and item.get("name"):
            profiles.append(item)
    return profiles


def profile_is_healthy(result):
    """check_profile_health's verdict: isError fails; else healthy/ok/status fields if present."""
    if not isinstance(result, dict) or result.get("isError"):
        return False
    payload = tool_result_payload(result)
    if isinstance(payload, dict):
        for key in ("healthy", "ok"):
            if isinstance(payload.get(key), bool):
                return payload[key]
        status = payload.get("status")
        if isinstance(status, str):
            return status.lower() in ("ok", "healthy", "up", "ready")
    return True


def check_storage_meta(meta, max_schema_version):
    problems = []
    version = meta.get("schemaVersion") if isinstance(meta, dict) else None
    if isinstance(version, bool) or not isinstance(version, int):
        problems.append("storage-meta: schemaVersion is %r, not a known version" % (version,))
    elif version > max_schema_version:
        problems.append("storage-meta: schemaVersion %d is newer than max_schema_version %d" % (version, max_schema_version))
    stores = meta.get("stores") if isinstance(meta, dict) else None
    if isinstance(stores, dict):
        for name in sorted(stores):
            store = stores[name]
            if not (isinstance(store, dict) and store.get("ok") is True):
                problems.append("storage-meta: store %s is not ok: %r" % (name, store))
    else:
        problems.append("storage-meta: no 'stores' in the answer")
    return problems


def check_mcp(mcp, critical_profiles):
    """The runbook's post-recovery sequence. Returns (report, problems)."""
    problems = []
    report = {"tools": [], "profiles": [], "profile_health": {}, "write_tools_listed": []}
    mcp.initialize()
    report["tools"] = sorted(tool.get("name") for tool in mcp.list_tools() if isinstance(tool, dict) and tool.get("name"))
    report["write_tools_listed"] = write_tools(report["tools"])
    if report["write_tools_listed"]:
        problems.append(
            "tools/list lists write tools for the production-bound token: %s" % ", ".join(report["write_tools_listed"])
        )
    for needed in ("list_profiles", "check_profile_health"):
        if needed not in report["tools"]:
            problems.append("tools/list does not list %s" % needed)
    if problems and "list_profiles" not in report["tools"]:
        return report, problems
    listed = mcp.call_tool("list_profiles")
    if isinstance(listed, dict) and listed.get("isError"):
        problems.append("list_profiles returned an error: %r" % (tool_result_payload(listed),))
    report["profiles"] = profiles_from(tool_result_payload(listed))
    names = [profile["name"] for profile in report["profiles"]]
    if critical_profiles is None:
        critical = [p["name"] for p in report["profiles"] if p.get("environment") == "production"]
        if not critical:
            problems.append("list_profiles reports no production profile to check")
    else:
        critical = list(critical_profiles)
    for name in critical:
        if name not in names:
            problems.append("critical profile %s is not in list_profiles" % name)
            continue
        result = mcp.call_tool("check_profile_health", {"profile": name})
        healthy = profile_is_healthy(result)
        report["profile_health"][name] = {"healthy": healthy, "result": tool_result_payload(result)}
        if not healthy:
            problems.append("check_profile_health %s: unhealthy: %r" % (name, tool_result_payload(result)))
    return report, problems


def check_once(params):
    """One round of every check: (report dict, problems)."""
    api = GatewayClient(params["api_url"], params["api_token"], params["validate_certs"], params["timeout"])
    report = {"healthz": None, "readyz": None, "storage_meta": None, "mcp": None}
    problems = []
    try:
        report["healthz"] = api.healthz()
        if report["healthz"].get("status") != "ok":
            problems.append("GET %s/healthz: status %r, expected 'ok'" % (api.base_url, report["healthz"].get("status")))
    except GatewayError as exc:
        problems.append(str(exc))
    try:
        report["readyz"] = api.readyz()
        if report["readyz"].get("status") != "ready":
            checks = report["readyz"].get("checks") or {}
            failing = ", ".join("%s=%s" % (k, v) for k, v in sorted(checks.items()) if v != "ok") or "none named"
            problems.append("GET %s/readyz: not ready, failing checks: %s" % (api.base_url, failing))
    except GatewayError as exc:
        problems.append(str(exc))
    if params["api_token"]:
        try:
            report["storage_meta"] = api.storage_meta()
            problems.extend(check_storage_meta(report["storage_meta"], params["max_schema_version"]))
        except GatewayError as exc:
            problems.append(str(exc))
    if params["mcp_token"]:
        mcp = McpClient(
            params["mcp_url"] or api.base_url + "/mcp", params["mcp_token"], params["validate_certs"], params["timeout"]
        )
        try:
            report["mcp"], mcp_problems = check_mcp(mcp, params["critical_profiles"])
            problems.extend(mcp_problems)
        except McpError as exc:
            problems.append(str(exc))
    return report, problems


def redact(value, secrets):
    """Belt and braces: no token text in anything returned (a server could echo it back)."""
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, "********")
        return value
    if isinstance(value, list):
        return [redact(item, secrets) for item in value]
    if isinstance(value, dict):
        return {redact(k, secrets): redact(v, secrets) for k, v in value.items()}
    return value


def main():
    module = AnsibleModule(
        argument_spec=dict(
            api_url=dict(type="str", default="http://127.0.0.1:3000"),
            api_token=dict(type="str", no_log=True),
            mcp_url=dict(type="str"),
            mcp_token=dict(type="str", no_log=True),
            critical_profiles=dict(type="list", elements="str"),
            max_schema_version=dict(type="int", default=3),
            retries=dict(type="int", default=10),
            delay=dict(type="int", default=2),
            fail_when_unhealthy=dict(type="bool", default=True),
            validate_certs=dict(type="bool", default=True),
            timeout=dict(type="int", default=10),
        ),
        supports_check_mode=True,
    )
    params = module.params
    secrets = [s for s in (params["api_token"], params["mcp_token"]) if s]
    if not params["api_token"]:
        module.warn("no api_token: /api/system/storage-meta (schemaVersion, stores) was not checked")
    attempts = 0
    while True:
        attempts += 1
        report, problems = check_once(params)
        if not problems or attempts > max(0, params["retries"]):
            break
        time.sleep(max(0, params["delay"]))
    result = redact(dict(report, changed=False, healthy=not problems, problems=problems, attempts=attempts), secrets)
    if problems and params["fail_when_unhealthy"]:
        module.fail_json(
            msg="gateway at %s unhealthy after %d checks: %s" % (params["api_url"], attempts, "; ".join(result["problems"])),
            **result
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
