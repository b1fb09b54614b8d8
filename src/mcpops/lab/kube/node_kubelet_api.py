"""The one piece of a kubelet's HTTPS API the lab node agent serves: container logs, from the files it keeps, so that
`kubectl logs` (with --since, --since-time, --tail, --timestamps) works through the API server as on a cluster.

`python -m mcpops.lab.kube.node_kubelet_api --state-dir <agent dir> --port <port> --cert <pem> --key <pem>` runs
until SIGTERM, on 127.0.0.1 only; the agent starts it and stops it by its PID. Anything but
`GET /containerLogs/<namespace>/<pod>/<container>` and `/healthz` is 501 naming what the lab cannot do (exec, attach,
port-forward need a container runtime). The lab's API server gives the kubelet no client certificate, so this API
cannot tell it from another local client: it serves only the simulated pods' logs, on loopback.

Each log line starts with the time it was written (`2026-12-05T14:50:00Z `); a line without one (a served
service's own output) takes the time of the line before it.
"""

import argparse
import datetime
import re
import signal
import ssl
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) ?(.*)$", re.S)
# A served reference service writes its own lines, each starting with its own time (milliseconds: lego-mcp's
# `2026-12-05T10:00:00.123Z INFO ...`): that time places the line for --since, and the line stays as written,
# as a kubelet returns what the container printed.
APP_STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.\d+Z\b")
REFUSAL = ("not in the lab: the node agent's kubelet API serves container logs only (no container runtime: exec, "
           "attach, port-forward cannot work)\n")
NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")  # a DNS-1123 name: no "/", no "..", nothing to escape with


def parse_time(text):
    return datetime.datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)


def stamped_lines(text):
    """[(time or None, line)] of a log file's text, a line without a stamp taking the one before it."""
    lines, last = [], None
    for raw in text.splitlines():
        match = STAMP.match(raw)
        own = None if match else APP_STAMP.match(raw)
        if match:
            last = parse_time(match.group(1))
            lines.append((last, match.group(2)))
        elif own:
            last = parse_time(own.group(1))
            lines.append((last, raw))
        else:
            lines.append((last, raw))
    return lines


def select(lines, query, now):
    """The lines a kubelet would return for the query (sinceSeconds, sinceTime, tailLines, timestamps)."""
    since = None
    if query.get("sinceSeconds", "").isdigit():
        since = now - datetime.timedelta(seconds=int(query["sinceSeconds"]))
    elif query.get("sinceTime"):
        since = parse_time(query["sinceTime"])
    if since is not None:
        lines = [(t, line) for t, line in lines if t is not None and t >= since]
    if query.get("tailLines", "").isdigit():
        tail = int(query["tailLines"])
        lines = lines[-tail:] if tail else []
    if query.get("timestamps") == "true":
        return [f"{t.strftime('%Y-%m-%dT%H:%M:%S.000000000Z') if t else ''} {line}" for t, line in lines]
    return [line for _, line in lines]


def log_file(state_dir, namespace, pod, container):
    if not all(NAME.match(part) for part in (namespace, pod, container)):
        return None
    return Path(state_dir) / "logs" / f"{namespace}_{pod}_{container}.log"


class Handler(BaseHTTPRequestHandler):
    state_dir = None

    def do_GET(self):  # noqa: N802 (http.server's name)
        url = urllib.parse.urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        if parts == ["healthz"]:
            return self.answer(200, "ok\n")
        if len(parts) != 4 or parts[0] != "containerLogs":
            return self.answer(501, REFUSAL)
        path = log_file(self.state_dir, *parts[1:])
        if path is None or not path.is_file():
            return self.answer(404, f"no log for container {parts[3]} of pod {parts[1]}/{parts[2]}\n")
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
        now = datetime.datetime.now(datetime.timezone.utc)
        lines = select(stamped_lines(path.read_text(encoding="utf-8", errors="replace")), query, now)
        return self.answer(200, "".join(line + "\n" for line in lines))

    def refuse(self):
        self.answer(501, REFUSAL)

    do_POST = do_PUT = do_DELETE = do_PATCH = refuse  # noqa: N815 (exec, attach and port-forward POST)

    def answer(self, status, text):
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # requests are not worth a line each
        pass


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m mcpops.lab.kube.node_kubelet_api")
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    args = parser.parse_args(argv)
    Handler.state_dir = args.state_dir
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
