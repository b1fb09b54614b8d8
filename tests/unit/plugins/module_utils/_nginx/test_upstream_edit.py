"""One upstream server drained, restored, added, removed or given max_fails/fail_timeout: only its line changes;
unknown upstreams and servers, duplicates and draining the last active server are refused."""

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._nginx import upstream_edit
from ansible_collections.mcpops.runbooks.plugins.module_utils._nginx.conf_text import ConfError

SITE = """upstream cctelegram_mcp {
    server 10.0.1.11:8080 max_fails=2 fail_timeout=5s;  # mcp-01
    server 10.0.1.12:8080 max_fails=2 fail_timeout=5s;
    server 10.0.1.13:8080 backup;
}
upstream other { server 10.0.9.9:80; }
"""


def test_drain_then_restore_gives_back_the_same_bytes():
    drained, before, after, servers = upstream_edit.plan(SITE, "cctelegram_mcp", "10.0.1.12:8080", "drained")
    assert drained == SITE.replace("fail_timeout=5s;\n    server 10.0.1.13", "fail_timeout=5s down;\n    server 10.0.1.13")
    assert before["down"] is False and after["down"] is True and after["params"] == ["max_fails=2", "fail_timeout=5s"]
    assert [s["address"] for s in servers] == ["10.0.1.11:8080", "10.0.1.12:8080", "10.0.1.13:8080"]
    restored = upstream_edit.plan(drained, "cctelegram_mcp", "10.0.1.12:8080", "active")[0]
    assert restored == SITE
    assert upstream_edit.plan(drained, "cctelegram_mcp", "10.0.1.12:8080", "drained")[0] == drained


def test_present_adds_a_line_and_absent_removes_it():
    added, before, after, _ = upstream_edit.plan(SITE, "cctelegram_mcp", "10.0.1.14:8080", "present", 2, "5s")
    assert before is None and after["address"] == "10.0.1.14:8080"
    assert "    server 10.0.1.13:8080 backup;\n    server 10.0.1.14:8080 max_fails=2 fail_timeout=5s;\n}" in added
    assert upstream_edit.plan(added, "cctelegram_mcp", "10.0.1.14:8080", "absent")[0] == SITE
    assert upstream_edit.plan(SITE, "cctelegram_mcp", "10.0.1.14:8080", "absent")[:3] == (SITE, None, None)


def test_health_check_settings_replace_the_old_ones_and_keep_the_comment_and_the_drain():
    new = upstream_edit.plan(SITE, "cctelegram_mcp", "10.0.1.11:8080", "present", 3, "10s")[0]
    assert "    server 10.0.1.11:8080 max_fails=3 fail_timeout=10s;  # mcp-01\n" in new
    drained = upstream_edit.plan(SITE, "cctelegram_mcp", "10.0.1.11:8080", "drained")[0]
    kept = upstream_edit.plan(drained, "cctelegram_mcp", "10.0.1.11:8080", "present", None, "10s")[0]
    assert "server 10.0.1.11:8080 max_fails=2 fail_timeout=10s down;" in kept


@pytest.mark.parametrize("upstream, server, state, words", [
    ("nope", "10.0.1.11:8080", "drained", "no upstream 'nope' in this file (upstreams here: cctelegram_mcp, other)"),
    ("cctelegram_mcp", "10.0.1.99:8080", "drained", "not a server of upstream cctelegram_mcp (its servers: 10.0.1.11"),
    ("cctelegram_mcp", "10.0.1.99:8080", "active", "state=present adds it"),
    ("cctelegram_mcp", "10.0.1.11:8080", "sideways", "want one of drained"),
])
def test_unknown_upstream_server_or_state_is_a_clear_error(upstream, server, state, words):
    with pytest.raises(ConfError) as err:
        upstream_edit.plan(SITE, upstream, server, state)
    assert words in err.value.msg


def test_the_last_active_server_is_kept_unless_forced_and_duplicates_are_refused():
    one_left = upstream_edit.plan(SITE, "cctelegram_mcp", "10.0.1.11:8080", "drained")[0]
    for state in ("drained", "absent"):
        with pytest.raises(ConfError) as err:
            upstream_edit.plan(one_left, "cctelegram_mcp", "10.0.1.12:8080", state)
        assert "no active server (the others: 10.0.1.11:8080 (down), 10.0.1.13:8080 (backup))" in err.value.msg
    forced = upstream_edit.plan(one_left, "cctelegram_mcp", "10.0.1.12:8080", "drained", force=True)[0]
    assert forced.count(" down;") == 2
    twice = SITE.replace("backup;", "backup;\n    server 10.0.1.12:8080;")
    with pytest.raises(ConfError, match="appears 2 times"):
        upstream_edit.plan(twice, "cctelegram_mcp", "10.0.1.12:8080", "drained")
    commented = SITE.replace("server 10.0.1.12:8080 max_fails=2", "server 10.0.1.12:8080 # x\n max_fails=2")
    with pytest.raises(ConfError, match="comment inside"):
        upstream_edit.plan(commented, "cctelegram_mcp", "10.0.1.12:8080", "drained")
