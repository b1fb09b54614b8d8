"""A webhook receiver on loopback that stands in for the rulebook: it keeps every Alertmanager notification POSTed
to it, split into events by the collection's own EDA source (extensions/eda/plugins/event_source/alertmanager.py,
its `events_from_payload`), so a test sees what the rulebook would see."""

import importlib.util
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[3] / "extensions" / "eda" / "plugins" / "event_source" / "alertmanager.py"


def load_source():
    spec = importlib.util.spec_from_file_location("mcpops_eda_alertmanager_source", SOURCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class AlertReceiver:
    """`with AlertReceiver(port) as receiver:`; `receiver.wait_for(predicate, timeout)` polls the events."""

    def __init__(self, port):
        self.source = load_source()
        self.events = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                events, _skipped = receiver.source.events_from_payload(json.loads(body), self.path)
                with receiver.lock:
                    receiver.events.extend(events)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, fmt, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)

    @property
    def url(self):
        return "http://127.0.0.1:%d/alerts" % self.server.server_address[1]

    def wait_for(self, predicate, timeout, what):
        """The first event predicate accepts, polled until the deadline; AssertionError naming what was seen."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                found = [event for event in self.events if predicate(event)]
            if found:
                return found[0]
            time.sleep(0.2)
        with self.lock:
            seen = [(e["alert"]["status"], e["alert"]["labels"]) for e in self.events]
        raise AssertionError("no %s within %ds; received: %s" % (what, timeout, seen))

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
