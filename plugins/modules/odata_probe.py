#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The odata_probe module: its documentation, argument spec and main(); the work is _gateway/odata_probe_run.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: odata_probe
short_description: Probe 1C OData publications with GET <odataUrl>/$metadata, as INC-004's curl does
version_added: "0.1.0"
description:
  - For each URL in O(odata_urls), C(GET <odataUrl>/$metadata) from the host the module runs on (the gateway
    host), all at once, and reports the HTTP status, the latency and, when it is not healthy, why
    (V(http), V(timeout), V(refused), V(tls), V(unreachable)).
  - Healthy is HTTP 200 with an XML body within O(timeout) seconds. No credential is sent.
  - It never fails the task for an unhealthy upstream (that is what it reports).
author:
  - mcpops-runbooks engineers (@mcpops-runbooks)
options:
  odata_urls:
    description: The profiles' C(odataUrl) values.
    type: list
    elements: str
    required: true
  timeout:
    description: Seconds to wait for each answer.
    type: float
    default: 10
  ca_path:
    description: A PEM CA bundle to verify the publications' certificates against. Default the system store.
    type: path
  validate_certs:
    description: Verify TLS certificates.
    type: bool
    default: true
extends_documentation_fragment:
  - mcpops.runbooks.attributes
  - mcpops.runbooks.attributes.info
  - mcpops.runbooks.attributes.no_group
notes:
  - Runs on the managed host with its C(python3) and the standard library only.
"""

EXAMPLES = r"""
- name: INC-004 step 1
  mcpops.runbooks.odata_probe:
    odata_urls:
      - https://1c-host/base/odata/standard.odata
    timeout: 10
  register: probe
"""

RETURN = r"""
results:
  description: One row per URL, in order.
  returned: always
  type: list
  elements: dict
  contains:
    url: {description: The C($metadata) URL., type: str}
    status: {description: The HTTP status (null without an answer)., type: int}
    latency_ms: {description: Time to the answer or the failure., type: int}
    healthy: {description: 200 with an XML body in time., type: bool}
    failure: {description: "V(http), V(timeout), V(refused), V(tls), V(unreachable) or null.", type: str}
    error: {description: "What came back, in words.", type: str}
healthy:
  description: Whether every URL is healthy.
  returned: always
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.module_tail import run_module
from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.odata_probe_run import run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            odata_urls=dict(type="list", elements="str", required=True),
            timeout=dict(type="float", default=10),
            ca_path=dict(type="path"),
            validate_certs=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == "__main__":
    main()
