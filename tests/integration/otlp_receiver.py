"""An OTLP/HTTP trace receiver on loopback for the tests: POST /v1/traces, the body decoded as an
ExportTraceServiceRequest (opentelemetry-proto), what came kept for the test to read.

    with OtlpReceiver() as receiver:
        ... OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint ...
        spans = receiver.wait_for_spans(deadline=60)

A real HTTP server in a thread of the test process, on 127.0.0.1 and a port the kernel picks, stopped on exit.
"""

import gzip
import threading
import time
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

STATUS_CODES = {0: "UNSET", 1: "OK", 2: "ERROR"}


def any_value(value):
    """An OTLP AnyValue as a Python value."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind)


def attributes(pairs):
    return {kv.key: any_value(kv.value) for kv in pairs}


@dataclass
class Span:
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict
    status: str
    status_message: str
    start_ns: int
    end_ns: int
    resource: dict = field(default_factory=dict)
    events: list = field(default_factory=list)


def decode(body):
    """The spans of one ExportTraceServiceRequest body."""
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    spans = []
    for resource_spans in request.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(Span(
                    name=span.name, trace_id=span.trace_id.hex(), span_id=span.span_id.hex(),
                    parent_span_id=span.parent_span_id.hex(), attributes=attributes(span.attributes),
                    status=STATUS_CODES.get(span.status.code, str(span.status.code)), status_message=span.status.message,
                    start_ns=span.start_time_unix_nano, end_ns=span.end_time_unix_nano, resource=resource,
                    events=[(e.name, attributes(e.attributes)) for e in span.events]))
    return spans


class OtlpReceiver:
    def __init__(self):
        self.requests = []   # (path, headers dict, raw body) of every POST
        self.spans = []
        self.errors = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                encoding = (self.headers.get("Content-Encoding") or "").lower()
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                with receiver._lock:
                    receiver.requests.append((self.path, dict(self.headers), body))
                if self.path != "/v1/traces":
                    self.send_error(404)
                    return
                try:
                    spans = decode(body)
                except Exception as exc:  # a body that does not decode is the test's finding
                    with receiver._lock:
                        receiver.errors.append(repr(exc))
                    self.send_error(400)
                    return
                with receiver._lock:
                    receiver.spans.extend(spans)
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="otlp-receiver", daemon=True)

    @property
    def endpoint(self):
        """The base URL, as OTEL_EXPORTER_OTLP_ENDPOINT takes it."""
        return "http://127.0.0.1:%d" % self._server.server_address[1]

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def clear(self):
        with self._lock:
            self.requests.clear()
            self.spans.clear()
            self.errors.clear()

    def wait_for_spans(self, deadline=60):
        """The spans received, once some came (the exporter sends them before ansible-playbook exits, so a test
        that waited for the run has them already: the deadline only bounds a wait for a slow machine)."""
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            with self._lock:
                if self.spans:
                    return list(self.spans)
            time.sleep(0.1)
        raise AssertionError("no span reached the receiver at %s within %d s (errors: %s)"
                             % (self.endpoint, deadline, self.errors))

    def bodies(self):
        """Every body that came (decompressed), for a search of secrets: the trace's data, not its headers."""
        with self._lock:
            return b"\n".join(body for _path, _headers, body in self.requests)

    def headers(self):
        """The headers of every request, lowercase names."""
        with self._lock:
            return [{k.lower(): v for k, v in headers.items()} for _path, headers, _body in self.requests]
