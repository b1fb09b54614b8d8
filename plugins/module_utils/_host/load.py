# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Load and memory of a Linux host from /proc (the runbook's `uptime`, `free -h`)."""

from __future__ import annotations


def parse_loadavg(text):
    """/proc/loadavg -> {"1m", "5m", "15m", "running", "total_tasks"}."""
    fields = (text or "").split()
    if len(fields) < 4:
        raise ValueError("/proc/loadavg: expected at least 4 fields, got %r" % text)
    running, _sep, total = fields[3].partition("/")
    return {"1m": float(fields[0]), "5m": float(fields[1]), "15m": float(fields[2]),
            "running": int(running), "total_tasks": int(total) if total else None}


def parse_meminfo(text):
    """/proc/meminfo -> total, available, swap total and free in bytes, and the percent available."""
    kib = {}
    for line in (text or "").splitlines():
        key, _sep, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            kib[key.strip()] = int(parts[0]) * 1024
    total = kib.get("MemTotal", 0)
    # Kernels before 3.14 have no MemAvailable; free + page cache is the old estimate.
    available = kib.get("MemAvailable", kib.get("MemFree", 0) + kib.get("Cached", 0))
    return {
        "total_bytes": total,
        "available_bytes": available,
        "available_percent": round(100.0 * available / total, 2) if total else 0.0,
        "swap_total_bytes": kib.get("SwapTotal", 0),
        "swap_free_bytes": kib.get("SwapFree", 0),
    }
