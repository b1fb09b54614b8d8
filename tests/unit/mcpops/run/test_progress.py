"""The progress view of `mcpops run` fed with ansible-runner-shaped events."""

import io
import re
import secrets

from mcpops.run.progress import Progress

SECRET = secrets.token_urlsafe(30)
EVENTS = [
    {"event": "playbook_on_play_start", "event_data": {"play": "INC-003"}},
    {"event": "playbook_on_task_start", "event_data": {"task": "Step 1: Stop the gateway"}},
    {"event": "runner_on_ok", "event_data": {"host": "gw1", "task": "Step 1: Stop the gateway", "res": {"changed": True}}},
    {"event": "runner_on_failed", "event_data": {"host": "gw2", "task": "Step 1: Stop the gateway",
                                                  "res": {"msg": "refused with Bearer %s" % SECRET}}},
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
    assert len(lines) == 6 and SECRET not in text
    assert re.fullmatch(r"\d\d:\d\d:\d\d  changed     gw1              Step 1: Stop the gateway", lines[1])
    assert lines[3] == " " * 11 + "refused with Bearer ********"


def test_a_terminal_gets_a_live_status_line_and_colours(monkeypatch):
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("NO_COLOR", raising=False)
    text = feed(tty=True)
    assert "Step 1: Stop the gateway" in text.split("gw1")[0]  # the status line names the task before its first result
    assert "\x1b[33mchanged" in text and "\x1b[31mfailed" in text  # rich's yellow and red
    assert "\x1b[?25l" in text  # the live line hides the cursor; at the end it gives it back and erases the line
    assert text.rsplit("\x1b[?25h", 1)[1].endswith("\x1b[2K")
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
    assert "PLAY INC-003" in plain and "Bearer ********" in plain and "Connection refused" in plain
    assert SECRET not in text


def test_a_terminal_prints_host_text_as_it_is_never_as_markup(monkeypatch):
    monkeypatch.setenv("TERM", "xterm-256color")
    out = io.StringIO()
    progress = Progress(out=out, tty=True)
    progress.on_event({"event": "playbook_on_task_start", "event_data": {"task": "Step [bold]1[/]"}})
    progress.on_event({"event": "runner_on_failed", "event_data": {
        "host": "gw[1]", "task": "Step [bold]1[/]", "res": {"msg": "unbalanced [/] and [link=http://x]y"}}})
    progress.close()
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue())
    assert "gw[1]" in plain and "Step [bold]1[/]" in plain and "unbalanced [/] and [link=http://x]y" in plain


def test_without_a_terminal_or_with_a_dumb_one_the_lines_are_plain(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setenv("TERM", "dumb")
    assert Progress(out=Tty()).tty is False
    assert Progress(out=io.StringIO()).tty is False
    monkeypatch.setenv("TERM", "xterm")
    assert Progress(out=Tty()).tty is True
