"""The HTTP layer every reference service shares (standard library): an `App` with routes and JSON answers, the
fault file applied on every request, request counting and latency for `/metrics` (Prometheus text), log writers
(JSON lines or text, every line scrubbed of the service's secrets), and `run_service`: configuration from the
environment (exit 2 with one line on a bad one), listen, serve until SIGTERM/SIGINT, exit 0.
"""

import json
import os
import re
import signal
import socket
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from . import VERSION
from .config import ConfigError
from .faults import read_faults

MAX_BODY = 1024 * 1024
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
UNMATCHED = "unmatched"  # the path label of a request no route matched (keeps the label set bounded)


# -- small plain helpers ------------------------------------------------------------------

def now_iso(ts=None):
    """UTC, milliseconds, Z: 2025-01-15T10:30:00.123Z."""
    moment = datetime.fromtimestamp(time.time() if ts is None else ts, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (moment.microsecond // 1000)


def redact(text, secrets):
    """text with every secret replaced by ***."""
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, "***")
    return text


def error_text(exc, secrets=(), limit=300):
    """One short line for an exception (its first line), scrubbed of secrets."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    return redact(message, secrets)[:limit]


# -- requests and answers -----------------------------------------------------------------

class HttpError(Exception):
    def __init__(self, status, body, headers=None):
        super().__init__("HTTP %d" % status)
        self.status = status
        self.body = body
        self.headers = headers or {}


class Response:
    def __init__(self, status, body=None, headers=None, content_type="application/json"):
        self.status = status
        self.body = body
        self.headers = dict(headers or {})
        self.content_type = content_type

    @classmethod
    def text(cls, status, text, content_type="text/plain; charset=utf-8"):
        return cls(status, text, content_type=content_type)

    def payload(self):
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return (json.dumps(self.body, ensure_ascii=False) + "\n").encode("utf-8")


class Request:
    def __init__(self, method, target, headers, body=b"", client_ip="127.0.0.1"):
        split = urlsplit(target)
        self.method = method
        self.path = split.path or "/"
        self.query = parse_qs(split.query)
        self.headers = headers  # a mapping with case-insensitive get (http.client.HTTPMessage, or a dict in tests)
        self.body = body
        self.client_ip = client_ip
        self.route = UNMATCHED
        self.params = {}
        self.faults = None
        self.context = {}  # what a handler wants the request log line to carry

    def header(self, name):
        value = self.headers.get(name)
        if value is None and isinstance(self.headers, dict):
            for key, val in self.headers.items():
                if key.lower() == name.lower():
                    return val
        return value

    def json(self):
        if not self.body.strip():
            raise HttpError(400, {"error": "invalid_json", "message": "a JSON body is required"})
        try:
            data = json.loads(self.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise HttpError(400, {"error": "invalid_json", "message": "the body is not valid JSON"})
        if not isinstance(data, dict):
            raise HttpError(400, {"error": "invalid_json", "message": "the body must be a JSON object"})
        return data


# -- Prometheus text ----------------------------------------------------------------------

def escape_label(value):
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def format_labels(labels):
    if not labels:
        return ""
    return "{" + ",".join('%s="%s"' % (k, escape_label(v)) for k, v in labels.items()) + "}"


def format_value(value):
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value in (float("inf"), float("-inf")):
            return "+Inf" if value > 0 else "-Inf"
        return repr(value)
    return str(value)


def render_metrics(families):
    """Prometheus text exposition of [(name, type, help, [(suffix, labels, value), ...]), ...]."""
    out = []
    for name, kind, help_text, samples in families:
        out.append("# HELP %s %s" % (name, help_text.replace("\\", "\\\\").replace("\n", "\\n")))
        out.append("# TYPE %s %s" % (name, kind))
        for suffix, labels, value in samples:
            out.append("%s%s%s %s" % (name, suffix, format_labels(labels), format_value(value)))
    return "\n".join(out) + "\n"


class RequestMetrics:
    """http_requests_total{method,path,status}, http_request_duration_seconds{method,path} (histogram) and, when
    a slow threshold is set, http_slow_requests_total{method,path}. `path` is the route, not the raw path."""

    def __init__(self, slow_threshold_ms=None, buckets=DURATION_BUCKETS):
        self.slow_threshold_ms = slow_threshold_ms
        self.buckets = tuple(buckets)
        self._lock = threading.Lock()
        self.requests = {}  # (method, path, status) -> count
        self.durations = {}  # (method, path) -> [bucket counts..., sum, count]
        self.slow = {}  # (method, path) -> count

    def observe(self, method, path, status, seconds):
        with self._lock:
            key = (method, path, str(status))
            self.requests[key] = self.requests.get(key, 0) + 1
            hist = self.durations.setdefault((method, path), [0] * len(self.buckets) + [0.0, 0])
            for i, bound in enumerate(self.buckets):
                if seconds <= bound:
                    hist[i] += 1
            hist[-2] += seconds
            hist[-1] += 1
            if self.slow_threshold_ms is not None and seconds * 1000.0 >= self.slow_threshold_ms:
                self.slow[(method, path)] = self.slow.get((method, path), 0) + 1

    def total(self, status_prefix=""):
        with self._lock:
            return sum(n for (_, _, status), n in self.requests.items() if status.startswith(status_prefix))

    def families(self):
        with self._lock:
            requests = sorted(self.requests.items())
            durations = sorted((k, list(v)) for k, v in self.durations.items())
            slow = sorted(self.slow.items())
        fams = [("http_requests_total", "counter", "HTTP requests answered, by method, route and status.",
                 [("", {"method": m, "path": p, "status": s}, n) for (m, p, s), n in requests])]
        samples = []
        for (method, path), hist in durations:
            for bound, count in zip(self.buckets, hist):
                samples.append(("_bucket", {"method": method, "path": path, "le": format_value(float(bound))}, count))
            samples.append(("_bucket", {"method": method, "path": path, "le": "+Inf"}, hist[-1]))
            samples.append(("_sum", {"method": method, "path": path}, round(hist[-2], 6)))
            samples.append(("_count", {"method": method, "path": path}, hist[-1]))
        fams.append(("http_request_duration_seconds", "histogram", "HTTP request latency, by method and route.",
                     samples))
        if self.slow_threshold_ms is not None:
            fams.append(("http_slow_requests_total", "counter",
                         "HTTP requests slower than %d ms, by method and route." % self.slow_threshold_ms,
                         [("", {"method": m, "path": p}, n) for (m, p), n in slow]))
        return fams


def rss_bytes():
    """Resident memory of this process, from /proc/self/statm (0 when unknown)."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def process_start_time(default=None):
    """When this process started, in seconds since the epoch (/proc/self/stat's starttime plus the boot time)."""
    try:
        with open("/proc/self/stat") as handle:
            start_ticks = int(handle.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/stat") as handle:
            boot = next(int(line.split()[1]) for line in handle if line.startswith("btime "))
        return boot + start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return time.time() if default is None else default


def process_families(started_wall, clock=time.time):
    """process_cpu_usage (share of one CPU used since the process started), process_cpu_seconds_total,
    process_memory_bytes (RSS), process_start_time_seconds."""
    times = os.times()
    cpu = times.user + times.system
    elapsed = max(clock() - started_wall, 0.01)
    usage = min(cpu / elapsed, float(os.cpu_count() or 1))
    return [
        ("process_cpu_usage", "gauge", "CPU used by the process since it started, as a share of one CPU.",
         [("", {}, round(usage, 6))]),
        ("process_cpu_seconds_total", "counter", "User and system CPU time spent, in seconds.",
         [("", {}, round(cpu, 3))]),
        ("process_memory_bytes", "gauge", "Resident memory of the process, in bytes.", [("", {}, rss_bytes())]),
        ("process_start_time_seconds", "gauge", "Start time of the process, in seconds since the epoch.",
         [("", {}, round(started_wall, 3))]),
    ]


# -- logs ---------------------------------------------------------------------------------

class JsonLines:
    """Append one JSON object a line to a file (opened for each line, so a rotated or removed file is simply
    started again) or to a stream; every line is scrubbed of the given secrets first."""

    def __init__(self, path=None, stream=None, secrets=()):
        self.path = path
        self.stream = stream if stream is not None else (None if path else sys.stdout)
        self.secrets = secrets  # a list the service may extend
        self._lock = threading.Lock()
        if path:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)

    def write(self, record):
        self.write_line(json.dumps(record, ensure_ascii=False, default=str))

    def write_line(self, line):
        line = redact(line, self.secrets).replace("\n", " ") + "\n"
        with self._lock:
            if self.path:
                with open(self.path, "a", encoding="utf-8") as handle:
                    handle.write(line)
            else:
                self.stream.write(line)
                self.stream.flush()


# -- the application ----------------------------------------------------------------------

_PARAM = re.compile(r"<([a-z_]+)>")


def compile_route(pattern):
    """'/api/v1/loyalty/balance/<customer_id>' -> a regex whose named groups are the <params> (one segment each)."""
    parts = _PARAM.split(pattern)  # literal, name, literal, name, ..., literal
    return re.compile("^" + "".join(re.escape(part) if i % 2 == 0 else "(?P<%s>[^/]+)" % part
                                    for i, part in enumerate(parts)) + "$")


class App:
    """A service: routes, hooks and logs. A route handler gets a Request and returns a Response (or a
    (status, body) pair) or raises HttpError. Subclasses override `before` (auth, modes), `log_request`,
    `log_event`, `startup`, `close`, `extra_listeners` and `extra_metric_families`."""

    name = "service"
    version = VERSION

    def __init__(self, state_dir, secrets=(), slow_threshold_ms=None):
        self.state_dir = state_dir
        self.secrets = [s for s in secrets if s]
        self.metrics = RequestMetrics(slow_threshold_ms=slow_threshold_ms)
        self.started_wall = process_start_time()
        self.routes = []  # (regex, pattern, methods, handler)
        self._fault_error = ""
        self.log = JsonLines(stream=sys.stdout, secrets=self.secrets)

    # routing
    def add(self, pattern, handler, methods=("GET",)):
        self.routes.append((compile_route(pattern), pattern, tuple(methods), handler))

    def route(self, pattern, methods=("GET",)):
        def wrap(handler):
            self.add(pattern, handler, methods)
            return handler
        return wrap

    def find(self, req):
        method = "GET" if req.method == "HEAD" else req.method
        allowed = []
        for regex, pattern, methods, handler in self.routes:
            match = regex.match(req.path)
            if not match:
                continue
            req.route = pattern
            if method in methods:
                req.params = match.groupdict()
                return handler
            allowed.extend(methods)
        if allowed:
            raise HttpError(405, {"error": "method_not_allowed", "allow": sorted(set(allowed))},
                            {"Allow": ", ".join(sorted(set(allowed)))})
        raise HttpError(404, {"error": "not_found", "path": req.path})

    # hooks
    def before(self, req):
        """A Response to answer without routing (auth refused, maintenance), or None."""
        return None

    def dispatch(self, req):
        """The answer to req; never raises."""
        try:
            req.faults = read_faults(self.state_dir)
            if req.faults.error and req.faults.error != self._fault_error:
                self.log_event("WARN", "ignoring the fault file: %s" % req.faults.error, event="fault_file_invalid")
            self._fault_error = req.faults.error
            if req.faults.slow_ms:
                time.sleep(req.faults.slow_ms / 1000.0)
            early = self.before(req)
            if early is not None:
                return early
            result = self.find(req)(req)
            if isinstance(result, tuple):
                result = Response(*result)
            return result
        except HttpError as exc:
            return Response(exc.status, exc.body, exc.headers)
        except Exception as exc:  # a bug or a datastore surprise: a 500 and an ERROR line, never a traceback out
            self.log_event("ERROR", "internal error on %s %s: %s" % (req.method, req.path, error_text(exc, self.secrets)),
                           event="internal_error", error_type=exc.__class__.__name__)
            return Response(500, {"error": "internal", "message": "internal error"})

    def record(self, req, resp, seconds):
        self.metrics.observe("GET" if req.method == "HEAD" else req.method, req.route, resp.status, seconds)
        self.log_request(req, resp, round(seconds * 1000.0, 2))

    def log_request(self, req, resp, duration_ms):
        self.log.write({"ts": now_iso(), "level": "ERROR" if resp.status >= 500 else "INFO",
                        "message": "%s %s %d" % (req.method, req.path, resp.status), "method": req.method,
                        "path": req.path, "status": resp.status, "duration_ms": duration_ms})

    def log_event(self, level, message, **fields):
        record = {"ts": now_iso(), "level": level, "message": message}
        record.update(fields)
        self.log.write(record)

    def metrics_text(self):
        families = self.metrics.families() + process_families(self.started_wall)
        return render_metrics(families + list(self.extra_metric_families()))

    def extra_metric_families(self):
        return []

    def startup(self):
        """Work before serving (schemas); must not raise for a datastore that is down (log it, retry later)."""

    def close(self):
        pass

    def extra_listeners(self):
        """[(app, host, port)] served beside the main listener (cctelegram-mcp's metrics port)."""
        return []


# -- the HTTP server ----------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    sys_version = ""

    @property
    def app(self):
        return self.server.app

    @property
    def server_version(self):
        return "%s/%s" % (self.server.app.name, self.server.app.version)

    def setup(self):
        super().setup()
        try:
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def log_message(self, fmt, *args):  # the app logs requests itself (no headers, no secrets)
        pass

    def _read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            raise HttpError(411, {"error": "length_required"})
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise HttpError(400, {"error": "bad_request", "message": "bad Content-Length"})
        if length > MAX_BODY:
            self.close_connection = True
            raise HttpError(413, {"error": "payload_too_large"})
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self):
        started = time.monotonic()
        req = Request(self.command, self.path, self.headers, client_ip=self.client_address[0])
        try:
            req.body = self._read_body()
            resp = self.app.dispatch(req)
        except HttpError as exc:
            resp = Response(exc.status, exc.body, exc.headers)
        data = resp.payload()
        # Logged and counted before the answer leaves: a client that has the answer can read its line and metric.
        try:
            self.app.record(req, resp, time.monotonic() - started)
        except OSError:  # a log that cannot be written (disk full) does not cost the client its answer
            pass
        self.send_response(resp.status)
        if resp.body is not None:
            self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for key, value in resp.headers.items():
            self.send_header(key, str(value))
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = lambda self: self._handle()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address, app):
        self.app = app
        super().__init__(address, Handler)

    def handle_error(self, request, client_address):  # one line, no traceback (a client that went away)
        exc = sys.exc_info()[1]
        if not isinstance(exc, (BrokenPipeError, ConnectionResetError)):
            _say("%s: error serving %s: %s" % (self.app.name, client_address[0], exc.__class__.__name__))


def _say(line):
    sys.stderr.write(line.rstrip("\n") + "\n")
    sys.stderr.flush()


def run_service(name, load_config, build, environ=None):
    """Configure from environ (ConfigError: one line, exit 2), listen (cannot: exit 1), serve until SIGTERM or
    SIGINT, then stop cleanly (exit 0). The start line names the listen address, nothing else."""
    environ = os.environ if environ is None else environ
    try:
        config = load_config(environ)
        app = build(config)
    except ConfigError as exc:
        _say("%s: %s" % (name, exc))
        return 2
    listeners = [(app, config.host, config.port)] + list(app.extra_listeners())
    servers = []
    for target, host, port in listeners:
        try:
            servers.append(Server((host, port), target))
        except OSError as exc:
            for server in servers:
                server.server_close()
            _say("%s: cannot listen on %s:%d: %s" % (name, host, port, exc.strerror or exc))
            return 1
    stop = threading.Event()

    def on_signal(signum, _frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    app.startup()
    threads = []
    for server in servers:
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True,
                                  name="http-%d" % server.server_address[1])
        thread.start()
        threads.append(thread)
    for index, server in enumerate(servers):
        host, port = server.server_address[:2]
        what = "listening" if index == 0 else "%s listening" % getattr(server.app, "listener_name", "also")
        line = "%s %s %s on http://%s:%d" % (name, app.version, what, host, port)
        _say(line)
        app.log_event("INFO", line, event="startup")
    while not stop.wait(0.5):
        pass
    for server in servers:
        server.shutdown()
        server.server_close()
    app.close()
    app.log_event("INFO", "%s stopped" % name, event="shutdown")
    _say("%s: stopped" % name)
    return 0
