"""odata_probe against a real local HTTP server: healthy, 500, not XML, refused, timeout; run() reports, and fails
only for bad input."""

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


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        base = self.path.split("/")[1]
        if base == "slow":
            time.sleep(3)
        status, body = {"fail": (500, b"{}"), "json": (200, b"{}")}.get(base, (200, b"<edmx:Edmx/>"))
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
