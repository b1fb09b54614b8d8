#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The app_log_scan module: its documentation, argument spec and main(); the work is _applog/app_log_scan_run.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: app_log_scan
short_description: Scan JSON-lines application logs for errors, slow requests, auth failures and rate-limit hits
version_added: "0.1.0"
description:
  - Streams one or more JSON-lines application logs (a service profile's C(logs.path) and C(logs.security_path))
    over a time window and counts errors by type, slow requests over a threshold, auth failures and rate-limit hits
    by client ip, with a few samples of each and human lines in RV(problems) (issue 16; the log analysis of
    ConnectorMCP, CCTelegram and Loyalty).
  - Which JSON key holds the time, level, message, latency, event, client ip, error type, status and request path
    is said by O(fields), the profile's C(logs.fields); a field not named there is looked up under the names the
    reference services and common loggers use (see O(fields)).
  - Files of any size are read in bounded memory (8 MiB reads, counters not lines, at most 10000 distinct keys a
    counter with the rest under C((other)), a line over O(max_line_bytes) never parsed nor held whole past a read).
  - "Speed: a block of lines that start with the time (C({\"timestamp\": \"2026-11-23T10:00:00.123Z\", ...}), ASCII,
    no C(\\u) escape) is read by byte searches, and only the lines that may matter (an error level name, a
    latency with enough digits, an auth or rate-limit event name, a status asked for, a O(message_contains) text)
    are JSON-parsed; any other block is cut down to its odd lines, which are parsed. The findings are those of
    parsing every line. The one difference, in RV(files) only (a line left unparsed that starts like JSON but is
    not, two writes run together, counts by its time, not under C(skipped_bad_json)) goes with O(parse_every_line)."
  - A log of 64 MiB or more is read over the CPUs the task may use (at most 4), one process a byte range of whole
    lines (cut at line starts), the counts merged in file order, so the result is that of one pass. The log is read
    as large as it was when the scan began. When a counter of a range goes over its 10000 keys, the file is read
    again in one pass.
  - "Where the managed host has grep (C(/usr/bin/grep) or C(/bin/grep): GNU grep, Essential on Debian), a range of
    8 MiB or more has its lines that may matter, and those that do not start with the time as above, named by one
    C(grep -a -n -b -E) beside the scan (an argument list, never a shell; the log's bytes come to it through a pipe,
    it does not open the log; C(LC_ALL=C); its memory capped). Without grep, or when grep fails or says something
    that does not line up with the bytes read, the scan's own searches take over; the result is the same."
  - A log path is opened without following a link (its last part) and only when it is a regular file; a FIFO,
    socket, device or directory is refused, and no open ever waits.
  - Lines that are not JSON objects, and lines over O(max_line_bytes), are counted per file and skipped; they never
    fail the task.
  - Read-only.
author:
  - mcpops-runbooks engineers (@mcpops-runbooks)
options:
  paths:
    description:
      - The log files on the managed host, for example C({{ [mcp_profile.logs.path, mcp_profile.logs.security_path]
        | select | list }}). Their counts are added up; RV(files) has each one's.
      - A file that is not there fails the task, naming it, unless O(missing_ok).
    type: list
    elements: path
    required: true
  missing_ok:
    description: Skip a file of O(paths) that is not there (RV(files) says C(missing), a warning names it) instead of
      failing.
    type: bool
    default: false
  format:
    description:
      - The log's format, the profile's C(logs.format). Only V(json) (one JSON object a line) is read; V(text) is
        refused with a message (plain-text logs are not part of issue 16).
    type: str
    choices: [json, text]
    default: json
  fields:
    description:
      - Which JSON key holds each field, the profile's C(logs.fields); a dotted path reaches into nested objects
        (C(context.client_ip), C(res.statusCode)); a key that holds a dot itself is tried first, whole.
      - "Keys: C(time) (ISO-8601 text with C(Z), an offset or none (UTC), or epoch seconds, milliseconds,
        microseconds or nanoseconds, told apart by size), C(level) (text in any case, or pino's numbers), C(message),
        C(latency) (milliseconds, a number or a number as text), C(event), C(client_ip), C(error_type), C(status)
        (the HTTP status), C(path) (the request path)."
      - "A field not given is looked up under these names, the first found: time C(ts), C(timestamp), C(time),
        C(@timestamp); level C(level), C(severity), C(levelname); message C(message), C(msg); latency C(duration_ms),
        C(responseTime), C(latency_ms); event C(event); client_ip C(client_ip), C(context.client_ip),
        C(req.remoteAddress), C(remote_addr), C(ip); error_type C(error_type); status C(status), C(res.statusCode),
        C(status_code); path C(path), C(req.url), C(url)."
    type: dict
    default: {}
  last:
    description:
      - The window, back from now, a number and one of C(s), C(m), C(h), C(d), C(w), for example C(30m), C(12h),
        C(1d). Lines stamped before it, or after now (a clock running ahead), are not counted (RV(files) says how
        many).
      - Without it every line of the files counts, dated or not.
    type: str
  include_undated:
    description: With O(last), also count the lines whose time is missing or cannot be read (they are always counted
      in RV(files)' C(undated)).
    type: bool
    default: false
  checks:
    description: What to look for.
    type: list
    elements: str
    choices: [errors, slow, auth_failures, rate_limited]
    default: [errors, slow, auth_failures, rate_limited]
  slow_ms:
    description: A request whose latency is this many milliseconds or more is slow (as the Loyalty API's
      C(ALERT_HTTP_SLOW_THRESHOLD_MS) counts it).
    type: float
    default: 1000
  error_levels:
    description: The levels that make a line an error, in any case; a number (C(50)) or pino's numeric levels in the
      log are read by their names (50 error, 60 fatal).
    type: list
    elements: str
    default: [error, critical, fatal]
  auth_events:
    description: A line whose C(event), C(error_type) or whole C(message) is one of these (any case) is an auth
      failure.
    type: list
    elements: str
    default: [auth_failure, invalid_token, unauthorized, SECURITY]
  auth_statuses:
    description: A line whose C(status) is one of these is an auth failure too, for a log that has no auth event
      (the Loyalty API's C(401) answers). Not by default, as a service that writes both a request line and a
      security line for one refusal would count it twice.
    type: list
    elements: int
    default: []
  rate_limit_events:
    description: A line whose C(event), C(error_type) or whole C(message) is one of these (any case) is a rate-limit
      hit.
    type: list
    elements: str
    default: [rate_limit_exceeded, RATE_LIMIT_EXCEEDED]
  rate_limit_statuses:
    description: A line whose C(status) is one of these is a rate-limit hit too (for example C(429)); not by default
      (see O(auth_statuses)).
    type: list
    elements: int
    default: []
  top:
    description: How many entries each ranked list keeps (at most 1000).
    type: int
    default: 5
  samples:
    description: How many lines each finding keeps as samples (the latest; for slow, the slowest), at most 50; every
      text in them is cut to 200 characters.
    type: int
    default: 3
  max_line_bytes:
    description: A line longer than this is skipped and counted (RV(files)' C(skipped_too_long)), never parsed nor
      held whole past a read.
    type: int
    default: 1048576
  message_contains:
    description:
      - Texts to look for in the message of each line in the window (the runbook's C(grep "MCP" app.log | tail -100)
        for connector failures and C(grep -i "memory" app.log) for memory warnings); RV(messages) has, per text,
        how many lines hold it and the latest O(samples) of them.
      - A plain substring of the message field (O(fields)' C(message)), not a pattern; at most 50 texts of at most
        1000 characters.
    type: list
    elements: str
    default: []
  message_ignore_case:
    description: Match O(message_contains) in any case (both lowered), as C(grep -i).
    type: bool
    default: false
  parse_every_line:
    description: JSON-parse every line (slower, about 40 MB/s) instead of only those that may matter, so that a line
      that starts like JSON but is not is counted under C(skipped_bad_json) wherever it is. The findings are the
      same either way.
    type: bool
    default: false
  secrets:
    description:
      - Values that must never be returned (an API key, a token, a password the service may have logged), replaced
        by C(********) in every text of the result.
      - Independently, the value of a key that names a secret (C(Authorization), C(X-API-Key), C(token), C(password),
        C(secret), C(cookie), ...) is never shown in a sample, and what looks like one in a text (C(Bearer) values,
        C(password=...), long base64 or hex runs) is masked.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - mcpops.runbooks.attributes
  - mcpops.runbooks.attributes.info
  - mcpops.runbooks.attributes.no_group
notes:
  - Runs on the managed host with its C(python3) and the standard library only.
  - A log written by several instances, or rotated, is read as the files given; give each file in O(paths).
seealso:
  - module: mcpops.runbooks.audit_scan
  - module: mcpops.runbooks.service_health
"""

EXAMPLES = r"""
- name: Errors, slow requests, auth failures and rate-limit hits in the last 12 hours, the profile's way
  mcpops.runbooks.app_log_scan:
    paths: "{{ [mcp_profile.logs.path, mcp_profile.logs.security_path] | select | list }}"
    fields: "{{ mcp_profile.logs.fields }}"
    last: 12h
  register: logs

- name: What the logs say
  ansible.builtin.debug:
    var: logs.problems

- name: Who hits ConnectorMCP's rate limit (the 429 storm)?
  mcpops.runbooks.app_log_scan:
    paths: [/var/log/connectormcp/app.log]
    fields: {time: timestamp, client_ip: client_ip, error_type: error_type, latency: duration_ms}
    last: 30m
    checks: [rate_limited]
    top: 3
  register: storm

- name: Loyalty API requests over 2 s and the 401s on /metrics, from a pino log
  mcpops.runbooks.app_log_scan:
    paths: [/srv/loyalty/logs/api.log]
    fields: {time: time, level: level, message: msg, latency: responseTime, status: res.statusCode,
             client_ip: req.remoteAddress, path: req.url}
    last: 1d
    slow_ms: 2000
    auth_statuses: [401]
    secrets: ["{{ loyalty_metrics_token }}"]

- name: ConnectorMCP's MCP connector failures and memory warnings in the last hour, with the usual checks
  mcpops.runbooks.app_log_scan:
    paths: [/var/log/connectormcp/app.log]
    fields: "{{ mcp_profile.logs.fields }}"
    last: 1h
    message_contains: [MCP, memory]
    message_ignore_case: true
    samples: 10
  register: connector_logs
"""

RETURN = r"""
window:
  description: The scanned window, UTC, both ends included; both null without O(last).
  returned: always
  type: dict
  sample: {"from": "2026-11-23T00:00:00.000Z", "to": "2026-11-23T12:00:00.000Z"}
files:
  description: Each file of O(paths), in order, and what its lines were.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The file.
      type: str
    lines:
      description: Lines that are not empty.
      type: int
    in_window:
      description: Lines counted (in the window; or undated with O(include_undated); or all without O(last)).
      type: int
    out_of_window:
      description: Lines stamped before the window or after its end.
      type: int
    undated:
      description: Lines without a time that can be read.
      type: int
    skipped_bad_json:
      description: Lines that are not a JSON object.
      type: int
    skipped_too_long:
      description: Lines over O(max_line_bytes).
      type: int
    missing:
      description: True when the file was not there (O(missing_ok)); only then present.
      type: bool
  sample: [{"path": "/var/log/connectormcp/app.log", "lines": 51234, "in_window": 20110, "out_of_window": 31124,
            "undated": 0, "skipped_bad_json": 0, "skipped_too_long": 0}]
errors:
  description: Lines at one of O(error_levels); null when errors is not in O(checks).
  returned: always
  type: dict
  contains:
    total:
      description: How many.
      type: int
    by_type:
      description: By C(error_type), or by the level for a line without one; C(key) and C(count), highest first, at
        most O(top).
      type: list
      elements: dict
    samples:
      description: The latest few, each C(file), C(line) (1-based) and C(record) (the line, secrets masked, texts cut
        to 200 characters).
      type: list
      elements: dict
  sample: {"total": 12, "by_type": [{"key": "OperationalError", "count": 9}, {"key": "HTTPError", "count": 3}],
           "samples": [{"file": "/var/log/connectormcp/app.log", "line": 4411,
                        "record": {"level": "ERROR", "message": "POST /api/oauth/start 503", "error_type": "OperationalError"}}]}
slow:
  description: Lines whose latency is O(slow_ms) or more; null when slow is not in O(checks).
  returned: always
  type: dict
  contains:
    total:
      description: How many.
      type: int
    threshold_ms:
      description: O(slow_ms).
      type: float
    slowest_ms:
      description: The highest latency seen (null when none was slow).
      type: float
    average_ms:
      description: The average latency of the slow lines (null when none was slow); with O(slow_ms=0), of every line
        with a latency (the seed's "Performance Analysis", C(Avg). in ms).
      type: float
    by_path:
      description: By request path (C(key) null for lines without one), highest first.
      type: list
      elements: dict
    by_message:
      description: By message, highest first.
      type: list
      elements: dict
    samples:
      description: The slowest few, as in RV(errors.samples).
      type: list
      elements: dict
auth_failures:
  description: Lines that are auth failures (O(auth_events), O(auth_statuses)); null when auth_failures is not in
    O(checks).
  returned: always
  type: dict
  contains:
    total:
      description: How many.
      type: int
    by_client_ip:
      description: By client ip (C(key) null when the line has none), highest first.
      type: list
      elements: dict
    by_event:
      description: By what matched (the event, error type or message as written, or C(status 401)).
      type: list
      elements: dict
    samples:
      description: The latest few, as in RV(errors.samples).
      type: list
      elements: dict
  sample: {"total": 30, "by_client_ip": [{"key": "10.0.0.7", "count": 25}], "by_event": [{"key": "SECURITY", "count": 30}],
           "samples": []}
rate_limited:
  description: Lines that are rate-limit hits (O(rate_limit_events), O(rate_limit_statuses)); null when rate_limited
    is not in O(checks). The same keys as RV(auth_failures).
  returned: always
  type: dict
messages:
  description: One entry a text of O(message_contains), in their order; only with O(message_contains).
  returned: when message_contains is given
  type: list
  elements: dict
  contains:
    text:
      description: The text.
      type: str
    count:
      description: Lines in the window whose message holds it.
      type: int
    samples:
      description: The latest few, as in RV(errors.samples).
      type: list
      elements: dict
  sample: [{"text": "MCP", "count": 42, "samples": [{"file": "/var/log/connectormcp/app.log", "line": 88120,
            "record": {"level": "ERROR", "message": "MCP tool call failed: slack"}}]}]
problems:
  description: What was found, in human lines (one a finding kind with a count, one a O(message_contains) text found,
    one a file with lines skipped); empty
    when nothing was.
  returned: always
  type: list
  elements: str
  sample: ["12 errors in the last 12h (OperationalError 9, HTTPError 3)",
           "200 rate-limited requests in the last 12h (by client ip: 203.0.113.9 180, 10.0.0.3 20)"]
truncated:
  description: Whether a counter reached 10000 distinct keys (the rest counted under C((other))).
  returned: always
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.app_log_scan_run import (
    DEFAULT_AUTH_EVENTS,
    DEFAULT_ERROR_LEVELS,
    DEFAULT_RATE_LIMIT_EVENTS,
    run,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_checks import CHECKS
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.module_tail import run_module


def main():
    module = AnsibleModule(
        argument_spec=dict(
            paths=dict(type="list", elements="path", required=True),
            missing_ok=dict(type="bool", default=False),
            format=dict(type="str", choices=["json", "text"], default="json"),
            fields=dict(type="dict", default={}),
            last=dict(type="str"),
            include_undated=dict(type="bool", default=False),
            checks=dict(type="list", elements="str", choices=list(CHECKS), default=list(CHECKS)),
            slow_ms=dict(type="float", default=1000),
            error_levels=dict(type="list", elements="str", default=list(DEFAULT_ERROR_LEVELS)),
            auth_events=dict(type="list", elements="str", default=list(DEFAULT_AUTH_EVENTS)),
            auth_statuses=dict(type="list", elements="int", default=[]),
            rate_limit_events=dict(type="list", elements="str", default=list(DEFAULT_RATE_LIMIT_EVENTS)),
            rate_limit_statuses=dict(type="list", elements="int", default=[]),
            top=dict(type="int", default=5),
            samples=dict(type="int", default=3),
            max_line_bytes=dict(type="int", default=1024 * 1024),
            message_contains=dict(type="list", elements="str", default=[]),
            message_ignore_case=dict(type="bool", default=False),
            parse_every_line=dict(type="bool", default=False),
            secrets=dict(type="list", elements="str", default=[], no_log=True),
        ),
        supports_check_mode=True,
    )
    run_module(module, run, warn=module.warn)


if __name__ == "__main__":
    main()
