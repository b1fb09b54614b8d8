"""The pure parts of bench/fleet_triage.py: the shell loops it times, the checks of what each side printed,
and the figures (medians, ratios, the cost a host). No process is started here;
tests/unit/bench/test_bench_fleet_triage.py calls these directly."""

import os
import re
import shlex
import statistics

UNIT = "onec-mcp-gateway"
DATA_DIR = "/var/lib/onec-mcp-gateway"
GATEWAY_PORT = 3000

# Seed 002, step 2 ("Check service status across all instances"), with our unit, port and data volume:
# systemctl status, curl of /healthz and df of the data volume, one ssh a host running the three (the seed
# runs an ssh a command; one a host is the faster, stronger baseline). $a is the host's address.
REMOTE = "systemctl status %s; curl -fsS http://$a:%d/healthz; df -P %s" % (UNIT, GATEWAY_PORT, DATA_DIR)


def ssh_options(argv, address):
    """The ssh argv of FleetLab.ssh_argv without its destination: the fleet's key and pinned known_hosts, kept
    as they are, so that the loop reaches every host the same way."""
    destination = "root@%s" % address
    if not argv or argv[-1] != destination:
        raise ValueError("expected an ssh argv ending in %s, got %r" % (destination, argv))
    return list(argv[:-1])


def loop_script(ssh_opts, parallel):
    """The bash loop over the hosts (the addresses are its arguments, the output dir its $OUT): one ssh a
    host, one after the other, or all in the background and then `wait`. Each host's output goes to
    $OUT/<address>.out with the exit status of its ssh as the last line."""
    ssh = " ".join(shlex.quote(part) for part in ssh_opts)
    one = '{ %s "root@$a" "%s"; echo "exit=$?"; } >"$OUT/$a.out" 2>&1' % (ssh, REMOTE)
    if parallel:
        return 'for a in "$@"; do\n  %s &\ndone\nwait\n' % one
    return 'for a in "$@"; do\n  %s\ndone\n' % one


def loop_output_problems(address, text):
    """What is missing from one host's loop output: the three checks' answers, as a list of strings."""
    problems = []
    if "Active: active (running)" not in text:
        problems.append("systemctl status: not active (running)")
    if not re.search(r'"status":\s*"ok"', text):
        problems.append("curl /healthz: no {\"status\": \"ok\"}")
    if not re.search(r"^\S+\s+\d+\s+\d+\s+\d+\s+\d+%\s+" + re.escape(DATA_DIR) + "$", text, re.M):
        problems.append("df -P %s: no line for the data volume" % DATA_DIR)
    if not text.rstrip().endswith("exit=0"):
        problems.append("ssh exit status: %s" % (text.rstrip().splitlines() or ["none"])[-1])
    return ["%s: %s" % (address, p) for p in problems]


RECAP_LINE = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def recap_problems(stdout, hosts):
    """What is wrong in a playbook's PLAY RECAP for exactly these hosts: a host missing, unreachable,
    failed or changed (the triage is read-only), or a host that was not asked for."""
    seen = {m.group(1): m for m in RECAP_LINE.finditer(stdout)}
    problems = ["%s: not in the PLAY RECAP" % h for h in hosts if h not in seen]
    for name, m in seen.items():
        if name not in hosts:
            problems.append("%s: ran but was not asked for (--limit)" % name)
            continue
        changed, unreachable, failed = int(m.group(3)), int(m.group(4)), int(m.group(5))
        if unreachable or failed or changed:
            problems.append("%s: changed=%d unreachable=%d failed=%d" % (name, changed, unreachable, failed))
    return problems


def median(samples):
    if not samples:
        raise ValueError("no samples")
    return statistics.median(samples)


def per_host(seconds, hosts):
    return seconds / hosts


def marginal_per_host(medians_by_hosts):
    """The cost of one more host: the slope between the smallest and the largest fleet measured, in s a host.
    None with fewer than two sizes."""
    sizes = sorted(medians_by_hosts)
    if len(sizes) < 2:
        return None
    low, high = sizes[0], sizes[-1]
    return (medians_by_hosts[high] - medians_by_hosts[low]) / (high - low)


def ratio_line(side, seconds, baseline, baseline_seconds, target):
    """One line `side / baseline: R.RRx (target ...: met|ABOVE TARGET)`; target is the highest ratio that
    meets it (1.0: faster than the baseline; 2.0: within 2x of it), or None for a line to read only."""
    ratio = seconds / baseline_seconds
    if target is None:
        verdict = "for reading, no target"
    elif target == 1.0:
        verdict = "target < 1x, faster: %s" % ("met" if ratio < 1.0 else "ABOVE TARGET")
    else:
        verdict = "target <= %gx: %s" % (target, "met" if ratio <= target else "ABOVE TARGET")
    return "%s / %s: %.2fx (%.2f s vs %.2f s; %s)" % (side, baseline, ratio, seconds, baseline_seconds, verdict)


def table(sides, medians, sizes):
    """Rows `hosts  side ...` of the medians, one column a side: seconds and, in brackets, seconds a host."""
    cells = {side: {n: ("-" if medians.get(side, {}).get(n) is None else
                        "%.2f s (%.3f)" % (medians[side][n], per_host(medians[side][n], n))) for n in sizes}
             for side in sides}
    widths = {side: max([len(side)] + [len(c) for c in cells[side].values()]) for side in sides}
    lines = ["hosts" + "".join("  " + side.rjust(widths[side]) for side in sides)]
    for n in sizes:
        lines.append("%5d" % n + "".join("  " + cells[side][n].rjust(widths[side]) for side in sides))
    return lines


def _stat_fields(text):
    """The fields of a /proc/<pid>/stat line after the command name (which may hold spaces and parentheses)."""
    return text[text.rindex(")") + 2:].split()


def tree_cpu_seconds(roots, proc="/proc", ticks=100):
    """CPU seconds of the process trees under the PIDs roots (each host's systemd-nspawn): for every living
    process of the trees its own user+system time and that of its reaped children (cutime+cstime), so that a
    module's Python process that has exited still counts, in its reaper's cutime. The difference of two calls
    is what the hosts spent between them. proc and ticks (clock ticks a second) are parameters for the tests."""
    children, own = {}, {}
    for name in os.listdir(proc):
        if not name.isdigit():
            continue
        try:
            with open(os.path.join(proc, name, "stat")) as handle:
                fields = _stat_fields(handle.read())
        except (OSError, ValueError):
            continue  # it exited while we read
        pid = int(name)
        children.setdefault(int(fields[1]), []).append(pid)
        own[pid] = sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    total, todo, seen = 0, [r for r in roots if r], set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += own.get(pid, 0)
        todo.extend(children.get(pid, ()))
    return total / float(ticks)
