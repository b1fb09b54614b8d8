"""_notify/sent_record.py: the record of what was sent under a dedupe key (0600, in a 0700 dir, no secret), read
back as written, and a record that is not one refused with the way out."""

import json
import os
import stat

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._notify import sent_record


def test_a_saved_record_is_loaded_back_and_other_keys_have_none(tmp_path):
    state = str(tmp_path / "state")
    sent_record.prepare(state)
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o700
    rid = sent_record.receiver_id("telegram", "http://h/bot***/sendMessage", "-100")
    path = sent_record.save(state, "INC-1/resolved", {rid: {"name": "tg", "status": 200, "sent_at": "T"}})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert sent_record.load(state, "INC-1/resolved") == {rid: {"name": "tg", "status": 200, "sent_at": "T"}}
    assert sent_record.load(state, "INC-1/monitoring") == {}
    assert os.listdir(state) == [os.path.basename(path)]


def test_a_record_of_another_key_or_not_json_is_refused(tmp_path):
    state = str(tmp_path)
    path = sent_record.record_path(state, "k")
    with open(path, "w") as handle:
        json.dump({"dedupe_key": "other", "sent": {}}, handle)
    with pytest.raises(sent_record.RecordError, match=r"\(not a record of this dedupe key\); remove it to send again"):
        sent_record.load(state, "k")
    with open(path, "w") as handle:
        handle.write("{")
    with pytest.raises(sent_record.RecordError, match="is not a sent record"):
        sent_record.load(state, "k")


def test_a_state_dir_that_is_a_file_is_refused_before_anything_is_sent(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(sent_record.RecordError, match="cannot be made"):
        sent_record.prepare(str(blocker))
