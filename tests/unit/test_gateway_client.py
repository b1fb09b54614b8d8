import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils.backup_id import BackupIdError
from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.client import GatewayClient, GatewayError

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


def test_restore_rejects_bad_id_before_any_request(stub):
    with pytest.raises(BackupIdError):
        GatewayClient(stub.url, CANARY).restore_backup("../x")
    assert stub.requests == []
