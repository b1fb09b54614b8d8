"""gateway_backup_info's entry point called directly (no AnsibleModule): run() and backup_entry."""

import os

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.gateway_backup_info_run import backup_entry, run
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.store import BackupStore
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError

API_CANARY = "CANARYadminTOKEN0003"
JSON = {"Content-Type": "application/json"}


def params(data_dir, **overrides):
    """The module's options with their argument_spec defaults."""
    base = dict(data_dir=data_dir, transport="auto", verify=False, max_schema_version=3, api_url=None,
                api_token=None, validate_certs=True, timeout=10)
    base.update(overrides)
    return base


def test_files_listing_verified(tmp_path, dd):
    data_dir = dd.make(tmp_path)
    backup_id = BackupStore(data_dir).create()["id"]
    result = run(params(data_dir, verify=True))
    assert result["transport"] == "files" and result["latest_valid"] == backup_id
    assert result["backups"][0]["valid"] is True and result["backups"][0]["safety"] is False
    assert result["interrupted_restore"] is False and result["changed"] is False


def test_missing_data_dir_is_an_error(tmp_path):
    with pytest.raises(TaskError) as caught:
        run(params(str(tmp_path / "nope")))
    assert "does not exist" in caught.value.msg


def test_api_transport_needs_api_url(tmp_path, dd):
    with pytest.raises(TaskError) as caught:
        run(params(dd.make(tmp_path), transport="api"))
    assert "needs api_url" in caught.value.msg


def test_api_listing_marks_backups_not_on_this_host(tmp_path, dd, stub):
    stub.routes[("GET", "/healthz")] = (200, JSON, {"status": "ok"})
    stub.routes[("GET", "/api/system/backups")] = (200, JSON, {"backups": [
        {"id": "20260101T000000Z-abcdef", "createdAt": "2026-01-01T00:00:00Z", "schemaVersion": 3, "files": 4},
        "junk",
    ]})
    result = run(params(dd.make(tmp_path), api_url=stub.url, api_token=API_CANARY, verify=True))
    assert result["transport"] == "api" and len(result["backups"]) == 1
    assert result["backups"][0]["valid"] is None and "not on this host" in result["backups"][0]["problems"][0]


def test_api_error_is_a_listing_error_without_the_token(tmp_path, dd, stub):
    stub.routes[("GET", "/api/system/backups")] = lambda h, b: (
        500, JSON, {"error": {"code": "boom", "message": h.headers["Authorization"]}}
    )
    with pytest.raises(TaskError) as caught:
        run(params(dd.make(tmp_path), transport="api", api_url=stub.url, api_token=API_CANARY))
    assert "500 boom" in caught.value.msg and API_CANARY not in caught.value.msg


def test_interrupted_restore_warns(tmp_path, dd):
    data_dir = dd.make(tmp_path)
    with open(os.path.join(data_dir, ".restore-journal.json"), "w") as handle:
        handle.write('{"phase": "staging"}')
    warnings = []
    result = run(params(data_dir), warn=warnings.append)
    assert result["interrupted_restore"] is True and "interrupted restore" in warnings[0]


def test_backup_entry_of_a_bad_id_is_not_verified(tmp_path, dd):
    store = BackupStore(dd.make(tmp_path))
    entry = backup_entry({"id": "../etc", "files": [1, 2]}, store, verify=True)
    assert entry["files"] == 2 and entry["valid"] is None and entry["safety"] is False
