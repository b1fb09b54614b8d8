# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Verification of a backup (or a staged copy) against its manifest.

Each problem is one string that starts with its name, so that a report, a
test and an operator can all tell them apart:
``missing_manifest``, ``bad_manifest``, ``missing_file``, ``size_mismatch``,
``sha256_mismatch``, ``invalid_json``, ``bad_jsonl_line``, ``unsafe_file`` (a link or a special file
where a file or directory belongs: never followed, never opened), ``too_large`` (over a cap of
bounded_json: never loaded), and, last, ``more_problems`` (how many were not listed: a backup lists at
most MAX_PROBLEMS).

Every file is reached through safe_fs (one name at a time, no link followed) and its size is compared
with the manifest before a byte of it is read.
"""

from __future__ import annotations

import hashlib
import json
import os

from ansible_collections.mcpops.runbooks.plugins.module_utils._backup import parallel_jsonl
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.bounded_json import (
    MAX_JSONL_LINE_BYTES,
    MAX_STORE_BYTES,
    JsonError,
    loads,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.manifest import (
    ManifestError,
    digest_fd,
    read_json_file,
    read_manifest,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.safe_fs import (
    FileTooLargeError,
    UnsafeFileError,
    has_more,
    human_bytes,
    opened,
    read_chunks,
)

PROBLEM_NAMES = (
    "missing_manifest",
    "bad_manifest",
    "missing_file",
    "size_mismatch",
    "sha256_mismatch",
    "invalid_json",
    "bad_jsonl_line",
    "unsafe_file",
    "too_large",
    "more_problems",
)


PARSE_CACHE_NAME = ".parsed.json"
READ_CHUNK = 4 * 1024 * 1024
MAX_PROBLEMS = 20
MAX_PROBLEM_CHARS = 600
_JSON_WS = " \t\r"
_BYTES_WS = " \t\n\r\x0b\x0c"  # what bytes.strip() removes: a blank line is not an event


def problem_name(problem):
    return problem.split(":", 1)[0]


class ProblemList(object):
    """The problems of one backup: the first MAX_PROBLEMS kept (each at most MAX_PROBLEM_CHARS), the
    rest only counted, so a manifest of a million missing files is a short answer."""

    def __init__(self, limit=None):
        self.limit = MAX_PROBLEMS if limit is None else limit
        self.kept = []
        self.count = 0

    def add(self, problem):
        self.count += 1
        if len(self.kept) < self.limit:
            if len(problem) > MAX_PROBLEM_CHARS:
                problem = problem[:MAX_PROBLEM_CHARS - 3] + "..."
            self.kept.append(problem)

    def extend(self, problems):
        for problem in problems:
            self.add(problem)

    def __bool__(self):
        return self.count > 0

    def listed(self):
        """The kept problems, then 'more_problems: N more problems not listed (M in all)' when some were cut."""
        if self.count <= len(self.kept):
            return list(self.kept)
        return self.kept + [
            "more_problems: %d more problems not listed (%d in all)" % (self.count - len(self.kept), self.count)
        ]


def capped(problems, limit=None):
    """A list of problems as ProblemList lists it."""
    found = ProblemList(limit)
    found.extend(problems)
    return found.listed()


class JsonlChecker:
    """Streams a .jsonl file's bytes in chunks: every non-blank line must parse as JSON.

    Exactly the per-line rule (split on b"\\n", skip lines that bytes.strip() empties,
    json.loads of the UTF-8 text), faster: a chunk of whole lines is decoded once and each
    line is scanned in place; any line the fast path does not accept is re-checked the
    slow, exact way, which also gives the problem its message.
    """

    def __init__(self, label, limit=5, max_line=None):
        self.label = label
        self.limit = limit
        self.max_line = MAX_JSONL_LINE_BYTES if max_line is None else max_line
        self.problems = []
        self.bad_lines = []  # (line, reason) of the listed ones, for parallel_jsonl to renumber
        self.bad = 0
        self.line = 0
        self.pending = b""
        self.skipping = False  # inside a line longer than max_line: its bytes are dropped until its newline
        self.scan = json.JSONDecoder().scan_once

    def _bad(self, number, reason):
        self.bad += 1
        if len(self.problems) < self.limit:
            self.problems.append("bad_jsonl_line: %s: line %d: %s" % (self.label, number, reason))
            self.bad_lines.append((number, reason))

    def _slow_line(self, number, raw):
        if not raw.strip():
            return
        try:
            loads(raw)
        except JsonError as exc:
            self._bad(number, exc.msg)

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
                except (StopIteration, ValueError, RecursionError):
                    end = -1
                if 0 <= end <= end_line:
                    ok = end == end_line or not text[end:end_line].strip(_JSON_WS)
            if not ok:
                self._slow_line(number, text[pos:end_line + 1].encode("utf-8"))
            pos = end_line + 1
            number += 1
        self.line = number - 1

    def _too_long(self):
        """The line being read is longer than max_line: one problem, and its bytes are dropped."""
        self._bad(self.line + 1, "longer than %s; not parsed" % human_bytes(self.max_line))
        self.pending = b""
        self.skipping = True

    def feed(self, chunk):
        if self.skipping:
            cut = chunk.find(b"\n")
            if cut < 0:
                return
            self.skipping = False
            self.line += 1  # the long line ends here
            chunk = chunk[cut + 1:]
        data = self.pending + chunk if self.pending else chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            self.pending = data
        else:
            self.pending = data[cut + 1:]
            self._lines(data[:cut + 1])
        if len(self.pending) > self.max_line:
            self._too_long()

    def finish(self):
        if self.skipping:
            self.skipping = False
            self.line += 1
        if self.pending:
            self._lines(self.pending)
            self.pending = b""
        problems = list(self.problems)
        if self.bad > self.limit:
            problems.append("bad_jsonl_line: %s: %d more bad lines not listed" % (self.label, self.bad - self.limit))
        return problems


def _kind(label):
    return "jsonl" if label.endswith(".jsonl") else "json" if label.endswith(".json") else None


def _json_store_problems(fd, limit, label, digest):
    """(size, problems) of a .json store of limit bytes read from fd into one buffer (json.loads needs the
    whole text), hashed as it is read; over MAX_STORE_BYTES it is hashed only and reported too_large."""
    if limit > MAX_STORE_BYTES:
        size = 0
        for view in read_chunks(fd, limit, READ_CHUNK):
            size += len(view)
            digest.update(view)
        return size, ["too_large: %s: %d bytes, more than the %s a .json store may have to be parsed; not parsed"
                      % (label, size, human_bytes(MAX_STORE_BYTES))]
    buf = bytearray(limit)
    view = memoryview(buf)
    size = 0
    while size < limit:
        count = os.readv(fd, [view[size:min(limit, size + READ_CHUNK)]])
        if not count:
            break
        digest.update(view[size:size + count])
        size += count
    view.release()
    del buf[size:]
    try:
        text = buf.decode("utf-8")
    except UnicodeDecodeError as exc:
        return size, ["invalid_json: %s: not UTF-8 at byte %d" % (label, exc.start)]
    del buf  # the text and what it parses to are enough in memory at once
    try:
        loads(text)
    except JsonError as exc:
        return size, ["invalid_json: %s: %s" % (label, exc.where())]
    return size, []


def scan_file(base, rel, parse=True, expect_size=None):
    """(size, sha256 hex, content problems) of base/rel (base a safe_fs.Dir, or a path trusted as given)
    in ONE read; parse=False only hashes.

    Only the bytes the file had when it was opened are read. expect_size (the manifest's size): a file
    of another size is not read at all and the sha256 is None; a file that grew while it was read has
    sha256 None too. A link or special file is refused (safe_fs.UnsafeFileError), a missing one is
    FileNotFoundError.
    """
    with opened(base) as top:
        fd, st = top.open_file(rel)
    try:
        if expect_size is not None and st.st_size != expect_size:
            return st.st_size, None, []
        limit = st.st_size
        kind = _kind(rel)
        problems = []
        if not parse or kind is None:
            size, sha = digest_fd(fd, limit)
        else:
            digest = hashlib.sha256()
            parallel = parallel_jsonl.check(fd, limit, rel, JsonlChecker, READ_CHUNK) if kind == "jsonl" else None
            if parallel is not None:
                size, sha, problems = parallel
            elif kind == "jsonl":
                checker = JsonlChecker(rel)
                size = 0
                for view in read_chunks(fd, limit, READ_CHUNK):
                    size += len(view)
                    digest.update(view)
                    checker.feed(bytes(view))
                problems = checker.finish()
                sha = digest.hexdigest()
            else:
                size, problems = _json_store_problems(fd, limit, rel, digest)
                sha = digest.hexdigest()
        if expect_size is not None and size == limit and has_more(fd):
            return os.fstat(fd).st_size, None, []
        return size, sha, problems
    finally:
        os.close(fd)


def content_problems(base, rel):
    """Parse checks by file type (every .json parses, every .jsonl line parses) of base/rel."""
    if not needs_parse(rel):
        return []
    return scan_file(base, rel, parse=True)[2]


def needs_parse(label):
    return label.endswith(".json") or label.endswith(".jsonl")


# -- the parse cache ---------------------------------------------------------------
# backups/<id>/.parsed.json {"version": 1, "files": {"<path>": "<sha256>"}}: "the bytes with this
# sha256 at this path parse". A fact about bytes, so it stays true; verification still hashes
# every file and skips only the line-by-line parse of a file whose sha256 is recorded.


def read_parse_cache(backup_dir):
    """{path: sha256} recorded for backup_dir (a safe_fs.Dir, or a path trusted as given); {} when there is
    none or it cannot be read (a link, a special file, over the cap, not JSON: "parse everything")."""
    try:
        data = read_json_file(backup_dir, PARSE_CACHE_NAME)
    except (OSError, ValueError, UnsafeFileError, FileTooLargeError):
        return {}
    files = data.get("files") if isinstance(data, dict) and data.get("version") == 1 else None
    if not isinstance(files, dict):
        return {}
    return {k: v for k, v in files.items() if isinstance(k, str) and isinstance(v, str)}


def write_parse_cache(backup_dir, files):
    """Record {path: sha256} atomically (tmp + fsync + rename); a cache, so failures are ignored.

    Never through a link: the tmp file is created O_EXCL | O_NOFOLLOW, and nothing is written while
    .parsed.json or .parsed.json.tmp is anything but a regular file (a link or a FIFO there is left as
    it is, and the cache is simply not written)."""
    tmp = PARSE_CACHE_NAME + ".tmp"
    try:
        with opened(backup_dir) as top:
            if top.kind(PARSE_CACHE_NAME) not in (None, "a regular file"):
                return False
            if top.kind(tmp) not in (None, "a regular file"):
                return False
            top.replace_file(PARSE_CACHE_NAME, json.dumps({"version": 1, "files": files}, sort_keys=True).encode("utf-8"), 0o600)
    except (OSError, UnsafeFileError):
        return False
    return True


def _relative(label, top):
    """A label of safe_fs as a path relative to top (as the problems name files)."""
    if label.startswith(top.label + os.sep):
        return label[len(top.label) + 1:].replace(os.sep, "/")
    return label


def _unsafe_problem(exc, top):
    """unsafe_file: <name relative to top>: <what it is> (never where a link points)."""
    return "unsafe_file: %s: %s" % (_relative(exc.label, top), exc.detail)


def check_files(base_dir, files, check_content=True, known=None, problems=None):
    """(problems, vouched) for the files under base_dir (a safe_fs.Dir, or a path trusted as given)
    against manifest entries [{path, size, sha256}].

    known: {path: sha256} whose bytes are already known to parse (the parse cache); such a
    file is hashed only. vouched: {path: sha256} of every file that matches the manifest and
    parses (or needs no parse): what may be recorded. problems: a ProblemList to add to (a new one
    by default); the problems come back as ProblemList.listed().
    """
    known = known or {}
    found_problems = ProblemList() if problems is None else problems
    vouched = {}
    with opened(base_dir) as top:
        for item in files:
            rel = item["path"]
            want = item["sha256"].lower()
            parse = check_content and needs_parse(rel) and known.get(rel) != want
            try:
                size, sha, found = scan_file(top, rel, parse=parse, expect_size=item["size"])
            except FileNotFoundError:
                found_problems.add("missing_file: %s: listed in the manifest, not in the backup" % rel)
                continue
            except UnsafeFileError as exc:
                if exc.hostile:
                    found_problems.add(_unsafe_problem(exc, top))
                else:  # a directory where the file belongs, or a file where a directory on its path belongs
                    found_problems.add("missing_file: %s: listed in the manifest, not in the backup (%s is %s)"
                                       % (rel, _relative(exc.label, top), exc.kind))
                continue
            if sha is None:
                found_problems.add("size_mismatch: %s: manifest says %d bytes, file has %d" % (rel, item["size"], size))
                continue
            if check_content and not parse and needs_parse(rel) and sha != known.get(rel):
                # the recorded bytes are not these: parse them after all (a second read, rare)
                found = content_problems(top, rel)
            mismatch = False
            if size != item["size"]:
                found_problems.add("size_mismatch: %s: manifest says %d bytes, file has %d" % (rel, item["size"], size))
                mismatch = True
            elif sha != want:
                found_problems.add("sha256_mismatch: %s: manifest says %s, file has %s" % (rel, item["sha256"], sha))
                mismatch = True
            found_problems.extend(found)
            if check_content and not mismatch and not found:
                vouched[rel] = sha
    return found_problems.listed(), vouched


def verify_files(base_dir, files, check_content=True, known=None):
    """Problems of the files under base_dir against manifest entries [{path, size, sha256}]."""
    return check_files(base_dir, files, check_content, known)[0]


def check_backup_dir(backup_dir, record=True):
    """(manifest or None, problems, vouched) for backups/<id> (a safe_fs.Dir, or a path trusted as given),
    using and (record=True) updating its parse cache. The cache is written only for a backup that
    verified clean. A link or special file where manifest.json, data/ or a data file belongs is the
    problem unsafe_file, never followed; at most MAX_PROBLEMS problems are listed."""
    with opened(backup_dir) as top:
        try:
            manifest = read_manifest(top)
        except ManifestError as exc:
            return None, [str(exc)[:MAX_PROBLEM_CHARS]], {}
        known = read_parse_cache(top)
        problems = ProblemList()
        data = None
        try:
            data = top.subdir("data")
        except FileNotFoundError:
            pass
        except UnsafeFileError as exc:
            if exc.hostile:
                return manifest, [_unsafe_problem(exc, top)], {}
        if data is None:
            for item in manifest["files"]:
                problems.add("missing_file: %s: listed in the manifest, not in the backup" % item["path"])
            return manifest, problems.listed(), {}
        with data:
            listed, vouched = check_files(data, manifest["files"], known=known, problems=problems)
        if record and not listed and vouched != known:
            write_parse_cache(top, vouched)
    return manifest, listed, vouched


def verify_backup_dir(backup_dir, record=True):
    """(manifest or None, problems) for backups/<id>; an empty list means the backup is valid."""
    manifest, problems, _vouched = check_backup_dir(backup_dir, record)
    return manifest, problems
