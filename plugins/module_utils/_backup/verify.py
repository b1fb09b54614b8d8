# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Verification of a backup (or a staged copy) against its manifest.

Each problem is one string that starts with its name, so that a report, a
test and an operator can all tell them apart:
``missing_manifest``, ``bad_manifest``, ``missing_file``, ``size_mismatch``,
``sha256_mismatch``, ``invalid_json``, ``bad_jsonl_line``.
"""

from __future__ import annotations

import hashlib
import json
import os

from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.manifest import (
    ManifestError,
    file_digest,
    read_manifest,
)

PROBLEM_NAMES = (
    "missing_manifest",
    "bad_manifest",
    "missing_file",
    "size_mismatch",
    "sha256_mismatch",
    "invalid_json",
    "bad_jsonl_line",
)


PARSE_CACHE_NAME = ".parsed.json"
READ_CHUNK = 4 * 1024 * 1024
_JSON_WS = " \t\r"
_BYTES_WS = " \t\n\r\x0b\x0c"  # what bytes.strip() removes: a blank line is not an event


def problem_name(problem):
    return problem.split(":", 1)[0]


def _json_text_problem(text, label):
    try:
        json.loads(text)
    except ValueError as exc:
        return "invalid_json: %s: line %d col %d: %s" % (label, exc.lineno, exc.colno, exc.msg)
    return None


def json_problem(path, label):
    """None when the .json file parses, else an invalid_json problem with line and column."""
    size, _sha, problems = scan_file(path, label, parse=True)
    return problems[0] if problems else None


class JsonlChecker:
    """Streams a .jsonl file's bytes in chunks: every non-blank line must parse as JSON.

    Exactly the per-line rule (split on b"\\n", skip lines that bytes.strip() empties,
    json.loads of the UTF-8 text), faster: a chunk of whole lines is decoded once and each
    line is scanned in place; any line the fast path does not accept is re-checked the
    slow, exact way, which also gives the problem its message.
    """

    def __init__(self, label, limit=5):
        self.label = label
        self.limit = limit
        self.problems = []
        self.bad = 0
        self.line = 0
        self.pending = b""
        self.scan = json.JSONDecoder().scan_once

    def _bad(self, number, reason):
        self.bad += 1
        if len(self.problems) < self.limit:
            self.problems.append("bad_jsonl_line: %s: line %d: %s" % (self.label, number, reason))

    def _slow_line(self, number, raw):
        if not raw.strip():
            return
        try:
            json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            self._bad(number, getattr(exc, "msg", None) or str(exc))

    def _lines(self, block):
        """block: whole lines (each ends with b"\\n", the last may not when the file ends)."""
        first = self.line + 1
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError:
            parts = block.split(b"\n")
            raws = [part + b"\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
            for offset, raw in enumerate(raws):
                self._slow_line(first + offset, raw)
            self.line += len(raws)
            return
        scan, find, n = self.scan, text.find, len(text)
        pos, number = 0, first
        while pos < n:
            end_line = find("\n", pos)
            if end_line < 0:
                end_line = n
            ok = False
            if text[pos] not in _BYTES_WS:
                try:
                    _obj, end = scan(text, pos)
                except (StopIteration, ValueError):
                    end = -1
                if 0 <= end <= end_line:
                    ok = end == end_line or not text[end:end_line].strip(_JSON_WS)
            if not ok:
                self._slow_line(number, text[pos:end_line + 1].encode("utf-8"))
            pos = end_line + 1
            number += 1
        self.line = number - 1

    def feed(self, chunk):
        data = self.pending + chunk if self.pending else chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            self.pending = data
            return
        self.pending = data[cut + 1:]
        self._lines(data[:cut + 1])

    def finish(self):
        if self.pending:
            self._lines(self.pending)
            self.pending = b""
        problems = list(self.problems)
        if self.bad > self.limit:
            problems.append("bad_jsonl_line: %s: %d more bad lines not listed" % (self.label, self.bad - self.limit))
        return problems


def scan_file(path, label, parse=True):
    """(size, sha256 hex, content problems) in ONE read of path; parse=False only hashes."""
    digest = hashlib.sha256()
    size = 0
    kind = "jsonl" if label.endswith(".jsonl") else "json" if label.endswith(".json") else None
    if not parse or kind is None:
        size, sha = file_digest(path)
        return size, sha, []
    checker = JsonlChecker(label) if kind == "jsonl" else None
    parts = [] if kind == "json" else None  # a .json store is parsed whole, as json.loads needs it
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(READ_CHUNK)
            if not chunk:
                break
            size += len(chunk)
            digest.update(chunk)
            if checker is not None:
                checker.feed(chunk)
            elif parts is not None:
                parts.append(chunk)
    problems = []
    if checker is not None:
        problems = checker.finish()
    elif parts is not None:
        raw = b"".join(parts)
        parts = None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            problems = ["invalid_json: %s: not UTF-8 at byte %d" % (label, exc.start)]
        else:
            found = _json_text_problem(text, label)
            problems = [found] if found else []
    return size, digest.hexdigest(), problems


def jsonl_problems(path, label, limit=5):
    """bad_jsonl_line problems (file and line number), at most limit of them; streams the file."""
    checker = JsonlChecker(label, limit)
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(READ_CHUNK)
            if not chunk:
                break
            checker.feed(chunk)
    return checker.finish()


def content_problems(path, label):
    """Parse checks by file type: every .json parses, every .jsonl line parses."""
    if label.endswith(".jsonl"):
        return jsonl_problems(path, label)
    if label.endswith(".json"):
        found = json_problem(path, label)
        return [found] if found else []
    return []


def needs_parse(label):
    return label.endswith(".json") or label.endswith(".jsonl")


# -- the parse cache ---------------------------------------------------------------
# backups/<id>/.parsed.json {"version": 1, "files": {"<path>": "<sha256>"}}: "the bytes with this
# sha256 at this path parse". A fact about bytes, so it stays true; verification still hashes
# every file and skips only the line-by-line parse of a file whose sha256 is recorded.


def read_parse_cache(backup_dir):
    """{path: sha256} recorded for backup_dir; {} when there is none or it cannot be read."""
    try:
        with open(os.path.join(backup_dir, PARSE_CACHE_NAME), "rb") as handle:
            data = json.loads(handle.read().decode("utf-8"))
    except (OSError, ValueError):
        return {}
    files = data.get("files") if isinstance(data, dict) and data.get("version") == 1 else None
    if not isinstance(files, dict):
        return {}
    return {k: v for k, v in files.items() if isinstance(k, str) and isinstance(v, str)}


def write_parse_cache(backup_dir, files):
    """Record {path: sha256} atomically (tmp + fsync + rename); a cache, so failures are ignored."""
    path = os.path.join(backup_dir, PARSE_CACHE_NAME)
    tmp = path + ".tmp"
    try:
        with open(tmp, "w") as handle:
            json.dump({"version": 1, "files": files}, handle, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return False
    return True


def check_files(base_dir, files, check_content=True, known=None):
    """(problems, vouched) for the files under base_dir against manifest entries [{path, size, sha256}].

    known: {path: sha256} whose bytes are already known to parse (the parse cache); such a
    file is hashed only. vouched: {path: sha256} of every file that matches the manifest and
    parses (or needs no parse): what may be recorded.
    """
    known = known or {}
    problems = []
    vouched = {}
    for item in files:
        rel = item["path"]
        full = os.path.join(base_dir, *rel.split("/"))
        if not os.path.isfile(full):
            problems.append("missing_file: %s: listed in the manifest, not in the backup" % rel)
            continue
        want = item["sha256"].lower()
        parse = check_content and needs_parse(rel) and known.get(rel) != want
        size, sha, found = scan_file(full, rel, parse=parse)
        if check_content and not parse and needs_parse(rel) and sha != known.get(rel):
            # the recorded bytes are not these: parse them after all (a second read, rare)
            found = content_problems(full, rel)
        mismatch = False
        if size != item["size"]:
            problems.append("size_mismatch: %s: manifest says %d bytes, file has %d" % (rel, item["size"], size))
            mismatch = True
        elif sha != want:
            problems.append("sha256_mismatch: %s: manifest says %s, file has %s" % (rel, item["sha256"], sha))
            mismatch = True
        problems.extend(found)
        if check_content and not mismatch and not found:
            vouched[rel] = sha
    return problems, vouched


def verify_files(base_dir, files, check_content=True, known=None):
    """Problems of the files under base_dir against manifest entries [{path, size, sha256}]."""
    return check_files(base_dir, files, check_content, known)[0]


def check_backup_dir(backup_dir, record=True):
    """(manifest or None, problems, vouched) for backups/<id>, using and (record=True) updating
    its parse cache. The cache is written only for a backup that verified clean."""
    try:
        manifest = read_manifest(backup_dir)
    except ManifestError as exc:
        return None, [str(exc)], {}
    known = read_parse_cache(backup_dir)
    problems, vouched = check_files(os.path.join(backup_dir, "data"), manifest["files"], known=known)
    if record and not problems and vouched != known:
        write_parse_cache(backup_dir, vouched)
    return manifest, problems, vouched


def verify_backup_dir(backup_dir, record=True):
    """(manifest or None, problems) for backups/<id>; an empty list means the backup is valid."""
    manifest, problems, _vouched = check_backup_dir(backup_dir, record)
    return manifest, problems
