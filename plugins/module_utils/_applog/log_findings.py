# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""app_log_scan's counters: one pass over JSON-lines application logs, errors, slow requests, auth failures and
rate-limit hits in a time window, in bounded memory.

feed() parses each line once (json.loads on the bytes; the reference path, parse_every_line); feed_blocks() reads
blocks by bytes (log_fast_scan) and parses only the lines log_prefilter names, with the same findings. Fields are
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
from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_fast_scan import (
    SMALLEST,
    SegmentHeads,
    count_inside,
    line_starts,
    split_segment,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_fields import getter
from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_levels import LevelNames, level_name
from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_messages import MessageMatches
from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_prefilter import LinePrefilter
from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_samples import Scrubber, sample
from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_time import INSIDE
from ansible_collections.mcpops.runbooks.plugins.module_utils._audit.findings import Counter
from ansible_collections.mcpops.runbooks.plugins.module_utils._audit.stream import block_lines

CHECKS = ("errors", "slow", "auth_failures", "rate_limited")
MAX_KEYS = 10000


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

    def feed_blocks(self, path, blocks):
        """Count the lines of one file as feed() does, parsing only the lines that may matter (log_fast_scan,
        log_prefilter); blocks: log_file.line_blocks(path, ...)."""
        counts = self.start_file(path)
        for first, block, overlong in blocks:
            if block is not None:
                self._segment(counts, path, first, block)
            if overlong:
                counts.lines += 1
                counts.skipped_too_long += 1
        return counts

    def _segment(self, counts, path, first, segment):
        lines = segment.count(b"\n") + 1
        stamps = self.heads.timestamps(segment, lines)
        if stamps is None:
            halves = split_segment(segment) if len(segment) > SMALLEST else None
            if halves is None:
                self._lines(counts, path, enumerate(block_lines(segment), first))
            else:
                left, right, left_lines = halves
                self._segment(counts, path, first, left)
                self._segment(counts, path, first + left_lines, right)
            return
        inside = count_inside(stamps, self.since, self.until)
        if self.prefilter.everything:
            starts = line_starts(segment)
        else:
            starts = self.prefilter.candidates(segment, segment.lower())
        if starts:
            numbered = []
            lineno, seen = first, 0
            find = segment.find
            for start in starts:
                lineno += segment.count(b"\n", seen, start)
                seen = start
                end = find(b"\n", start)
                line = segment[start:] if end < 0 else segment[start:end]
                numbered.append((lineno, line))
                stamp = self.heads.stamp(line)
                if (self.since is None or stamp >= self.since) and (self.until is None or stamp <= self.until):
                    inside -= 1
            lines -= len(starts)
            counts.lines += lines
            counts.in_window += inside
            counts.out_of_window += lines - inside
            self._lines(counts, path, numbered)
        else:
            counts.lines += lines
            counts.in_window += inside
            counts.out_of_window += lines - inside

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

    def judge(self, record, path, lineno):
        get = self.get
        _key = self.scrubber.key
        checks = self.checks
        error_type = None
        if "errors" in checks:
            level = self.level(get["level"](record))
            if level in self.error_levels:
                errors = self.errors
                errors["total"] += 1
                error_type = get["error_type"](record)
                errors["by_type"].add(_key(error_type) if error_type not in (None, "") else level)
                errors["samples"].append((path, lineno, record))
        if "slow" in checks:
            latency = number(get["latency"](record))
            if latency is not None and latency >= self.slow_ms:
                slow = self.slow
                slow["total"] += 1
                add_exact(slow["sum_ms"], latency)
                if slow["slowest_ms"] is None or latency > slow["slowest_ms"]:
                    slow["slowest_ms"] = latency
                slow["by_path"].add(_key(get["path"](record)))
                slow["by_message"].add(_key(get["message"](record)))
                if self.samples:
                    slow["seq"] += 1
                    entry = (latency, -slow["seq"], path, lineno, record)
                    if len(slow["samples"]) < self.samples:
                        heapq.heappush(slow["samples"], entry)
                    elif entry > slow["samples"][0]:
                        heapq.heapreplace(slow["samples"], entry)
        if self.messages is not None:
            self.messages.add(get["message"](record), path, lineno, record)
        want_auth = "auth_failures" in checks
        want_rate = "rate_limited" in checks
        if want_auth or want_rate:
            if error_type is None:
                error_type = get["error_type"](record)
            texts = (get["event"](record), error_type, get["message"](record))
            status = number(get["status"](record))
            status = int(status) if status is not None and abs(status) < 1000 else None
            for wanted, matcher, found in ((want_auth, self.auth, self.auth_failures),
                                           (want_rate, self.rate, self.rate_limited)):
                if not wanted:
                    continue
                matched = matcher(texts, status)
                if matched is not None:
                    found["total"] += 1
                    found["by_client_ip"].add(_key(get["client_ip"](record)))
                    found["by_event"].add(_key(matched))
                    found["samples"].append((path, lineno, record))

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
