"""audit_scan through Ansible on a seeded lab data dir (AnsiballZ packs the _audit module_utils)."""

import json
import os
import subprocess
import sys

import pytest

from mcpops.lab.seed import seed_data_dir

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
ANSIBLE = os.path.join(os.path.dirname(sys.executable), "ansible")

pytestmark = pytest.mark.skipif(not os.path.exists(ANSIBLE), reason="ansible not in the venv")


def run_module(args, *flags):
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, "collections"),
        ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
        ANSIBLE_LOCALHOST_WARNING="0",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
    )
    proc = subprocess.run(
        [ANSIBLE, "localhost", "-c", "local", "-e", "ansible_python_interpreter=%s" % sys.executable,
         "-m", "mcpops.runbooks.audit_scan", "-a", json.dumps(args)] + list(flags),
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    data = json.loads(proc.stdout[proc.stdout.index("{"):])
    return data["plays"][0]["tasks"][0]["hosts"]["localhost"], proc.stdout + proc.stderr


def test_audit_scan_on_a_seeded_data_dir(tmp_path):
    seeded = seed_data_dir(tmp_path / "data")
    data_dir = str(tmp_path / "data")
    with open(os.path.join(data_dir, "audit.jsonl"), "a") as handle:
        handle.write("{broken\n")
    export = str(tmp_path / "export.jsonl")
    result, output = run_module({"data_dir": data_dir, "last": "12h", "baseline": "12h", "top": 3,
                                 "export_path": export, "hash_ips": True, "ip_salt": "drill"})
    assert not result.get("failed"), result
    assert result["malformed"]["count"] == 1
    assert 0 < result["lines"] < result["scanned_lines"]
    assert result["auth_failed"]["total"] == result["events"]["auth.failed"] > 0
    assert len(result["auth_failed"]["by_token_prefix"]) == 3
    assert result["rate_limited"]["top_actors"][0]["count"] >= result["rate_limited"]["top_actors"][-1]["count"]
    assert result["exfiltration"]["baseline_checked"] is True
    assert result["usage"]["lines"] > 0
    assert result["export"]["lines"] == result["lines"] and result["changed"] is True
    assert oct(os.stat(export).st_mode & 0o777) == "0o600"
    assert seeded["ops_token_secret"] not in output and "drill" not in json.dumps(result)
    checked, _ = run_module({"data_dir": data_dir, "last": "12h", "checks": ["auth_failed"],
                             "export_path": str(tmp_path / "check.jsonl")}, "--check")
    assert checked["export"]["written"] is False and not os.path.exists(str(tmp_path / "check.jsonl"))
    bad, _ = run_module({"data_dir": data_dir, "since": "yesterday"})
    assert bad["failed"] is True and "since" in bad["msg"]
