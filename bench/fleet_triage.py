#!/usr/bin/env python3
"""Figure: INC-001's read-only triage across fleet hosts, the playbook against seed 002's ssh loop.

The triage is INC-001's first three steps on every host: the service's status, its /healthz, the disk of
its data volume. Sides, each timed end to end on the first N hosts of one fleet (N = 2, 4, 8 by default):

  serial loop    seed 002's "check service status across all instances": a bash loop, one ssh a host (the
                 fleet's key and pinned known_hosts, FleetLab.ssh_argv) running `systemctl status
                 onec-mcp-gateway; curl -fsS http://<addr>:3000/healthz; df -P /var/lib/onec-mcp-gateway`
  parallel loop  the same, every ssh in the background, then `wait`
  playbook       ansible-playbook bench/fleet_triage.yml --limit <the N hosts> with the repository's
                 ansible.cfg (forks 20, pipelining, ControlPersist): gateway_service_facts (what the
                 gateway_service role's status reads through), gateway_health and host_resources, as
                 inc-001-gateway-down.yml steps 1-3
  peer           ansible-playbook bench/fleet_triage_peer.yml: the same steps with builtin modules only
                 (command systemctl status, uri /healthz /readyz /api/system/storage-meta, shell df), what an
                 Ansible user would write without the collection (issue 20; target: the playbook <= 1.0x of it)
  mitogen        the same playbook with ANSIBLE_STRATEGY=mitogen_linear (opt-in accelerator; pip install -e
                 '.[bench]'); left out, with the reason in one line, where Mitogen is missing or refuses
                 this ansible-core

Every run is checked (each host's loop output has the three answers; the PLAY RECAP has exactly the N hosts,
none failed, unreachable or changed). Each playbook run gets a fresh ControlPath dir and its masters are
closed after it, so it opens its connections as the loop does. Options add sides to read (no target), each
changing one thing: --warm keeps the masters (a re-run within ControlPersist's 60 s), --via-role runs step 1
through the gateway_service role as INC-001 does, --free uses the free strategy. One untimed warm-up of each
side, then --rounds rounds in which the sides take turns; medians, the CPU time of the processes this
script waits for (the controller: bash, the ssh clients, ansible-playbook and its workers; not the ssh
ControlPersist masters, which detach) and the hosts' CPU time (every process under each host's systemd-nspawn,
its own and its reaped children's time from /proc/<pid>/stat, before and after the run), and the slope: seconds
per added host (least squares over --hosts, e.g. 2,4,8,16). The fleet is booted here (FleetLab, as many hosts
as the largest N, on $MCPOPS_FLEET_NET, one boot for every N) and downed at the end, unless --fleet-dir names a
running one. Needs root (systemd-nspawn).
A figure, not a test: it exits 0 whatever the ratios are.

    sudo MCPOPS_FLEET_NET=127.0.4 .venv/bin/python bench/fleet_triage.py [--hosts 2,4,8 | --sizes 2,4,8,16] [--rounds 5]
        [--fleet-dir DIR] [--no-mitogen] [--warm] [--via-role] [--free] [--profile] [--json out.json]
"""

import argparse
import contextlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PLAYBOOK = ROOT / "bench" / "fleet_triage.yml"
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

import fleet_triage_figures as figures  # noqa: E402
import growth  # noqa: E402
from mcpops.lab.fleet.lab import FleetLab, FleetError, preflight  # noqa: E402

SERIAL, PARALLEL, PLAYBOOK_SIDE, MITOGEN = "serial loop", "parallel loop", "playbook", "playbook, mitogen_linear"
PEER, PEER_PLAYBOOK = "peer (builtin modules)", ROOT / "bench" / "fleet_triage_peer.yml"
# Sides to read only (no target), each behind an option: what one setting changes, the rest as the playbook side.
VARIANTS = {
    "warm": ("playbook, ControlPersist warm", "keep the ssh masters between runs (a re-run within 60 s)"),
    "via_role": ("playbook, step 1 via the role", "step 1 through the gateway_service role, as INC-001 (--tags via_role)"),
    "free": ("playbook, strategy free", "ANSIBLE_STRATEGY=free: no host waits for the others between tasks"),
}


class RunFailed(Exception):
    pass


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def load():
    return "%.2f %.2f %.2f" % os.getloadavg()


def mitogen_strategy_dir():
    """(the directory of Mitogen's strategy plugins, None) or (None, why there is no Mitogen side)."""
    try:
        import ansible_mitogen
        import mitogen
    except ImportError:
        return None, "mitogen: not installed in this venv (pip install -e '.[bench]'), no mitogen_linear side"
    path = Path(ansible_mitogen.__file__).parent / "plugins" / "strategy"
    if not (path / "mitogen_linear.py").exists():
        return None, "mitogen %s: no mitogen_linear strategy under %s" % (
            ".".join(map(str, mitogen.__version__)), path)
    return path, None


def mitogen_version():
    import mitogen

    return ".".join(map(str, mitogen.__version__))


class Bench:
    def __init__(self, fleet, inventory, tmp):
        self.fleet = fleet
        self.inventory = inventory
        self.tmp = Path(tmp)
        self.hosts = fleet.hosts()
        self.env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                        ANSIBLE_COLLECTIONS_PATH=str(ROOT / "collections"),
                        PATH="%s:%s" % (BIN, os.environ.get("PATH", "")),
                        MCPOPS_RUNS_DIR=str(self.tmp / "runs"), no_proxy="127.0.0.1,localhost")
        self.mitogen_dir = None
        self._runs = 0
        self.last_cpu = None  # CPU seconds of this machine's side of the last run (ssh clients, ansible, bash)
        self.last_host_cpu = None  # CPU seconds the hosts of the last run spent (under their systemd-nspawn)

    def host_cpu(self, count):
        return figures.tree_cpu_seconds([self.fleet.pid(h) for h in self.hosts[:count]],
                                        ticks=os.sysconf("SC_CLK_TCK"))

    # ---------------------------------------------------------------- the ssh loops

    def loop(self, count, parallel):
        hosts = self.hosts[:count]
        out = self.tmp / ("loop-%d" % self._next())
        out.mkdir()
        opts = figures.ssh_options(self.fleet.ssh_argv(hosts[0]), hosts[0].address)
        script = figures.loop_script(opts, parallel)
        env = dict(os.environ, OUT=str(out))
        host_cpu, cpu, start = self.host_cpu(count), children_cpu(), time.perf_counter()
        proc = subprocess.run(["bash", "-c", script, "loop"] + [h.address for h in hosts], env=env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600)
        elapsed, self.last_cpu = time.perf_counter() - start, children_cpu() - cpu
        self.last_host_cpu = self.host_cpu(count) - host_cpu
        problems = ["bash exited %d: %s" % (proc.returncode, proc.stderr.strip())] if proc.returncode else []
        for host in hosts:
            path = out / (host.address + ".out")
            problems += figures.loop_output_problems(host.address, path.read_text() if path.exists() else "")
        if problems:
            raise RunFailed("%s loop on %d hosts: %s" % ("parallel" if parallel else "serial", count,
                                                         "; ".join(problems)))
        return elapsed

    # ---------------------------------------------------------------- the playbook

    def _next(self):
        self._runs += 1
        return self._runs

    def playbook(self, count, strategy=None, control_dir=None, extra_env=None, playbook=PLAYBOOK, extra_args=()):
        names = [h.name for h in self.hosts[:count]]
        fresh = control_dir is None
        control_dir = control_dir or self.tmp / ("cp-%d" % self._next())
        control_dir.mkdir(exist_ok=True)
        env = dict(self.env, ANSIBLE_SSH_CONTROL_PATH_DIR=str(control_dir), **(extra_env or {}))
        if strategy:
            env.update(ANSIBLE_STRATEGY=strategy, ANSIBLE_STRATEGY_PLUGINS=str(self.mitogen_dir))
        cmd = [str(BIN / "ansible-playbook"), str(playbook), "-i", str(self.inventory), "--limit", ",".join(names),
               *extra_args]
        host_cpu, cpu, start = self.host_cpu(count), children_cpu(), time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=900)
        elapsed, self.last_cpu = time.perf_counter() - start, children_cpu() - cpu
        self.last_host_cpu = self.host_cpu(count) - host_cpu
        if fresh:
            close_control_masters(control_dir)
        problems = figures.recap_problems(proc.stdout, names)
        if proc.returncode or problems:
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-12:]
            raise RunFailed("ansible-playbook%s on %d hosts exited %d (%s):\n  %s" % (
                " (%s)" % strategy if strategy else "", count, proc.returncode, "; ".join(problems) or "recap ok",
                "\n  ".join(tail)))
        return elapsed, proc.stdout


def close_control_masters(control_dir):
    """Ask each ControlPersist master of a run to exit through its socket (not by name or PID)."""
    for sock in Path(control_dir).iterdir():
        subprocess.run(["ssh", "-F", "/dev/null", "-o", "ControlPath=%s" % sock, "-O", "exit", "fleet"],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=30, check=False)


@contextlib.contextmanager
def a_fleet(args, tmp):
    """(FleetLab, inventory dir): the running fleet of --fleet-dir, or one booted here and downed after."""
    if args.fleet_dir:
        fleet = FleetLab(args.fleet_dir)
        inventory = Path(fleet.read_info().get("inventory_dir") or "")
        status = fleet.status()
        if not status["healthy"] or len(status["hosts"]) < max(args.hosts):
            raise SystemExit("--fleet-dir %s: %d hosts, healthy %s; the figure needs %d healthy hosts "
                             "(mcpops fleet up --hosts %d)" % (args.fleet_dir, len(status["hosts"]),
                                                             status["healthy"], max(args.hosts), max(args.hosts)))
        yield fleet, inventory
        return
    try:
        preflight()
    except FleetError as exc:
        raise SystemExit(str(exc))
    fleet = FleetLab(Path(tmp) / "fleet", inventory_dir=Path(tmp) / "inventory")
    print("booting %d fleet hosts on %s.x (load average %s) ..." % (max(args.hosts), fleet.net, load()), flush=True)
    started = time.perf_counter()
    try:
        fleet.up(max(args.hosts))
        print("  up in %.1f s" % (time.perf_counter() - started), flush=True)
        yield fleet, fleet.inventory_dir
    finally:
        fleet.down()


def profile(bench, count):
    """Where a playbook run's time goes: its tasks (ansible.posix.profile_tasks) and the fixed cost of
    ansible-playbook itself (one debug task on the same hosts)."""
    noop = bench.tmp / "noop.yml"
    noop.write_text("- name: ansible-playbook's fixed cost\n  hosts: gateways\n  gather_facts: false\n"
                    "  tasks:\n    - name: Nothing\n      ansible.builtin.debug:\n        msg: nothing\n")
    fixed, _ = bench.playbook(count, playbook=noop)
    _, out = bench.playbook(count, extra_env={"ANSIBLE_CALLBACKS_ENABLED": "mcpops.runbooks.incident_report,"
                                                                         "ansible.posix.profile_tasks"})
    print("\nwhere the time goes (%d hosts, one run, load %s):" % (count, load()))
    print("  ansible-playbook with one debug task (start-up, inventory, callbacks): %.2f s" % fixed)
    recap = out.split("TASKS RECAP", 1)[-1].splitlines()
    for line in [line for line in recap if line.rstrip().endswith("s") and " --" in line][:12]:
        print("  " + line.strip())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", "--sizes", default="2,4,8",
                        help="fleet sizes to measure, comma-separated (default 2,4,8; issue 20's curve: 2,4,8,16)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--fleet-dir", help="use this running fleet (mcpops fleet up --dir) instead of booting one")
    parser.add_argument("--no-mitogen", action="store_true", help="leave the mitogen_linear side out")
    for key, (name, meaning) in VARIANTS.items():
        parser.add_argument("--" + key.replace("_", "-"), action="store_true", help="add the side %r: %s" % (name, meaning))
    parser.add_argument("--profile", action="store_true", help="then show where a playbook run's time goes")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    args.hosts = sorted({int(n) for n in args.hosts.split(",")})
    load_before = load()

    with tempfile.TemporaryDirectory(prefix="bench-fleet-triage-") as tmp, a_fleet(args, tmp) as (fleet, inventory):
        bench = Bench(fleet, inventory, tmp)
        if len(bench.hosts) < max(args.hosts):
            raise SystemExit("the fleet has %d hosts, --hosts asks for %d" % (len(bench.hosts), max(args.hosts)))
        sides = {SERIAL: lambda n: bench.loop(n, parallel=False),
                 PARALLEL: lambda n: bench.loop(n, parallel=True),
                 PLAYBOOK_SIDE: lambda n: bench.playbook(n)[0],
                 PEER: lambda n: bench.playbook(n, playbook=PEER_PLAYBOOK)[0]}
        variants = {"warm": lambda n: bench.playbook(n, control_dir=bench.tmp / "cp-warm")[0],
                    "via_role": lambda n: bench.playbook(n, extra_args=["--tags", "via_role"])[0],
                    "free": lambda n: bench.playbook(n, extra_env={"ANSIBLE_STRATEGY": "free"})[0]}
        for key, (name, _) in VARIANTS.items():
            if getattr(args, key):
                sides[name] = variants[key]
        mitogen_note = "mitogen: left out (--no-mitogen)"
        if not args.no_mitogen:
            bench.mitogen_dir, mitogen_note = mitogen_strategy_dir()
            if bench.mitogen_dir:
                try:  # Mitogen checks the ansible-core version when its strategy loads: a refusal ends the side
                    bench.playbook(max(args.hosts), strategy="mitogen_linear")
                    sides[MITOGEN] = lambda n: bench.playbook(n, strategy="mitogen_linear")[0]
                    mitogen_note = "mitogen %s: mitogen_linear runs under ansible-core %s" % (
                        mitogen_version(), ansible_core_version())
                except RunFailed as exc:
                    mitogen_note = "mitogen %s: does not run under ansible-core %s: %s" % (
                        mitogen_version(), ansible_core_version(), str(exc).splitlines()[-1].strip())
        for name, side in sides.items():  # warm-up: page cache, imports, the hosts' journals; untimed
            if name != MITOGEN:
                side(max(args.hosts))
        times = {name: {n: [] for n in args.hosts} for name in sides}
        cpu = {name: {n: [] for n in args.hosts} for name in sides}
        host_cpu = {name: {n: [] for n in args.hosts} for name in sides}
        for round_no in range(args.rounds):
            for n in args.hosts:
                order = list(sides)
                order = order[round_no % len(order):] + order[:round_no % len(order)]  # take turns going first
                for name in order:
                    times[name][n].append(sides[name](n))
                    cpu[name][n].append(bench.last_cpu)
                    host_cpu[name][n].append(bench.last_host_cpu)
            print("  round %d/%d done (load average %s)" % (round_no + 1, args.rounds, load()), flush=True)
        if args.profile:
            profile(bench, max(args.hosts))
    load_after = load()
    report(args, times, cpu, host_cpu, mitogen_note, load_before, load_after)
    return 0


def ansible_core_version():
    from ansible.release import __version__

    return __version__


def report(args, times, cpu, host_cpu, mitogen_note, load_before, load_after):
    medians = {name: {n: figures.median(samples) for n, samples in by_n.items()} for name, by_n in times.items()}
    sides = list(times)
    top = max(args.hosts)
    print("\nINC-001 triage (systemctl status, /healthz, df of the data volume) on fleet hosts: median of %d "
          "rounds, seconds (a host)" % args.rounds)
    print("machine: %d CPUs, Python %s, ansible-core %s; load average (1, 5, 15 min) before %s, after %s"
          % (os.cpu_count() or 0, platform.python_version(), ansible_core_version(), load_before, load_after))
    for line in figures.table(sides, medians, args.hosts):
        print("  " + line)
    width = max(len(name) for name in sides) + 1
    for name in sides:
        slope = figures.marginal_per_host(medians[name])
        if slope is not None:
            print("  one more host costs, %s %.3f s (slope %d -> %d hosts)" % ((name + ":").ljust(width), slope,
                                                                             args.hosts[0], top))
    print("  CPU time on %d hosts, median (this machine's processes the script waits for): %s" % (
        top, ", ".join("%s %.2f s" % (name, figures.median(cpu[name][top])) for name in sides)))
    print("  CPU time on %d hosts, median (the hosts: every process under their systemd-nspawn): %s" % (
        top, ", ".join("%s %.2f s" % (name, figures.median(host_cpu[name][top])) for name in sides)))
    for name in sides:
        fitted = growth.slope(medians[name])
        if fitted is not None:
            print("  seconds per added host, least squares over %s hosts, %s %.3f s" % (
                ",".join(map(str, args.hosts)), (name + ":").ljust(width), fitted))
    print(mitogen_note)
    print("on %d hosts:" % top)
    for name in sides:
        if name.startswith(PLAYBOOK_SIDE):
            target = (1.0, 2.0) if name == PLAYBOOK_SIDE else (None, None)
            print("  " + figures.ratio_line(name, medians[name][top], SERIAL, medians[SERIAL][top], target[0]))
            print("  " + figures.ratio_line(name, medians[name][top], PARALLEL, medians[PARALLEL][top], target[1]))
            peer_line = figures.ratio_line(name, medians[name][top], PEER, medians[PEER][top], None)
            if name == PLAYBOOK_SIDE:  # issue 20: no slower than the builtin-module peer
                met = medians[name][top] <= medians[PEER][top]
                peer_line = peer_line.replace("for reading, no target",
                                              "target <= 1.0x: %s" % ("met" if met else "ABOVE TARGET"))
            print("  " + peer_line)
    if args.json:
        Path(args.json).write_text(json.dumps({
            "hosts": args.hosts, "rounds": args.rounds, "cpus": os.cpu_count(), "python": platform.python_version(),
            "ansible_core": ansible_core_version(), "load_before": load_before, "load_after": load_after,
            "mitogen": mitogen_note, "seconds": times, "medians": medians, "cpu_seconds": cpu,
            "host_cpu_seconds": host_cpu, "growth": growth.growth(medians), "machine": growth.machine(),
            "statistic": "median",
            "machine_before": {"cpus": os.cpu_count(), "loadavg": [float(x) for x in load_before.split()]},
            "machine_after": {"cpus": os.cpu_count(), "loadavg": [float(x) for x in load_after.split()]},
            "curves": [growth.curve("fleet_triage", "INC-001 triage (steps 1-3): time against fleet hosts", "hosts",
                                    medians)]},
            indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
