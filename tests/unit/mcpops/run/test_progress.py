"""The progress view of `mcpops run` fed with ansible-runner-shaped events."""

import io
import secrets

from mcpops.run.progress import Progress

EVENTS = [
    {"event": "playbook_on_play_start", "event_data": {"play": "INC-003"}},
    {"event": "playbook_on_task_start", "event_data": {"task": "Step 1: Stop the gateway"}},
    {"event": "runner_on_ok", "event_data": {"host": "gw1", "task": "Step 1: Stop the gateway", "res": {"changed": True}}},
    {"event": "runner_on_failed", "event_data": {"host": "gw2", "task": "Step 1: Stop the gateway",
                                                  "res": {"msg": "refused with Bearer %s" % secrets.token_urlsafe(30)}}},
    {"event": "runner_on_unreachable", "event_data": {"host": "gw3", "task": "Step 1: Stop the gateway",
                                                       "res": {"msg": "ssh: connect to host 127.0.0.1 port 1: Connection refused"}}},
    {"event": "playbook_on_stats", "event_data": {}},
]


def feed(tty):
    out = io.StringIO()
    progress = Progress(out=out, tty=tty)
    assert all(progress.on_event(e) is True for e in EVENTS)  # every event is kept by ansible-runner
    progress.close()
    return out.getvalue()


def test_plain_lines_when_not_a_terminal():
    text = feed(tty=False)
    assert "\r" not in text and "\x1b[" not in text
    lines = text.splitlines()
    assert lines[0] == "PLAY INC-003"
    assert "changed     gw1              Step 1: Stop the gateway" in lines[1]
    assert "failed      gw2" in lines[2] and "Bearer ********" in lines[3]
    assert "unreachable gw3" in lines[4] and "Connection refused" in lines[5]


def test_a_terminal_gets_a_status_line_rewritten_in_place_and_colours():
    text = feed(tty=True)
    assert "\r\x1b[K... Step 1: Stop the gateway" in text
    assert "\x1b[33mchanged" in text and "\x1b[31mfailed" in text
    assert text.endswith("\r\x1b[K") or text.endswith("\n")
