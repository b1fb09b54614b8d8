"""Real TLS endpoints on loopback for the lab, the tests and the bench: one process, many listeners.

    python -m mcpops.lab.tls_server <spec.json>

The spec: {"ready_file": path, "endpoints": [{"name", "host", "port" (0: any free), "cert", "key",
"kind": "static" | "odata", "mode_file" (odata), "slow_seconds" (odata)}]}. When every listener is
bound the process writes the ready file {"pid", "endpoints": {name: port}} atomically.

An `odata` endpoint is a 1C publication as INC-004 sees it: `GET .../$metadata` answers 200 with an
EDMX document, or, as its mode file says (read on every request, so a fault flips it live), `slow`
(answers after `slow_seconds`, beyond any sane probe timeout) or `failing` (500). A `static` endpoint
answers 200 to anything; it exists for its certificate.

SIGHUP reloads every endpoint's cert and key from its files, as nginx does: a pair that does not load
(for example a cert that does not match its key) is refused and the old pair keeps being served.
SIGTERM stops the process.
"""

import asyncio
import contextlib
import json
import os
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

MODES = ("healthy", "slow", "failing")
EDMX = (b'<?xml version="1.0" encoding="utf-8"?>\n'
        b'<edmx:Edmx xmlns:edmx="http://schemas.microsoft.com/ado/2007/06/edmx" Version="1.0">'
        b'<edmx:DataServices><Schema xmlns="http://schemas.microsoft.com/ado/2009/11/edm" '
        b'Namespace="StandardODATA"><EntityType Name="Catalog_Counterparties"/></Schema>'
        b'</edmx:DataServices></edmx:Edmx>\n')


def read_mode(path):
    try:
        mode = Path(path).read_text().strip()
    except (OSError, TypeError):
        return "healthy"
    return mode if mode in MODES else "healthy"


def server_context(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    return ctx


class Endpoint:
    """One listener. Its served context is swapped on reload through the SNI callback, which OpenSSL
    calls on every ClientHello (with or without a server name) before it picks the certificate."""

    def __init__(self, spec):
        self.spec = spec
        self.name = spec["name"]
        self.current = server_context(spec["cert"], spec["key"])
        self.listener = server_context(spec["cert"], spec["key"])
        self.listener.sni_callback = self._pick_context

    def _pick_context(self, ssl_obj, _server_name, _ctx):
        ssl_obj.context = self.current
        return None

    def reload(self):
        try:
            self.current = server_context(self.spec["cert"], self.spec["key"])
        except (OSError, ssl.SSLError) as exc:
            print("tls_server: reload of %s refused, still serving the old pair: %s" % (self.name, exc),
                  file=sys.stderr, flush=True)
            return False
        return True

    async def handle(self, reader, writer):
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            target = head.split(b"\r\n", 1)[0].split(b" ")
            path = target[1].decode("latin-1") if len(target) > 1 else "/"
            status, body, ctype = 200, b"ok\n", "text/plain"
            if self.spec.get("kind") == "odata":
                status, body, ctype = await self.odata(path)
            writer.write(b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                         % (status, b"OK" if status == 200 else b"Error", ctype.encode(), len(body)) + body)
            await writer.drain()
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ssl.SSLError):
            pass  # a client that only wanted the certificate (openssl s_client) hangs up early
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def odata(self, path):
        if not path.split("?", 1)[0].endswith("/$metadata"):
            return 404, b'{"error": "not found"}\n', "application/json"
        mode = read_mode(self.spec.get("mode_file"))
        if mode == "failing":
            return 500, b'{"odata.error": {"code": "", "message": "1C: infobase is not available"}}\n', "application/json"
        if mode == "slow":
            await asyncio.sleep(float(self.spec.get("slow_seconds", 30)))
        return 200, EDMX, "application/xml"


def _write_ready(path, data):
    tmp = "%s.tmp" % path
    with open(tmp, "w") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)


async def serve(spec):
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, _context: None)  # aborted handshakes are normal here
    endpoints = [Endpoint(e) for e in spec["endpoints"]]
    ports = {}
    for endpoint in endpoints:
        server = await asyncio.start_server(endpoint.handle, endpoint.spec.get("host", "127.0.0.1"),
                                            int(endpoint.spec.get("port") or 0), ssl=endpoint.listener,
                                            ssl_handshake_timeout=30, backlog=512)
        ports[endpoint.name] = server.sockets[0].getsockname()[1]
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: [e.reload() for e in endpoints])
    _write_ready(spec["ready_file"], {"pid": os.getpid(), "endpoints": ports})
    await stop.wait()


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m mcpops.lab.tls_server <spec.json>", file=sys.stderr)
        return 2
    with open(argv[0]) as fh:
        spec = json.load(fh)
    for endpoint in spec["endpoints"]:
        if endpoint.get("host", "127.0.0.1").split(".")[0] != "127" and endpoint.get("host") != "localhost":
            print("tls_server: %s is not a loopback address" % endpoint.get("host"), file=sys.stderr)
            return 2
    asyncio.run(serve(spec))
    return 0


class TlsServerProcess:
    """Start `python -m mcpops.lab.tls_server` on a spec, know its PID, reload and stop it by that PID."""

    def __init__(self, directory, endpoints, python=None, log=None):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.spec_path = self.directory / "tls_server.json"
        self.ready_path = self.directory / "tls_server.ready.json"
        self.endpoints = endpoints
        self.python = python or sys.executable
        self.log = Path(log) if log else self.directory / "tls_server.log"
        self.pid = None
        self.ports = {}

    def start(self, timeout=60.0):
        with contextlib.suppress(FileNotFoundError):
            self.ready_path.unlink()
        self.spec_path.write_text(json.dumps({"ready_file": str(self.ready_path), "endpoints": self.endpoints}))
        src = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")])))
        with open(self.log, "ab") as out:
            proc = subprocess.Popen([self.python, "-m", "mcpops.lab.tls_server", str(self.spec_path)],
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                                    start_new_session=True, close_fds=True)
        self.pid = proc.pid
        self._proc = proc
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError("tls_server exited with %s; see %s" % (proc.returncode, self.log))
            if self.ready_path.exists():
                self.ports = json.loads(self.ready_path.read_text())["endpoints"]
                return self.ports
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("tls_server pid %s was not ready within %.0fs; see %s" % (self.pid, timeout, self.log))

    @classmethod
    def attach(cls, directory):
        """The running server recorded in `directory` (by its ready file), or None."""
        server = cls(directory, [])
        try:
            ready = json.loads(server.ready_path.read_text())
        except (OSError, ValueError):
            return None
        server.pid, server.ports = ready["pid"], ready["endpoints"]
        return server if server.alive() else None

    def alive(self):
        from mcpops.lab.supervisor import cmdline, pid_alive

        return bool(self.pid) and pid_alive(self.pid) and str(self.spec_path) in cmdline(self.pid)

    def reload(self):
        if not self.alive():
            raise RuntimeError("tls_server pid %s is not running" % self.pid)
        os.kill(self.pid, signal.SIGHUP)

    def stop(self):
        from mcpops.lab.supervisor import terminate

        if self.alive():
            terminate([self.pid], timeout=10.0)
        if getattr(self, "_proc", None) is not None:
            with contextlib.suppress(Exception):
                self._proc.wait(timeout=1)
        with contextlib.suppress(FileNotFoundError):
            self.ready_path.unlink()


if __name__ == "__main__":
    sys.exit(main())
