#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The odata_probe module: its documentation, argument spec and main(); the work is _gateway/odata_probe_run.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: odata_probe
short_description: Probe 1C OData publications (web server and cluster) with GET <odataUrl>/$metadata
version_added: "0.1.0"
description:
  - For each URL in O(odata_urls), C(GET <odataUrl>/$metadata) from the host the module runs on (the gateway
    host), all at once, and reports the HTTP status, the latency and, when it is not healthy, why
    (V(http), V(timeout), V(refused), V(tls), V(unreachable)).
  - Healthy is HTTP 200 with an XML body within O(timeout) seconds. Without O(credentials) no credential is sent
    (as the runbook's curl); with them each URL is asked with HTTP Basic, as the gateway's
    C(check_connection_health) does, which proves a password against 1C (INC-006) before it is used.
  - Says which part of the publication failed (INC-004 step 2) - the web server (no TCP connection or TLS
    handshake, or an error page without a 1C error) or the 1C cluster behind it (the web server answers with
    1C's own error, such as the cluster-connection text with C(server_addr=) and C(descr=)), with the evidence.
  - It never fails the task for an unhealthy upstream (that is what it reports). No password is ever in a result.
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
  credentials:
    description:
      - One HTTP Basic credential per URL of O(odata_urls), in the same order (the profile's 1C user and the
        password its C(passwordEnv) holds). Default none - nothing is sent.
      - Refused before any request - a list of another length, an entry without a password.
    type: list
    elements: dict
    suboptions:
      user:
        description: The 1C user; default V(mcp), the reference gateway's user when a profile names none.
        type: str
        default: mcp
      password:
        description: The password. Never in a result, a warning or an error.
        type: str
        required: true
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

- name: INC-006, before anything - prove a new password against 1C
  mcpops.runbooks.odata_probe:
    odata_urls: [https://1c-host/erp/odata/standard.odata]
    credentials:
      - {user: mcp, password: "{{ odata_passwords.ONEC_ERP_PROD_PASSWORD }}"}
  register: proof
  failed_when: not proof.healthy
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
    web_server:
      description: >-
        The 1C web server (the publication's HTTP service) - V(ok) (it answered, or took the connection) or V(failed).
      type: str
    cluster:
      description: >-
        The 1C cluster behind the web server - V(ok), V(failed) (the web server answered with 1C's error) or
        V(unknown) (not reached).
      type: str
    credential:
      description: "V(not_sent), V(ok) (200 with it), V(refused) (401 or 403 to it) or V(unknown) (1C did not say)."
      type: str
    evidence:
      description: What was seen for each part, in words (a 1C error's first words, never a password).
      type: dict
      sample: {"web_server": "HTTP 500 with 1C's error: the web server reached its 1C module",
               "cluster": "HTTP 500: Ошибка соединения с сервером 1С:Предприятия 8.3 ... server_addr=tcp://1c-cluster:1541 ..."}
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
            credentials=dict(type="list", elements="dict", options=dict(
                user=dict(type="str", default="mcp"),
                password=dict(type="str", required=True, no_log=True),
            )),
        ),
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == "__main__":
    main()
