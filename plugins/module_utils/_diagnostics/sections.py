# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The sections of the seed's mcp-diagnostics.sh, in its order, each a list of steps (a command, an HTTP request
or a log read) whose failure is recorded in the section, never raised."""

from __future__ import annotations

import time

from ansible_collections.mcpops.runbooks.plugins.module_utils._diagnostics import cgroup_procs, http_probe, log_tail
from ansible_collections.mcpops.runbooks.plugins.module_utils._diagnostics.command import bounded, step

# (name, title): the file of a section is NN-<name>.txt, NN its place here.
SECTIONS = (
    ("system-information", "System Information"),
    ("service-status", "Service Status"),
    ("network-connectivity", "Network Connectivity"),
    ("resource-usage", "Resource Usage"),
    ("process-information", "Process Information"),
    ("network-connections", "Network Connections"),
    ("recent-errors", "Recent Errors"),
    ("security-events", "Recent Security Events"),
    ("performance-metrics", "Performance Metrics"),
)
SECTION_NAMES = tuple(section[0] for section in SECTIONS)
PS_COLUMNS = "pid,ppid,user,%cpu,%mem,rss,lstart,args"
LOG_READ_BYTES = 8 * 1024 * 1024
TELEGRAM_API = "https://api.telegram.org"  # the seed's; the lab's stand-in is on loopback


class Collector:
    """What a section's steps use: run(argv) -> step, and an HTTP transport; p is the module's params."""

    def __init__(self, p, run_command, transport, cgroup_roots=cgroup_procs.CGROUP_ROOTS):
        self.p = p
        self._run_command = run_command
        self.transport = transport
        self.cgroup_roots = cgroup_roots

    def run(self, *argv):
        return self._run_command(list(argv), self.p["timeout"], self.p["max_section_bytes"])

    # -- the sections ------------------------------------------------------------------------------

    def system_information(self):
        return [self.run("hostname"), self.run("uptime"), self.run("uname", "-a")]

    def service_status(self):
        steps = [self.run("systemctl", "status", "--no-pager", "--lines=%d" % self.p["status_lines"], unit)
                 for unit in self.units()]
        for unit in self.p["optional_units"]:
            loaded = self.run("systemctl", "show", "--property=LoadState", "--value", unit)
            if loaded["rc"] != 0:
                steps.append(loaded)  # systemd could not say: a failed step
            elif loaded["output"].strip() == "loaded":
                steps.append(self.run("systemctl", "status", "--no-pager", "--lines=%d" % self.p["status_lines"],
                                      unit))
            else:
                loaded["output"] += "%s is not installed here: no status\n" % unit
                steps.append(loaded)
        return steps

    def network_connectivity(self):
        if not self.p["health_url"]:
            steps = [step("health check", None, "no health_url given\n", 0.0)]
        else:
            steps = [http_probe.probe(self.transport, self.p["health_url"], self.p["api_key_header"],
                                      self.p["api_key"], self.p["max_section_bytes"])]
        # the seed's getMe: does the Bot API take the bridge's token (read from its file on this host)
        if self.p.get("telegram_token_file"):
            steps.append(http_probe.get_me(self.transport, self.p.get("telegram_api_url") or TELEGRAM_API,
                                           self.p["telegram_token_file"], self.p["max_section_bytes"]))
        return steps

    def resource_usage(self):
        return [self.run("free", "-h")] + [self.run("df", "-h", path) for path in self.p["disk_paths"]]

    def process_information(self):
        steps = []
        for unit in self.units():
            shown = self.run("systemctl", "show", "--property=ControlGroup", unit)
            group = cgroup_procs.control_group(shown["output"]) if shown["rc"] == 0 else ""
            path = cgroup_procs.cgroup_dir(group, self.cgroup_roots) if group else None
            pids = cgroup_procs.cgroup_pids(path) if path else []
            shown["output"] += "cgroup %s: %s\n" % (path or group or "(none)",
                                                    " ".join(str(p) for p in pids) or "no processes")
            steps.append(shown)
            if pids:
                steps.append(self.run("ps", "-ww", "-o", PS_COLUMNS, "-p", ",".join(str(p) for p in pids)))
        return steps

    def network_connections(self):
        listening = self.run("ss", "-tlnp")
        if listening["rc"] == 0:
            listening["output"] = listening_on(listening["output"], self.p["ports"])
            listening["command"] += " | ports %s" % ",".join(str(p) for p in self.p["ports"])
        return [listening]

    def recent_errors(self):
        levels = [level.lower() for level in self.p["error_levels"]]
        return [self.log_step(self.p["app_log"], self.p["error_lines"], lambda line: log_tail.is_error(line, levels),
                              "level %s" % "|".join(self.p["error_levels"]))]

    def security_events(self):
        events = self.p["security_events"]
        # The service writes security.log at its first security event: no file yet is no event yet.
        return [self.log_step(self.p["security_log"], self.p["security_lines"],
                              lambda line: log_tail.is_security_event(line, events), "event %s" % "|".join(events),
                              missing_ok=True)]

    def performance_metrics(self):
        if not self.p["metrics_url"]:
            return [step("metrics", None, "no metrics_url given\n", 0.0)]
        return [http_probe.metrics(self.transport, self.p["metrics_url"], self.p["api_key_header"],
                                   self.p["api_key"], self.p["metrics_pattern"], self.p["max_section_bytes"])]

    # -- helpers -----------------------------------------------------------------------------------

    def units(self):
        return [self.p["unit"]] + [u for u in self.p["depends_on"] if u != self.p["unit"]]

    def log_step(self, path, last, keep, what, missing_ok=False):
        if not path:
            return step("tail | %s" % what, None, "no log path given\n", 0.0)
        command = "tail -n %d %s | %s" % (last, path, what)
        started = time.monotonic()
        try:
            lines, read = log_tail.matching_tail(path, last, keep, LOG_READ_BYTES)
        except FileNotFoundError:
            if not missing_ok:
                return step(command, 1, "%s: not there\n" % path, time.monotonic() - started)
            return step(command, 0, "%s: not there (nothing logged yet)\n" % path, time.monotonic() - started)
        except OSError as exc:
            return step(command, 1, "%s: %s\n" % (path, exc.strerror or exc), time.monotonic() - started)
        text, truncated = bounded(("".join(line + "\n" for line in lines)).encode("utf-8"), self.p["max_section_bytes"])
        text += "[%d of the last %d lines]\n" % (len(lines), read)
        return step(command, 0, text, time.monotonic() - started, truncated)


def listening_on(ss_output, ports):
    """The header and the lines of `ss -tlnp` whose local address ends in one of ports (all lines without ports)."""
    lines = ss_output.splitlines()
    if not ports or not lines:
        return ss_output
    suffixes = tuple(":%d" % port for port in ports)
    kept = [line for line in lines[1:] if len(line.split()) > 3 and line.split()[3].endswith(suffixes)]
    return "\n".join([lines[0]] + kept) + "\n"


def collect(p, run_command, transport, names=None, cgroup_roots=cgroup_procs.CGROUP_ROOTS):
    """[(name, title, steps, seconds)] for each section (those in names, when given), in the seed's order."""
    collector = Collector(p, run_command, transport, cgroup_roots)
    found = []
    for name, title in SECTIONS:
        if names and name not in names:
            continue
        started = time.monotonic()
        steps = getattr(collector, name.replace("-", "_"))()
        found.append((name, title, steps, time.monotonic() - started))
    return found
