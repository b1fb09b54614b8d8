"""cctelegram-mcp (seed 002): the CCTelegram MCP server's HTTP face, behind an API key, with the bridge process it
depends on (cctelegram_bridge.py) and the logs its runbook greps.

The Telegram Bot API is the lab's: with CCTELEGRAM_TELEGRAM_API_URL and CCTELEGRAM_BOT_TOKEN_FILE set,
send_telegram_message POSTs to the Bot API stand-in on loopback (cctelegram_telegram.py); without them it appends the
message to `<state_dir>/telegram_outbox.jsonl` (nothing leaves the machine either way).

Environment (besides MCPOPS_SERVICE_LISTEN and MCPOPS_SERVICE_STATE_DIR):
- CCTELEGRAM_API_KEY_FILE (required): the file holding the API key. Every endpoint wants header `X-API-Key` equal to
  it; otherwise 401 {"error": "unauthorized"} and a SECURITY line in security.log.
- CCTELEGRAM_BRIDGE_URL (required): http://host:port of the bridge.
- CCTELEGRAM_METRICS_LISTEN (optional): host:port of a second listener serving only /metrics (the seed's :9090);
  /metrics is served on the main port too. Both want the API key: as X-API-Key, and on the metrics listener also as
  `Authorization: Bearer <key>`, because Prometheus (2.42, Debian's) cannot send a custom header in a scrape, only
  its `authorization` credentials.
- CCTELEGRAM_VERSION (optional, default the mcpops version): the release this process is, said by /health, the start
  line and cctelegram_build_info; a release's launcher (releases/<version>/bin/cctelegram-mcp) sets it.
- CCTELEGRAM_TELEGRAM_API_URL and CCTELEGRAM_BOT_TOKEN_FILE (optional, both or neither): the Bot API stand-in's base
  URL (loopback only) and the file holding the bot token; CCTELEGRAM_TELEGRAM_CHAT_ID (default @cctelegram_ops) the
  chat messages go to.
- CCTELEGRAM_MEMORY_WARN_MB (optional, default 128): past that RSS, a WARN "memory usage high: rss <n> MB" (event
  memory_high) in application.log, again at most once a minute while it stays above.
- CCTELEGRAM_LOG_DIR (optional, default the state dir): application.log and security.log go there.
- CCTELEGRAM_RATE_LIMIT (optional, default 600): requests a minute one API key may make; over it 429
  {"error": "rate_limited"} and a RATE_LIMIT_EXCEEDED line in security.log.

Endpoints:
- GET /health -> 200 {"status": "healthy", "bridge": "running", "version", "uptime_seconds"}; 503
  {"status": "unhealthy", "bridge": "unreachable: ..." | "unhealthy: HTTP 503" | "running", "reason"?} when the bridge
  does not answer or is unhealthy, or while faults.json says unhealthy.
- GET|POST /tools/get_bridge_status -> 200 {"bridge": {"running", "url", "latency_ms", "error"?}}.
- POST /tools/send_telegram_message {"message", "source"?} -> 200 {"ok": true, "message_id", "simulated": true}
  (the outbox) or {"ok": true, "message_id", "simulated": false} (the Bot API took it); 503 {"error":
  "bridge_unavailable"} when the bridge is down; 502 {"error": "telegram_unavailable", "detail"} when the Bot API
  does not take it (the detail never holds the token).
- POST /tools/restart_bridge -> 202 {"status": "restart_requested"}: writes `<state_dir>/bridge_restart_request.json`;
  the bridge itself is restarted by its service manager (systemd, supervisord), not by this process.
- GET /metrics -> Prometheus text: http_requests_total{method,path,status}, http_request_duration_seconds (histogram),
  process_cpu_usage, process_memory_bytes, process_memory_heap_used_bytes (the RSS too: the name the seed's
  MemoryLeakDetection rule reads), cctelegram_build_info{version}, cctelegram_bridge_up,
  cctelegram_security_events_total{event}, cctelegram_messages_sent_total.

Faults besides faults.json's unhealthy and slow_ms (cctelegram_faults.py): error_rate/error_type, a share of the
/tools/* requests answering 500 {"error": "internal", "error_type"} with an ERROR line carrying error_type; and
leak_mb_per_second/leak_max_mb, a memory leak only a restart gives back.

Logs, JSON lines: application.log gets one line a request {"ts", "timestamp", "level" (INFO, WARN for 4xx, ERROR for
5xx), "message", "event", "method", "path", "status", "duration_ms", "context": {"client_ip", "duration"},
"error_type"? (an error storm's)} and the start and stop lines; security.log gets {"level": "WARN", "event":
"SECURITY" | "RATE_LIMIT_EXCEEDED", "message" starting with that event, "reason", "context": {"client_ip",
"method", "path"}}. Neither the API key nor the bot token is ever written.
"""

import hashlib
import hmac
import http.client
import json
import os
import re
import sys
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from . import VERSION
from .cctelegram_faults import ShareCounter, error_storm, leak_step, memory_leak
from .cctelegram_telegram import TelegramError, check_api_url, send_message
from .config import ConfigError, check_url, common, parse_int, parse_listen, read_secret_file
from .faults import read_faults
from .http_app import (PROMETHEUS_TYPE, App, HttpError, JsonLines, Response, error_text, now_iso, rss_bytes,
                       run_service)
from .memory_leak import Ballast, HighMemory, rss_mb

NAME = "cctelegram-mcp"
API_KEY_HEADER = "X-API-Key"
BRIDGE_TIMEOUT = 2.0
OUTBOX = "telegram_outbox.jsonl"
RESTART_REQUEST = "bridge_restart_request.json"
MAX_MESSAGE = 4096
DEFAULT_CHAT_ID = "@cctelegram_ops"
LEAK_TICK = 1.0  # seconds between two steps of the memory leak
_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$")


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
    version: str = VERSION
    telegram_api_url: str = ""  # "" : the outbox file
    bot_token: str = ""
    chat_id: str = DEFAULT_CHAT_ID
    memory_warn_mb: int = 128

    def __repr__(self):  # never the key nor the token
        return "CcTelegramConfig(listen=%s:%d, bridge_url=%s, version=%s)" % (self.host, self.port, self.bridge_url,
                                                                            self.version)


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
    version = (environ.get("CCTELEGRAM_VERSION") or "").strip() or VERSION
    if not _VERSION.match(version):
        raise ConfigError("CCTELEGRAM_VERSION must be a version like 2.4.0, got %r" % version[:80])
    api_url, token = telegram_settings(environ)
    chat_id = (environ.get("CCTELEGRAM_TELEGRAM_CHAT_ID") or "").strip() or DEFAULT_CHAT_ID
    return CcTelegramConfig(host=base.host, port=base.port, state_dir=base.state_dir, api_key=api_key,
                            bridge_url=bridge_url, metrics_listen=metrics_listen, log_dir=log_dir,
                            rate_limit=rate_limit, version=version, telegram_api_url=api_url, bot_token=token,
                            chat_id=chat_id[:128],
                            memory_warn_mb=parse_int(environ, "CCTELEGRAM_MEMORY_WARN_MB", 128, minimum=1))


def telegram_settings(environ):
    """(api_url, bot_token) of the Bot API stand-in, or ("", "") for the outbox file; both variables or neither."""
    has_url = bool((environ.get("CCTELEGRAM_TELEGRAM_API_URL") or "").strip())
    has_token = bool((environ.get("CCTELEGRAM_BOT_TOKEN_FILE") or "").strip())
    if has_url != has_token:
        raise ConfigError("CCTELEGRAM_TELEGRAM_API_URL and CCTELEGRAM_BOT_TOKEN_FILE go together: set both or neither")
    if not has_url:
        return "", ""
    return check_api_url(environ), read_secret_file(environ, "CCTELEGRAM_BOT_TOKEN_FILE")


def metrics_credential(req):
    """What the metrics listener takes as the key: X-API-Key, else the token of `Authorization: Bearer <key>`."""
    key = req.header(API_KEY_HEADER)
    if key:
        return key
    scheme, _, token = (req.header("Authorization") or "").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


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
        super().__init__(config.state_dir, secrets=[config.api_key, config.bot_token])
        self.config = config
        self.version = config.version
        self.log = JsonLines(os.path.join(config.log_dir, "application.log"), secrets=self.secrets)
        self.security = JsonLines(os.path.join(config.log_dir, "security.log"), secrets=self.secrets)
        self.limiter = RateLimiter(config.rate_limit)
        self.key_id = hashlib.sha256(config.api_key.encode("utf-8")).hexdigest()[:16]
        self.security_events = {"SECURITY": 0, "RATE_LIMIT_EXCEEDED": 0}
        self.sent = 0
        self._lock = threading.Lock()
        self.storm = ShareCounter()
        self.ballast = Ballast()
        self.high_memory = HighMemory(config.memory_warn_mb)
        self._stop = threading.Event()
        self.add("/health", self.health, ("GET",))
        self.add("/tools/get_bridge_status", self.get_bridge_status, ("GET", "POST"))
        self.add("/tools/send_telegram_message", self.send_telegram_message, ("POST",))
        self.add("/tools/restart_bridge", self.restart_bridge, ("POST",))
        self.add("/metrics", self.metrics_endpoint, ("GET",))

    # -- auth and rate limit ------------------------------------------------------------
    def before(self, req, presented=None):
        presented = req.header(API_KEY_HEADER) if presented is None else presented
        reason = check_api_key(presented, self.config.api_key)
        if reason:
            self.security_event("SECURITY", reason, req, "SECURITY: %s on %s %s" % (
                "missing API key" if reason == "missing_api_key" else "invalid API key", req.method, req.path))
            return Response(401, {"error": "unauthorized"})
        if not self.limiter.allow(self.key_id):
            self.security_event("RATE_LIMIT_EXCEEDED", "rate_limit", req,
                                "RATE_LIMIT_EXCEEDED: more than %d requests a minute" % self.config.rate_limit)
            retry = self.limiter.retry_after()
            return Response(429, {"error": "rate_limited", "retry_after": retry}, {"Retry-After": retry})
        return self.storm_answer(req)

    def storm_answer(self, req):
        """faults.json's error storm: a 500 for its share of the /tools/* requests, None for the others."""
        storm = error_storm(req.faults.extra) if req.faults else None
        if storm is None or not req.path.startswith("/tools/") or not self.storm.fail(storm[0]):
            return None
        rate, error_type = storm
        req.context.update(error="%s: error storm (%d%% of requests fail)" % (error_type, round(rate * 100)),
                           error_type=error_type)
        return Response(500, {"error": "internal", "error_type": error_type})

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
        if self.config.telegram_api_url:
            return self.send_to_bot_api(req, message)
        with self._lock:
            self.sent += 1
            message_id = int(time.time() * 1000) * 1000 + self.sent % 1000
            record = {"ts": now_iso(), "message_id": message_id, "message": message, "source": source}
            with open(os.path.join(self.config.state_dir, OUTBOX), "a", encoding="utf-8") as handle:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        return 200, {"ok": True, "message_id": message_id, "simulated": True}

    def send_to_bot_api(self, req, message):
        try:
            message_id = send_message(self.config.telegram_api_url, self.config.bot_token, self.config.chat_id,
                                      message)
        except TelegramError as exc:
            detail = error_text(exc, self.secrets)
            req.context.update(error="send failed: Telegram Bot API %s" % detail, error_type="TelegramAPIError")
            return 502, {"error": "telegram_unavailable", "detail": detail}
        with self._lock:
            self.sent += 1
        return 200, {"ok": True, "message_id": message_id, "simulated": False}

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
            ("process_memory_heap_used_bytes", "gauge",
             "Resident memory of the process, in bytes (the name the seed's MemoryLeakDetection rule reads).",
             [("", {}, rss_bytes())]),
            ("cctelegram_build_info", "gauge", "1, labelled with the release this process runs.",
             [("", {"version": self.version}, 1)]),
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
        record = {"ts": ts, "timestamp": ts, "level": level, "message": message, "event": "http_request",
                  "method": req.method, "path": req.path, "status": resp.status, "duration_ms": duration_ms,
                  "context": {"client_ip": req.client_ip, "duration": duration_ms}}
        if req.context.get("error_type"):
            record["error_type"] = req.context["error_type"]
        self.log.write(record)

    def log_event(self, level, message, **fields):
        ts = now_iso()
        record = {"ts": ts, "timestamp": ts, "level": level, "message": message, "event": fields.pop("event", "app")}
        record.update(fields)
        self.log.write(record)

    # -- the memory leak ----------------------------------------------------------------
    def startup(self):
        threading.Thread(target=self._memory_loop, name="memory", daemon=True).start()

    def close(self):
        self._stop.set()

    def _memory_loop(self):
        while not self._stop.wait(LEAK_TICK):
            try:
                self.memory_tick()
            except Exception as exc:  # never end the thread: a leak that stops is a heal nobody asked for
                self.log_event("ERROR", "memory check failed: %s" % error_text(exc, self.secrets),
                               event="internal_error", error_type=exc.__class__.__name__)

    def memory_tick(self):
        """One step: grow the ballast by faults.json's leak rate (up to its cap), then warn when the RSS is high.
        Returns the RSS in MB."""
        leak = memory_leak(read_faults(self.state_dir).extra)
        if leak:
            self.ballast.grow(leak_step(leak[0], leak[1], self.ballast.held_mb))
        rss = rss_mb()
        if self.high_memory.check(rss):
            self.log_event("WARN", "memory usage high: rss %d MB" % rss, event="memory_high", rss_mb=rss,
                           threshold_mb=self.config.memory_warn_mb, leaked_mb=round(self.ballast.held_mb, 1))
        return rss

    def extra_listeners(self):
        if not self.config.metrics_listen:
            return []
        host, port = self.config.metrics_listen
        return [(MetricsListener(self), host, port)]


class MetricsListener(App):
    """The second listener (the seed's :9090): /metrics only, the same API key (X-API-Key or a Bearer token, which
    is what Prometheus 2.42 can send), the same counters and logs."""

    listener_name = "metrics"

    def __init__(self, main_app):
        super().__init__(main_app.state_dir, secrets=main_app.secrets)
        self.main = main_app
        self.name = main_app.name
        self.metrics = main_app.metrics
        self.add("/metrics", main_app.metrics_endpoint, ("GET",))

    def before(self, req):
        return self.main.before(req, presented=metrics_credential(req) or "")

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
