"""TaskError: the one error a module's work raises."""

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError


def test_message_and_result_are_kept_and_the_result_is_a_copy():
    facts = {"backup_id": "20261123T020000Z-a1b2c3"}
    exc = TaskError("restore refused: the gateway answers", facts)
    facts["backup_id"] = "changed afterwards"
    assert str(exc) == exc.msg == "restore refused: the gateway answers"
    assert exc.result == {"backup_id": "20261123T020000Z-a1b2c3"}
    assert exc.library is None and exc.reason is None and exc.exception is None


def test_no_result_is_an_empty_dict():
    assert TaskError("bad input").result == {}


def test_a_missing_library_is_named_with_its_reason_and_traceback():
    exc = TaskError("no driver", library="psycopg", reason="to talk to PostgreSQL", exception="Traceback ...")
    assert (exc.library, exc.reason, exc.exception) == ("psycopg", "to talk to PostgreSQL", "Traceback ...")
