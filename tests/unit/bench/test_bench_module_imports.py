"""bench/module_imports.py: how -X importtime's lines are summed, and one real run on gateway_backup's AnsiballZ
payload, which also holds the backup modules to what issue 20 needs of them: a module's start compiles only what
every run uses, and the payload still carries every file its lazy imports load later."""

import json
import os
import subprocess
import sys

import pytest

BENCH = os.path.join(os.path.dirname(__file__), "..", "..", "..", "bench")
sys.path.insert(0, BENCH)

import module_imports as bench  # noqa: E402

# -X importtime's own format: "import time: self [us] | cumulative | " then two spaces a nesting level
IMPORTTIME = """import time: self [us] | cumulative | imported package
import time:       900 |        900 | zipimport
import time:      5000 |      70000 | ansible.module_utils.basic
%s
import time:       100 |        100 |     ansible_collections.mcpops.runbooks.plugins
import time:       200 |        300 |   ansible_collections.mcpops.runbooks.plugins.modules
import time:      4000 |       4000 |     ansible_collections.mcpops.runbooks.plugins.module_utils._backup.safe_fs
import time:      3000 |       7000 |   ansible_collections.mcpops.runbooks.plugins.module_utils._backup.store
import time:      1000 |       8300 | ansible_collections.mcpops.runbooks.plugins.modules.gateway_backup
import time:       250 |        250 | secrets
""" % bench.MARK


def test_only_the_top_level_imports_after_the_mark_are_summed():
    ms, rows = bench.parse_importtime(IMPORTTIME)
    assert ms == pytest.approx(8.55)  # 8300 + 250 us: nested lines are inside their parent's cumulative time
    assert (4.0, "ansible_collections.mcpops.runbooks.plugins.module_utils._backup.safe_fs") in rows
    assert all(name not in ("zipimport", "ansible.module_utils.basic") for _, name in rows)
    with pytest.raises(ValueError):
        bench.parse_importtime(IMPORTTIME.replace(bench.MARK, ""))  # the child died before the module's imports


def test_gateway_backup_starts_without_the_code_that_only_some_runs_use(tmp_path):
    out = tmp_path / "imports.json"
    proc = subprocess.run([sys.executable, os.path.join(BENCH, "module_imports.py"), "gateway_backup", "--repeat", "1",
                           "--target-ms", "100000", "--json", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "load average" in proc.stdout and "0 of 1 modules over 100000 ms" in proc.stdout
    result = json.loads(out.read_text())["modules"][0]
    started = {f["name"].rpartition(".")[2] for f in result["our_files"]}
    later = {name.rpartition(".")[2] for name in result["later_files"]}
    assert {"gateway_backup", "gateway_backup_run", "store", "safe_fs", "manifest"} <= started
    # restore, verify, sealing and the API client: imported inside the functions that use them, so not at the
    # start, and still in the payload (a host has nothing else to import them from)
    only_some_runs = {"data_swap", "verify", "parallel_jsonl", "sealed_backup", "sealed_stream", "forensic_key",
                      "client", "http_transport", "store_create", "store_restore", "store_prune", "restore_state"}
    assert not only_some_runs & started
    assert only_some_runs <= later
    assert result["own_ms"] > 0 and result["our_source_kib"] > 0
