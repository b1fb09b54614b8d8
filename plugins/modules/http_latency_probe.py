#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The http_latency_probe module: its documentation, argument spec and main(); the work is _loadprobe/http_latency_probe_run.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: http_latency_probe
short_description: Timed HTTP GETs and a light, bounded load test, judged against latency and failure thresholds
version_added: "0.2.0"
description:
  - The post-incident "performance validation" and "light load test" of the CCTelegram runbook (seed 002) without
    C(curl) in a loop or C(ab) on the host. Two phases, each over O(urls) in turn.
  - C(performance), O(timed_requests) GETs one after the other, each timed (the seed's
    C(for i in {1..100}; do time curl ...; done)).
  - C(load), O(load_requests) GETs from O(concurrency) threads (the seed's C(ab -n 100 -c 10)).
  - Each phase is bounded in count and time; never more than its count of requests is sent, and none is started
    after O(time_limit) seconds (one already sent may take up to O(timeout) more). Requests not sent are counted in
    the phase's C(not_started) and make the verdict fail.
  - Each phase returns its counts (sent, 2xx, non-2xx, no answer, by status and by URL), requests a second and the
    latency percentiles p50, p90, p99 (nearest rank, as C(ab) lists them), min, max and mean in milliseconds.
  - The verdict, RV(passed), holds when every phase has at most O(max_failures) failed requests (non-2xx or no answer),
    a p99 at most O(max_p99_ms) and every request sent; RV(problems) names each broken threshold. The task does not
    fail on a broken threshold (the playbook decides, after writing its findings); bad options fail it.
  - Read-only (GETs only), the same in check mode. The API key goes in its header only, never into the result.
author:
  - mcpops-runbooks engineers (@mcpops-runbooks)
options:
  urls:
    description: The URLs to GET, in turn (C(http://lb/health), C(http://lb/tools/get_bridge_status)); at most 10, no
      credentials in them.
    type: list
    elements: str
    required: true
  api_key:
    description: Sent in the O(api_key_header) header of every request.
    type: str
  api_key_header:
    description: The header that carries O(api_key).
    type: str
    default: X-API-Key
  timed_requests:
    description: Requests of the C(performance) phase, one at a time (0 leaves the phase out).
    type: int
    default: 100
  load_requests:
    description: Requests of the C(load) phase, at O(concurrency) (0 leaves the phase out).
    type: int
    default: 100
  concurrency:
    description: Requests in flight at once in the C(load) phase (1 to 100).
    type: int
    default: 10
  time_limit:
    description: Seconds a phase may take; no request of the phase starts after it (1 to 600).
    type: int
    default: 60
  pause_before_load:
    description:
      - Seconds to wait between the two phases (0 to 60). A load balancer that limits each client's rate (nginx
        C(limit_req) with a burst) needs the time to refill the burst the first phase used, else the load test
        measures the limiter.
    type: int
    default: 0
  max_failures:
    description: Failed requests (non-2xx or no answer) a phase may have and pass.
    type: int
    default: 0
  max_p99_ms:
    description: The p99 latency in milliseconds a phase may have and pass; not judged when not given.
    type: float
  timeout:
    description: Seconds a request may take before it counts as no answer.
    type: int
    default: 5
  validate_certs:
    description: Verify the TLS certificate of an C(https) URL.
    type: bool
    default: true
extends_documentation_fragment:
  - mcpops.runbooks.attributes
  - mcpops.runbooks.attributes.info
  - mcpops.runbooks.attributes.no_group
notes:
  - Each request opens its own connection (as C(curl) and C(ab) without C(-k) do), and redirects are not followed (the
    key must not travel to wherever they point); a 3xx is a non-2xx answer.
  - Standard library only (threads); run it on the controller (C(delegate_to) C(localhost)) to measure through the
    load balancer as clients reach it.
seealso:
  - module: mcpops.runbooks.service_health
"""

EXAMPLES = r"""
- name: "Performance validation (100 timed /health requests) and light load test (ab -n 100 -c 10)"
  mcpops.runbooks.http_latency_probe:
    urls: ["{{ cctelegram_lb_url }}/health"]
    api_key: "{{ cctelegram_lb_api_key }}"
    timed_requests: 100
    load_requests: 100
    concurrency: 10
    time_limit: 60
    pause_before_load: 4
    max_failures: 0
    max_p99_ms: 500
  delegate_to: localhost
  register: probe

- name: Say what it measured
  ansible.builtin.debug:
    msg: "{{ probe.lines }}"
"""

RETURN = r"""
urls:
  description: The URLs probed, in turn.
  returned: always
  type: list
  elements: str
phases:
  description: One a phase run, C(performance) and C(load), by name.
  returned: always
  type: dict
  contains:
    requests:
      description: The requests asked for.
      type: int
    concurrency:
      description: Requests in flight at once (1 for C(performance)).
      type: int
    time_limit:
      description: Its time limit in seconds.
      type: int
    sent:
      description: Requests sent (never more than C(requests)).
      type: int
    not_started:
      description: Requests not sent because the time limit was reached.
      type: int
    stopped_by_time_limit:
      description: Whether the time limit stopped it.
      type: bool
    answered:
      description: Requests that got an HTTP answer.
      type: int
    ok:
      description: Answers with a 2xx status.
      type: int
    non_2xx:
      description: Answers with another status.
      type: int
    no_answer:
      description: Requests without an answer (refused, reset, timed out).
      type: int
    failures:
      description: C(non_2xx) plus C(no_answer).
      type: int
    status_counts:
      description: Answers by status.
      type: dict
    by_url:
      description: C(sent), C(ok) and C(failures) a URL.
      type: dict
    errors:
      description: Up to 5 distinct reasons for no answer.
      type: list
      elements: str
    elapsed_seconds:
      description: The phase's wall time.
      type: float
    requests_per_second:
      description: Answers a second over the phase.
      type: float
    latency_ms:
      description: C(count), C(min), C(p50), C(p90), C(p99), C(max), C(mean) of the answered requests, in ms (null
        without an answer).
      type: dict
  sample: {"load": {"requests": 100, "concurrency": 10, "time_limit": 60, "sent": 100, "not_started": 0,
           "stopped_by_time_limit": false, "answered": 100, "ok": 100, "non_2xx": 0, "no_answer": 0, "failures": 0,
           "status_counts": {"200": 100}, "by_url": {"http://127.0.0.1:8088/health": {"sent": 100, "ok": 100,
           "failures": 0}}, "errors": [], "elapsed_seconds": 0.41, "requests_per_second": 243.9,
           "latency_ms": {"count": 100, "min": 6.1, "p50": 30.2, "p90": 55.0, "p99": 81.3, "max": 81.3,
           "mean": 33.0}}}
passed:
  description: Whether every phase kept to the thresholds.
  returned: always
  type: bool
problems:
  description: Each broken threshold, a line naming the phase, the figure and the threshold.
  returned: always
  type: list
  elements: str
lines:
  description: A line a phase and the verdict, as a human reads them.
  returned: always
  type: list
  elements: str
thresholds:
  description: The thresholds judged, C(max_failures) and C(max_p99_ms).
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.module_tail import run_module
from ansible_collections.mcpops.runbooks.plugins.module_utils._loadprobe.http_latency_probe_run import run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            urls=dict(type="list", elements="str", required=True),
            api_key=dict(type="str", no_log=True),
            api_key_header=dict(type="str", default="X-API-Key", no_log=False),  # the header's name, not the key
            timed_requests=dict(type="int", default=100),
            load_requests=dict(type="int", default=100),
            concurrency=dict(type="int", default=10),
            time_limit=dict(type="int", default=60),
            pause_before_load=dict(type="int", default=0),
            max_failures=dict(type="int", default=0),
            max_p99_ms=dict(type="float"),
            timeout=dict(type="int", default=5),
            validate_certs=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == "__main__":
    main()
