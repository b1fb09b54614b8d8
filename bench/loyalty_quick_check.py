#!/usr/bin/env python3
"""Figure: the Loyalty API's quick check, in process and through loyalty-quick-check.yml, against the seed's shell
commands one after the other.

Seed 003, "Быстрый чек (если «что-то не так»)", on the compose lab (mcpops.lab.compose: a private dockerd, the compose
project), the lab broken first (--fault, default postgres-down; `none` for a healthy lab) so that both sides must
find the same things:

  seed commands (baseline)  a bash script, one command after the other, as the seed writes them: the containers'
                            status (`docker compose --env-file .env.production -f docker-compose.production.yml ps`,
                            what `./scripts/deploy.sh production status` shows), smoke-check.sh's curl of /health,
                            /ready, /live and /metrics (X-Metrics-Token read by curl from stdin, `-H @-`, so it is on no
                            command line), smoke-integrations.sh's read-only balance check (GET of an absent customer:
                            404 customer_not_found), then `docker compose ... logs api --tail=1000`
  in process                the loyalty_quick_check module's work without Ansible, its entry point
                            (plugins/module_utils/_service/loyalty_quick_check_run.run) called in this process with
                            the inventory's values: the project's containers and the api's last 1000 log lines
                            from the Docker Engine API's socket, and the five HTTP checks (the profile's latency
                            limits), all at once, one thread each (issue 20's first figure; target <= 1.0x)
  playbook                  ansible-playbook playbooks/loyalty-quick-check.yml -e metrics_window=1 -e log_lines=1000
                            (that module as one task, plus the metrics thresholds over a one-second window, which the
                            seed's commands do not judge), the repository's ansible.cfg (target: faster)
  ansible -m ping           Ansible's fixed cost, alone (`ansible localhost -m ping`), printed beside: part of every
                            run of the playbook whatever its tasks do

Findings, compared as sets: each compose service not running, each smoke endpoint not answering as the seed's
scripts expect (health/ready/live/metrics 200, the balance check 404). The playbook's metrics-threshold breaches are
printed, not compared (the seed's commands have nothing to compare them with). A run whose findings differ from the
other side's, or from the first run's, stops the figure. One untimed warm-up a side, then --rounds rounds with the
sides taking turns; medians, and the ratios of the in-process run and of the playbook to the seed's commands. The lab is started here (root) and
stopped at the end, unless --dir names a running one (`mcpops lab up --platform compose --dir DIR`; its fault is
repaired at the end). A figure, not a test: it exits 0 whatever the ratio is.

    .venv/bin/python bench/loyalty_quick_check.py [--rounds 5] [--dir COMPOSE_LAB_DIR] [--fault postgres-down|none]
        [--json out.json]
"""

import argparse
import contextlib
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PLAYBOOK = ROOT / "playbooks" / "loyalty-quick-check.yml"
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "collections"))

SEED, IN_PROCESS, PLAYBOOK_SIDE = "seed commands, one after the other", "in process (entry point)", "playbook"
PROFILE = ROOT / "profiles" / "loyalty-api.yml"
COMPOSE = "docker compose --env-file .env.production -f docker-compose.production.yml"
SMOKE_CUSTOMER = "mcpops-smoke-absent"  # the quick check's read-only balance probe (roles/loyalty_compose defaults)
# name (as the playbook's findings name it) -> (path, the status the seed's scripts expect, needs the metrics token)
SMOKE = {
    "check health": ("/health", 200, False),
    "check ready": ("/ready", 200, False),
    "check live": ("/live", 200, False),
    "check metrics": ("/metrics", 200, True),
    "check balance": ("/api/v1/loyalty/balance/" + SMOKE_CUSTOMER, 404, False),
}


def load():
    return "%.2f %.2f %.2f" % os.getloadavg()


def seed_script():
    """The seed's quick check as bash, one command after the other, each output into $OUT; $BASE_URL the API,
    $METRICS_TOKEN the token (fed to curl on stdin as a header line, never on a command line)."""
    lines = ["set -u", 'cd "$PROJECT"',
             "%s ps --all --format '{{.Service}} {{.State}}' >\"$OUT/ps.out\" 2>&1" % COMPOSE]
    for name, (path, _, token) in SMOKE.items():
        out = '"$OUT/%s"' % name.replace(" ", "_")
        curl = "curl -sS -o %s.body -w '%%{http_code}' %s\"$BASE_URL%s\" >%s.code 2>>\"$OUT/curl.err\"" % (
            out, "-H @- " if token else "", path, out)
        lines.append(("printf 'X-Metrics-Token: %s\\n' \"$METRICS_TOKEN\" | " if token else "") + curl
                     + ("" if token else " </dev/null"))
    lines.append('%s logs api --tail=1000 >"$OUT/logs.out" 2>&1' % COMPOSE)
    return "\n".join(lines) + "\n"


def seed_findings(out_dir, services):
    """What the seed's commands show wrong: {"not running: <service>"} for each service of `services` that ps does not
    show running, {"<check>"} for each smoke check not answering its expected status."""
    states = {}
    for line in (Path(out_dir) / "ps.out").read_text().splitlines():
        words = line.split()
        if len(words) == 2:
            states[words[0]] = words[1]
    found = {"not running: %s" % name for name in services if states.get(name) != "running"}
    for name, (_, expected, _) in SMOKE.items():
        code = (Path(out_dir) / ("%s.code" % name.replace(" ", "_"))).read_text().strip()
        if code != str(expected):
            found.add(name)
    return found


def entry_point_params(lab):
    """The loyalty_quick_check module's options as the playbook gives them on the lab's inventory: the profile's
    health and auth, the metrics token, the compose project's names, log_lines 1000, the DB password masked."""
    import yaml
    from mcpops.lab.compose import loyalty_project

    profile = yaml.safe_load(PROFILE.read_text())
    return dict(base_url=lab.url, health=profile["health"], auth=profile["auth"],
                secrets={"loyalty_metrics_token": lab.secret("metrics_token")}, validate_certs=True, timeout=10,
                project_src=str(lab.dir), files=[loyalty_project.COMPOSE_FILE], env_files=[loyalty_project.ENV_FILE],
                docker_host=lab.docker.host, docker_cli=lab.docker.cli, docker_config=lab.docker.config_dir,
                read_via="auto", command_timeout=120, smoke_max_ms={}, smoke_customer_id="", allow_mutations=False,
                log_service="api", log_lines=1000, mask=[lab.secret("db_password")])


def ansible_ping():
    """Seconds of `ansible localhost -m ping` (local connection, this Python): Ansible's fixed cost alone."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_LOCALHOST_WARNING="0",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    start = time.perf_counter()
    subprocess.run([str(BIN / "ansible"), "localhost", "-i", "localhost,", "-c", "local", "-m", "ping",
                    "-e", "ansible_python_interpreter=%s" % sys.executable], cwd=ROOT, env=env, capture_output=True,
                   check=True)
    return time.perf_counter() - start


def playbook_findings(lines):
    """(compared, breaches) of the quick check's summary lines: {"not running: <service>"} of its "containers not
    running" line and {"check <name>"} of each smoke finding ("check <name> (GET <url>): HTTP ..."); the metrics
    threshold breaches apart."""
    compared, breaches = set(), []
    for line in lines:
        if line == "Quick check: nothing wrong found":
            continue
        down = re.match(r"containers not running: (.*)$", line)
        smoke = re.match(r"([a-z][a-z ]*?) \((?:GET|POST|HEAD) ", line)
        if down:
            compared |= {"not running: %s" % name.strip() for name in down.group(1).split(",")}
        elif smoke and smoke.group(1) in SMOKE:
            compared.add(smoke.group(1))
        else:
            breaches.append(line)
    return compared, breaches


class Bench:
    def __init__(self, lab, tmp):
        self.lab = lab
        self.tmp = Path(tmp)
        self.services = sorted(lab.states())
        self.env = dict(lab.docker.env(), ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                        ANSIBLE_COLLECTIONS_PATH=str(ROOT / "collections"),
                        PATH="%s:%s" % (BIN, os.environ.get("PATH", "")), no_proxy="127.0.0.1,localhost")
        self.runs = 0
        self.breaches = []

    def seed(self):
        self.runs += 1
        out = self.tmp / ("seed-%d" % self.runs)
        out.mkdir()
        env = dict(self.env, OUT=str(out), PROJECT=str(self.lab.dir), BASE_URL=self.lab.url,
                   METRICS_TOKEN=self.lab.secret("metrics_token"))
        start = time.perf_counter()
        proc = subprocess.run(["bash", "-c", seed_script()], env=env, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=600)
        elapsed = time.perf_counter() - start
        if proc.returncode:
            raise SystemExit("the seed's commands exited %d: %s" % (proc.returncode, proc.stderr[-500:]))
        return elapsed, seed_findings(out, self.services)

    def in_process(self):
        """The module's entry point in this process (its imports done by the warm-up round)."""
        from ansible_collections.mcpops.runbooks.plugins.module_utils._service.loyalty_quick_check_run import run

        params = entry_point_params(self.lab)
        start = time.perf_counter()
        result = run(params)
        elapsed = time.perf_counter() - start
        compared, other = playbook_findings(result["findings"])
        if other:
            raise SystemExit("the entry point found what the seed's commands cannot: %s" % other)
        return elapsed, compared

    def playbook(self):
        self.runs += 1
        report_dir = self.tmp / ("playbook-%d" % self.runs)
        env = dict(self.env, MCPOPS_REPORT_DIR=str(report_dir))
        for name in ("DOCKER_HOST", "DOCKER_CONFIG"):  # only what the inventory says reaches docker
            env.pop(name, None)
        cmd = [str(BIN / "ansible-playbook"), str(PLAYBOOK), "-i", str(self.lab.inventory_path),
               "-e", "metrics_window=1", "-e", "log_lines=1000"]
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=900)
        elapsed = time.perf_counter() - start
        try:
            report = json.loads((report_dir / "report.json").read_text())
        except (OSError, ValueError):
            raise SystemExit("the playbook wrote no report (exit %d):\n%s" % (
                proc.returncode, "\n".join(proc.stdout.splitlines()[-15:])))
        lines = [line for entry in report["summary"] if entry.get("step") == "Quick check summary"
                 for line in entry["lines"]]
        compared, self.breaches = playbook_findings(lines)
        if (proc.returncode == 0) != (not compared and not self.breaches):
            raise SystemExit("the playbook exited %d with findings %s" % (proc.returncode, lines))
        return elapsed, compared


@contextlib.contextmanager
def a_lab(args):
    """The running compose lab of --dir, or one started here and stopped after."""
    from mcpops.lab.compose.loyalty_lab import LoyaltyLab
    from mcpops.lab.compose.recorded_lab import RecordedComposeLab

    if args.dir:
        yield RecordedComposeLab(args.dir).attach()
        return
    print("starting the Loyalty compose lab (load average %s) ..." % load(), flush=True)
    lab = LoyaltyLab.start()
    try:
        yield lab
    finally:
        lab.down()


def main():
    from mcpops.lab.compose.loyalty_faults import FAULTS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dir", help="a running compose lab (mcpops lab up --platform compose --dir DIR)")
    parser.add_argument("--fault", default="postgres-down", choices=["none"] + sorted(FAULTS),
                        help="the fault injected first (default postgres-down; none: a healthy lab)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    load_before = load()
    with tempfile.TemporaryDirectory(prefix="bench-loyalty-qc-") as tmp, a_lab(args) as lab:
        lab.wait_ready()
        bench = Bench(lab, tmp)
        if args.fault != "none":
            print(lab.break_(args.fault), flush=True)
        try:
            sides = {SEED: bench.seed, IN_PROCESS: bench.in_process, PLAYBOOK_SIDE: bench.playbook}
            expected = None
            for name, side in sides.items():  # warm-up, untimed: page cache, imports; both must agree
                found = side()[1]
                if expected is not None and found != expected:
                    raise SystemExit("the %s found %s, the %s %s" % (name, sorted(found), SEED, sorted(expected)))
                expected = found
            times = {name: [] for name in sides}
            for round_no in range(args.rounds):
                order = list(sides)[round_no % len(sides):] + list(sides)[:round_no % len(sides)]
                for name in order:
                    seconds, found = sides[name]()
                    if found != expected:
                        raise SystemExit("round %d: the %s found %s, expected %s" % (
                            round_no + 1, name, sorted(found), sorted(expected)))
                    times[name].append(seconds)
                print("  round %d/%d done (load average %s)" % (round_no + 1, args.rounds, load()), flush=True)
            pings = [ansible_ping() for _ in range(args.rounds)]
        finally:
            if args.fault != "none":
                print(lab.repair(args.fault), flush=True)
    load_after = load()
    medians = {name: statistics.median(samples) for name, samples in times.items()}
    print("\nLoyalty API quick check on the compose lab, fault %s; both sides found: %s. Median of %d rounds, seconds"
          % (args.fault, ", ".join(sorted(expected)) or "nothing wrong", args.rounds))
    if bench.breaches:
        print("the playbook also found (metrics thresholds, not compared): %s" % "; ".join(bench.breaches))
    print("machine: %d CPUs, Python %s; load average (1, 5, 15 min) before %s, after %s"
          % (os.cpu_count() or 0, platform.python_version(), load_before, load_after))
    for name, seconds in medians.items():
        print("  %-36s %6.2f s  (rounds: %s)" % (name, seconds, ", ".join("%.2f" % s for s in times[name])))
    ping = statistics.median(pings)
    in_process = medians[IN_PROCESS] / medians[SEED]
    ratio = medians[PLAYBOOK_SIDE] / medians[SEED]
    print("in process / %s: %.2fx (%.2f s vs %.2f s; target <= 1.0x: %s)" % (
        SEED, in_process, medians[IN_PROCESS], medians[SEED], "met" if in_process <= 1 else "ABOVE TARGET"))
    print("playbook / %s: %.2fx (%.2f s vs %.2f s; target < 1x, faster: %s)" % (
        SEED, ratio, medians[PLAYBOOK_SIDE], medians[SEED], "met" if ratio < 1 else "ABOVE TARGET"))
    print("ansible -m ping alone: %.2f s (Ansible's fixed cost, in the playbook's time; rounds: %s)" % (
        ping, ", ".join("%.2f" % p for p in pings)))
    if args.json:
        Path(args.json).write_text(json.dumps({
            "figure": "loyalty_quick_check", "rounds": args.rounds, "statistic": "median", "fault": args.fault,
            "findings": sorted(expected), "playbook_breaches": bench.breaches, "times": times, "medians": medians,
            "ratio_playbook_to_seed_commands": ratio, "ratio_in_process_to_seed_commands": in_process,
            "ansible_ping_s": ping, "ansible_ping_rounds": pings,
            "machine_before": {"cpus": os.cpu_count(), "loadavg": load_before},
            "machine_after": {"cpus": os.cpu_count(), "loadavg": load_after}}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
