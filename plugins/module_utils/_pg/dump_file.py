# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A database dump file: what kind it is and whether it is whole (the runbook's "verify backup integrity").

dump_kind(path) reads the first bytes: `custom` (PGDMP), `tar` (ustar), `plain.gz` (gzip) or `plain`.
check_integrity(path, kind, pg_restore) -> DumpFacts: for custom and tar, `pg_restore --list` must read the
table of contents; for plain SQL, gzip must decompress to the end (its CRC checks every byte) and the text must
end with pg_dump's `-- PostgreSQL database dump complete` trailer, which a truncated dump lacks. Either way the
tables the dump creates are listed, so a missing key table is named before anything is restored.
No Ansible here.
"""

from __future__ import annotations

import datetime
import gzip
import os
import re
import subprocess
import zlib

from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.client_tools import last_lines

TRAILER = b"-- PostgreSQL database dump complete"
TAIL_BYTES = 4096
CHUNK = 1024 * 1024
# `215; 1259 16392 TABLE public audit postgres` in pg_restore --list
TOC_TABLE = re.compile(r"^\d+;\s+\d+\s+\d+\s+TABLE\s+(?!DATA\s)(\S+)\s+(\S+)\s")
# `CREATE TABLE public.tokens (` in a plain dump (quoted names kept as written, quotes stripped)
CREATE_TABLE = re.compile(rb"^CREATE (?:UNLOGGED )?TABLE (?:ONLY )?(\"[^\"]+\"|[^\s.(]+)\.(\"[^\"]+\"|[^\s(]+) \(", re.M)


class DumpError(Exception):
    """The dump is unusable; .stage says which check found it."""

    def __init__(self, msg, stage="integrity"):
        super(DumpError, self).__init__(msg)
        self.msg = msg
        self.stage = stage


class DumpFacts:
    def __init__(self, kind, tables, toc_entries=None):
        self.kind = kind
        self.tables = sorted(set(tables))
        self.toc_entries = toc_entries


def dump_kind(path):
    try:
        with open(path, "rb") as handle:
            head = handle.read(512)
    except OSError as exc:
        raise DumpError("cannot read the dump %s: %s" % (path, exc.strerror or exc))
    if not head:
        raise DumpError("the dump %s is empty (0 bytes)" % path)
    if head.startswith(b"PGDMP"):
        return "custom"
    if head[:2] == b"\x1f\x8b":
        return "plain.gz"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    return "plain"


def _unquote(name):
    return name[1:-1].replace('""', '"') if name.startswith('"') and name.endswith('"') else name


def list_archive(path, pg_restore, timeout):
    """Tables of a custom or tar archive from its table of contents; DumpError when pg_restore cannot read it."""
    try:
        proc = subprocess.run([pg_restore, "--list", path], capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise DumpError("pg_restore --list %s did not finish within %ss" % (path, timeout))
    if proc.returncode != 0:
        raise DumpError("pg_restore --list %s failed (rc %d): %s - the archive's table of contents is unreadable "
                        "(truncated or not a pg_dump archive)" % (path, proc.returncode, last_lines(proc.stderr)))
    tables, entries = [], 0
    for line in proc.stdout.splitlines():
        if line and not line.startswith(";"):
            entries += 1
        match = TOC_TABLE.match(line)
        if match:
            tables.append("%s.%s" % (match.group(1), match.group(2)))
    return DumpFacts("custom", tables, entries)


def scan_plain(path, compressed):
    """Read a plain dump to its end: the CREATE TABLEs and whether the trailer is there."""
    opener = gzip.open if compressed else open
    tables, tail, carry = [], b"", b""
    try:
        with opener(path, "rb") as handle:
            while True:
                block = handle.read(CHUNK)
                if not block:
                    break
                text = carry + block
                cut = text.rfind(b"\n") + 1  # scan whole lines; keep the partial last one for the next block
                tables.extend(CREATE_TABLE.findall(text[:cut]))
                carry = text[cut:]
                tail = (tail + block)[-TAIL_BYTES:]
    except (EOFError, OSError, zlib.error) as exc:
        raise DumpError("%s does not decompress to its end: %s - the file is truncated or damaged" % (path, exc))
    tables.extend(CREATE_TABLE.findall(carry))
    if TRAILER not in tail:
        raise DumpError("%s ends without pg_dump's trailer %r: the dump is truncated (or was not written by pg_dump)"
                        % (path, TRAILER.decode()))
    names = ["%s.%s" % (_unquote(s.decode("utf-8", "replace")), _unquote(t.decode("utf-8", "replace"))) for s, t in tables]
    return DumpFacts("plain.gz" if compressed else "plain", names)


def check_integrity(path, kind, pg_restore=None, timeout=600):
    if kind in ("custom", "tar"):
        facts = list_archive(path, pg_restore, timeout)
        facts.kind = kind
        return facts
    return scan_plain(path, compressed=kind == "plain.gz")


def file_facts(path):
    """size_bytes and modified (UTC, ISO 8601) of the dump file."""
    st = os.stat(path)
    modified = datetime.datetime.fromtimestamp(st.st_mtime, tz=datetime.timezone.utc)
    return dict(size_bytes=st.st_size, modified=modified.strftime("%Y-%m-%dT%H:%M:%SZ"))
