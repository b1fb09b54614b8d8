"""gateway_backup's entry point called directly (no AnsibleModule): run() and the TaskError it raises."""

import json
import os

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.data_dir_lock import DataDirLock
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.gateway_backup_run import run, summary
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.store import BackupStore
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError

from backup_hostile import Canary, bounded, fifo_unblocker, safe_snapshot, set_file_entry

API_CANARY = "CANARYadminTOKEN0002"
JSON = {"Content-Type": "application/json"}


def params(data_dir, **overrides):
    """The module's options with their argument_spec defaults."""
    base = dict(
        state="present", data_dir=data_dir, backup_id=None, transport="auto", api_url=None, api_token=None,
        validate_certs=True, timeout=10, force=False, max_schema_version=3, keep_last=None, max_age_days=None,
    )
    base.update(overrides)
    return base


class FakeGateway:
    """A GatewayClient stand-in: answers or not, records backups it was asked for."""

    base_url = "http://127.0.0.1:9"

    def __init__(self, up=True):
        self.up = up
        self.created = 0

    def answers(self):
        return self.up

    def create_backup(self):
        self.created += 1
        return {"id": "20260101T000000Z-abcdef", "createdAt": "2026-01-01T00:00:00Z", "schemaVersion": 3,
                "files": 7, "sizeBytes": 123}


@pytest.fixture
def broken(tmp_path, dd):
    """A data dir with one good backup and tokens.json corrupted since: (data_dir, backup_id)."""
    data_dir = dd.make(tmp_path)
    backup_id = BackupStore(data_dir).create()["id"]
    with open(os.path.join(data_dir, "tokens.json"), "w") as handle:
        handle.write("{")
    return data_dir, backup_id


def restored(data_dir, **overrides):
    return params(data_dir, state="restored", backup_id="latest_valid", **overrides)


# -- present ---------------------------------------------------------------


def test_present_on_files_is_idempotent(tmp_path, dd):
    data_dir = dd.make(tmp_path)
    made = run(params(data_dir, transport="files"))
    assert made["changed"] is True and made["transport"] == "files" and made["backup"]["files"] == len(dd.OLD_DATA)
    again = run(params(data_dir, transport="files"))
    assert again["changed"] is False and again["backup_id"] == made["backup_id"]


def test_present_check_mode_writes_nothing(tmp_path, dd):
    data_dir = dd.make(tmp_path)
    before = dd.snapshot(str(tmp_path))
    result = run(params(data_dir, transport="files"), check_mode=True)
    assert result == {"changed": True, "recovered": None, "transport": "files", "backup_id": None}
    assert dd.snapshot(str(tmp_path)) == before


def test_present_auto_uses_the_api_when_the_gateway_answers(tmp_path, dd):
    gateway = FakeGateway(up=True)
    result = run(params(dd.make(tmp_path), api_url="http://x"), client=gateway)
    assert result["transport"] == "api" and result["backup_id"] == "20260101T000000Z-abcdef"
    assert result["backup"]["sizeBytes"] == 123 and gateway.created == 1


def test_present_api_needs_api_url(tmp_path, dd):
    with pytest.raises(TaskError) as caught:
        run(params(dd.make(tmp_path), transport="api"))
    assert "needs api_url" in caught.value.msg and caught.value.result["changed"] is False


def test_present_on_files_refused_while_the_lock_is_held(tmp_path, dd):
    data_dir = dd.make(tmp_path)
    with DataDirLock(data_dir):
        with pytest.raises(TaskError) as caught:
            run(params(data_dir, transport="files"))
    assert ".gateway.lock" in caught.value.msg and caught.value.result["transport"] == "files"


def test_summary_of_a_manifest_counts_files():
    manifest = {"id": "b", "createdAt": "t", "schemaVersion": 3, "files": [{"size": 2}, {"size": 5}]}
    assert summary(manifest) == {"id": "b", "createdAt": "t", "schemaVersion": 3, "files": 2, "sizeBytes": 7}


# -- restored ----------------------------------------------------------------


def test_restored_real_run_restores(broken, dd):
    data_dir, backup_id = broken
    result = run(restored(data_dir))
    assert result["changed"] is True and result["backup_id"] == backup_id and result["safety_backup_id"]
    assert result["files_changed"] == {"added": [], "changed": ["tokens.json"], "removed": []}
    assert dd.data_snapshot(data_dir)["tokens.json"] == dd.OLD_DATA["tokens.json"].encode()


def test_restored_real_run_refuses_while_the_gateway_answers(broken, dd):
    data_dir, _ = broken
    before = dd.snapshot(data_dir)
    warnings = []
    with pytest.raises(TaskError) as caught:
        run(restored(data_dir, api_url="http://x"), warn=warnings.append, client=FakeGateway(up=True))
    assert "answers at http://127.0.0.1:9/healthz: stop it before restoring" in caught.value.msg
    assert caught.value.result == {"changed": False, "recovered": None}
    assert warnings == [] and dd.snapshot(data_dir) == before


def test_restored_real_run_refuses_while_the_lock_is_held(broken, dd):
    data_dir, _ = broken
    before = dd.data_snapshot(data_dir)
    with DataDirLock(data_dir):
        with pytest.raises(TaskError) as caught:
            run(restored(data_dir))
    assert "holds %s/.gateway.lock: stop it before restoring" % data_dir in caught.value.msg
    assert dd.data_snapshot(data_dir) == before


def test_restored_check_mode_warns_while_the_gateway_answers_and_reports_the_plan(broken, dd):
    data_dir, backup_id = broken
    before = dd.snapshot(data_dir)
    warnings = []
    result = run(
        restored(data_dir, api_url="http://x"), check_mode=True, diff=True, warn=warnings.append,
        client=FakeGateway(up=True),
    )
    assert warnings == [
        "the gateway answers at http://127.0.0.1:9: a real run must stop it first (INC-003 step 1)"
    ]
    assert result["changed"] is True and result["backup_id"] == backup_id and result["safety_backup_id"] is None
    assert result["files_changed"]["changed"] == ["tokens.json"]
    assert result["diff"]["before"]["files"] != result["diff"]["after"]["files"]
    assert dd.snapshot(data_dir) == before


def test_restored_check_mode_warns_while_the_lock_is_held_and_reports_the_plan(broken, dd):
    data_dir, backup_id = broken
    warnings = []
    with DataDirLock(data_dir):
        before = dd.snapshot(data_dir)
        result = run(restored(data_dir), check_mode=True, diff=True, warn=warnings.append)
        assert dd.snapshot(data_dir) == before
    assert warnings == [
        "the gateway (or another restore) holds %s/.gateway.lock: a real run must stop it first "
        "(INC-003 step 1)" % data_dir
    ]
    assert result["backup_id"] == backup_id and result["files_changed"]["changed"] == ["tokens.json"]
    assert "diff" in result


def test_restored_check_mode_still_refuses_a_bad_backup_after_warning(tmp_path, dd):
    data_dir = dd.make(tmp_path)
    warnings = []
    with pytest.raises(TaskError) as caught:
        run(restored(data_dir, api_url="http://x"), check_mode=True, warn=warnings.append,
                        client=FakeGateway(up=True))
    assert "no valid backup" in caught.value.msg and len(warnings) == 1


def test_restored_with_force_warns_and_restores_while_the_gateway_answers(broken):
    data_dir, backup_id = broken
    warnings = []
    result = run(restored(data_dir, api_url="http://x", force=True), warn=warnings.append,
                             client=FakeGateway(up=True))
    assert result["backup_id"] == backup_id and result["safety_backup_id"]
    assert warnings == ["restoring while the gateway answers at http://127.0.0.1:9 (force: true)"]


@pytest.mark.parametrize("bad_id", ["../x", "/abs", "a" * 200])
def test_bad_backup_id_refused_before_anything(tmp_path, dd, bad_id):
    data_dir = dd.make(tmp_path)
    before = dd.snapshot(str(tmp_path))
    with pytest.raises(TaskError) as caught:
        run(params(data_dir, state="restored", backup_id=bad_id))
    assert "invalid backup id" in caught.value.msg
    assert dd.snapshot(str(tmp_path)) == before


def test_tokens_never_in_check_mode_warnings_or_refusals(broken, stub):
    """A real GatewayClient against a loopback stub, api_token a canary."""
    stub.routes[("GET", "/healthz")] = (200, JSON, {"status": "ok", "echo": API_CANARY})
    data_dir, _ = broken
    warnings = []
    result = run(restored(data_dir, api_url=stub.url, api_token=API_CANARY), check_mode=True,
                             warn=warnings.append)
    with pytest.raises(TaskError) as caught:
        run(restored(data_dir, api_url=stub.url, api_token=API_CANARY), warn=warnings.append)
    assert warnings and "answers at %s" % stub.url in warnings[0]
    for text in [repr(result), caught.value.msg, repr(caught.value.result)] + warnings:
        assert API_CANARY not in text


# -- absent --------------------------------------------------------------------


def test_absent_needs_a_rule(tmp_path, dd):
    with pytest.raises(TaskError) as caught:
        run(params(dd.make(tmp_path), state="absent"))
    assert "keep_last and/or max_age_days" in caught.value.msg


def test_absent_check_mode_lists_without_removing(tmp_path, dd):
    data_dir = dd.make(tmp_path)
    store = BackupStore(data_dir)
    old = store.create("20200101T000000Z-aaaaaa")["id"]
    newest = store.create()["id"]
    planned = run(params(data_dir, state="absent", keep_last=1), check_mode=True)
    assert planned["removed"] == [old] and planned["changed"] is True
    assert {entry["id"] for entry in store.list()} == {old, newest}
    pruned = run(params(data_dir, state="absent", keep_last=1))
    assert pruned["removed"] == [old] and [entry["id"] for entry in store.list()] == [newest]


# -- an interrupted restore is recovered first -------------------------------


def test_check_mode_reports_an_interrupted_restore_without_recovering(tmp_path, dd):
    data_dir = dd.make(tmp_path)
    with open(os.path.join(data_dir, ".restore-journal.json"), "w") as handle:
        handle.write('{"phase": "staging", "backup_id": "x"}')
    result = run(params(data_dir, state="absent", keep_last=3), check_mode=True)
    assert result["recovered"] == {"action": "would_recover", "backup_id": None, "phase": None}
    assert result["changed"] is True and os.path.exists(os.path.join(data_dir, ".restore-journal.json"))


# -- a hostile data dir through run() (issue 23) -------------------------------------------------------


@pytest.mark.parametrize("state", ["present", "restored", "absent"])
def test_a_crafted_journal_fails_every_state_and_deletes_nothing(tmp_path, dd, state):
    """The issue's case: any gateway_backup run recovers first, and a journal naming dirs outside had them deleted."""
    data_dir = dd.make(tmp_path)
    victim = tmp_path / "victim"
    (victim / "keep").mkdir(parents=True)
    (victim / "keep" / "precious.txt").write_text("x")
    journal = {"version": 2, "backupId": "20260101T000000Z-abcdef", "phase": "staging", "staging": str(victim),
               "old": "../../victim", "newEntries": [], "files": []}
    with open(os.path.join(data_dir, ".restore-journal.json"), "w") as handle:
        json.dump(journal, handle)
    before = safe_snapshot(str(tmp_path))
    with pytest.raises(TaskError) as caught:
        run(params(data_dir, state=state, transport="files", backup_id="latest_valid", keep_last=3))
    assert "refused, nothing was removed or moved" in caught.value.msg
    after = safe_snapshot(str(tmp_path))
    after.pop(os.path.join("data", ".gateway.lock"))  # recovery takes the data dir lock first
    assert after == before


def test_a_fifo_lock_fails_the_run_instead_of_hanging(tmp_path, dd):
    data_dir = dd.make(tmp_path)
    BackupStore(data_dir).create()
    lock = os.path.join(data_dir, ".gateway.lock")
    os.mkfifo(lock)
    for state in ("present", "restored"):
        with pytest.raises(TaskError) as caught:
            bounded(lambda: run(params(data_dir, state=state, transport="files", backup_id="latest_valid")),
                    unblock=fifo_unblocker(lock))
        assert "%s: not a regular file (a FIFO)" % lock in caught.value.msg


def test_present_refuses_a_link_in_the_data_and_copies_nothing(tmp_path, dd):
    data_dir = dd.make(tmp_path)
    canary = Canary(tmp_path / "outside")
    os.unlink(os.path.join(data_dir, "tokens.json"))
    os.symlink(canary.path, os.path.join(data_dir, "tokens.json"))
    with pytest.raises(TaskError) as caught:
        run(params(data_dir, transport="files"))
    assert "tokens.json: a link, not a regular file" in caught.value.msg
    canary.assert_not_in(caught.value.msg, caught.value.result)
    canary.assert_not_copied_into(data_dir)


def test_restored_never_restores_a_link_to_outside(broken, tmp_path, dd):
    data_dir, backup_id = broken
    canary = Canary(tmp_path / "outside")
    backup = os.path.join(data_dir, "backups", backup_id)
    os.unlink(os.path.join(backup, "data", "tokens.json"))
    os.symlink(canary.path, os.path.join(backup, "data", "tokens.json"))
    set_file_entry(backup, "tokens.json", len(canary.data), canary.sha256)
    for backup_choice in ("latest_valid", backup_id):
        with pytest.raises(TaskError) as caught:
            run(params(data_dir, state="restored", backup_id=backup_choice))
        canary.assert_not_in(caught.value.msg, caught.value.result)
    canary.assert_not_copied_into(data_dir)
