#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cert_check module: its documentation, argument spec and main(); the work is _tls/cert_check_run.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cert_check
short_description: Check TLS certificates of endpoints and PEM files, the way the certificate runbooks do
version_added: "0.1.0"
description:
  - Connects to every target in O(targets) (concurrently, at most O(concurrency) at a time) and reads every PEM
    certificate or bundle in O(files); reports for each the subject, issuer, SANs, serial, validity dates,
    days left, hostname match (targets), whether the chain verifies and why not, chain length, key type and
    size, signature algorithm and TLS version (targets).
  - "Each gets a C(status): V(ok), V(warn) (fewer than O(warn_days) days left), V(critical) (fewer than
    O(critical_days)), V(expired), or V(error) with a C(reason): V(refused), V(timeout), V(unreachable),
    V(handshake failure), V(untrusted), V(wrong host), V(incomplete chain), V(self-signed), V(not yet valid)
    or V(unreadable) (files)."
  - An endpoint that does not answer is a row with status V(error), never a crash of the task.
  - One verifying TLS context is built a run and shared by every connection; a non-verifying one, to still read
    what a refused server presents, is built only when a chain is refused, and loads no trust store.
  - Unlike C(community.crypto.get_certificate), which is skipped in check mode, it runs and reports in check mode too.
author:
  - mcpops-runbooks engineers (@mcpops-runbooks)
options:
  targets:
    description:
      - Endpoints, each C(host:port) (C([ipv6]:port); port 443 when left out) or a dict with C(host), C(port)
        and C(server_name) (the name sent as SNI and checked against the certificate; default C(host)).
    type: list
    elements: raw
    default: []
  files:
    description: Paths on the host of PEM certificates or bundles (leaf first, then its chain).
    type: list
    elements: path
    default: []
  ca_path:
    description:
      - A PEM CA bundle or a hashed CA directory to verify chains against. Default the system trust store.
    type: path
  warn_days:
    description: Fewer days left than this is V(warn).
    type: int
    default: 30
  critical_days:
    description: Fewer days left than this is V(critical). Must not be larger than O(warn_days).
    type: int
    default: 7
  fail_on:
    description:
      - Fail the task when any certificate is this bad or worse (V(error) counts as worse than V(expired)).
        V(never) only reports.
    type: str
    choices: [critical, warn, never]
    default: critical
  timeout:
    description: Seconds to wait for each connection and TLS handshake.
    type: float
    default: 10
  concurrency:
    description: How many endpoints are checked at the same time (1 to 256).
    type: int
    default: 32
extends_documentation_fragment:
  - mcpops.runbooks.attributes
  - mcpops.runbooks.attributes.info
  - mcpops.runbooks.attributes.no_group
requirements:
  - cryptography >= 39 on the host that runs the module (use C(delegate_to) a host that has it to check remote
    endpoints from there)
notes:
  - Hostnames are checked from the certificate's SANs (DNS and IP entries, one left-most wildcard label), apart
    from the chain, so that a trusted certificate for another name is reported as V(wrong host).
seealso:
  - module: community.crypto.get_certificate
"""

EXAMPLES = r"""
- name: Check the 1C publication and the gateway's own certificate
  mcpops.runbooks.cert_check:
    targets:
      - 1c-host.example.com:443
      - host: 10.0.0.5
        port: 8443
        server_name: gateway.example.com
    files:
      - /etc/onec-mcp-gateway/tls/fullchain.pem
    warn_days: 30
    critical_days: 7
  register: certs

- name: Report only, against a private CA
  mcpops.runbooks.cert_check:
    targets: "{{ groups['gateways'] | map('regex_replace', '$', ':443') | list }}"
    ca_path: /etc/ssl/private-ca.pem
    fail_on: never
  delegate_to: localhost
"""

RETURN = r"""
targets:
  description: One row per target, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    target: {description: "C(host:port).", type: str}
    server_name: {description: The name sent as SNI and checked against the SANs., type: str}
    status: {description: "V(ok), V(warn), V(critical), V(expired) or V(error).", type: str}
    reason: {description: Why the status is not V(ok) by date (null for ok/warn/critical)., type: str}
    message: {description: "The reason in words, naming the endpoint and what to do.", type: str}
    subject: {description: The leaf's subject (RFC 4514)., type: str}
    issuer: {description: The leaf's issuer (RFC 4514)., type: str}
    sans: {description: "Subject alternative names, C(DNS:name) and C(IP:addr).", type: list, elements: str}
    serial: {description: The serial number in hex., type: str}
    not_before: {description: "notBefore, UTC C(YYYY-MM-DDTHH:MM:SSZ).", type: str}
    not_after: {description: "notAfter, UTC C(YYYY-MM-DDTHH:MM:SSZ).", type: str}
    days_left: {description: Whole days until notAfter (negative once expired)., type: int}
    hostname_match: {description: Whether the SANs cover C(server_name)., type: bool}
    chain_verified: {description: Whether the chain verified against the trust store., type: bool}
    chain_error: {description: Why the chain did not verify (with the OpenSSL code)., type: str}
    chain_length: {description: How many certificates the server sent., type: int}
    key_type: {description: "C(RSA), C(EC secp256r1), C(Ed25519)...", type: str}
    key_size: {description: Key size in bits., type: int}
    signature_algorithm: {description: The leaf's signature algorithm., type: str}
    tls_version: {description: "The negotiated protocol, C(TLSv1.3)...", type: str}
    elapsed_ms: {description: Time spent on this target., type: int}
  sample:
    - target: 1c-host.example.com:443
      status: warn
      reason: null
      days_left: 21
      hostname_match: true
      chain_verified: true
files:
  description: One row per file, the same fields as for targets (no C(hostname_match), C(tls_version)), with C(path).
  returned: always
  type: list
  elements: dict
summary:
  description: How many rows have each status, and C(total).
  returned: always
  type: dict
  sample: {ok: 3, warn: 1, critical: 0, expired: 0, error: 1, total: 5}
failed_checks:
  description: One line per row at or over O(fail_on).
  returned: always
  type: list
  elements: str
checked_at:
  description: The time the days were counted from (UTC).
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.module_tail import run_module
from ansible_collections.mcpops.runbooks.plugins.module_utils._tls.cert_check_run import run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            targets=dict(type="list", elements="raw", default=[]),
            files=dict(type="list", elements="path", default=[]),
            ca_path=dict(type="path"),
            warn_days=dict(type="int", default=30),
            critical_days=dict(type="int", default=7),
            fail_on=dict(type="str", default="critical", choices=["critical", "warn", "never"]),
            timeout=dict(type="float", default=10),
            concurrency=dict(type="int", default=32),
        ),
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == "__main__":
    main()
