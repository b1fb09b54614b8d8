"""GET /metrics: the gateway's Prometheus text (counters kept by the request path, gauges read at scrape time).

What the alert rules (extensions/prometheus/rules/onec-gateway.rules.yml) need and nothing more: no label holds a
client, a token or an address, so a scrape never carries a secret and the series count stays fixed.
"""

import calendar
import threading
import time

PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Every reason an MCP request is refused with 401/403 (mcp.McpService.authenticate). Each series is there at 0 from
# the start: a series born at its first failures would hide them, increase() has no earlier sample to count from.
AUTH_FAILURE_REASONS = ("missing_token", "unknown_token", "revoked", "expired", "blocked")


def _escape(value):
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def render(families):
    """Prometheus text of [(name, type, help, [(labels, value), ...]), ...]."""
    out = []
    for name, kind, help_text, samples in families:
        out.append("# HELP %s %s" % (name, help_text))
        out.append("# TYPE %s %s" % (name, kind))
        for labels, value in samples:
            text = ",".join('%s="%s"' % (k, _escape(v)) for k, v in sorted(labels.items()))
            out.append("%s%s %s" % (name, "{%s}" % text if text else "", value))
    return "\n".join(out) + "\n"


def iso_to_epoch(text):
    """Seconds since the epoch of a contract timestamp (YYYY-MM-DDTHH:MM:SSZ), or None."""
    try:
        return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))
    except (TypeError, ValueError):
        return None


class GatewayMetrics:
    """Counters the request path increments: responses by status, MCP auth failures by reason, rate-limit hits."""

    def __init__(self):
        self._lock = threading.Lock()
        self.responses = {}  # status code -> count
        self.auth_failures = dict.fromkeys(AUTH_FAILURE_REASONS, 0)  # reason -> count
        self.rate_limited = 0

    def response(self, status):
        with self._lock:
            self.responses[status] = self.responses.get(status, 0) + 1

    def auth_failure(self, status, reason):
        with self._lock:
            if status == 429:
                self.rate_limited += 1
            else:
                self.auth_failures[reason] = self.auth_failures.get(reason, 0) + 1

    def families(self, version, readiness, backups):
        """All families; readiness is gw.readiness(), backups gw.backups.list() (newest first)."""
        with self._lock:
            responses = sorted(self.responses.items())
            failures = sorted(self.auth_failures.items())
            limited = self.rate_limited
        newest = next((iso_to_epoch(b.get("createdAt")) for b in backups if iso_to_epoch(b.get("createdAt"))), None)
        return [
            ("onec_gateway_build_info", "gauge", "Always 1; the version the gateway runs.",
             [({"version": version}, 1)]),
            ("onec_gateway_ready", "gauge", "1 when the /readyz check passes, by check (storage, index).",
             [({"check": name}, 1 if state == "ok" else 0) for name, state in sorted(readiness.items())]),
            ("onec_gateway_http_responses_total", "counter", "HTTP responses sent, by status code.",
             [({"code": str(code)}, n) for code, n in responses]),
            ("onec_gateway_mcp_auth_failures_total", "counter",
             "MCP requests refused with 401 or 403, by reason "
             "(missing_token, unknown_token, revoked, expired, blocked).",
             [({"reason": reason}, n) for reason, n in failures]),
            ("onec_gateway_mcp_rate_limited_total", "counter",
             "MCP requests refused with 429 (over a token's rateLimit).",
             [({}, limited)]),
            ("onec_gateway_backups", "gauge", "Backups listed under backups/ (valid or not).", [({}, len(backups))]),
            # no sample when there is no backup (onec_gateway_backups says 0): a 0 timestamp would read as 1970
            ("onec_gateway_last_backup_timestamp_seconds", "gauge", "createdAt of the newest backup, in Unix seconds.",
             [] if newest is None else [({}, newest)]),
        ]
