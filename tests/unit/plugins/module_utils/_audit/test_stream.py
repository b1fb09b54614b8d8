"""_audit/stream.py: line batches across read boundaries, overlong lines skipped, bounded memory."""

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


def test_scan_of_200mb_stays_under_200mib(tmp_path):
    """Peak RSS of a full audit_scan (all checks, a window, an export) over a ~200 MB file, in a subprocess."""
    path = tmp_path / "audit.jsonl"
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
        while handle.tell() < 200 * 1024 * 1024:
            for index in range(20000):
                second += 1
                block.append(head % (second // 3600 % 24, second // 60 % 60, second % 60, index % 1000)
                             + bodies[index % 4] % (index % 250, index % 4096))
            handle.write(b"".join(block))
            block = []
        handle.write(b"not json\n")
    export = tmp_path / "export.jsonl"
    code = (
        "import json, resource, sys\n"
        "sys.path.insert(0, %r)\n"
        "from ansible_collections.mcpops.runbooks.plugins.module_utils._audit.audit_scan_run import run\n"
        "r = run({'audit_path': %r, 'since': '2026-11-23T06:00:00Z', 'until': '2026-11-24T00:00:00Z',\n"
        "         'baseline': '6h', 'export_path': %r, 'hash_ips': True})\n"
        "print(json.dumps({'rss_kib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, 'lines': r['lines'],\n"
        "                  'malformed': r['malformed']['count']}))\n"
    ) % (COLLECTIONS, str(path), str(export))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=True)
    import json
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert figures["malformed"] == 1 and figures["lines"] > 100000
    assert figures["rss_kib"] < 200 * 1024, figures
