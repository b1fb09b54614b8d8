import re

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.backup_id import (
    BackupIdError,
    is_safety_backup_id,
    new_backup_id,
    new_safety_backup_id,
    validate_backup_id,
)

BAD_IDS = ["../x", "/abs", "", "a" * 200, "b\u00e4ckup", ".hidden", "..", "a/b", "a\n", "-lead", "a b", "x" * 129]


@pytest.mark.parametrize("value", BAD_IDS)
def test_bad_ids_are_refused_with_a_clear_error(value):
    with pytest.raises(BackupIdError) as exc:
        validate_backup_id(value)
    assert "backup id" in str(exc.value)


@pytest.mark.parametrize("value", ["20261123T020000Z-a1b2c3", "a", "x" * 128, "A.b_c-d", "0.."])
def test_good_ids_pass(value):
    assert validate_backup_id(value) == value


def test_non_string_refused():
    with pytest.raises(BackupIdError):
        validate_backup_id(None)


def test_new_ids_follow_conventions():
    assert re.match(r"^\d{8}T\d{6}Z-[0-9a-f]{6}$", new_backup_id())
    safety = new_safety_backup_id()
    assert re.match(r"^\d{8}T\d{6}Z-pre-restore-[0-9a-f]{6}$", safety)
    assert is_safety_backup_id(safety) and not is_safety_backup_id(new_backup_id())
    validate_backup_id(safety)
