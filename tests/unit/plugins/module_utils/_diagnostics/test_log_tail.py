"""The newest matching lines of a JSON-lines log, read from its end: errors by level, security events by event;
links and FIFOs refused."""

import json
import os

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._diagnostics.log_tail import is_error, is_security_event, matching_tail, tail_lines


def write_lines(path, records):
    path.write_text("".join((json.dumps(r) if isinstance(r, dict) else r) + "\n" for r in records))


def test_tail_lines_returns_the_last_lines_even_across_chunks(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("".join("line %05d %s\n" % (i, "x" * 100) for i in range(5000)))
    last = tail_lines(str(log), 3, 8 * 1024 * 1024)
    assert [line[:10] for line in last] == ["line 04997", "line 04998", "line 04999"]


def test_tail_lines_never_reads_past_max_bytes_and_drops_the_cut_line(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("".join("%04d\n" % i for i in range(1000)))  # 5 bytes a line
    assert tail_lines(str(log), 100, 12) == ["0998", "0999"]


def test_recent_errors_are_the_error_lines_among_the_last_n(tmp_path):
    log = tmp_path / "application.log"
    write_lines(log, [{"level": "ERROR", "message": "old"}] + [{"level": "INFO"}] * 7
                + [{"level": "ERROR", "message": "GET /health 503"}, {"level": "critical"}, "plain Error text"])
    lines, read = matching_tail(str(log), 10, lambda line: is_error(line, ["error", "critical"]), 1 << 20)
    assert read == 10
    assert [json.loads(x).get("message") if x.startswith("{") else x for x in lines] == [
        "GET /health 503", None, "plain Error text"]


def test_security_events_by_event(tmp_path):
    log = tmp_path / "security.log"
    write_lines(log, [{"event": "SECURITY"}, {"event": "RATE_LIMIT_EXCEEDED"}, {"event": "other", "message": "SECURITY"}])
    lines, _ = matching_tail(str(log), 5, lambda line: is_security_event(line, ["SECURITY"]), 1 << 20)
    assert [json.loads(x)["event"] for x in lines] == ["SECURITY"]


def test_a_link_or_fifo_is_refused(tmp_path):
    target = tmp_path / "real.log"
    target.write_text("x\n")
    os.symlink(target, tmp_path / "link.log")
    os.mkfifo(tmp_path / "fifo.log")
    with pytest.raises(OSError):
        tail_lines(str(tmp_path / "link.log"), 5, 100)
    with pytest.raises(OSError):
        tail_lines(str(tmp_path / "fifo.log"), 5, 100)
