"""_gateway/client.py: the endpoints, errors that name method/endpoint/status, redaction, the two transports."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.http_transport import NoAnswer, UrllibTransport
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.keepalive_transport import KeepAliveTransport
from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.client import (
    GatewayClient,
    GatewayError,
    KeepAliveGatewayClient,
    PathSegmentError,
    TokenIdError,
    check_path_segment,
    is_transient,
    validate_token_id,
)

CANARY = "CANARY-admin-token-7f3a9c"
JSON = {"Content-Type": "application/json"}


def test_healthz_and_bearer(stub):
    stub.routes[("GET", "/healthz")] = (200, JSON, {"status": "ok", "version": "1"})
    stub.routes[("GET", "/api/system/backups")] = (200, JSON, {"backups": [{"id": "a"}]})
    client = GatewayClient(stub.url + "/", CANARY)
    assert client.answers() is True
    assert client.list_backups() == [{"id": "a"}]
    assert "Authorization" not in stub.requests[0]["headers"]
    assert stub.requests[1]["headers"]["Authorization"] == "Bearer " + CANARY


@pytest.mark.parametrize(
    "status,body,expect",
    [
        (401, {"error": {"code": "unauthorized", "message": "bad token"}}, "HTTP 401 unauthorized: bad token"),
        (409, {"error": {"code": "index_job_running", "message": "job j1 is running"}}, "HTTP 409 index_job_running"),
        (422, {"error": {"code": "backup_invalid", "message": "sha256 mismatch"}}, "HTTP 422 backup_invalid"),
        (500, "<html>oops</html>", "HTTP 500: <html>oops</html>"),
    ],
)
def test_errors_name_method_endpoint_status_and_code(stub, status, body, expect):
    stub.routes[("POST", "/api/system/backups/b1/restore")] = (status, JSON, body)
    with pytest.raises(GatewayError) as exc:
        GatewayClient(stub.url, CANARY).restore_backup("b1")
    text = str(exc.value)
    assert text.startswith("POST %s/api/system/backups/b1/restore -> " % stub.url)
    assert expect in text and exc.value.status == status
    assert CANARY not in text


def test_token_echoed_by_server_is_redacted(stub):
    stub.routes[("GET", "/api/system/storage-meta")] = lambda h, b: (
        403, JSON, {"error": {"code": "forbidden", "message": "token %s refused" % h.headers["Authorization"]}}
    )
    with pytest.raises(GatewayError) as exc:
        GatewayClient(stub.url, CANARY).storage_meta()
    assert CANARY not in str(exc.value) and "********" in str(exc.value)


def test_readyz_503_is_an_answer(stub):
    stub.routes[("GET", "/readyz")] = (503, JSON, {"status": "not_ready", "checks": {"storage": "corrupt"}})
    assert GatewayClient(stub.url).readyz()["checks"]["storage"] == "corrupt"


def test_create_backup_507(stub):
    stub.routes[("POST", "/api/system/backups")] = (507, JSON, {"error": {"code": "insufficient_storage", "message": "full"}})
    with pytest.raises(GatewayError, match="507 insufficient_storage"):
        GatewayClient(stub.url, CANARY).create_backup()


def test_not_json_success_body(stub):
    stub.routes[("GET", "/api/system/jobs")] = (200, JSON, "not json")
    with pytest.raises(GatewayError, match="not JSON"):
        GatewayClient(stub.url, CANARY).jobs()


def test_no_answer():
    client = GatewayClient("http://127.0.0.1:9", CANARY, timeout=2)
    assert client.answers() is False
    with pytest.raises(GatewayError, match="no answer") as exc:
        client.jobs()
    assert exc.value.status is None and CANARY not in str(exc.value)


def test_admin_call_without_token_is_refused_locally(stub):
    with pytest.raises(GatewayError, match="api_token is required"):
        GatewayClient(stub.url).jobs()
    assert stub.requests == []


@pytest.mark.parametrize("bad_id", ["../x", "..", "a/b", "", "a" * 129, None])
def test_restore_rejects_bad_id_before_any_request(stub, bad_id):
    with pytest.raises(PathSegmentError, match="invalid backup id"):
        GatewayClient(stub.url, CANARY).restore_backup(bad_id)
    assert stub.requests == []


@pytest.mark.parametrize("method, args", [("get_token", ()), ("revoke_token", ()), ("update_token", ({"blocked": True},))])
def test_token_calls_reject_bad_id_before_any_request(stub, method, args):
    with pytest.raises(TokenIdError, match="invalid token id '../etc'"):
        getattr(GatewayClient(stub.url, CANARY), method)("../etc", *args)
    assert stub.requests == []


def test_path_segment_rule():
    assert check_path_segment("tok_1.a-b", "token id") == "tok_1.a-b"
    assert validate_token_id("a" * 128) == "a" * 128
    for bad in ("...", "a b", "a%2f", "é"):
        with pytest.raises(PathSegmentError):
            check_path_segment(bad, "backup id")
    assert issubclass(TokenIdError, PathSegmentError) and issubclass(PathSegmentError, ValueError)


def test_list_tokens_query_and_bad_body(stub):
    stub.routes[("GET", "/api/mcp-tokens")] = (200, JSON, {"tokens": [{"id": "t1"}], "nextCursor": "c2"})
    client = GatewayClient(stub.url, CANARY)
    assert client.list_tokens({"orgId": "org_acme", "clientId": None, "limit": 5}, cursor="c1") == ([{"id": "t1"}], "c2")
    assert stub.requests[0]["path"] == "/api/mcp-tokens?cursor=c1&limit=5&orgId=org_acme"
    stub.routes[("GET", "/api/mcp-tokens")] = (200, JSON, {"items": []})
    with pytest.raises(GatewayError, match="the body has no tokens list"):
        client.list_tokens()


def test_issue_token_needs_record_and_secret(stub):
    stub.routes[("POST", "/api/mcp-tokens")] = (201, JSON, {"token": {"id": "t1"}, "secret": "mcp_s3cret"})
    assert GatewayClient(stub.url, CANARY).issue_token({"clientId": "c"}) == ({"id": "t1"}, "mcp_s3cret")
    stub.routes[("POST", "/api/mcp-tokens")] = (201, JSON, {"token": {"id": "t1"}})
    with pytest.raises(GatewayError, match="no token record and secret"):
        GatewayClient(stub.url, CANARY).issue_token({"clientId": "c"})


def test_is_transient():
    assert is_transient(GatewayError("GET", "/x", None, None, "reset"))
    assert is_transient(GatewayError("GET", "/x", 503))
    assert not is_transient(GatewayError("GET", "/x", 404))
    assert not is_transient(ValueError("x"))


# -- the transports ------------------------------------------------------------------


def test_urllib_transport_gives_error_statuses_as_answers(stub):
    stub.routes[("GET", "/x")] = (418, {"Content-Type": "text/plain", "X-Thing": "1"}, "teapot")
    answer = UrllibTransport(timeout=2).exchange("GET", stub.url + "/x", None, {})
    assert (answer.status, answer.body, answer.headers["x-thing"]) == (418, b"teapot", "1")
    with pytest.raises(NoAnswer, match="refused"):
        UrllibTransport(timeout=2).exchange("GET", "http://127.0.0.1:9/x", None, {})


class CountingServer:
    """HTTP/1.1 server that counts TCP connections, to see keep-alive at work."""

    def __init__(self):
        self.connections = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                owner.connections += 1
                BaseHTTPRequestHandler.setup(self)

            def do_GET(self):
                raw = b'{"path": "%s"}' % self.path.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_keep_alive_client_reuses_one_connection_and_keeps_the_path_prefix():
    server = CountingServer()
    try:
        client = KeepAliveGatewayClient(server.url + "/gw/", CANARY, timeout=2)
        paths = [client.request("GET", "/api/mcp-tokens?limit=%d" % n)[1]["path"] for n in range(3)]
        client.close()
    finally:
        server.close()
    assert paths == ["/gw/api/mcp-tokens?limit=0", "/gw/api/mcp-tokens?limit=1", "/gw/api/mcp-tokens?limit=2"]
    assert server.connections == 1


def test_keep_alive_no_answer_and_bad_url():
    client = KeepAliveGatewayClient("http://127.0.0.1:9", CANARY, timeout=2)
    with pytest.raises(GatewayError) as exc:
        client.jobs()
    assert exc.value.status is None and "ConnectionRefusedError" in str(exc.value) and CANARY not in str(exc.value)
    with pytest.raises(GatewayError, match="api_url must be http"):
        KeepAliveGatewayClient("ftp://host", CANARY)
    with pytest.raises(ValueError):
        KeepAliveTransport("127.0.0.1:3000")
