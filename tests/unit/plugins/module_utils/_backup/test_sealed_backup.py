import os

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.gateway_backup_run import run
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.store import BackupStore
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError

CANARY = b"CANARY-sealed-0004"


def params(data_dir, **kw):
    base = dict(state="restored", data_dir=data_dir, backup_id="latest_valid", transport="auto", api_url=None,
                api_token=None, validate_certs=True, timeout=10, force=False, max_schema_version=3, keep_last=None,
                max_age_days=None, forensic_key_file=None)
    base.update(kw)
    return base


def make_key(tmp_path, name="forensic.key"):
    path = tmp_path / name
    path.write_text(os.urandom(32).hex())
    os.chmod(path, 0o600)
    return str(path)


def all_bytes(root):
    found = b""
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            with open(os.path.join(dirpath, name), "rb") as handle:
                found += handle.read()
    return found


@pytest.fixture
def planted(tmp_path, dd):
    """A data dir with a canary in its audit log, one good backup, then one more audit line."""
    data_dir = dd.make(tmp_path)
    with open(os.path.join(data_dir, "audit.jsonl"), "ab") as handle:
        handle.write(b'{"event": "x", "note": "' + CANARY + b'"}\n')
    backup_id = BackupStore(data_dir).create()["id"]
    with open(os.path.join(data_dir, "audit.jsonl"), "ab") as handle:
        handle.write(b'{"event": "later"}\n')
    return data_dir, backup_id


def test_sealed_safety_backup_holds_no_plaintext_and_restores_with_the_key(tmp_path, dd, planted):
    data_dir, backup_id = planted
    key = make_key(tmp_path)
    replaced = dd.data_snapshot(data_dir)
    result = run(params(data_dir, forensic_key_file=key))
    safety = result["safety_backup_id"]
    assert result["safety_backup_sealed"] is True and result["backup_id"] == backup_id
    backups = os.path.join(data_dir, "backups")
    assert not os.path.exists(os.path.join(backups, safety))  # no clear copy of the old data
    sealed = os.path.join(backups, ".sealed", safety)
    assert CANARY not in all_bytes(os.path.join(sealed, "data"))
    assert os.stat(sealed).st_mode & 0o777 == 0o700 and os.stat(os.path.join(backups, ".sealed")).st_mode & 0o777 == 0o700
    for dirpath, _dirs, files in os.walk(os.path.join(sealed, "data")):
        assert all(os.stat(os.path.join(dirpath, f)).st_mode & 0o777 == 0o600 for f in files)
    assert [e["id"] for e in BackupStore(data_dir).list()] == [backup_id]  # never listed as a backup
    assert [e["id"] for e in BackupStore(data_dir).sealed_backups()] == [safety]

    other = make_key(tmp_path, "other.key")
    before = dd.snapshot(data_dir)
    with pytest.raises(TaskError, match="another forensic key"):
        run(params(data_dir, backup_id=safety, forensic_key_file=other))
    with pytest.raises(TaskError, match="give forensic_key_file"):
        run(params(data_dir, backup_id=safety))
    assert dd.snapshot(data_dir) == before

    back = run(params(data_dir, backup_id=safety, forensic_key_file=key))
    assert back["changed"] and back["safety_backup_sealed"] is True
    assert dd.data_snapshot(data_dir) == replaced
    assert not [n for n in os.listdir(os.path.join(backups, ".sealed")) if n.startswith(".")]


def test_a_damaged_sealed_file_is_refused_and_nothing_changes(tmp_path, dd, planted):
    data_dir, _backup_id = planted
    key = make_key(tmp_path)
    safety = run(params(data_dir, forensic_key_file=key))["safety_backup_id"]
    target = os.path.join(data_dir, "backups", ".sealed", safety, "data", "tokens.json")
    with open(target, "r+b") as handle:
        handle.seek(60)
        byte = handle.read(1)
        handle.seek(60)
        handle.write(bytes([byte[0] ^ 1]))
    data_before = dd.data_snapshot(data_dir)
    with pytest.raises(TaskError, match="does not open"):
        run(params(data_dir, backup_id=safety, forensic_key_file=key))
    assert dd.data_snapshot(data_dir) == data_before
    assert len(BackupStore(data_dir).sealed_backups()) == 1  # no second safety copy of a refused restore


def test_check_mode_plans_a_sealed_restore_and_touches_nothing(tmp_path, dd, planted):
    data_dir, _backup_id = planted
    key = make_key(tmp_path)
    safety = run(params(data_dir, forensic_key_file=key))["safety_backup_id"]
    before = dd.snapshot(data_dir)
    result = run(params(data_dir, backup_id=safety, forensic_key_file=key), check_mode=True)
    assert result["changed"] and result["files_changed"]["changed"] == ["audit.jsonl"]
    assert dd.snapshot(data_dir) == before


def test_a_bad_key_file_is_refused_before_anything(tmp_path, dd, planted):
    data_dir, _backup_id = planted
    key = make_key(tmp_path)
    os.chmod(key, 0o644)
    before = dd.snapshot(data_dir)
    with pytest.raises(TaskError, match="chmod 600") as caught:
        run(params(data_dir, forensic_key_file=key))
    assert open(key).read() not in caught.value.msg
    assert dd.snapshot(data_dir) == before
