"""Shared by every test layer: the collection importable as ansible_collections.mcpops.runbooks through the
checkout link; a playbook run by a test writes its incident report under pytest's temp dir, never into the
checkout's runs/ (which is the operators'); data dir helpers (fixture `dd`) and a loopback HTTP stub (`stub`)."""

import json
import os
import sys
import threading
import types
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

COLLECTIONS = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "collections"))
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)


# -- data dir helpers shared by the backup tests (fixture `dd`) ----------------------

OLD_DATA = {
    "storage-meta.json": json.dumps({"schemaVersion": 3, "appliedMigrations": ["001_init", "002_tokens_org", "003_rate_limits"]}),
    "tokens.json": json.dumps({"tokens": [{"id": "tok_1", "prefix": "mcp_ab12"}]}),
    "profiles.json": json.dumps({"profiles": [{"name": "prod", "environment": "production"}]}),
    "clients.json": json.dumps({"allowedClients": ["cursor-ide"]}),
    "audit.jsonl": '{"event": "auth.ok"}\n{"event": "token.issued"}\n',
    "index/catalog.json": json.dumps({"objects": [1, 2, 3]}),
    "index/deep/part.bin": "binary-ish",
}


def write_tree(root, files):
    for rel, text in files.items():
        path = os.path.join(root, *rel.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as handle:
            handle.write(text)


def make_data_dir(tmp_path, files=None):
    data_dir = str(tmp_path / "data")
    os.makedirs(data_dir, exist_ok=True)
    write_tree(data_dir, OLD_DATA if files is None else files)
    return data_dir


def snapshot(root, skip_top=()):
    """{relative path: bytes} of every file under root (dirs included as None)."""
    found = {}
    for dirpath, dirs, files in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        if rel_dir != "." and rel_dir.split(os.sep)[0] in skip_top:
            continue
        for name in dirs:
            found[os.path.normpath(os.path.join(rel_dir, name)) + "/"] = None
        for name in files:
            rel = os.path.normpath(os.path.join(rel_dir, name))
            if rel.split(os.sep)[0] in skip_top:
                continue
            with open(os.path.join(dirpath, name), "rb") as handle:
                found[rel] = handle.read()
    return found


def data_snapshot(data_dir):
    """Only the data: no backups/, no dot names."""
    snap = snapshot(data_dir)
    return {
        k: v for k, v in snap.items()
        if not k.startswith(".") and not k.startswith("backups")
    }


@pytest.fixture
def dd():
    """Helpers: dd.make(tmp_path, files=None), dd.snapshot(root), dd.data_snapshot(data_dir), dd.OLD_DATA."""
    return types.SimpleNamespace(
        OLD_DATA=OLD_DATA, write_tree=write_tree, make=make_data_dir, snapshot=snapshot, data_snapshot=data_snapshot
    )


# -- a tiny HTTP stub for the clients' error paths (fixture `stub`) ------------------


class StubHandler(BaseHTTPRequestHandler):
    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body})
        route = self.server.routes.get((self.command, self.path.split("?")[0]))
        if route is None:
            status, headers, payload = 404, {"Content-Type": "application/json"}, b'{"error": {"code": "not_found", "message": "no route"}}'
        else:
            status, headers, payload = route(self, body) if callable(route) else route
        if isinstance(payload, (dict, list)):
            payload = json.dumps(payload).encode()
        elif isinstance(payload, str):
            payload = payload.encode()
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def stub():
    """A loopback HTTP server: stub.routes[(method, path)] = (status, headers, body) or fn(handler, body)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), StubHandler)
    server.routes = {}
    server.requests = []
    server.url = "http://127.0.0.1:%d" % server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


# -- every test layer ------------------------------------------------------------------


@pytest.fixture(autouse=True, scope="session")
def _runs_dir_outside_the_checkout(tmp_path_factory):
    if os.environ.get("MCPOPS_RUNS_DIR"):
        yield
        return
    os.environ["MCPOPS_RUNS_DIR"] = str(tmp_path_factory.mktemp("runs"))
    try:
        yield
    finally:
        os.environ.pop("MCPOPS_RUNS_DIR", None)
