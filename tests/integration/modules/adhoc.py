"""One module run through `ansible localhost -m` (AnsiballZ packs the module_utils), with canary tokens that
must never appear in its output. Shared by the ad-hoc module tests of tests/integration/modules/."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
ANSIBLE = os.path.join(os.path.dirname(sys.executable), "ansible")
API_CANARY = "CANARYadminTOKEN0001"
MCP_CANARY = "mcp_beefCANARYmcpTOKEN000000000000000000000000"
JSON = {"Content-Type": "application/json"}

pytestmark = pytest.mark.skipif(not os.path.exists(ANSIBLE), reason="ansible not in the venv")


def run_module(module, args, *flags):
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, "collections"),
        ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
        ANSIBLE_LOCALHOST_WARNING="0",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
    )
    proc = subprocess.run(
        [ANSIBLE, "localhost", "-c", "local", "-e", "ansible_python_interpreter=%s" % sys.executable,
         "-m", "mcpops.runbooks.%s" % module, "-a", json.dumps(args)] + list(flags),
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    out = proc.stdout + proc.stderr
    assert API_CANARY not in out and MCP_CANARY not in out
    data = json.loads(proc.stdout[proc.stdout.index("{"):])
    return data["plays"][0]["tasks"][0]["hosts"]["localhost"]
