"""The dashboard Service's stable address for an alert drill's probe on the Kubernetes lab (KubeDrillLab.alert_targets).

A site's blackbox_exporter probes what users reach: the ingress URL, behind it the Service `dashboard`, which answers
from whichever pods are Ready now (the seed's `curl https://lego-mcp.example.com/health`). It never probes pod IPs:
they change with every rollout, and a probe of a pod that is gone would never succeed again after the runbook's
repair. The lab has no kube-proxy and no ingress, and its Services have no endpoints (docs/dev/lego-lab.md), so the
drill simulates that one hop: ServiceAddress listens on a free 127.0.0.1 port and passes each connection on to one of
the Ready pods of the selector at that moment (round robin, as kube-proxy spreads them); with no Ready pod it answers
503, as an ingress in front of a Service without endpoints does. What answers through it is the real dashboard.

It is a thread of the drill's own process (no process of its own to record): `start()`, then `stop()` in a finally.
"""

import contextlib
import itertools
import socket
import socketserver
import threading
import time
from urllib.parse import urlsplit

CHUNK = 65536
RESOLVE_SECONDS = 1.0  # how long one look at the Ready pods is used (the probe comes every second)
IO_TIMEOUT = 10.0      # a connection idle this long on either side ends
NO_ENDPOINT = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
               b"Connection: close\r\n\r\n%s")


def endpoints_of(urls):
    """[(host, port)] of base URLs (http://<pod IP>:8000), sorted: what a connection may go to."""
    found = []
    for url in urls:
        parts = urlsplit(url)
        if parts.hostname and parts.port:
            found.append((parts.hostname, parts.port))
    return sorted(found)


def _splice(one, other):
    """Bytes from one socket to the other until either side hangs up or goes idle."""
    with contextlib.suppress(OSError):
        while True:
            data = one.recv(CHUNK)
            if not data:
                break
            other.sendall(data)
    for sock in (one, other):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class ServiceAddress:
    """`ServiceAddress(ready_urls, name)`: ready_urls() returns the base URLs of the Ready pods now; name is the
    Service's, for the 503's text. `start()` binds 127.0.0.1:<free port>; `url(path)` is what a probe GETs."""

    def __init__(self, ready_urls, name="dashboard"):
        self.ready_urls, self.name = ready_urls, name
        self.server = self.thread = None
        self._cache = (0.0, [])
        self._lock = threading.Lock()
        self._turn = itertools.count()
        self.connections = 0  # connections handled (the unit tests' and the drill's line)

    @property
    def port(self):
        return self.server.server_address[1] if self.server else None

    def url(self, path="/"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def endpoints(self):
        """The Ready pods' (host, port), looked up at most every RESOLVE_SECONDS; [] when the lookup fails (the API
        not answering is a Service with no endpoint to the probe, too)."""
        with self._lock:
            at, found = self._cache
            if time.monotonic() - at < RESOLVE_SECONDS:
                return found
            try:
                found = endpoints_of(self.ready_urls())
            except Exception:  # kubectl failed, the plane is restarting: nothing to send the probe to right now
                found = []
            self._cache = (time.monotonic(), found)
            return found

    def _handle(self, client):
        self.connections += 1
        client.settimeout(IO_TIMEOUT)
        found = self.endpoints()
        if not found:
            with contextlib.suppress(OSError):
                client.recv(CHUNK)  # the request, so that the answer is read rather than reset
                text = b"no Ready endpoint of service %s\n" % self.name.encode()
                client.sendall(NO_ENDPOINT % (len(text), text))
            return
        host, port = found[next(self._turn) % len(found)]
        try:
            upstream = socket.create_connection((host, port), timeout=IO_TIMEOUT)
        except OSError:
            return  # the pod went between the lookup and the connection: the probe fails, as it would on a cluster
        with upstream:
            other = threading.Thread(target=_splice, args=(upstream, client), daemon=True)
            other.start()
            _splice(client, upstream)
            other.join(IO_TIMEOUT)

    def start(self):
        owner = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                owner._handle(self.request)

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2},
                                       name="lego-service-address", daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(10)
            self.server = None
