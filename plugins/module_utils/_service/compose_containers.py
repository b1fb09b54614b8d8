# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every container of a compose project, from `compose ps --all --format json` (compose 2.21+ prints one object a
line, older ones one array) or from the Engine API (docker_engine_api), and which services have none running: the
seed's `deploy.sh production status`."""

from __future__ import annotations

import json

KEPT = ("Name", "Service", "State", "Status", "Health", "Image", "ExitCode")


def parse_ps(text):
    """The containers (each a dict of KEPT keys) of `ps --format json` output; ValueError when a line is not JSON."""
    rows = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line:
            continue
        parsed = json.loads(line)
        for row in parsed if isinstance(parsed, list) else [parsed]:
            if isinstance(row, dict):
                rows.append(dict((key, row.get(key)) for key in KEPT))
    return rows


def states_by_service(rows):
    """{service: [state of each container]}, services and containers in name order."""
    states = {}
    for row in sorted(rows, key=lambda r: str(r.get("Name") or "")):
        states.setdefault(str(row.get("Service") or "?"), []).append(str(row.get("State") or "unknown"))
    return dict(sorted(states.items()))


def not_running(states):
    """The services none of whose containers is running, sorted."""
    return [name for name, words in sorted(states.items()) if "running" not in words]
