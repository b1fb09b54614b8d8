#!/usr/bin/env python3
"""Figure: CCTelegram's P0 assessment over the fleet, cctelegram-p0-response.yml against the seed's serial ssh loop.

Seed 002, "P0 Step 2: Immediate Assessment", on every serving instance of a CCTelegram fleet, one instance broken
first (--fault, default `unhealthy` on --broken, default fleet2), so that both sides must find the same one:

  seed loop (baseline)   the seed's commands as a bash loop, one after the other, an ssh a command as the seed writes
                         them (the fleet's key and pinned known_hosts, FleetLab.ssh_argv): on each instance
                         `systemctl status cctelegram-mcp`, `curl -H 'X-API-Key: ...' http://<its address>:8080/health`
                         (the lab's service listens on the host's address, not localhost; the key read by curl from
                         stdin, `-H @-`, so it is on no command line), `tail -50 application.log | grep -i error`, `top -bn1 | head -20`, `df -h`, `free -h`; then the load
                         balancer's `curl -I <lb>/health` (the seed runs the last four on mcp-01 only; here on every
                         instance, as the playbook does)
  loop, one ssh a host   the same commands in one ssh a host (the faster, stronger baseline; to read)
  playbook               ansible-playbook playbooks/cctelegram-p0-response.yml -e mitigation=none -e verify_checks=1
                         -e verify_delay=0 (the assessment of every instance at once, the table, the load balancer;
                         step 4's health checks through the load balancer cut to one), the repository's ansible.cfg

Every run is checked: the loop's failing instances (unit not active (running), or no `"status": "healthy"` from the
health check) and the playbook's "Failing instances:" line must both be exactly the broken one; a run that finds
anything else stops the figure. One untimed warm-up a side, then --rounds rounds with the sides taking turns;
medians, and the ratio of the playbook to the seed's loop. The fleet is booted here (FleetLab, 3 serving hosts, on
$MCPOPS_FLEET_NET) and downed at the end, unless --dir names a running CCTelegram fleet (its fault is cleared at the
end: `healthy` for unhealthy, a restart of the unit for stop). Needs root (systemd-nspawn).
A figure, not a test: it exits 0 whatever the ratio is.

    MCPOPS_FLEET_NET=127.0.62 .venv/bin/python bench/cctelegram_p0_assessment.py [--rounds 5] [--dir FLEET_DIR]
        [--broken fleet2] [--fault unhealthy|stop] [--json out.json]
"""

import argparse
import contextlib
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PLAYBOOK = ROOT / "playbooks" / "cctelegram-p0-response.yml"
sys.path.insert(0, str(ROOT / "src"))

from mcpops.lab.fleet import services  # noqa: E402
from mcpops.lab.fleet.lab import FleetError, FleetLab, preflight  # noqa: E402

SEED, ONE_SSH, PLAYBOOK_SIDE = "seed loop (an ssh a command)", "loop, one ssh a host", "playbook"
APP_LOG = "/var/log/cctelegram/application.log"
# The seed's step 2, command by command (the health check's key comes from curl's stdin: `-H @-`).
SEED_COMMANDS = (
    "systemctl status cctelegram-mcp",
    "curl -sS -H @- http://{address}:8080/health",
    "tail -50 %s | grep -i error" % APP_LOG,
    "top -bn1 | head -20",
    "df -h",
    "free -h",
)
HEALTH = 1  # the index of the command that reads the key from stdin
FIXES = {"unhealthy": "healthy", "stop": None}


def load():
    return "%.2f %.2f %.2f" % os.getloadavg()


def median(samples):
    return statistics.median(samples)


def ssh_options(fleet, host):
    argv = fleet.ssh_argv(host)
    assert argv[-1] == "root@%s" % host.address, argv
    return argv[:-1]


def loop_script(fleet, hosts, one_ssh):
    """The bash loop: for each instance, the seed's commands (an ssh each, or one ssh for all), their output and
    exit codes into $OUT/<name>.out; then `curl -I` of the load balancer's /health. $API_KEY_HEADER holds the
    header line, fed to curl on stdin."""
    lines = ['set -u']
    for host in hosts:
        ssh = " ".join(shlex.quote(p) for p in ssh_options(fleet, host) + ["root@%s" % host.address])
        out = '"$OUT/%s.out"' % host.name
        lines.append('echo "=== Checking %s ===" >%s' % (host.name, out))
        commands = [c.format(address=host.address) for c in SEED_COMMANDS]
        if one_ssh:
            remote = "; ".join("%s; echo \"exit=$?\"" % c if i != HEALTH else
                               "head -1 | %s; echo \"\"; echo \"exit=$?\"" % c for i, c in enumerate(commands))
            lines.append('printf "%%s\\n" "$API_KEY_HEADER" | %s %s >>%s 2>&1' % (ssh, shlex.quote(remote), out))
        else:
            for i, command in enumerate(commands):
                feed = 'printf "%s\\n" "$API_KEY_HEADER" | ' if i == HEALTH else ""
                stdin = "" if i == HEALTH else " </dev/null"
                lines.append('%s%s %s%s >>%s 2>&1; echo "exit=$?" >>%s'
                             % (feed, ssh, shlex.quote(command + ("; echo" if i == HEALTH else "")), stdin, out, out))
    lines.append('curl -sS -I -H "$API_KEY_HEADER" "$LB_URL/health" >"$OUT/lb.out" 2>&1')
    return "\n".join(lines) + "\n"


def loop_failing(out_dir, hosts):
    """The instances the loop's output shows failing: unit not active (running), or /health not healthy."""
    failing = set()
    for host in hosts:
        text = (out_dir / ("%s.out" % host.name)).read_text()
        if "Active: active (running)" not in text or not re.search(r'"status":\s*"healthy"', text):
            failing.add(host.name)
    return failing


class Bench:
    def __init__(self, fleet, inventory, tmp):
        self.fleet = fleet
        self.inventory = inventory
        self.tmp = Path(tmp)
        self.hosts = fleet.serving_hosts()
        self.key = (fleet.state_dir / "secrets" / "cctelegram_api_key").read_text().strip()
        self.lb_url = re.search(r'^cctelegram_lb_url: "([^"]+)"', (Path(inventory) / "group_vars" / "all.yml")
                                .read_text(), re.M).group(1)
        self.env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                        ANSIBLE_COLLECTIONS_PATH=str(ROOT / "collections"),
                        PATH="%s:%s" % (BIN, os.environ.get("PATH", "")),
                        MCPOPS_RUNS_DIR=str(self.tmp / "runs"), no_proxy="127.0.0.1,localhost")
        self.runs = 0

    def loop(self, one_ssh, expected):
        self.runs += 1
        out = self.tmp / ("loop-%d" % self.runs)
        out.mkdir()
        env = dict(self.env, OUT=str(out), LB_URL=self.lb_url, API_KEY_HEADER="X-API-Key: " + self.key)
        script = loop_script(self.fleet, self.hosts, one_ssh)
        start = time.perf_counter()
        proc = subprocess.run(["bash", "-c", script], env=env, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=600)
        elapsed = time.perf_counter() - start
        failing = loop_failing(out, self.hosts)
        if proc.returncode or failing != expected:
            raise SystemExit("the %s found %s, expected %s (bash exited %d: %s)" % (
                ONE_SSH if one_ssh else SEED, sorted(failing), sorted(expected), proc.returncode, proc.stderr[-500:]))
        return elapsed

    def playbook(self, expected):
        cmd = [str(BIN / "ansible-playbook"), str(PLAYBOOK), "-i", str(self.inventory), "-e", "mitigation=none",
               "-e", "verify_checks=1", "-e", "verify_delay=0"]
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=900)
        elapsed = time.perf_counter() - start
        found = re.search(r"Failing instances: (.*)$", proc.stdout, re.M)
        failing = set() if not found or found.group(1).strip() == "none" else {
            name.strip() for name in found.group(1).split(",")}
        if proc.returncode or failing != expected:
            raise SystemExit("the playbook found %s, expected %s (exit %d):\n%s" % (
                sorted(failing), sorted(expected), proc.returncode, "\n".join(proc.stdout.splitlines()[-15:])))
        return elapsed


@contextlib.contextmanager
def a_fleet(args, tmp):
    """(FleetLab, inventory dir): the running fleet of --dir, or one booted here (3 serving hosts) and downed after."""
    if args.dir:
        fleet = FleetLab(args.dir)
        yield fleet, Path(fleet.read_info().get("inventory_dir") or fleet.inventory_dir)
        return
    try:
        preflight()
    except FleetError as exc:
        raise SystemExit(str(exc))
    fleet = FleetLab(Path(tmp) / "fleet", inventory_dir=Path(tmp) / "inventory", service=services.CCTELEGRAM)
    print("booting a CCTelegram fleet of 3 on %s.x (load average %s) ..." % (fleet.net, load()), flush=True)
    try:
        fleet.up(3, standby=0)
        yield fleet, fleet.inventory_dir
    finally:
        fleet.down()


def heal(fleet, broken, fault):
    if FIXES.get(fault):
        fleet.break_(broken, FIXES[fault])
    else:
        host = next(h for h in fleet.serving_hosts() if h.name == broken)
        fleet.run(host, ["systemctl", "restart", services.MCP_UNIT], check=False, timeout=120)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dir", help="a running CCTelegram fleet (mcpops fleet up --service cctelegram-mcp --dir)")
    parser.add_argument("--broken", default="fleet2", help="the instance broken first (default fleet2)")
    parser.add_argument("--fault", default="unhealthy", choices=sorted(FIXES), help="how (default unhealthy)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    load_before = load()
    with tempfile.TemporaryDirectory(prefix="bench-cct-p0-") as tmp, a_fleet(args, tmp) as (fleet, inventory):
        bench = Bench(fleet, inventory, tmp)
        if args.broken not in {h.name for h in bench.hosts}:
            raise SystemExit("--broken %s: not a serving host of the fleet (%s)" % (
                args.broken, ", ".join(h.name for h in bench.hosts)))
        print(fleet.break_(args.broken, args.fault), flush=True)
        expected = {args.broken}
        try:
            sides = {SEED: lambda: bench.loop(False, expected), ONE_SSH: lambda: bench.loop(True, expected),
                     PLAYBOOK_SIDE: lambda: bench.playbook(expected)}
            for side in sides.values():  # warm-up, untimed: page cache, imports, the hosts' journals
                side()
            times = {name: [] for name in sides}
            for round_no in range(args.rounds):
                order = list(sides)[round_no % len(sides):] + list(sides)[:round_no % len(sides)]
                for name in order:
                    times[name].append(sides[name]())
                print("  round %d/%d done (load average %s)" % (round_no + 1, args.rounds, load()), flush=True)
        finally:
            heal(fleet, args.broken, args.fault)
    load_after = load()
    medians = {name: median(samples) for name, samples in times.items()}
    print("\nCCTelegram P0 step 2 (assessment) on %d instances, %s broken (%s); both sides found exactly it. "
          "Median of %d rounds, seconds" % (len(bench.hosts), args.broken, args.fault, args.rounds))
    print("machine: %d CPUs, Python %s; load average (1, 5, 15 min) before %s, after %s"
          % (os.cpu_count() or 0, platform.python_version(), load_before, load_after))
    for name, seconds in medians.items():
        print("  %-30s %6.2f s  (rounds: %s)" % (name, seconds, ", ".join("%.2f" % s for s in times[name])))
    ratio = medians[PLAYBOOK_SIDE] / medians[SEED]
    print("playbook / %s: %.2fx (%.2f s vs %.2f s; target < 1x, faster: %s)" % (
        SEED, ratio, medians[PLAYBOOK_SIDE], medians[SEED], "met" if ratio < 1 else "ABOVE TARGET"))
    print("playbook / %s: %.2fx (for reading, no target)" % (ONE_SSH, medians[PLAYBOOK_SIDE] / medians[ONE_SSH]))
    if args.json:
        Path(args.json).write_text(json.dumps({
            "figure": "cctelegram_p0_assessment", "rounds": args.rounds, "statistic": "median",
            "broken": args.broken, "fault": args.fault, "instances": len(bench.hosts), "times": times,
            "medians": medians, "ratio_playbook_to_seed_loop": ratio,
            "machine_before": {"cpus": os.cpu_count(), "loadavg": load_before},
            "machine_after": {"cpus": os.cpu_count(), "loadavg": load_after}}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
