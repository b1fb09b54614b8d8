#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The metrics_thresholds module: its documentation, argument spec and main(); the work is _metrics/metrics_thresholds_run.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: metrics_thresholds
short_description: Judge a service's Prometheus metrics against thresholds over a window
version_added: "0.2.0"
description:
  - Reads a service's C(/metrics) page twice, O(window) seconds apart, parses both with C(prometheus_client)'s
    Prometheus text parser, and judges each threshold on the two reads (the Loyalty API runbook's
    "Observability and alerts", seed 003).
  - The seed's thresholds are options of their own, named after its settings C(ALERT_HTTP_5XX_PER_MIN)
    (O(http_5xx_per_min)), C(ALERT_HTTP_SLOW_PER_MIN) (O(http_slow_per_min)) and C(ALERT_OUTBOX_DEAD_DELTA)
    (O(outbox_dead_delta)); O(checks) adds any other, as a PromQL-style selector.
  - A counter's rate per minute is its increase between the reads times 60 over the seconds between them; a series
    that went down (the service restarted) counts its whole new value, as Prometheus' C(increase) function does.
  - Read-only; the token goes in a header and is never returned or logged.
author:
  - mcpops-runbooks engineers (@mcpops-runbooks)
options:
  url:
    description: The metrics page, for example C(http://127.0.0.1:3000/metrics). Redirects are not followed.
    type: str
    required: true
  token:
    description: The metrics token, sent in the O(token_header) header (the seed's C(METRICS_TOKEN)).
    type: str
  token_header:
    description: The header that carries O(token).
    type: str
    default: X-Metrics-Token
  window:
    description: Seconds between the two reads (the monitoring window), 1 to 3600.
    type: int
    default: 60
  http_5xx_per_min:
    description:
      - C(ALERT_HTTP_5XX_PER_MIN), the most 5xx answers a minute that is fine, counted in
        C(http_requests_total{status=~"5.."}).
      - Not judged when not given.
    type: float
  http_slow_per_min:
    description:
      - C(ALERT_HTTP_SLOW_PER_MIN), the most slow requests a minute that is fine, counted in
        C(http_slow_requests_total) (slow is the service's own C(ALERT_HTTP_SLOW_THRESHOLD_MS)).
      - Not judged when not given.
    type: float
  outbox_dead_delta:
    description:
      - C(ALERT_OUTBOX_DEAD_DELTA), the most the dead outbox may grow over the window, counted in
        C(loyalty_outbox_dead_total).
      - Not judged when not given.
    type: float
  checks:
    description: More thresholds.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: What the judgement is called in the result (default the selector).
        type: str
      selector:
        description:
          - The series to add up, as PromQL writes a selector, for example
            C(external_requests_total{provider="webhook",result!="ok"}); matchers C(=), C(!=), C(=~), C(!~), regexes
            anchored.
        type: str
        required: true
      kind:
        description: C(rate_per_min) (a counter's increase a minute), C(delta) (its increase over the window) or
          C(value) (a gauge's value at the second read).
        type: str
        choices: [rate_per_min, delta, value]
        default: rate_per_min
      max:
        description: The highest value that is fine.
        type: float
        required: true
  fail_on_breach:
    description: Fail when a threshold is exceeded; otherwise only report it in RV(breached) and RV(breaches).
    type: bool
    default: false
  validate_certs:
    description: Verify the TLS certificate of an C(https) URL.
    type: bool
    default: true
  timeout:
    description: Seconds each read may take.
    type: int
    default: 10
extends_documentation_fragment:
  - mcpops.runbooks.attributes
  - mcpops.runbooks.attributes.info
  - mcpops.runbooks.attributes.no_group
requirements:
  - prometheus-client (Python) on the host the module runs on (C(delegate_to) one that has it, the controller for
    example, when the service's host does not).
notes:
  - A metric the page does not declare is taken as 0, with a warning naming it.
seealso:
  - module: mcpops.runbooks.service_health
"""

EXAMPLES = r"""
- name: Metrics thresholds (5xx per minute, slow requests per minute, outbox dead delta) over a minute
  mcpops.runbooks.metrics_thresholds:
    url: "{{ mcp_profile.api.default_url }}/metrics"
    token: "{{ loyalty_metrics_token }}"
    window: 60
    http_5xx_per_min: "{{ alert_http_5xx_per_min | default(5) }}"
    http_slow_per_min: "{{ alert_http_slow_per_min | default(10) }}"
    outbox_dead_delta: "{{ alert_outbox_dead_delta | default(0) }}"
    checks:
      - name: webhook_errors_per_min
        selector: external_requests_total{provider="webhook",result!="ok"}
        max: 3
  delegate_to: localhost
  register: loyalty_metrics

- name: Say which thresholds are exceeded
  ansible.builtin.debug:
    msg: "{{ loyalty_metrics.breaches }}"
  when: loyalty_metrics.breached
"""

RETURN = r"""
judgements:
  description: One a threshold, in the order given (the seed's first).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "http_5xx_per_min", "selector": "http_requests_total{status=~\"5..\"}", "kind": "rate_per_min",
            "value": 12.0, "threshold": 5.0, "ok": false, "series": 2, "found": true}]
breached:
  description: Whether any threshold is exceeded.
  returned: always
  type: bool
breaches:
  description: A sentence for each threshold exceeded, naming it, its value and its threshold.
  returned: always
  type: list
  elements: str
elapsed_seconds:
  description: The seconds between the two reads that the rates are computed over.
  returned: always
  type: float
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.module_tail import run_module
from ansible_collections.mcpops.runbooks.plugins.module_utils._metrics.metrics_thresholds_run import run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            url=dict(type="str", required=True),
            token=dict(type="str", no_log=True),
            token_header=dict(type="str", default="X-Metrics-Token", no_log=False),
            window=dict(type="int", default=60),
            http_5xx_per_min=dict(type="float"),
            http_slow_per_min=dict(type="float"),
            outbox_dead_delta=dict(type="float"),
            checks=dict(type="list", elements="dict", default=[], options=dict(
                name=dict(type="str"),
                selector=dict(type="str", required=True),
                kind=dict(type="str", choices=["rate_per_min", "delta", "value"], default="rate_per_min"),
                max=dict(type="float", required=True),
            )),
            fail_on_breach=dict(type="bool", default=False),
            validate_certs=dict(type="bool", default=True),
            timeout=dict(type="int", default=10),
        ),
        supports_check_mode=True,
    )
    run_module(module, run, warn=module.warn)


if __name__ == "__main__":
    main()
