"""cctelegram-mcp (seed 002): the CCTelegram MCP server's HTTP face, behind an API key, with the bridge process it
depends on (cctelegram_bridge.py) and the logs its runbook greps.

The lab simulates the Telegram Bot API: send_telegram_message appends the message to
`<state_dir>/telegram_outbox.jsonl` instead of calling api.telegram.org (nothing leaves the machine).

Environment (besides MCPOPS_SERVICE_LISTEN and MCPOPS_SERVICE_STATE_DIR):
- CCTELEGRAM_API_KEY_FILE (required): the file holding the API key. Every endpoint wants header `X-API-Key` equal to
  it; otherwise 401 {"error": "unauthorized"} and a SECURITY line in security.log.
- CCTELEGRAM_BRIDGE_URL (required): http://host:port of the bridge.
- CCTELEGRAM_METRICS_LISTEN (optional): host:port of a second listener serving only /metrics (the seed's :9090);
  /metrics is served on the main port too. Both want the API key.
- CCTELEGRAM_LOG_DIR (optional, default the state dir): application.log and security.log go there.
- CCTELEGRAM_RATE_LIMIT (optional, default 600): requests a minute one API key may make; over it 429
  {"error": "rate_limited"} and a RATE_LIMIT_EXCEEDED line in security.log.

Endpoints:
- GET /health -> 200 {"status": "healthy", "bridge": "running", "version", "uptime_seconds"}; 503
  {"status": "unhealthy", "bridge": "unreachable: ..." | "unhealthy: HTTP 503" | "running", "reason"?} when the bridge
  does not answer or is unhealthy, or while faults.json says unhealthy.
- GET|POST /tools/get_bridge_status -> 200 {"bridge": {"running", "url", "latency_ms", "error"?}}.
- POST /tools/send_telegram_message {"message", "source"?} -> 200 {"ok": true, "message_id", "simulated": true};
  503 {"error": "bridge_unavailable"} when the bridge is down.
- POST /tools/restart_bridge -> 202 {"status": "restart_requested"}: writes `<state_dir>/bridge_restart_request.json`;
  the bridge itself is restarted by its service manager (systemd, supervisord), not by this process.
- GET /metrics -> Prometheus text: http_requests_total{method,path,status}, http_request_duration_seconds (histogram),
  process_cpu_usage, process_memory_bytes, cctelegram_bridge_up, cctelegram_security_events_total{event},
  cctelegram_messages_sent_total.

Logs, JSON lines: application.log gets one line a request {"ts", "timestamp", "level" (INFO, WARN for 4xx, ERROR for
5xx), "message", "event", "method", "path", "status", "duration_ms", "context": {"client_ip", "duration"}} and the
start and stop lines; security.log gets {"level": "WARN", "event": "SECURITY" | "RATE_LIMIT_EXCEEDED", "message"
starting with that event, "reason", "context": {"client_ip", "method", "path"}}. The API key is never written.
"""

import hashlib
import hmac
import http.client
import json
import os
import sys
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from .config import ConfigError, check_url, common, parse_int, parse_listen, read_secret_file
from .http_app import PROMETHEUS_TYPE, App, HttpError, JsonLines, Response, error_text, now_iso, run_service

NAME = "cctelegram-mcp"
API_KEY_HEADER = "X-API-Key"
BRIDGE_TIMEOUT = 2.0
OUTBOX = "telegram_outbox.jsonl"
RESTART_REQUEST = "bridge_restart_request.json"
MAX_MESSAGE = 4096


@dataclass(frozen=True)
class CcTelegramConfig:
    host: str
    port: int
    state_dir: str
    api_key: str
    bridge_url: str
    metrics_listen: tuple  # (host, port) or ()
    log_dir: str
    rate_limit: int

    def __repr__(self):  # never the key
        return "CcTelegramConfig(listen=%s:%d, bridge_url=%s)" % (self.host, self.port, self.bridge_url)


def load_config(environ):
    base = common(environ)
    api_key = read_secret_file(environ, "CCTELEGRAM_API_KEY_FILE")
    bridge_url = check_url(environ, "CCTELEGRAM_BRIDGE_URL", ("http",)).rstrip("/")
    if urlsplit(bridge_url).password:
        raise ConfigError("CCTELEGRAM_BRIDGE_URL must not carry credentials")
    metrics = environ.get("CCTELEGRAM_METRICS_LISTEN", "").strip()
    metrics_listen = parse_listen(metrics, "CCTELEGRAM_METRICS_LISTEN") if metrics else ()
    log_dir = os.path.abspath((environ.get("CCTELEGRAM_LOG_DIR") or "").strip() or base.state_dir)
    try:
        os.makedirs(log_dir, exist_ok=True)
    except OSError as exc:
        raise ConfigError("cannot create CCTELEGRAM_LOG_DIR %s: %s" % (log_dir, exc.strerror or exc))
    rate_limit = parse_int(environ, "CCTELEGRAM_RATE_LIMIT", 600, minimum=1)
    return CcTelegramConfig(host=base.host, port=base.port, state_dir=base.state_dir, api_key=api_key,
                            bridge_url=bridge_url, metrics_listen=metrics_listen, log_dir=log_dir,
                            rate_limit=rate_limit)


def check_api_key(presented, expected):
    """None when presented equals expected; else the reason: "missing_api_key" or "invalid_api_key"."""
    if not presented:
        return "missing_api_key"
    if not hmac.compare_digest(presented.strip().encode("utf-8"), expected.encode("utf-8")):
        return "invalid_api_key"
    return None


class RateLimiter:
    """A fixed one-minute window per key: allow() is False once `limit` requests were made in this minute."""

    def __init__(self, limit, clock=time.time):
        self.limit = limit
        self.clock = clock
        self._lock = threading.Lock()
        self._window = {}  # key -> (minute, count)

    def allow(self, key):
        minute = int(self.clock() // 60)
        with self._lock:
            window, count = self._window.get(key, (minute, 0))
            if window != minute:
                count = 0
            count += 1
            self._window[key] = (minute, count)
            return count <= self.limit

    def retry_after(self):
        return max(1, 60 - int(self.clock() % 60))


def probe_bridge(url, timeout=BRIDGE_TIMEOUT):
    """{"running", "url", "latency_ms", "error"?} from GET <url>/health."""
    parts = urlsplit(url)
    started = time.monotonic()
    result = {"running": False, "url": url}
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    try:
        conn.request("GET", (parts.path.rstrip("/") or "") + "/health", headers={"Accept": "application/json"})
        resp = conn.getresponse()
        raw = resp.read(65536)
        try:
            body = json.loads(raw.decode("utf-8")) if raw else {}
        except (ValueError, UnicodeDecodeError):
            body = {}
        if resp.status == 200 and isinstance(body, dict) and body.get("status") == "ok":
            result["running"] = True
        else:
            reason = body.get("reason") if isinstance(body, dict) else None
            result["error"] = "unhealthy: HTTP %d%s" % (resp.status, " (%s)" % reason if reason else "")
    except (OSError, http.client.HTTPException) as exc:
        what = "timed out after %gs" % timeout if isinstance(exc, TimeoutError) else error_text(exc)
        result["error"] = "unreachable: %s" % what
    finally:
        conn.close()
    result["latency_ms"] = round((time.monotonic() - started) * 1000.0, 2)
    return result


class CcTelegram(App):
    name = NAME

    def __init__(self, config):
        super().__init__(config.state_dir, secrets=[config.api_key])
        self.config = config
        self.log = JsonLines(os.path.join(config.log_dir, "application.log"), secrets=self.secrets)
        self.security = JsonLines(os.path.join(config.log_dir, "security.log"), secrets=self.secrets)
        self.limiter = RateLimiter(config.rate_limit)
        self.key_id = hashlib.sha256(config.api_key.encode("utf-8")).hexdigest()[:16]
        self.security_events = {"SECURITY": 0, "RATE_LIMIT_EXCEEDED": 0}
        self.sent = 0
        self._lock = threading.Lock()
        self.add("/health", self.health, ("GET",))
        self.add("/tools/get_bridge_status", self.get_bridge_status, ("GET", "POST"))
        self.add("/tools/send_telegram_message", self.send_telegram_message, ("POST",))
        self.add("/tools/restart_bridge", self.restart_bridge, ("POST",))
        self.add("/metrics", self.metrics_endpoint, ("GET",))

    # -- auth and rate limit ------------------------------------------------------------
    def before(self, req):
        reason = check_api_key(req.header(API_KEY_HEADER), self.config.api_key)
        if reason:
            self.security_event("SECURITY", reason, req, "SECURITY: %s on %s %s" % (
                "missing API key" if reason == "missing_api_key" else "invalid API key", req.method, req.path))
            return Response(401, {"error": "unauthorized"})
        if not self.limiter.allow(self.key_id):
            self.security_event("RATE_LIMIT_EXCEEDED", "rate_limit", req,
                                "RATE_LIMIT_EXCEEDED: more than %d requests a minute" % self.config.rate_limit)
            retry = self.limiter.retry_after()
            return Response(429, {"error": "rate_limited", "retry_after": retry}, {"Retry-After": retry})
        return None

    def security_event(self, event, reason, req, message):
        with self._lock:
            self.security_events[event] = self.security_events.get(event, 0) + 1
        ts = now_iso()
        self.security.write({"ts": ts, "timestamp": ts, "level": "WARN", "event": event, "message": message,
                             "reason": reason,
                             "context": {"client_ip": req.client_ip, "method": req.method, "path": req.path}})

    # -- endpoints ----------------------------------------------------------------------
    def bridge(self):
        return probe_bridge(self.config.bridge_url)

    def health(self, req):
        bridge = self.bridge()
        bridge_text = "running" if bridge["running"] else bridge["error"]
        if req.faults.unhealthy:
            req.context["error"] = "unhealthy fault: %s" % req.faults.reason
            return 503, {"status": "unhealthy", "bridge": bridge_text, "reason": req.faults.reason,
                         "version": self.version}
        if not bridge["running"]:
            req.context["error"] = "bridge %s" % bridge_text
            return 503, {"status": "unhealthy", "bridge": bridge_text, "version": self.version}
        return 200, {"status": "healthy", "bridge": "running", "version": self.version,
                     "uptime_seconds": round(time.time() - self.started_wall, 1)}

    def get_bridge_status(self, req):
        return 200, {"bridge": self.bridge()}

    def send_telegram_message(self, req):
        body = req.json()
        message = body.get("message")
        if not isinstance(message, str) or not message.strip() or len(message) > MAX_MESSAGE:
            raise HttpError(400, {"error": "invalid_message",
                                  "message": "message must be a non-empty string of at most %d characters" % MAX_MESSAGE})
        source = body.get("source") if isinstance(body.get("source"), str) else None
        bridge = self.bridge()
        if not bridge["running"]:
            req.context["error"] = "send failed: bridge %s" % bridge["error"]
            return 503, {"error": "bridge_unavailable", "bridge": bridge["error"]}
        with self._lock:
            self.sent += 1
            message_id = int(time.time() * 1000) * 1000 + self.sent % 1000
            record = {"ts": now_iso(), "message_id": message_id, "message": message, "source": source}
            with open(os.path.join(self.config.state_dir, OUTBOX), "a", encoding="utf-8") as handle:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        return 200, {"ok": True, "message_id": message_id, "simulated": True}

    def restart_bridge(self, req):
        path = os.path.join(self.config.state_dir, RESTART_REQUEST)
        tmp = "%s.tmp-%d-%d" % (path, os.getpid(), threading.get_ident())
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump({"requested_at": now_iso(), "client_ip": req.client_ip}, handle)
        os.replace(tmp, path)
        return 202, {"status": "restart_requested",
                     "note": "the bridge is restarted by its service manager (systemd unit cctelegram-bridge)"}

    def metrics_endpoint(self, req):
        return Response.text(200, self.metrics_text(), PROMETHEUS_TYPE)

    def extra_metric_families(self):
        with self._lock:
            events = sorted(self.security_events.items())
            sent = self.sent
        up = 1 if self.bridge()["running"] else 0
        return [
            ("cctelegram_bridge_up", "gauge", "1 when the bridge answers its health check.", [("", {}, up)]),
            ("cctelegram_security_events_total", "counter", "Security events written to security.log, by event.",
             [("", {"event": e}, n) for e, n in events]),
            ("cctelegram_messages_sent_total", "counter", "Messages handed to the (simulated) Telegram Bot API.",
             [("", {}, sent)]),
        ]

    # -- logs ---------------------------------------------------------------------------
    def log_request(self, req, resp, duration_ms):
        level = "ERROR" if resp.status >= 500 else ("WARN" if resp.status >= 400 else "INFO")
        message = "%s %s %d" % (req.method, req.path, resp.status)
        if req.context.get("error"):
            message += ": %s" % req.context["error"]
        ts = now_iso()
        self.log.write({"ts": ts, "timestamp": ts, "level": level, "message": message, "event": "http_request",
                        "method": req.method, "path": req.path, "status": resp.status, "duration_ms": duration_ms,
                        "context": {"client_ip": req.client_ip, "duration": duration_ms}})

    def log_event(self, level, message, **fields):
        ts = now_iso()
        record = {"ts": ts, "timestamp": ts, "level": level, "message": message, "event": fields.pop("event", "app")}
        record.update(fields)
        self.log.write(record)

    def extra_listeners(self):
        if not self.config.metrics_listen:
            return []
        host, port = self.config.metrics_listen
        return [(MetricsListener(self), host, port)]


class MetricsListener(App):
    """The second listener (the seed's :9090): /metrics only, the same API key, the same counters and logs."""

    listener_name = "metrics"

    def __init__(self, main_app):
        super().__init__(main_app.state_dir, secrets=main_app.secrets)
        self.main = main_app
        self.name = main_app.name
        self.metrics = main_app.metrics
        self.add("/metrics", main_app.metrics_endpoint, ("GET",))

    def before(self, req):
        return self.main.before(req)

    def log_request(self, req, resp, duration_ms):
        self.main.log_request(req, resp, duration_ms)

    def log_event(self, level, message, **fields):
        self.main.log_event(level, message, **fields)


def build(config):
    return CcTelegram(config)


def main(environ=None):
    return run_service(NAME, load_config, build, environ)


if __name__ == "__main__":
    sys.exit(main())
