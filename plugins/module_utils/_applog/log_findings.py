# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""app_log_scan's counters: one pass over JSON-lines application logs, errors, slow requests, auth failures and
rate-limit hits in a time window, in bounded memory.

feed() parses each line once (json.loads on the bytes; the reference path, parse_every_line); feed_blocks() reads
blocks by bytes (log_fast_scan) and parses only the lines log_prefilter names, or the host's grep beside it
(log_grep: those lines and the ones whose head the bytes path cannot read), with the same findings. Fields are
found by log_fields getters; message_contains is log_messages. Per file: lines (not
empty), in_window, out_of_window, undated, skipped_bad_json (not JSON, or JSON but not an object), skipped_too_long
(over max_line bytes: never parsed). A line in the window (or undated, with include_undated, or any line when there
is no window) is judged:

- errors: its level (log_levels: text in any case, pino numbers) is one of error_levels; by error_type, else level;
- slow: its latency (ms, a number or a number as text) is slow_ms or more; by path (null without one) and message;
- auth_failures: its event, error_type or whole message is one of auth_events (any case), or its status one of
  auth_statuses; by client ip and by what matched;
- rate_limited: the same with rate_limit_events and rate_limit_statuses.

A file read in byte ranges (log_ranges) is counted by a fresh() findings a range and merged back with absorb(),
in file order, as if its lines had been fed here; slow's sum is exact (exact_sum) so that it does not depend on
where the ranges were cut. Counters are _audit/findings.Counter, at most MAX_KEYS distinct keys each (the rest under "(other)"; truncated then
says so), keys cut to 200 characters (scrubbed first, so no secret is cut in half). Samples keep the parsed line of
the last `samples` findings of each kind (the slowest for slow), so at most that many lines a kind are held.
No Ansible here.
"""

from __future__ import annotations

import heapq
import json
import math
from collections import deque

from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.exact_sum import add_exact, exact_total
from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_checks import CHECKS, MAX_KEYS
from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_fast_scan import (
    SMALLEST,
    SegmentHeads,
    count_inside,
    has_unicode_escape,
    line_starts,
    scan_once,
    split_segment,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_fields import getter
from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_levels import LevelNames, level_name
from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_messages import MessageMatches
from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_prefilter import (
    ERRORS,
    EVENTS,
    EVERY_CHECK,
    MESSAGES,
    SLOW,
    LinePrefilter,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_samples import Scrubber, sample
from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_time import INSIDE
from ansible_collections.mcpops.runbooks.plugins.module_utils._audit.counter import Counter
from ansible_collections.mcpops.runbooks.plugins.module_utils._audit.stream import block_lines


def number(raw):
    """A finite number from a field (int, float, or a number as text), else None (NaN and infinities too)."""
    if isinstance(raw, str):
        try:
            raw = float(raw)
        except ValueError:
            return None
    elif isinstance(raw, bool) or not isinstance(raw, (int, float)):
        return None
    return raw if isinstance(raw, int) or math.isfinite(raw) else None


class FileCounts:
    """What one file held: the line counts of its entry in the result's files."""

    def __init__(self, path):
        self.path = path
        self.lines = 0
        self.in_window = 0
        self.out_of_window = 0
        self.undated = 0
        self.skipped_bad_json = 0
        self.skipped_too_long = 0
        self.missing = False

    def as_dict(self):
        out = {"path": self.path, "lines": self.lines, "in_window": self.in_window, "out_of_window": self.out_of_window,
               "undated": self.undated, "skipped_bad_json": self.skipped_bad_json,
               "skipped_too_long": self.skipped_too_long}
        if self.missing:
            out["missing"] = True
        return out


class Matcher:
    """Whether a line's event, error_type or message names one of the given events (any case), or its status is one
    of the given statuses: the matched name (as written in the line, or 'status 429'), else None."""

    def __init__(self, names, statuses):
        self.names = frozenset(str(name).strip().lower() for name in names or () if str(name).strip())
        self.longest = max((len(name) for name in self.names), default=0)
        self.statuses = frozenset(int(status) for status in statuses or ())

    def __call__(self, texts, status):
        names = self.names
        for text in texts:
            if isinstance(text, str) and len(text) <= self.longest and text.strip().lower() in names:
                return text
        if status is not None and self.statuses and status in self.statuses:
            return "status %d" % status
        return None


class AppLogFindings:
    """feed(path, batches) for each file (missing(path) for one not there), then result(top)."""

    def __init__(self, fields, window, checks=CHECKS, slow_ms=1000, error_levels=("error", "critical", "fatal"),
                 auth_events=(), rate_limit_events=(), auth_statuses=(), rate_limit_statuses=(), samples=3,
                 include_undated=False, max_line=1024 * 1024, max_keys=MAX_KEYS, scrubber=None, messages=(),
                 message_ignore_case=False):
        # what fresh() builds another with (a range of a file scanned in another process: log_ranges)
        self.config = dict(fields=fields, window=window, checks=checks, slow_ms=slow_ms, error_levels=error_levels,
                           auth_events=auth_events, rate_limit_events=rate_limit_events, auth_statuses=auth_statuses,
                           rate_limit_statuses=rate_limit_statuses, samples=samples, include_undated=include_undated,
                           max_line=max_line, max_keys=max_keys, scrubber=scrubber, messages=messages,
                           message_ignore_case=message_ignore_case)
        self.window = window
        self.checks = tuple(checks)
        self.slow_ms = slow_ms
        self.error_levels = frozenset(filter(None, (level_name(level) for level in error_levels)))
        self.auth = Matcher(auth_events, auth_statuses)
        self.rate = Matcher(rate_limit_events, rate_limit_statuses)
        self.samples = samples
        self.include_undated = include_undated or window.open
        self.max_line = max_line
        self.get = {name: getter(paths) for name, paths in fields.items()}
        self.level = LevelNames()
        self.files = []

        def counter():
            return Counter(cap=max_keys)

        self.errors = {"total": 0, "by_type": counter(), "samples": deque(maxlen=samples)}
        self.slow = {"total": 0, "slowest_ms": None, "sum_ms": [], "by_path": counter(), "by_message": counter(),
                     "samples": [], "seq": 0}
        self.auth_failures = {"total": 0, "by_client_ip": counter(), "by_event": counter(),
                              "samples": deque(maxlen=samples)}
        self.rate_limited = {"total": 0, "by_client_ip": counter(), "by_event": counter(),
                             "samples": deque(maxlen=samples)}
        self.counters = [c for kind in (self.errors, self.slow, self.auth_failures, self.rate_limited)
                         for c in kind.values() if isinstance(c, Counter)]
        self.scrubber = scrubber or Scrubber()
        self.messages = MessageMatches(messages, message_ignore_case, samples) if messages else None
        # the bytes path (feed_blocks): the window's ends as bytes, the time of each line, the lines to parse
        self.since = window.since_text.encode("ascii") if window.since_text is not None else None
        self.until = window.until_text.encode("ascii") if window.until_text is not None else None
        self.heads = SegmentHeads(fields["time"], max_line)
        self.prefilter = LinePrefilter(
            fields, self.checks, slow_ms, error_levels, auth_events, rate_limit_events, auth_statuses,
            rate_limit_statuses, messages, message_ignore_case)
        self.judge = self._judge_one()

    # -- the pass -----------------------------------------------------------------------------------------------
    def missing(self, path):
        counts = FileCounts(path)
        counts.missing = True
        self.files.append(counts)
        return counts

    def start_file(self, path):
        """The FileCounts of one more file, in the order files are fed."""
        counts = FileCounts(path)
        self.files.append(counts)
        return counts

    # -- a file scanned in ranges (log_ranges): each range by a fresh() findings, merged back in file order -------
    def fresh(self):
        """A findings with the same options and nothing counted."""
        return AppLogFindings(**self.config)

    def tally(self):
        """What this findings counted, as plain data (picklable: it comes back from a forked process); one file."""
        messages = (self.messages.counts, self.messages.samples) if self.messages is not None else None
        return {"file": self.files[-1], "errors": self.errors, "slow": self.slow, "auth_failures": self.auth_failures,
                "rate_limited": self.rate_limited, "messages": messages}

    @staticmethod
    def over_cap(tally):
        """Whether a counter of the tally went over its cap: merged, which keys fall under (other) would then depend on
        where the ranges were cut, so the file is read in one pass instead."""
        return any(counter.truncated for name in ("errors", "slow", "auth_failures", "rate_limited")
                   for counter in tally[name].values() if isinstance(counter, Counter))

    def absorb(self, counts, tally, lines_before):
        """Add a range's tally (not over_cap) to what was counted, as if its lines had been fed here next: counters
        keep their first-come order, samples their file order, line numbers move by lines_before (the lines of the
        file before the range)."""
        part = tally["file"]
        for name in ("lines", "in_window", "out_of_window", "undated", "skipped_bad_json", "skipped_too_long"):
            setattr(counts, name, getattr(counts, name) + getattr(part, name))

        def moved(entries):
            return ((path, lineno + lines_before, record) for path, lineno, record in entries)

        def merge(into, other):
            add = into.add
            for key, amount in other.counts.items():
                add(key, amount)

        for name in ("errors", "auth_failures", "rate_limited"):
            mine, theirs = getattr(self, name), tally[name]
            mine["total"] += theirs["total"]
            for key, value in theirs.items():
                if isinstance(value, Counter):
                    merge(mine[key], value)
            mine["samples"].extend(moved(theirs["samples"]))
        slow, theirs = self.slow, tally["slow"]
        slow["total"] += theirs["total"]
        slow["sum_ms"].extend(theirs["sum_ms"])
        if theirs["slowest_ms"] is not None and (slow["slowest_ms"] is None or theirs["slowest_ms"] > slow["slowest_ms"]):
            slow["slowest_ms"] = theirs["slowest_ms"]
        merge(slow["by_path"], theirs["by_path"])
        merge(slow["by_message"], theirs["by_message"])
        heap = slow["samples"]
        for latency, neg_seq, path, lineno, record in theirs["samples"]:
            entry = (latency, neg_seq - slow["seq"], path, lineno + lines_before, record)  # numbered after ours
            if len(heap) < self.samples:
                heapq.heappush(heap, entry)
            elif entry > heap[0]:
                heapq.heapreplace(heap, entry)
        slow["seq"] += theirs["seq"]
        if tally["messages"] is not None:
            their_counts, their_samples = tally["messages"]
            for index, count in enumerate(their_counts):
                self.messages.counts[index] += count
                self.messages.samples[index].extend(moved(their_samples[index]))

    def feed(self, path, batches):
        """Count the lines of one file, parsing each (the reference path); batches: log_file.line_batches(path,
        ...)."""
        counts = self.start_file(path)
        for first, batch in batches:
            self._lines(counts, path, enumerate(batch, first))
        return counts

    def feed_blocks(self, path, blocks, grep=None):
        """Count the lines of one file as feed() does, parsing only the lines that may matter (log_fast_scan,
        log_prefilter); blocks: log_file.line_blocks(path, ...) (first, block, overlong, lines). grep: a
        log_grep.GrepLines over the same bytes, which names those lines in place of log_prefilter's searches, up to
        an overlong line (whose length is not known, so neither are the offsets after it)."""
        counts = self.start_file(path)
        offset = 0 if grep is not None else None  # of the block, from the first byte blocks read
        for first, block, overlong, lines in blocks:
            if block is not None:
                self._segment(counts, path, first, block, lines, offset, grep)
                if offset is not None:
                    offset += len(block) + 1
            if overlong:
                counts.lines += 1
                counts.skipped_too_long += 1
                offset = None
        return counts

    def _numbered(self, segment, first, found):
        """[(line number, start, end, checks)] of the lines found ({start: checks}) in segment, in order."""
        numbered = []
        lineno, seen = first, 0
        find = segment.find
        count = segment.count
        size = len(segment)
        for start in sorted(found):
            lineno += count(b"\n", seen, start)
            seen = start
            end = find(b"\n", start)
            numbered.append((lineno, start, size if end < 0 else end, found[start]))
        return numbered

    def _checked_segment(self, counts, path, first, segment, lines, offset, grep):
        """Count a segment whose lines' heads grep checked (log_grep: checked), without reading each line's time:
        True when done, False when the segment must be read the usual way (not ASCII, a \\u escape, an overlong
        line, a last line that is not whole, a window that cuts it)."""
        heads = self.heads
        if (not segment.isascii() or has_unicode_escape(segment) or not segment.rstrip(b" \t\r").endswith(b"}")
                or (len(segment) > heads.max_line and heads.long_line(segment))):
            return False
        inside = heads.inside_by_prefix(segment, lines, grep.time_key, self.since, self.until)
        if inside is None:
            return False
        numbered = grep.numbered(offset, segment, first, lines)
        if numbered is None:  # grep cannot tell: the heads are read here after all
            return False
        self._count_segment(counts, path, first, segment, lines, numbered, inside)
        return True

    def _segment(self, counts, path, first, segment, lines, offset=None, grep=None):
        if offset is not None and grep.checked and not grep.failed:
            if self._checked_segment(counts, path, first, segment, lines, offset, grep):
                return
        stamps = self.heads.timestamps(segment, lines)
        if stamps is None:
            halves = split_segment(segment) if len(segment) > SMALLEST else None
            if halves is None:
                self._lines(counts, path, enumerate(block_lines(segment), first))
            else:
                left, right, left_lines = halves
                self._segment(counts, path, first, left, left_lines, offset, grep)
                self._segment(counts, path, first + left_lines, right, lines - left_lines,
                              None if offset is None else offset + len(left) + 1, grep)
            return
        inside = count_inside(stamps, self.since, self.until)
        numbered = grep.numbered(offset, segment, first, lines) if offset is not None else None
        if numbered is None:
            if self.prefilter.everything:
                found = dict.fromkeys(line_starts(segment), EVERY_CHECK)
            else:
                found = self.prefilter.candidates(segment)
            numbered = self._numbered(segment, first, found) if found else None
        self._count_segment(counts, path, first, segment, lines, numbered, inside, stamps)

    def _count_segment(self, counts, path, first, segment, lines, numbered, inside, stamps=None):
        """Count a segment read by bytes: numbered, its lines to parse ((line number, start, end, checks), or None),
        inside, how many of its lines are in the window (stamps: each line's time, as timestamps() gives them; None
        when inside is all or none of them)."""
        if numbered:
            # the lines parsed are counted by _plain_lines: take them out of the in-window count by their times
            if inside == lines:
                inside -= len(numbered)
            elif inside:
                since, until = self.since, self.until
                for lineno, start, end, checks in numbered:
                    # timestamps() lists the times of the lines after the first, then the first's: the line at index
                    # i (from 0) has stamps[i - 1], the first line stamps[-1]
                    stamp = stamps[lineno - first - 1]
                    if (since is None or stamp >= since) and (until is None or stamp <= until):
                        inside -= 1
            lines -= len(numbered)
            counts.lines += lines
            counts.in_window += inside
            counts.out_of_window += lines - inside
            self._plain_lines(counts, path, segment, numbered)
        else:
            counts.lines += lines
            counts.in_window += inside
            counts.out_of_window += lines - inside

    def _plain_lines(self, counts, path, segment, numbered):
        """_lines() for the (lineno, start, end, checks) lines of a segment read by bytes, each judged for the checks
        log_prefilter named it for, which timestamps() checked: none
        is empty or over max_line, each starts with {, so each is parsed by scan_once in the segment decoded once
        (json.loads' own value: any line whose value does not end at the line's end goes to json.loads) and a value
        is an object; a time in the audit's own form is placed here as LineWindow.place() places it."""
        window = self.window
        place = window.place
        since, until = window.since_text, window.until_text
        get_time = self.get["time"]
        include_undated = self.include_undated
        judge = self.judge
        lines = in_window = out_of_window = undated = bad = 0
        text = segment.decode("ascii")  # a MiB in 0.1 ms (a memcpy); the lowered copy is gone by now
        loads = json.loads
        try:
            for lineno, start, end, checks in numbered:
                lines += 1
                try:
                    record, stop = scan_once(text, start)
                except (ValueError, StopIteration, RecursionError):
                    stop = -1
                if stop != end:  # not one value that ends the line: json.loads' value, or its error
                    try:
                        record = loads(segment[start:end])
                    except (ValueError, RecursionError):
                        if start == end or segment[start:end].isspace():
                            lines -= 1  # a blank line, which grep's check of the heads names: never counted
                            continue
                        bad += 1
                        continue
                if not isinstance(record, dict):
                    bad += 1
                    continue
                raw = get_time(record)
                if raw.__class__ is str and len(raw) == 24 and raw[19] == "." and raw[23] == "Z" and raw[10] == "T":
                    if (since is not None and raw < since) or (until is not None and raw > until):
                        out_of_window += 1
                        continue
                else:
                    where = place(raw)
                    if where is None:
                        undated += 1
                        if not include_undated:
                            continue
                    elif where != INSIDE:
                        out_of_window += 1
                        continue
                in_window += 1
                judge(record, path, lineno, checks)
        finally:
            counts.lines += lines
            counts.in_window += in_window
            counts.out_of_window += out_of_window
            counts.undated += undated
            counts.skipped_bad_json += bad

    def _lines(self, counts, path, numbered):
        """The reference path: parse each (lineno, line) and count and judge it."""
        loads = json.loads
        place = self.window.place
        get_time = self.get["time"]
        max_line = self.max_line
        include_undated = self.include_undated
        judge = self.judge
        lines = in_window = out_of_window = undated = bad = too_long = 0
        try:
            for lineno, line in numbered:
                if not line:
                    if line is None:
                        lines += 1
                        too_long += 1
                    continue
                if len(line) > max_line:
                    lines += 1
                    too_long += 1
                    continue
                try:
                    record = loads(line)
                except (ValueError, RecursionError):
                    if line.isspace():
                        continue
                    lines += 1
                    bad += 1
                    continue
                lines += 1
                if not isinstance(record, dict):
                    bad += 1
                    continue
                where = place(get_time(record))
                if where is None:
                    undated += 1
                    if not include_undated:
                        continue
                elif where != INSIDE:
                    out_of_window += 1
                    continue
                in_window += 1
                judge(record, path, lineno)
        finally:
            counts.lines += lines
            counts.in_window += in_window
            counts.out_of_window += out_of_window
            counts.undated += undated
            counts.skipped_bad_json += bad
            counts.skipped_too_long += too_long

    def _judge_one(self):
        """judge(record, path, lineno, checks=EVERY_CHECK): count one parsed line that is in the window into what it
        is (see the module docstring), looking only at checks (log_prefilter's ERRORS, SLOW, EVENTS, MESSAGES: the
        ones its searches named the line for; the reference path looks at every check). Built once with what it reads
        bound to local names: it runs for every line that may matter, and attribute and dictionary lookups were a
        third of its time."""
        get = self.get
        get_level, get_error_type, get_latency = get["level"], get["error_type"], get["latency"]
        get_path, get_message, get_event, get_status = get["path"], get["message"], get["event"], get["status"]
        get_client_ip = get["client_ip"]
        key = self.scrubber.key
        level_of = self.level
        level_cache = self.level.cache
        error_levels = self.error_levels
        slow_ms = self.slow_ms
        samples_kept = self.samples
        want_errors = "errors" in self.checks
        want_slow = "slow" in self.checks
        errors, slow = self.errors, self.slow
        by_type, error_samples = errors["by_type"].add, errors["samples"].append
        by_slow_path, by_slow_message = slow["by_path"].add, slow["by_message"].add
        slow_samples = slow["samples"]
        sum_ms = slow["sum_ms"]
        messages = self.messages.add if self.messages is not None else None
        want_auth = "auth_failures" in self.checks
        want_rate = "rate_limited" in self.checks
        auth, rate = self.auth, self.rate
        auth_names, rate_names = auth.names, rate.names
        auth_longest, rate_longest = auth.longest, rate.longest
        auth_statuses, rate_statuses = auth.statuses, rate.statuses
        longest = max(auth_longest if want_auth else 0, rate_longest if want_rate else 0)
        want_status = bool((want_auth and auth_statuses) or (want_rate and rate_statuses))
        found_auth, found_rate = self.auth_failures, self.rate_limited
        push, replace = heapq.heappush, heapq.heapreplace

        def count_event(found, matched, record, path, lineno):
            found["total"] += 1
            found["by_client_ip"].add(key(get_client_ip(record)))
            found["by_event"].add(key(matched))
            found["samples"].append((path, lineno, record))

        def judge(record, path, lineno, checks=EVERY_CHECK):
            error_type = None
            if want_errors and checks & ERRORS:
                raw = get_level(record)
                level = level_cache.get(raw) if raw.__class__ is str else None
                if level is None:
                    level = level_of(raw)
                if level in error_levels:
                    errors["total"] += 1
                    error_type = get_error_type(record)
                    by_type(key(error_type) if error_type not in (None, "") else level)
                    error_samples((path, lineno, record))
            if want_slow and checks & SLOW:
                latency = get_latency(record)
                kind = latency.__class__
                if kind is float:
                    if not math.isfinite(latency):
                        latency = None
                elif kind is not int:
                    latency = number(latency)
                if latency is not None and latency >= slow_ms:
                    slow["total"] += 1
                    add_exact(sum_ms, latency)
                    if slow["slowest_ms"] is None or latency > slow["slowest_ms"]:
                        slow["slowest_ms"] = latency
                    by_slow_path(key(get_path(record)))
                    by_slow_message(key(get_message(record)))
                    if samples_kept:
                        slow["seq"] += 1
                        entry = (latency, -slow["seq"], path, lineno, record)
                        if len(slow_samples) < samples_kept:
                            push(slow_samples, entry)
                        elif entry > slow_samples[0]:
                            replace(slow_samples, entry)
            message = get_message(record)
            if messages is not None and checks & MESSAGES:
                messages(message, path, lineno, record)
            if (want_auth or want_rate) and checks & EVENTS:
                if error_type is None:
                    error_type = get_error_type(record)
                auth_hit = rate_hit = None
                for text in (get_event(record), error_type, message):
                    # Matcher, both kinds in one look: the first text (event, error_type, message) that names one
                    # of a kind's events, as written; a text over a kind's longest name is not that kind's
                    if isinstance(text, str) and len(text) <= longest:
                        low = text.strip().lower()
                        if auth_hit is None and low in auth_names and len(text) <= auth_longest:
                            auth_hit = text
                        if rate_hit is None and low in rate_names and len(text) <= rate_longest:
                            rate_hit = text
                if want_status and (auth_hit is None or rate_hit is None):
                    status = number(get_status(record))
                    status = int(status) if status is not None and abs(status) < 1000 else None
                    if status is not None:
                        if auth_hit is None and status in auth_statuses:
                            auth_hit = "status %d" % status
                        if rate_hit is None and status in rate_statuses:
                            rate_hit = "status %d" % status
                if auth_hit is not None and want_auth:
                    count_event(found_auth, auth_hit, record, path, lineno)
                if rate_hit is not None and want_rate:
                    count_event(found_rate, rate_hit, record, path, lineno)

        return judge

    # -- the result ---------------------------------------------------------------------------------------------
    @property
    def truncated(self):
        return any(counter.truncated for counter in self.counters)

    def result(self, top):
        """The result's errors, slow, auth_failures, rate_limited (None for a check not run), files and truncated;
        every text that came from a line goes through the scrubber."""
        scrubber = self.scrubber

        def ranked(counter, scrub=True):
            out = counter.top(top)
            for item in out:
                if isinstance(item["key"], str):
                    item["key"] = scrubber.clip(item["key"], scrub=scrub)
            return out

        def shown(entries):
            return [sample(path, lineno, record, scrubber) for path, lineno, record in entries]

        out = {"errors": None, "slow": None, "auth_failures": None, "rate_limited": None}
        if "errors" in self.checks:
            out["errors"] = {"total": self.errors["total"], "by_type": ranked(self.errors["by_type"]),
                             "samples": shown(reversed(self.errors["samples"]))}
        if "slow" in self.checks:
            slowest = sorted(self.slow["samples"], reverse=True)
            # average_ms: with slow_ms 0, the seed's "Performance Analysis" (the average of every request's duration)
            average = round(exact_total(self.slow["sum_ms"]) / self.slow["total"], 3) if self.slow["total"] else None
            out["slow"] = {"total": self.slow["total"], "threshold_ms": self.slow_ms, "slowest_ms": self.slow["slowest_ms"],
                           "average_ms": average,
                           "by_path": ranked(self.slow["by_path"]), "by_message": ranked(self.slow["by_message"]),
                           "samples": shown((path, lineno, record) for _latency, _seq, path, lineno, record in slowest)}
        for name in ("auth_failures", "rate_limited"):
            if name in self.checks:
                found = getattr(self, name)
                out[name] = {"total": found["total"], "by_client_ip": ranked(found["by_client_ip"], scrub=False),
                             "by_event": ranked(found["by_event"], scrub=False),
                             "samples": shown(reversed(found["samples"]))}
        if self.messages is not None:
            out["messages"] = self.messages.result(shown)
        out["files"] = [counts.as_dict() for counts in self.files]
        out["truncated"] = self.truncated
        return out
