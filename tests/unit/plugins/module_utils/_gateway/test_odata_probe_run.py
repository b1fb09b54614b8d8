"""odata_probe against a real local HTTP server: healthy, 500, not XML, refused, timeout, HTTP Basic (a credential
taken or refused, never shown), the 1C web server or the cluster behind it; run() reports, and fails only for bad
input."""

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.odata_probe_run import (
    OdataProbeInputError,
    metadata_url,
    probe_all,
    run,
)


RIGHT = "Right-Password-0123456789"
CLUSTER_DOWN = "Сервер 1С:Предприятия не обнаружен server_addr=tcp://srv:1541 descr=refused".encode()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        base = self.path.split("/")[1]
        if base == "slow":
            time.sleep(3)
        status, body = {"fail": (500, b"{}"), "json": (200, b"{}"), "cluster": (500, CLUSTER_DOWN)}.get(base, (200, b"<edmx:Edmx/>"))
        if base == "auth" and self.headers.get("Authorization") != "Basic " + base64.b64encode(
                ("mcp:" + RIGHT).encode()).decode():
            status, body = 401, ("no: %s" % self.headers.get("Authorization")).encode()  # echoes what it got
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield "http://127.0.0.1:%d" % srv.server_address[1]
    srv.shutdown()


def test_kinds(server):
    rows = probe_all([server + "/ok/odata/", server + "/fail/odata", server + "/json/odata", server + "/slow/odata",
                      "http://127.0.0.1:1/x"], timeout=1)
    assert rows[0]["url"] == server + "/ok/odata/$metadata" and rows[0]["healthy"] and rows[0]["status"] == 200
    assert (rows[1]["failure"], rows[1]["status"]) == ("http", 500)
    assert rows[2]["failure"] == "http" and "without an XML body" in rows[2]["error"]
    assert rows[3]["failure"] == "timeout" and rows[3]["error"] == "no answer within 1s"
    assert rows[4]["failure"] == "refused"


@pytest.mark.parametrize("url", ["", "ftp://x/y", "https://", "odata"])
def test_bad_urls(url):
    with pytest.raises(OdataProbeInputError):
        metadata_url(url)


def test_run_reports_an_unhealthy_upstream_without_failing(server):
    result = run(dict(odata_urls=[server + "/ok/odata", server + "/fail/odata"], timeout=2, ca_path=None,
                      validate_certs=True), check_mode=True)
    assert result["changed"] is False and result["healthy"] is False
    assert [r["healthy"] for r in result["results"]] == [True, False]
    assert run(dict(odata_urls=[server + "/ok/odata"], timeout=2))["healthy"] is True


@pytest.mark.parametrize("params, needle", [
    (dict(odata_urls=["ftp://x/y"], timeout=2), "odataUrl 'ftp://x/y' is not an http(s) URL; nothing was probed"),
    (dict(odata_urls=["http://127.0.0.1:1/x"], timeout=0), "timeout must be more than 0 seconds; nothing was probed"),
])
def test_run_refuses_bad_input(params, needle):
    with pytest.raises(TaskError) as err:
        run(params)
    assert err.value.msg == needle


def test_basic_credentials_taken_refused_and_never_shown(server):
    wrong = "Wrong-Password-Canary-9876"
    rows = probe_all([server + "/auth/odata", server + "/auth/odata", server + "/auth/odata"], timeout=2,
                     credentials=[{"user": "mcp", "password": RIGHT}, {"password": wrong}, {"user": "other", "password": RIGHT}])
    assert rows[0]["healthy"] and rows[0]["credential"] == "ok" and rows[0]["cluster"] == "ok"
    assert [r["credential"] for r in rows[1:]] == ["refused", "refused"]
    assert [r["status"] for r in rows[1:]] == [401, 401] and not any(r["healthy"] for r in rows[1:])
    text = json.dumps(rows)
    assert RIGHT not in text and wrong not in text
    assert base64.b64encode(("mcp:" + wrong).encode()).decode() not in text


def test_web_server_or_cluster(server):
    down, cluster = probe_all(["http://127.0.0.1:1/x", server + "/cluster/odata"], timeout=2)
    assert (down["web_server"], down["cluster"], down["failure"]) == ("failed", "unknown", "refused")
    assert (cluster["web_server"], cluster["cluster"], cluster["status"]) == ("ok", "failed", 500)
    assert "server_addr=tcp://srv:1541" in cluster["evidence"]["cluster"]


@pytest.mark.parametrize("credentials, needle", [
    ([{"password": "x"}], "credentials has 1 entries for 2 odata_urls"),
    ([{"password": ""}, {"password": "x"}], "credentials[0] has no password"),
    ([{"user": "a:b", "password": "x"}, {"password": "x"}], "credentials[0].user 'a:b' cannot be sent"),
])
def test_bad_credentials_are_refused_before_any_request(credentials, needle):
    with pytest.raises(TaskError) as err:
        run(dict(odata_urls=["http://127.0.0.1:1/a", "http://127.0.0.1:1/b"], timeout=1, credentials=credentials))
    assert needle in err.value.msg and "nothing was probed" in err.value.msg
