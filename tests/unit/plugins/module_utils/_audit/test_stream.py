"""_audit/stream.py: line batches across read boundaries, overlong lines skipped, bounded memory."""

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._audit.stream import MalformedLines, iter_line_batches

COLLECTIONS = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "..", "collections"))


def numbered(path, **kwargs):
    found = []
    for first, lines in iter_line_batches(str(path), **kwargs):
        found.extend((first + index, line) for index, line in enumerate(lines))
    return found


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 8 << 20])
def test_lines_and_numbers_whatever_the_read_size(tmp_path, chunk):
    path = tmp_path / "a.jsonl"
    path.write_bytes(b"a\n\nb\r\n" + b"x" * 50 + b"\nc\nd")
    expected = [(1, b"a"), (2, b""), (3, b"b"), (4, None if chunk < 50 else b"x" * 50), (5, b"c"), (6, b"d")]
    assert numbered(path, chunk_size=chunk, max_line=10) == expected


def test_malformed_lines_keeps_first_few():
    seen = MalformedLines(keep=3)
    for number in (4, 9, 10, 20, 30):
        seen.add(number)
    assert seen.as_dict() == {"count": 5, "first_lines": [4, 9, 10]}


FILE_MIB = 128  # the scanned file's size, and the bound of a scan's peak RSS (CI time: 200 took a minute and more)


def write_audit_file(path, mib=FILE_MIB):
    """~mib MiB of the gateway's audit lines (128 MiB: 620,000), their times cycling through 2026-11-23, and one
    malformed line."""
    head = b'{"ts":"2026-11-23T%02d:%02d:%02d.%03dZ","event":"'
    bodies = [
        b'tool.called","status":200,"ip":"203.0.113.%d","path":"/mcp","tokenId":"tok_00a1b2","tokenPrefix":"mcp_%04x","clientId":"cursor-ide","orgId":"org_acme","tool":"list_profiles","rows":3,"result":"ok"}\n',
        b'auth.failed","status":403,"ip":"198.51.100.%d","path":"/mcp","tokenId":"tok_00a1b2","tokenPrefix":"mcp_%04x","clientId":"ci-bot","orgId":"org_acme","reason":"revoked"}\n',
        b'auth.ok","status":200,"ip":"203.0.113.%d","path":"/mcp","method":"initialize","tokenId":"tok_00a1b2","tokenPrefix":"mcp_%04x","clientId":"cursor-ide","orgId":"org_acme"}\n',
        b'rate_limit.exceeded","status":429,"ip":"203.0.113.%d","path":"/mcp","reason":"rate_limit","tokenId":"tok_00a1b2","tokenPrefix":"mcp_%04x","clientId":"n8n","orgId":"org_globex"}\n',
    ]
    with open(str(path), "wb") as handle:
        block = []
        second = 0
        while handle.tell() < mib * 1024 * 1024:
            for index in range(20000):
                second += 1
                block.append(head % (second // 3600 % 24, second // 60 % 60, second % 60, index % 1000)
                             + bodies[index % 4] % (index % 250, index % 4096))
            handle.write(b"".join(block))
            block = []
        handle.write(b"not json\n")


def start_scan(path, export=None):
    """A full audit_scan (all checks; the window 20:00-24:00, its 6 h baseline before it) in a subprocess that
    prints its peak RSS; with export, the window's lines are exported (redacted, ips hashed) too."""
    params = {"audit_path": str(path), "since": "2026-11-23T20:00:00Z", "until": "2026-11-24T00:00:00Z",
              "baseline": "6h"}
    if export:
        params.update(export_path=str(export), hash_ips=True)
    # The peak is VmHWM, this process's own high-water mark: getrusage's ru_maxrss also keeps the RSS of the
    # process it was forked from (pytest, hundreds of MiB late in a full run), carried across exec.
    code = (
        "import json, sys\n"
        "sys.path.insert(0, %r)\n"
        "from ansible_collections.mcpops.runbooks.plugins.module_utils._audit.audit_scan_run import run\n"
        "r = run(%r)\n"
        "hwm = [int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM:')][0]\n"
        "print(json.dumps({'rss_kib': hwm, 'lines': r['lines'],\n"
        "                  'malformed': r['malformed']['count'], 'exported': (r['export'] or {}).get('lines')}))\n"
    ) % (COLLECTIONS, params)
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def figures_of(proc):
    try:
        out, err = proc.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        proc.kill()  # the scan we started, by its Popen
        proc.communicate()
        raise
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def test_scan_of_128mib_stays_under_128mib(tmp_path):
    """Peak RSS of a full audit_scan (all checks, a window, an export) over a ~128 MiB file, in subprocesses.

    Reading: the whole file is scanned under 128 MiB (a scan that held the file would be over it; a streaming one
    peaked at 77 MiB here: the interpreter and its imports, ~30, a few 8 MiB reads, and what the findings keep).
    Exporting: the window is 20:00-24:00 (the file's times pass through the day 7.6 times: 100,800 lines, ~22 MB
    exported; the redaction is what takes the time), and the same scan with the export may peak at most 10 MiB above
    the scan without it (an export that held its lines would be 22 MB or more above it). Both scans run side by
    side. Bigger files are bench/'s (256 MiB to 4 GiB)."""
    path = tmp_path / "audit.jsonl"
    write_audit_file(path)
    export = tmp_path / "export.jsonl"
    scans = [start_scan(path), start_scan(path, export)]
    try:
        plain, exported = [figures_of(proc) for proc in scans]
    finally:
        for proc in scans:
            if proc.poll() is None:
                proc.kill()  # the other scan, when the first failed: ours, by its Popen
                proc.communicate()
    for figures in (plain, exported):
        assert figures["malformed"] == 1 and figures["lines"] == 100800, figures
        assert figures["rss_kib"] < FILE_MIB * 1024, figures
    assert exported["lines"] == plain["lines"] and exported["exported"] == 100800, (plain, exported)
    assert export.stat().st_size > 20 * 1024 * 1024
    assert exported["rss_kib"] - plain["rss_kib"] < 10 * 1024, (plain, exported)
