"""runbook_summary's lines: what the report and AWX's artifacts get (the action's run() is covered through
ansible-runner in tests/integration/collection/test_awx.py)."""

from ansible_collections.mcpops.runbooks.plugins.action.runbook_summary import STAT_NAME, summary_lines


def test_a_single_message_is_one_line_and_a_list_keeps_its_lines():
    assert summary_lines("all good") == ["all good"]
    assert summary_lines(["a", 2, None]) == ["a", "2", "None"]


def test_the_stat_is_the_one_the_awx_notification_templates_read():
    from mcpops.run.awx_export import render_export

    assert "job.artifacts.%s" % STAT_NAME in render_export()
