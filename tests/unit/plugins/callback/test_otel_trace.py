"""plugins/callback/otel_trace.py's plain parts: a result's outcome, the OTLP headers' values, a failure's message
masked and bounded (the spans themselves: tests/integration/mcpops/test_run_tracing.py)."""

from ansible_collections.mcpops.runbooks.plugins.callback.otel_trace import (
    MESSAGE_LIMIT, failure_message, header_values, outcome)
from ansible_collections.mcpops.runbooks.plugins.plugin_utils.secret_mask import SecretMasker


def test_outcome_is_the_recaps():
    assert outcome("ok", {"changed": False}) == "ok"
    assert outcome("ok", {"changed": True}) == "changed"
    assert [outcome(h, {"changed": True}) for h in ("failed", "skipped", "unreachable")] == ["failed", "skipped", "unreachable"]


def test_header_values():
    assert header_values({"OTEL_EXPORTER_OTLP_HEADERS": "a=1x,b=,c"}) == ["1x"]


def test_failure_message_masked_bounded_and_hidden_under_no_log():
    masker = SecretMasker(["known-secret-value"])
    assert failure_message({"msg": "refused known-secret-value"}, masker) == "refused ********"
    assert failure_message({"msg": "token Bearer abc.def"}, masker) == "token Bearer ********"
    assert failure_message({"msg": "x" * 1000}, masker) == "x" * (MESSAGE_LIMIT - 3) + "..."
    assert failure_message({"msg": "known-secret-value", "_ansible_no_log": True}, masker) == "hidden (no_log)"
    assert failure_message({}, masker) == "failed"
