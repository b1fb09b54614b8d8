# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""audit_scan's counters and exfiltration indicators (AuditFindings) and the usage summary.

One pass over audit.jsonl (any size, bounded memory, see audit_stream) and one over usage.jsonl.

Speed: a line in the gateway's own form (`{"ts":"<24 chars>","event":"<name>",...}` with compact
separators and no backslash) is never JSON-parsed unless its event matters: the ts and the event are
sliced out of the bytes and the ts is compared with the window bounds as text. auth.failed,
rate_limit.exceeded and token.revoked lines that a check needs are parsed whole (json.loads); the
fields of auth.ok/tool.called that the exfiltration check needs are found by a bytes search. Any other
line (other key order, spaces, escapes) takes the slow path: a full JSON parse. So a line of another
form is read correctly, only slower.

Malformed: a line that is not a JSON object with a string `ts` (an ISO time) and a string `event`.
A line of the gateway's form is checked by its shape (prefix, ts, event, closing brace) and fully
parsed only when its event is needed; every other line is fully parsed.

Exfiltration indicators (need a window start, so `since` or `last`):
- high_volume: a token's data-reading tool calls (`tool.called` with `rows`) in the window against its
  average per window-length over the baseline period before the window: fires when rows >= min_rows and
  rows > factor * baseline average, or calls >= min_calls and calls > factor * baseline average
  (a zero baseline counts as exceeded).
- new_ip: a token that was used in the baseline period (auth.ok, tool.called, rate_limit.exceeded) is
  used in the window from an ip it never used in the baseline period.
- after_revocation: a token used in the window after its `token.revoked` event (the file read in the
  order the gateway appends it), and auth.failed with reason `revoked` (attempts with a revoked token).

Distinct keys are capped (MAX_KEYS a counter, MAX_PAIRS token/ip pairs): past the cap new keys are
counted under `(other)` and the result says `truncated`, so memory stays bounded on hostile input.
The module's entry point is audit_scan_run.run(). No Ansible here.
"""

from __future__ import annotations

import json
import re
from collections import Counter as NameCounter

from ansible_collections.mcpops.runbooks.plugins.module_utils._audit.counter import MAX_KEYS, OTHER, Counter
from ansible_collections.mcpops.runbooks.plugins.module_utils._audit.counter import key_text as _text
from ansible_collections.mcpops.runbooks.plugins.module_utils._audit.stream import (
    MalformedLines,
    block_lines,
    iter_blocks,
    iter_line_batches,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._audit.window import ts_key

CHECKS = ("auth_failed", "rate_limited", "exfiltration", "usage")
MAX_EVENT_NAMES = 1000
MAX_PAIRS = 200000
USE_EVENTS = frozenset([b"auth.ok", b"tool.called", b"rate_limit.exceeded"])
_GATEWAY_HEAD = b'{"ts":"'
_EVENT_KEY = b'","event":"'
# the head of a line in the gateway's form (after a newline): ts (24 chars, ms, Z) and event
_GATEWAY_HEADS = re.compile(br'\n\{"ts":"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)","event":"([^"\n]*)"')
_EVENT_LINE = {}


def _b(value):
    """A field value from a parsed line, as bytes (the fast path's form), or None."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes):
        return value
    return json.dumps(value).encode("utf-8")


def _find_str(line, key):
    """The string value of `"key":"..."` in a line of the gateway's form (no backslash in it), or None."""
    start = line.find(key)
    if start < 0:
        return None
    start += len(key)
    return line[start:line.find(b'"', start)]


def _find_int(line, key):
    start = line.find(key)
    if start < 0:
        return None
    start += len(key)
    end = start
    size = len(line)
    while end < size and line[end] in b" -0123456789":
        end += 1
    try:
        return int(line[start:end])
    except ValueError:
        return None


class AuditFindings:
    """Feed it audit lines (feed_file or feed_lines), then result(top)."""

    def __init__(self, window, checks=CHECKS, factor=10.0, min_rows=1000, min_calls=100, export=None):
        self.window = window
        self.since = window.since.encode("ascii") if window.since else None
        self.until = window.until.encode("ascii") if window.until else None
        self.base_since = window.baseline_since.encode("ascii") if window.baseline_since else None
        self.checks = set(checks)
        self.auth = "auth_failed" in self.checks
        self.rate = "rate_limited" in self.checks
        self.exfil = "exfiltration" in self.checks
        self.baseline = self.exfil and self.base_since is not None
        self.parse_events = set()
        if self.auth or self.exfil:
            self.parse_events.add(b"auth.failed")
        if self.rate or self.exfil:
            self.parse_events.add(b"rate_limit.exceeded")
        if self.exfil:
            self.parse_events.add(b"token.revoked")
        self.factor = float(factor)
        self.min_rows = min_rows
        self.min_calls = min_calls
        self.export = export
        self.scanned = 0
        self.lines = 0
        self.malformed = MalformedLines()
        self.events = Counter(MAX_EVENT_NAMES)
        self.failed = {name: Counter() for name in ("tokenPrefix", "clientId", "ip", "reason")}
        self.rate_actors = Counter()
        self.rate_clients = Counter()
        self.rate_ips = Counter()
        # exfiltration state, keyed by tokenPrefix bytes
        self.who = {}  # prefix -> (clientId, orgId)
        self.base_rows = {}
        self.base_calls = {}
        self.win_rows = {}
        self.win_calls = {}
        self.base_ips = set()  # (prefix, ip)
        self.win_ips = {}  # (prefix, ip) -> [first ts, events]
        self.pairs_truncated = False
        self.revoked_at = {}  # prefix -> ts of its first token.revoked
        self.after = {}  # prefix -> {"uses", "attempts", "first", "last", "ips"}

    # -- reading ---------------------------------------------------------------------

    def feed_file(self, path):
        for first, block, overlong in iter_blocks(path):
            if block is not None:
                self.feed_block(block, first)
                first += block.count(b"\n") + 1
            if overlong:
                self.malformed.add(first)

    def feed_block(self, block, first_lineno=1):
        """Whole lines at once. When every line of the block is in the gateway's form and inside the
        window (and no per-line work is asked: no exfiltration check, no export), the events are counted
        with one regex pass and only the lines of the needed events are picked out and parsed; any other
        block goes line by line."""
        if self.exfil or self.export is not None or b"\r" in block or b"\\" in block:
            self.feed_lines(block_lines(block), first_lineno)
            return
        buf = b"\n" + block
        heads = _GATEWAY_HEADS.findall(buf)
        count = block.count(b"\n") + 1
        if len(heads) != count or block.count(b"}\n") != count - 1 or not block.endswith(b"}"):
            self.feed_lines(block_lines(block), first_lineno)
            return
        stamps, names = zip(*heads)
        if ((self.since is not None and min(stamps) < self.since)
                or (self.until is not None and max(stamps) >= self.until)):
            self.feed_lines(block_lines(block), first_lineno)
            return
        self.scanned += count
        self.lines += count
        for name, number in NameCounter(names).items():
            self.events.add(name, number)
        for event in self.parse_events:
            pattern = _EVENT_LINE.get(event)
            if pattern is None:
                pattern = _EVENT_LINE[event] = re.compile(
                    b'\\n(\\{"ts":"[^"\\n]{24}","event":"' + re.escape(event) + b'"[^\\n]*)')
            for line in pattern.findall(buf):
                try:
                    rec = json.loads(line)
                except ValueError:
                    rec = None
                if not isinstance(rec, dict):
                    # the shape matched but the JSON does not parse: find its line number
                    self.lines -= 1
                    self.events.add(event, -1)
                    self.malformed.add(first_lineno + block[:block.find(line)].count(b"\n"))
                    continue
                if event == b"auth.failed":
                    self._auth_failed(rec, None)
                elif event == b"rate_limit.exceeded" and self.rate:
                    self._rate_limited(rec)

    def feed_lines(self, lines, first_lineno=1):
        since, until, base_since = self.since, self.until, self.base_since
        parse_events = self.parse_events
        exfil = self.exfil
        events_add = self.events.add
        export = self.export
        lineno = first_lineno - 1
        for line in lines:
            lineno += 1
            if line is None:
                self.malformed.add(lineno)
                continue
            if not line or line.isspace():
                continue
            self.scanned += 1
            rec = None
            if (line[:7] == _GATEWAY_HEAD and line[31:42] == _EVENT_KEY and line[30:31] == b"Z"
                    and line[26:27] == b"." and line[-1:] == b"}" and b"\\" not in line):
                ts = line[7:31]
                end = line.find(b'"', 42)
                event = line[42:end]
            else:
                rec = self._parse(line, lineno)
                if rec is None:
                    continue
                ts, event = rec.pop("\0ts"), rec.pop("\0event")
            if until is not None and ts >= until:
                continue
            if since is not None and ts < since:
                # before the window: revocations (any time) and the baseline period
                if exfil:
                    if event == b"token.revoked":
                        if rec is None:
                            rec = self._parse(line, lineno)
                            if rec is None:
                                continue
                        self._revoked(rec, ts)
                    elif self.baseline and ts >= base_since and event in USE_EVENTS:
                        self._baseline_use(line, rec, event)
                continue
            if rec is None and event in parse_events:
                rec = self._parse(line, lineno)
                if rec is None:
                    continue
            self.lines += 1
            events_add(event)
            if export is not None:
                export.write(line)
            if event == b"auth.failed":
                if rec is not None:
                    self._auth_failed(rec, ts)
            elif event == b"rate_limit.exceeded":
                if self.rate:
                    self._rate_limited(rec)
                if exfil:
                    self._window_use(line, rec, event, ts)
            elif exfil:
                if event == b"token.revoked":
                    self._revoked(rec, ts)
                elif event in USE_EVENTS:
                    self._window_use(line, rec, event, ts)

    def _parse(self, line, lineno):
        """json.loads a line; None (and counted malformed) unless it is an object with a ts and an event.
        The dict gets the ts key (comparable form, bytes) and the event (bytes) under '\\0ts'/'\\0event'."""
        try:
            rec = json.loads(line)
        except ValueError:
            self.malformed.add(lineno)
            return None
        if not isinstance(rec, dict) or not isinstance(rec.get("event"), str):
            self.malformed.add(lineno)
            return None
        key = ts_key(rec.get("ts"))
        if key is None:
            self.malformed.add(lineno)
            return None
        rec["\0ts"] = key.encode("ascii")
        rec["\0event"] = rec["event"].encode("utf-8")
        return rec

    # -- the checks ------------------------------------------------------------------

    def _auth_failed(self, rec, ts):
        if self.auth:
            for name, counter in self.failed.items():
                counter.add(_b(rec.get(name)))
        if self.exfil and rec.get("reason") == "revoked" and rec.get("tokenPrefix"):
            prefix = _b(rec.get("tokenPrefix"))
            self._note_who(prefix, rec=rec)
            entry = self._after_entry(prefix, ts)
            if entry is not None:
                entry["attempts"] += 1

    def _rate_limited(self, rec):
        self.rate_actors.add((_b(rec.get("tokenPrefix")), _b(rec.get("clientId")), _b(rec.get("orgId"))))
        self.rate_clients.add(_b(rec.get("clientId")))
        self.rate_ips.add(_b(rec.get("ip")))

    def _revoked(self, rec, ts):
        prefix = _b(rec.get("tokenPrefix"))
        if prefix and (prefix not in self.revoked_at or ts < self.revoked_at[prefix]):
            self.revoked_at[prefix] = ts
            self._note_who(prefix, rec=rec)

    def _fields(self, line, rec, event):
        """(tokenPrefix, ip, rows) of a use line."""
        if rec is not None:
            rows = rec.get("rows") if event == b"tool.called" else None
            return _b(rec.get("tokenPrefix")), _b(rec.get("ip")), rows if isinstance(rows, int) else None
        rows = _find_int(line, b'"rows":') if event == b"tool.called" else None
        return _find_str(line, b'"tokenPrefix":"'), _find_str(line, b'"ip":"'), rows

    def _note_who(self, prefix, line=None, rec=None):
        if prefix in self.who or len(self.who) >= MAX_KEYS:
            return
        if rec is not None:
            self.who[prefix] = (_b(rec.get("clientId")), _b(rec.get("orgId")))
        else:
            self.who[prefix] = (_find_str(line, b'"clientId":"'), _find_str(line, b'"orgId":"'))

    def _baseline_use(self, line, rec, event):
        prefix, ip, rows = self._fields(line, rec, event)
        if not prefix:
            return
        if rows is not None:
            if prefix in self.base_rows or len(self.base_rows) < MAX_KEYS:
                self.base_rows[prefix] = self.base_rows.get(prefix, 0) + rows
                self.base_calls[prefix] = self.base_calls.get(prefix, 0) + 1
        if ip:
            if len(self.base_ips) < MAX_PAIRS:
                self.base_ips.add((prefix, ip))
            elif (prefix, ip) not in self.base_ips:
                self.pairs_truncated = True

    def _window_use(self, line, rec, event, ts):
        prefix, ip, rows = self._fields(line, rec, event)
        if not prefix:
            return
        if prefix not in self.who:
            self._note_who(prefix, line, rec)
        if rows is not None:
            if prefix in self.win_rows or len(self.win_rows) < MAX_KEYS:
                self.win_rows[prefix] = self.win_rows.get(prefix, 0) + rows
                self.win_calls[prefix] = self.win_calls.get(prefix, 0) + 1
        if ip and self.baseline:
            pair = (prefix, ip)
            seen = self.win_ips.get(pair)
            if seen is not None:
                seen[1] += 1
            elif len(self.win_ips) < MAX_PAIRS:
                self.win_ips[pair] = [ts, 1]
            else:
                self.pairs_truncated = True
        revoked = self.revoked_at.get(prefix)
        if revoked is not None and ts > revoked:
            entry = self._after_entry(prefix, ts)
            if entry is not None:
                entry["uses"] += 1
                if ip and len(entry["ips"]) < 5:
                    entry["ips"].add(ip)

    def _after_entry(self, prefix, ts):
        entry = self.after.get(prefix)
        if entry is None:
            if len(self.after) >= MAX_KEYS:
                return None
            entry = self.after[prefix] = {"uses": 0, "attempts": 0, "first": ts, "last": ts, "ips": set()}
        if ts < entry["first"]:
            entry["first"] = ts
        if ts > entry["last"]:
            entry["last"] = ts
        return entry

    # -- the result ------------------------------------------------------------------

    def _who(self, prefix):
        client, org = self.who.get(prefix, (None, None))
        return {"token_prefix": _text(prefix), "client_id": _text(client), "org_id": _text(org)}

    def _high_volume(self, top):
        windows = self.window.baseline_seconds / self.window.seconds
        found = []
        for prefix, rows in self.win_rows.items():
            calls = self.win_calls[prefix]
            avg_rows = self.base_rows.get(prefix, 0) / windows
            avg_calls = self.base_calls.get(prefix, 0) / windows
            by_rows = rows >= self.min_rows and rows > self.factor * avg_rows
            by_calls = calls >= self.min_calls and calls > self.factor * avg_calls
            if not (by_rows or by_calls):
                continue
            entry = self._who(prefix)
            entry.update(
                rows=rows, calls=calls,
                baseline_rows_per_window=round(avg_rows, 2), baseline_calls_per_window=round(avg_calls, 2),
                rows_ratio=round(rows / avg_rows, 1) if avg_rows else None,
                calls_ratio=round(calls / avg_calls, 1) if avg_calls else None,
                reasons=[name for name, hit in (("rows", by_rows), ("calls", by_calls)) if hit],
            )
            found.append(entry)
        found.sort(key=lambda item: (-item["rows"], -item["calls"], str(item["token_prefix"])))
        return found[:top]

    def _new_ip(self, top):
        known = {}
        for prefix, _ip in self.base_ips:
            known[prefix] = known.get(prefix, 0) + 1
        found = []
        for (prefix, ip), (first, count) in self.win_ips.items():
            if prefix in known and (prefix, ip) not in self.base_ips:
                entry = self._who(prefix)
                entry.update(ip=_text(ip), first_seen=_text(first), events=count,
                             baseline_ips=known[prefix])
                found.append(entry)
        found.sort(key=lambda item: (-item["events"], str(item["token_prefix"]), str(item["ip"])))
        return found[:top]

    def _after_revocation(self, top):
        found = []
        for prefix, item in self.after.items():
            entry = self._who(prefix)
            revoked = self.revoked_at.get(prefix)
            entry.update(revoked_at=_text(revoked), uses=item["uses"], attempts=item["attempts"],
                         first_seen=_text(item["first"]), last_seen=_text(item["last"]),
                         ips=sorted(_text(ip) for ip in item["ips"]))
            found.append(entry)
        found.sort(key=lambda item: (-item["uses"], -item["attempts"], str(item["token_prefix"])))
        return found[:top]

    def result(self, top=10):
        out = {
            "window": self.window.as_dict(),
            "baseline": self.window.baseline_dict(),
            "scanned_lines": self.scanned,
            "lines": self.lines,
            "malformed": self.malformed.as_dict(),
            "events": dict((_text(key), count) for key, count in self.events.counts.items()),
            "auth_failed": None,
            "rate_limited": None,
            "exfiltration": None,
            "truncated": False,
        }
        counters = [self.events]
        if self.auth:
            out["auth_failed"] = {
                "total": self.events.counts.get(b"auth.failed", 0),
                "by_token_prefix": self.failed["tokenPrefix"].top(top),
                "by_client": self.failed["clientId"].top(top),
                "by_ip": self.failed["ip"].top(top),
                "by_reason": self.failed["reason"].top(top),
            }
            counters.extend(self.failed.values())
        if self.rate:
            actors = []
            for item in self.rate_actors.top(top):
                key = item["key"]
                if key == OTHER:
                    actors.append({"token_prefix": OTHER, "client_id": None, "org_id": None, "count": item["count"]})
                    continue
                actors.append({"token_prefix": _text(key[0]), "client_id": _text(key[1]), "org_id": _text(key[2]),
                               "count": item["count"]})
            out["rate_limited"] = {
                "total": self.events.counts.get(b"rate_limit.exceeded", 0),
                "top_actors": actors,
                "by_client": self.rate_clients.top(top),
                "by_ip": self.rate_ips.top(top),
            }
            counters.extend([self.rate_actors, self.rate_clients, self.rate_ips])
        if self.exfil:
            has_baseline = self.baseline and self.window.seconds
            out["exfiltration"] = {
                "baseline_checked": bool(has_baseline),
                "high_volume": self._high_volume(top) if has_baseline else [],
                "new_ip": self._new_ip(top) if has_baseline else [],
                "after_revocation": self._after_revocation(top),
            }
        out["truncated"] = any(counter.truncated for counter in counters) or self.pairs_truncated
        return out


def usage_summary(path, window, top=10):
    """Tool calls in usage.jsonl over the window: top token prefixes, clients, orgs and tools, and errors."""
    since = window.since.encode("ascii") if window.since else None
    until = window.until.encode("ascii") if window.until else None
    malformed = MalformedLines()
    counters = dict((name, Counter()) for name in ("tokenPrefix", "clientId", "orgId", "tool"))
    errors = Counter()
    lines = 0
    for first, batch in iter_line_batches(path):
        lineno = first - 1
        for line in batch:
            lineno += 1
            if line is None:
                malformed.add(lineno)
                continue
            if not line or line.isspace():
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                malformed.add(lineno)
                continue
            key = ts_key(rec.get("ts")) if isinstance(rec, dict) else None
            if key is None:
                malformed.add(lineno)
                continue
            key = key.encode("ascii")
            if (since is not None and key < since) or (until is not None and key >= until):
                continue
            lines += 1
            for name, counter in counters.items():
                counter.add(_b(rec.get(name)))
            if rec.get("status") not in ("ok", 200, None):
                errors.add(_b(rec.get("tokenPrefix")))
    return {
        "path": path,
        "lines": lines,
        "malformed": malformed.as_dict(),
        "by_token_prefix": counters["tokenPrefix"].top(top),
        "by_client": counters["clientId"].top(top),
        "by_org": counters["orgId"].top(top),
        "by_tool": counters["tool"].top(top),
        "errors_by_token_prefix": errors.top(top),
        "truncated": any(counter.truncated for counter in counters.values()) or errors.truncated,
    }
