"""gateway_backup_info's entry point called directly (no AnsibleModule): run() and backup_entry."""

import os

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.gateway_backup_info_run import backup_entry, run
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.store import BackupStore
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError

from backup_hostile import Canary, bounded, edit_manifest, fifo_unblocker, set_file_entry

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


# -- a hostile backups/ (issue 23): one bad backup is one invalid entry, the listing and latest_valid hold ----


def _backups(tmp_path, dd):
    """A data dir with an old good backup and a newer one to be damaged: (data_dir, good id, newer id)."""
    data_dir = dd.make(tmp_path)
    store = BackupStore(data_dir)
    good = store.create("20260101T000000Z-000001")["id"]
    newer = store.create("20260102T000000Z-000002")["id"]
    for backup_id, created in ((good, "2026-01-01T00:00:00Z"), (newer, "2026-01-02T00:00:00Z")):
        edit_manifest(os.path.join(store.backups_dir, backup_id), lambda m, c=created: m.update(createdAt=c))
    return data_dir, good, os.path.join(store.backups_dir, newer)


def test_a_manifest_of_nested_brackets_leaves_the_listing_and_latest_valid_standing(tmp_path, dd):
    """The issue's case: RecursionError took the whole listing down, so INC-003 could restore nothing."""
    data_dir, good, newer = _backups(tmp_path, dd)
    with open(os.path.join(newer, "manifest.json"), "w") as handle:
        handle.write('{"files": ' + "[" * 500000)
    result = run(params(data_dir, transport="files", verify=True))
    assert result["latest_valid"] == good
    by_id = {entry["id"]: entry for entry in result["backups"]}
    bad = by_id[os.path.basename(newer)]
    assert bad["valid"] is False and "nested too deeply" in bad["problems"][0] and by_id[good]["valid"] is True


def test_a_linked_data_file_never_leaks_the_target_into_the_result(tmp_path, dd):
    data_dir, good, newer = _backups(tmp_path, dd)
    canary = Canary(tmp_path / "outside")
    target = os.path.join(newer, "data", "tokens.json")
    os.unlink(target)
    os.symlink(canary.path, target)
    set_file_entry(newer, "tokens.json", len(canary.data), canary.sha256)
    result = run(params(data_dir, transport="files", verify=True))
    assert result["latest_valid"] == good
    assert result["backups"][0]["problems"] == [
        "unsafe_file: tokens.json: a link, not a regular file (links are never followed)"]
    # the manifest's own sizeBytes is what it says (the attacker's numbers), never a stat of the target
    canary.assert_not_in({k: v for k, v in result.items() if k != "backups"}, result["backups"][0]["problems"])
    canary.assert_untouched()


def test_a_fifo_in_a_backup_lists_within_a_bound(tmp_path, dd):
    data_dir, good, newer = _backups(tmp_path, dd)
    fifo = os.path.join(newer, "data", "audit.jsonl")
    os.unlink(fifo)
    os.mkfifo(fifo)
    result = bounded(lambda: run(params(data_dir, transport="files", verify=True)), unblock=fifo_unblocker(fifo))
    assert result["latest_valid"] == good
    assert result["backups"][0]["problems"] == ["unsafe_file: audit.jsonl: not a regular file (a FIFO)"]


def test_a_linked_backups_dir_fails_loudly(tmp_path, dd):
    data_dir = dd.make(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    os.symlink(str(other), os.path.join(data_dir, "backups"))
    with pytest.raises(TaskError) as caught:
        run(params(data_dir, transport="files", verify=True))
    assert "backups: a link, not a directory (links are never followed)" in caught.value.msg


def test_problems_are_capped_in_the_result(tmp_path, dd):
    data_dir, good, newer = _backups(tmp_path, dd)
    edit_manifest(newer, lambda m: m["files"].extend(
        {"path": "gone/%06d.bin" % i, "size": 1, "sha256": "00"} for i in range(20000)))
    result = run(params(data_dir, transport="files", verify=True))
    problems = result["backups"][0]["problems"]
    assert len(problems) == 21 and problems[-1] == "more_problems: 19980 more problems not listed (20000 in all)"
    assert len(repr(result)) < 20000 and result["latest_valid"] == good
