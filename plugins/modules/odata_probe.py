#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mcpops-runbooks engineers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

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
  - Read-only; runs in check mode. It never fails the task for an unhealthy upstream (that is what it reports).
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
attributes:
  check_mode:
    description: Read-only, so a check run does exactly what a real run does.
    support: full
  diff_mode:
    description: Nothing to diff.
    support: none
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

from ansible_collections.mcpops.runbooks.plugins.module_utils.odata_probe import OdataProbeInputError, probe_all


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
    try:
        results = probe_all(module.params["odata_urls"], module.params["timeout"], module.params["ca_path"],
                            module.params["validate_certs"])
    except OdataProbeInputError as exc:
        module.fail_json(msg="%s; nothing was probed" % exc)
    module.exit_json(changed=False, results=results, healthy=all(r["healthy"] for r in results))


if __name__ == "__main__":
    main()
