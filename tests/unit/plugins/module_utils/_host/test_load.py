"""Load and memory of a Linux host from /proc text (the runbook's `uptime` and `free -h`)."""

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._host.load import parse_loadavg, parse_meminfo


def test_loadavg():
    assert parse_loadavg("0.52 0.58 0.59 2/1234 56789\n") == {
        "1m": 0.52, "5m": 0.58, "15m": 0.59, "running": 2, "total_tasks": 1234}
    with pytest.raises(ValueError):
        parse_loadavg("")


def test_meminfo_with_and_without_memavailable():
    mem = parse_meminfo("MemTotal: 1000 kB\nMemFree: 100 kB\nMemAvailable: 250 kB\nCached: 50 kB\nSwapTotal: 0 kB\n")
    assert mem["total_bytes"] == 1024000 and mem["available_bytes"] == 256000 and mem["available_percent"] == 25.0
    old = parse_meminfo("MemTotal: 1000 kB\nMemFree: 100 kB\nCached: 50 kB\n")
    assert old["available_bytes"] == 150 * 1024


def test_loadavg_without_a_task_total():
    assert parse_loadavg("1.0 2.0 3.0 4")["total_tasks"] is None


def test_meminfo_of_nothing_is_zero_not_a_division_error():
    assert parse_meminfo("") == {"total_bytes": 0, "available_bytes": 0, "available_percent": 0.0,
                                 "swap_total_bytes": 0, "swap_free_bytes": 0}
