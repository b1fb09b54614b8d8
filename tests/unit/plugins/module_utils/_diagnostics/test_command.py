"""A diagnostics step runs a real command: its exit code, output (bounded), and a missing tool or a timeout recorded,
never raised."""

import sys

from ansible_collections.mcpops.runbooks.plugins.module_utils._diagnostics.command import bounded, run_command


def test_a_command_records_its_exit_code_and_output():
    done = run_command([sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"],
                       timeout=30, max_bytes=1000)
    assert done["rc"] == 3 and "out" in done["output"] and "err" in done["output"]
    assert done["command"].endswith("sys.exit(3)'") and done["truncated"] is False and done["duration_ms"] >= 0


def test_output_past_max_bytes_is_cut_and_counted():
    done = run_command([sys.executable, "-c", "print('x' * 5000)"], timeout=30, max_bytes=100)
    assert done["rc"] == 0 and done["truncated"] is True
    assert done["output"].startswith("x" * 100) and "[... 4901 more bytes not kept]" in done["output"]


def test_a_missing_tool_is_exit_127():
    done = run_command(["/nonexistent/tool", "-a"], timeout=5, max_bytes=100)
    assert done["rc"] == 127 and "/nonexistent/tool" in done["output"]


def test_a_timeout_is_a_step_that_did_not_finish():
    done = run_command([sys.executable, "-c", "import time; print('started', flush=True); time.sleep(30)"],
                       timeout=1, max_bytes=100)
    assert done["rc"] is None and "timed out after 1s" in done["output"]


def test_bounded_keeps_short_text_whole():
    assert bounded(b"abc", 3) == ("abc", False)
    assert bounded(b"abcd", 3)[1] is True
