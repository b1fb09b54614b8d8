"""_gateway/gateway_health_run.py called directly (no AnsibleModule): the retry loop, storage-meta, check_tokens,
redaction."""

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.gateway_health_run import (
    check_once,
    check_storage_meta,
    check_tokens,
    run,
)

API_CANARY = "CANARYadminTOKEN0004"
MCP_CANARY = "mcp_beefCANARYmcpTOKEN000000000000000000000004"
JSON = {"Content-Type": "application/json"}


def params(**overrides):
    """The module's options with their argument_spec defaults."""
    base = dict(api_url="http://127.0.0.1:9", api_token=None, mcp_url=None, mcp_token=None, critical_profiles=None,
                max_schema_version=3, retries=10, delay=2, fail_when_unhealthy=True, validate_certs=True, timeout=10)
    base.update(overrides)
    return base


class Rounds:
    """A check(params) stand-in: the problems of each round in turn."""

    def __init__(self, *rounds):
        self.rounds = list(rounds)
        self.calls = 0

    def __call__(self, params):
        problems = self.rounds[min(self.calls, len(self.rounds) - 1)]
        self.calls += 1
        return {"healthz": {"status": "ok"}, "readyz": None, "storage_meta": None, "mcp": None}, list(problems)


# -- the retry loop ----------------------------------------------------------------


def test_retries_until_healthy_sleeping_delay_between():
    sleeps = []
    check = Rounds(["readyz: not ready"], ["readyz: not ready"], [])
    result = run(params(api_token="admin-token-1234", delay=3), check=check, sleep=sleeps.append)
    assert result["healthy"] is True and result["attempts"] == 3 and result["problems"] == []
    assert sleeps == [3, 3] and result["changed"] is False and result["healthz"] == {"status": "ok"}


def test_still_unhealthy_after_retries_fails_with_the_result():
    sleeps = []
    with pytest.raises(TaskError) as caught:
        run(params(api_token="admin-token-1234", retries=2, delay=0), check=Rounds(["down"]), sleep=sleeps.append)
    assert caught.value.msg == "gateway at http://127.0.0.1:9 unhealthy after 3 checks: down"
    assert caught.value.result["healthy"] is False and caught.value.result["attempts"] == 3
    assert sleeps == [0, 0]


def test_report_only_when_fail_when_unhealthy_is_false():
    result = run(params(api_token="admin-token-1234", retries=0, fail_when_unhealthy=False), check=Rounds(["down"]),
                                 sleep=pytest.fail)
    assert result["healthy"] is False and result["attempts"] == 1 and result["problems"] == ["down"]


def test_warns_without_api_token():
    warnings = []
    run(params(retries=0), warn=warnings.append, check=Rounds([]))
    assert warnings == ["no api_token: /api/system/storage-meta (schemaVersion, stores) was not checked"]


def test_mcp_notes_and_a_down_1c_connection_are_warnings_not_problems():
    mcp = {"notes": ["2 of 6 tools declare no readOnlyHint"], "connection_problems": ["check_connection_health hr-prod: down"]}

    def round_(p):
        return {"healthz": {"status": "ok"}, "readyz": None, "storage_meta": None, "mcp": mcp}, []

    warnings = []
    result = run(params(api_token="admin-token-1234", mcp_token=MCP_CANARY, validation="post_incident",
                        require_connection_health=False, retries=0), warn=warnings.append, check=round_)
    assert result["healthy"] is True and result["mcp"]["connection_problems"] == ["check_connection_health hr-prod: down"]
    assert warnings == ["2 of 6 tools declare no readOnlyHint", "check_connection_health hr-prod: down"]


def test_an_unknown_validation_is_refused_before_any_request():
    with pytest.raises(TaskError) as caught:
        run(params(mcp_token=MCP_CANARY, validation="all"), check=pytest.fail)
    assert caught.value.msg == "validation must be one of post_recovery, post_incident, got 'all'; nothing was checked"


def test_tokens_redacted_from_result_and_message():
    def echoing(p):
        return {"healthz": {"echo": API_CANARY}, "readyz": None, "storage_meta": None, "mcp": None}, ["saw " + MCP_CANARY]

    with pytest.raises(TaskError) as caught:
        run(params(api_token=API_CANARY, mcp_token=MCP_CANARY, retries=0), check=echoing)
    for found in (caught.value.msg, repr(caught.value.result)):
        assert API_CANARY not in found and MCP_CANARY not in found
    assert caught.value.result["healthz"] == {"echo": "********"}


def test_check_once_names_the_failing_endpoints(stub):
    stub.routes[("GET", "/healthz")] = (200, JSON, {"status": "ok"})
    stub.routes[("GET", "/readyz")] = (503, JSON, {"status": "not_ready", "checks": {"storage": "corrupt", "index": "ok"}})
    stub.routes[("GET", "/api/system/storage-meta")] = (200, JSON, {"schemaVersion": 4, "stores": {"tokens": {"ok": True}}})
    report, problems = check_once(params(api_url=stub.url, api_token=API_CANARY))
    assert report["healthz"] == {"status": "ok"} and report["storage_meta"]["schemaVersion"] == 4
    assert problems == [
        "GET %s/readyz: not ready, failing checks: storage=corrupt" % stub.url,
        "storage-meta: schemaVersion 4 is newer than max_schema_version 3",
    ]


def test_check_once_without_tokens_skips_storage_meta_and_mcp(stub):
    stub.routes[("GET", "/healthz")] = (200, JSON, {"status": "ok"})
    stub.routes[("GET", "/readyz")] = (200, JSON, {"status": "ready"})
    report, problems = check_once(params(api_url=stub.url))
    assert problems == [] and report["storage_meta"] is None and report["mcp"] is None
    assert [r["path"] for r in stub.requests] == ["/healthz", "/readyz"]


def test_check_once_gateway_down():
    report, problems = check_once(params(api_url="http://127.0.0.1:1", timeout=2))
    assert report["healthz"] is None and len(problems) == 2 and "no answer" in problems[0]


# -- storage-meta ----------------------------------------------------------------


@pytest.mark.parametrize("meta, expected", [
    ({"schemaVersion": 3, "stores": {"a": {"ok": True}}}, []),
    ({"schemaVersion": True, "stores": {}}, ["storage-meta: schemaVersion is True, not a known version"]),
    ({"schemaVersion": 3, "stores": {"b": {"ok": False}}}, ["storage-meta: store b is not ok: {'ok': False}"]),
    ({"schemaVersion": 3}, ["storage-meta: no 'stores' in the answer"]),
    ([], ["storage-meta: schemaVersion is None, not a known version", "storage-meta: no 'stores' in the answer"]),
])
def test_check_storage_meta(meta, expected):
    assert check_storage_meta(meta, 3) == expected


# -- check_tokens: the new token accepted, the old one refused (INC-006 step 2) -------------

NEW = "CANARYnewADMINtoken0004"
OLD = "CANARYoldADMINtoken0004"


def storage_meta_by_token(stub, accepted):
    """GET storage-meta answers 200 to the tokens in `accepted`, 401 to any other."""
    def route(handler, body):
        if handler.headers.get("Authorization") in ["Bearer " + t for t in accepted]:
            return 200, JSON, {"schemaVersion": 3, "stores": {"tokens": {"ok": True}}}
        return 401, JSON, {"error": {"code": "unauthorized", "message": "bad token %s" % handler.headers.get("Authorization")}}
    stub.routes[("GET", "/api/system/storage-meta")] = route
    stub.routes[("GET", "/healthz")] = (200, JSON, {"status": "ok"})
    stub.routes[("GET", "/readyz")] = (200, JSON, {"status": "ready"})


def test_check_tokens_rotation_took_effect(stub):
    storage_meta_by_token(stub, [NEW])
    result = run(params(api_url=stub.url, api_token=NEW, check_tokens={"accepted": [NEW], "refused": [OLD]}, retries=0))
    assert result["healthy"] is True and result["problems"] == []
    assert result["token_checks"] == {"accepted": [{"status": 200, "ok": True}], "refused": [{"status": 401, "ok": True}]}
    sent = [r["headers"].get("Authorization") for r in stub.requests if r["path"] == "/api/system/storage-meta"]
    assert sent == ["Bearer " + NEW, "Bearer " + NEW, "Bearer " + OLD]


def test_check_tokens_rotation_not_read_fails_naming_list_and_position_never_the_token(stub):
    storage_meta_by_token(stub, [OLD])  # the gateway still runs with the old token
    sleeps = []
    with pytest.raises(TaskError) as caught:
        run(params(api_url=stub.url, check_tokens={"accepted": [NEW], "refused": [OLD]}, retries=2, delay=1),
            sleep=sleeps.append)
    url = stub.url + "/api/system/storage-meta"
    assert caught.value.result["problems"] == [
        "check_tokens: GET %s answered 401 to accepted token #1 (wanted 200)" % url,
        "check_tokens: GET %s answered 200 to refused token #1 (wanted 401)" % url,
    ]
    assert caught.value.result["token_checks"]["accepted"] == [{"status": 401, "ok": False}]
    assert caught.value.result["attempts"] == 3 and sleeps == [1, 1]
    for found in (caught.value.msg, repr(caught.value.result)):
        assert NEW not in found and OLD not in found


def test_check_tokens_no_answer_is_status_none():
    report, problems = check_tokens(params(api_url="http://127.0.0.1:9", timeout=2, check_tokens={"accepted": [NEW]}))
    assert report == {"accepted": [{"status": None, "ok": False}], "refused": []}
    assert problems == ["check_tokens: GET http://127.0.0.1:9/api/system/storage-meta answered nothing to accepted token #1 (wanted 200)"]


@pytest.mark.parametrize("given, needle", [
    ({"accepted": [""], "refused": [OLD]}, "is empty"),
    ({"accepted": [NEW], "refused": [None]}, "is empty"),
    ({"accepted": [NEW], "refused": [NEW]}, "both accepted and refused"),
])
def test_check_tokens_refused_before_any_request(stub, given, needle):
    with pytest.raises(TaskError, match=needle):
        run(params(api_url=stub.url, check_tokens=given, retries=0))
    assert stub.requests == []


def test_without_check_tokens_token_checks_is_null(stub):
    storage_meta_by_token(stub, [NEW])
    result = run(params(api_url=stub.url, api_token=NEW, retries=0, check_tokens={"accepted": [], "refused": []}))
    assert result["healthy"] is True and result["token_checks"] is None
