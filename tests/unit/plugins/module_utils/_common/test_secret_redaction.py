"""_common/secret_redaction.py: secret text out of a returned value, in keys, lists and messages."""

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.secret_redaction import redact, redact_text

CANARY = "CANARY-admin-token-7f3a9c"


def test_redact_text_only_touches_text():
    assert redact_text("token %s refused" % CANARY, CANARY) == "token ******** refused"
    assert redact_text(None, CANARY) is None and redact_text(401, CANARY) == 401
    assert redact_text("no secret set", None) == "no secret set"


def test_redact_walks_keys_lists_and_leaves_other_values():
    assert redact({"k-s": ["a s", 1, None]}, ["s"]) == {"k-********": ["a ********", 1, None]}
    assert redact({"body": {"echo": "key=" + CANARY}}, [CANARY]) == {"body": {"echo": "key=********"}}
