#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The prometheus_window module: its documentation, argument spec and main(); the work is _prometheus/prometheus_window_run.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: prometheus_window
short_description: Sum up named PromQL queries over a time window from Prometheus
version_added: "0.2.0"
description:
  - Runs each of O(queries) through Prometheus' C(/api/v1/query_range) over one window (O(start) to O(end), a point
    every O(step)) and sums up every series it returns, the highest maximum first; points, min, max and the first and
    last time at the max, avg and last value; with O(period), also each period's and the trend from the first period
    to the last (a capacity report's days).
  - The default queries are the CCTelegram runbook's "Performance Analysis" (seed 002), in the reference service's
    metric names; C(error_rate), the rate over 5 minutes of C(http_requests_total) with a 5xx C(status);
    C(p95_latency), the C(histogram_quantile) 0.95 of C(http_request_duration_seconds_bucket) by instance; C(cpu), the
    rate over 5 minutes of C(process_cpu_seconds_total), in cores.
  - A query that matches no series is a finding (RV(no_data)), not a failure. An unreachable Prometheus, a refused
    token or a query Prometheus refuses (bad PromQL) fails the task, saying which query and why.
  - Bounded; a window and step that would make more than O(max_points) points a series is refused before Prometheus is
    asked, saying the step that would fit; at most O(max_series) series a query are returned.
  - Read-only; the bearer token goes in a header and is never returned or logged.
author:
  - mcpops-runbooks engineers (@mcpops-runbooks)
options:
  url:
    description: Prometheus' base URL, for example C(http://127.0.0.1:9090); no credentials in it (O(bearer_token)).
    type: str
    required: true
  queries:
    description: The queries, in the order their lines are written; the seed's three when not given.
    type: list
    elements: dict
    suboptions:
      name:
        description: The key of its result in RV(by_query); a letter or C(_), then letters, digits or C(_).
        type: str
        required: true
      query:
        description: The PromQL expression.
        type: str
        required: true
      unit:
        description: What its values are (C(req/s), C(s), C(cores); C(bytes) are shown in MiB), for RV(lines).
        type: str
  start:
    description: The window's start; an RFC 3339 time with its zone (C(2025-01-15T10:00:00Z)), C(now), or a time
      before now, C(-<n><unit>) with a unit of C(s), C(m), C(h), C(d), C(w) (C(-2h)).
    type: str
    default: "-2h"
  end:
    description: The window's end, written as O(start) is.
    type: str
    default: now
  step:
    description: The time between points, C(60s), C(5m), C(1h) or whole seconds.
    type: str
    default: 60s
  period:
    description:
      - Split the window into periods of this length (C(1d)), each point in the period that ends at or after it, and
        return each series' RV(by_query.series.periods) and RV(by_query.series.trend). Not split when not given.
    type: str
  max_points:
    description: The most points a series may have (the window over the step, plus one); Prometheus' own limit is
      11000.
    type: int
    default: 11000
  max_series:
    description: The most series a query returns (those with the highest max); RV(by_query.series_count) counts them all.
    type: int
    default: 50
  bearer_token:
    description: Sent in the C(Authorization) header (C(Bearer <token>)) when Prometheus sits behind a proxy that wants
      one.
    type: str
  validate_certs:
    description: Verify the TLS certificate of an C(https) URL.
    type: bool
    default: true
  timeout:
    description: Seconds each query may take.
    type: int
    default: 30
extends_documentation_fragment:
  - mcpops.runbooks.attributes
  - mcpops.runbooks.attributes.info
  - mcpops.runbooks.attributes.no_group
notes:
  - Redirects are not followed (the token must not travel to wherever they point).
  - A value that is not a finite number (C(NaN) of a quantile over no requests, C(+Inf)) is counted in
    RV(by_query.series.non_finite_points), not summed up.
seealso:
  - module: mcpops.runbooks.metrics_thresholds
"""

EXAMPLES = r"""
- name: "Performance Analysis: error rate, p95 latency and CPU over the incident window"
  mcpops.runbooks.prometheus_window:
    url: "{{ prometheus_url }}"
    start: "2025-01-15T10:00:00Z"
    end: "2025-01-15T12:00:00Z"
    step: 60s
  register: perf

- name: "Weekly capacity: CPU, memory and request volume, day by day"
  mcpops.runbooks.prometheus_window:
    url: "{{ prometheus_url }}"
    start: "-7d"
    end: now
    step: 5m
    period: 1d
    queries:
      - {name: cpu, query: "avg(rate(process_cpu_seconds_total[5m]))", unit: cores}
      - {name: memory, query: "avg(process_memory_bytes)", unit: bytes}
      - {name: requests, query: "sum(rate(http_requests_total[5m]))", unit: req/s}
  register: capacity

- name: Say what the window shows
  ansible.builtin.debug:
    msg: "{{ perf.lines }}"
"""

RETURN = r"""
window:
  description: The window queried (RFC 3339, UTC) and the points a series has.
  returned: always
  type: dict
  sample: {"start": "2025-01-15T10:00:00Z", "end": "2025-01-15T12:00:00Z", "step": "1m", "step_seconds": 60,
           "points": 121}
by_query:
  description: One a query, by its name.
  returned: always
  type: dict
  contains:
    query:
      description: The PromQL.
      type: str
    unit:
      description: The unit given.
      type: str
    no_data:
      description: Whether no series matched in the window.
      type: bool
    series_count:
      description: How many series the query returned.
      type: int
    series:
      description: The series, highest max first, at most O(max_series).
      type: list
      elements: dict
      contains:
        labels:
          description: The series' labels.
          type: dict
        points:
          description: Its finite values in the window.
          type: int
        non_finite_points:
          description: Its NaN and infinite values, not summed up.
          type: int
        min:
          description: The smallest value (null without a finite value; so are the others).
          type: float
        max:
          description: The largest value.
          type: float
        max_at:
          description: The first time at the max (RFC 3339).
          type: str
        max_last_at:
          description: The last time at the max.
          type: str
        avg:
          description: The mean of its values.
          type: float
        last:
          description: The last value, at RV(by_query.series.last_at).
          type: float
        last_at:
          description: The time of the last value.
          type: str
        periods:
          description: With O(period), each period's C(start), C(end), C(points), C(min), C(max) and C(avg).
          type: list
          elements: dict
          returned: when O(period) is given
        trend:
          description: With O(period), C(first_avg) and C(last_avg) (the first and last periods with points) and
            C(growth_percent) from one to the other (null when the first is 0).
          type: dict
          returned: when O(period) is given
  sample: {"error_rate": {"query": "rate(http_requests_total{status=~\"5..\"}[5m])", "unit": "req/s",
           "no_data": false, "series_count": 1, "series": [{"labels": {"instance": "cct-2", "status": "500"},
           "points": 121, "non_finite_points": 0, "min": 0.0, "max": 5.0, "max_at": "2025-01-15T10:05:00Z",
           "max_last_at": "2025-01-15T11:00:00Z", "avg": 2.3, "last": 0.0, "last_at": "2025-01-15T12:00:00Z"}]}}
no_data:
  description: The names of the queries that matched no series.
  returned: always
  type: list
  elements: str
lines:
  description: What the window shows, a line for the window, each query and each series, as a human reads it.
  returned: always
  type: list
  elements: str
  sample: ["Window 2025-01-15T10:00:00Z to 2025-01-15T12:00:00Z, step 1m (121 points a series)",
           "error_rate: 1 series (rate(http_requests_total{status=~\"5..\"}[5m]))",
           "  error_rate {instance=\"cct-2\",status=\"500\"}: max 5 req/s at 2025-01-15T10:05:00Z (until
           2025-01-15T11:00:00Z), avg 2.3 req/s, min 0 req/s, last 0 req/s (121 points)"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.module_tail import run_module
from ansible_collections.mcpops.runbooks.plugins.module_utils._prometheus.prometheus_window_run import run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            url=dict(type="str", required=True),
            queries=dict(type="list", elements="dict", options=dict(
                name=dict(type="str", required=True),
                query=dict(type="str", required=True),
                unit=dict(type="str"),
            )),
            start=dict(type="str", default="-2h"),
            end=dict(type="str", default="now"),
            step=dict(type="str", default="60s"),
            period=dict(type="str"),
            max_points=dict(type="int", default=11000),
            max_series=dict(type="int", default=50),
            bearer_token=dict(type="str", no_log=True),
            validate_certs=dict(type="bool", default=True),
            timeout=dict(type="int", default=30),
        ),
        supports_check_mode=True,
    )
    run_module(module, run, warn=module.warn)


if __name__ == "__main__":
    main()
