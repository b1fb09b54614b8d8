"""_applog/log_grep.py: the host's grep names a range's candidate lines and the lines whose head the bytes path could
not read, and a scan through it gives exactly what parsing every line gives: on test_log_findings_bytes_path's log
(every odd line it has, small reads so that lines cross blocks, windows that cut blocks), with grep in one range and
in several, and when grep is missing, fails half way or says something that does not line up (the Python searches
take over). The regexes it is given match what the Python searches match, checked by grep itself."""

import os
import random
import re
import subprocess

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._applog import log_grep, log_ranges
from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_fast_scan import _TS
from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_prefilter import ere_literal

from test_log_findings_bytes_path import scan, write_log

GREP = log_grep.grep_program()
pytestmark = pytest.mark.skipif(GREP is None, reason="no grep on this host")


def grep_names(pattern, lines):
    """The indexes of lines grep -E names with pattern (as log_grep runs it: bytes, LC_ALL=C)."""
    done = subprocess.run([GREP, "-a", "-n", "-E", "-e", pattern], input=b"\n".join(lines) + b"\n",
                          capture_output=True, env={"LC_ALL": "C"}, check=False)
    assert done.returncode in (0, 1), done.stderr
    return {int(line.split(b":", 1)[0]) - 1 for line in done.stdout.splitlines()}


def test_ere_literal_matches_exactly_the_text():
    rng = random.Random(3)
    alphabet = [bytes((c,)) for c in range(32, 127) if c not in b'"\\/']
    for _ in range(40):
        text = b"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6)))
        lines = [b"".join(rng.choice(alphabet + [text, text.swapcase()]) for _ in range(8)) for _ in range(60)]
        assert grep_names(ere_literal(text), lines) == {i for i, line in enumerate(lines) if text in line}, text
        assert grep_names(ere_literal(text.lower(), fold=True), lines) == {
            i for i, line in enumerate(lines) if text.lower() in line.lower()}, text


def test_odd_head_names_every_line_the_bytes_path_cannot_read_by_its_head():
    head = re.compile(rb'\{"timestamp": ?' + rb'"' + _TS)
    good = [b'{"timestamp": "2026-11-23T10:00:00.123Z", "level": "INFO"}', b'{"timestamp":"2026-11-23T10:00:00.123Z"}']
    lines = list(good) + [b"", b"   ", b"[1]", b'{"ts": "2026-11-23T10:00:00.123Z"}']
    for line in good:  # every way a head can go wrong: cut short at each byte, each byte changed
        for cut in range(len(line)):
            lines.append(line[:cut])
            for other in (b"x", b"0", b" ", b'"', b"Z"):
                lines.append(line[:cut] + other + line[cut + 1:])
    lines.append(b'{"timestamp":  "2026-11-23T10:00:00.123Z"}')  # two spaces
    expected = {i for i, line in enumerate(lines) if not head.match(line)}
    assert grep_names(log_grep.odd_head_ere(b"timestamp"), lines) == expected
    assert 0 not in expected and 1 not in expected


@pytest.fixture
def small(monkeypatch):
    """grep for any range however small, reads of 64 KiB (lines cross blocks), and a count of what grep said."""
    monkeypatch.setattr(log_grep, "MIN_BYTES", 0)
    monkeypatch.setattr(log_ranges, "BLOCK_SIZE", 64 * 1024)
    said = {"lines": 0, "segments": 0, "none": 0}
    real = log_grep.GrepLines.numbered

    def numbered(self, *args):
        found = real(self, *args)
        said["segments" if found is not None else "none"] += 1
        said["lines"] += len(found or ())
        return found

    monkeypatch.setattr(log_grep.GrepLines, "numbered", numbered)
    return said


OPTIONS = [
    {},
    {"last": None, "message_ignore_case": True},
    {"error_levels": ["error", "60"], "auth_statuses": [401], "rate_limit_statuses": [429], "slow_ms": 1000},
    {"fields": {}, "include_undated": True},
    {"last": "7h"},
]


@pytest.mark.parametrize("cpus", [1, 3])
@pytest.mark.parametrize("options", OPTIONS)
def test_grep_names_the_lines_and_the_result_is_the_same(tmp_path, monkeypatch, small, options, cpus):
    log = tmp_path / "app.log"
    write_log(log, seed=len(options))
    reference = scan(log, parse_every_line=True, **options)
    monkeypatch.setattr(log_ranges, "MIN_RANGE", 1)
    monkeypatch.setattr(log_ranges, "processes", lambda: cpus)
    assert scan(log, **options) == reference
    if cpus == 1:  # in this process: what grep said can be counted
        assert small["segments"] > 5 and small["lines"] > 300 and small["none"] == 0


def test_without_grep_the_python_searches_give_the_same(tmp_path, monkeypatch, small):
    log = tmp_path / "app.log"
    write_log(log, seed=4)
    reference = scan(log, parse_every_line=True)
    monkeypatch.setattr(log_grep, "GREP_PROGRAMS", (str(tmp_path / "no-grep"),))
    monkeypatch.setattr(log_ranges, "MIN_RANGE", 1)
    monkeypatch.setattr(log_ranges, "processes", lambda: 1)
    calls = []
    real = log_ranges.scan_in_ranges
    monkeypatch.setattr(log_ranges, "scan_in_ranges",
                        lambda *args, **kwargs: calls.append(real(*args, **kwargs)) or calls[-1])
    assert scan(log) == reference
    assert calls == [False] and small["segments"] == 0  # one CPU, no grep: the one pass of the Python searches


@pytest.mark.parametrize("how", ["fails half way", "says nonsense", "offsets off", "numbers off"])
def test_a_grep_that_goes_wrong_hands_over_to_python(tmp_path, monkeypatch, small, how):
    """A grep that stops with an error after some output, one whose output is not grep -n -b's, one whose offsets
    are not line starts and one whose line numbers fall outside the segment: from there the Python searches name
    the lines, and the result is still the reference's. (A line number inside the segment but wrong is not
    noticed: grep's numbers are trusted where its offsets line up.)"""
    log = tmp_path / "app.log"
    write_log(log, seed=6)
    reference = scan(log, parse_every_line=True)
    fake = tmp_path / "grep"
    body = {
        "fails half way": '%s "$@" | head -c 20000; exit 2' % GREP,
        "says nonsense": 'cat >/dev/null; echo "not: grep output"',
        "offsets off": '%s "$@" | sed "s/^\\([0-9]*\\):\\([0-9]*\\)1:/\\1:\\22:/"' % GREP,
        "numbers off": '%s "$@" | sed "s/^\\([0-9]*\\):/\\1000000:/"' % GREP,
    }[how]
    fake.write_text("#!/bin/sh\n" + body + "\n")
    os.chmod(str(fake), 0o755)
    monkeypatch.setattr(log_grep, "GREP_PROGRAMS", (str(fake),))
    monkeypatch.setattr(log_ranges, "MIN_RANGE", 1)
    monkeypatch.setattr(log_ranges, "processes", lambda: 1)
    assert scan(log) == reference
    assert small["none"] >= 1


@pytest.mark.parametrize("block", [4096, 64 * 1024])
def test_overlong_lines_and_odd_lines_with_grep(tmp_path, monkeypatch, small, block):
    """test_log_ranges' log (lines over max_line_bytes, not JSON, arrays, blanks, non-ASCII, escapes) read in blocks
    smaller and larger than its longest line: after a skipped overlong line the offsets are not known and the Python
    searches name the rest of the range; one range and several give the reference's result."""
    from test_log_ranges import NOW, _params, connector_log

    log = connector_log(tmp_path / "app.log", lines=4000, seed=5)
    reference = run_reference(_params(log), NOW)
    monkeypatch.setattr(log_ranges, "BLOCK_SIZE", block)
    monkeypatch.setattr(log_ranges, "MIN_RANGE", 1)
    for cpus in (1, 3):
        monkeypatch.setattr(log_ranges, "processes", lambda: cpus)
        assert run_scan(_params(log), NOW) == reference, cpus
    assert small["segments"] > 0


def run_reference(params, now):
    from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.app_log_scan_run import run

    return run(dict(params, parse_every_line=True), now=now)


def run_scan(params, now):
    from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.app_log_scan_run import run

    return run(params, now=now)
