#!/usr/bin/env python3
"""Figure: token_revoke through Ansible against the runbook's curl loop, revoking every token of an org.

For each side a fresh seeded data dir and a fresh reference gateway (`python -m mcpops.lab.gateway` on a free
127.0.0.1 port, admin token read from a 0600 file through ONEC_MCP_HTTP_TOKEN_FILE), then --tokens (default
5000) active tokens issued through the admin API (`POST /api/mcp-tokens`, client `ci-bot`, 8 concurrent
kept-alive connections; untimed) in one org, `org_bench_curl` or `org_bench_module`. Then, timed:

  baseline  a shell loop, one `curl -sf -K <0600 config with the Authorization header> -X POST
            http://127.0.0.1:PORT/api/mcp-tokens/$id/revoke` a token, over the ids listed first (untimed)
  module    ansible localhost -m mcpops.runbooks.token_revoke
            -a '{"org_id": ..., "all_in_org": true, "api_url": ..., "api_token": "{{ admin_token }}"}'
            with the admin token in a 0600 extra-vars file (`-e @file`), run from the repo root; the module's
            default concurrency unless --concurrency is given

Afterwards each side is checked through the API: no active token left in its org, --tokens revoked.
One timed run per side, no warm-up (each run needs a fresh set of active tokens; neither side reads files
the other has warmed up). The module time includes Ansible's start-up (printed alone as `ansible ping`).
The gateway rewrites the whole tokens.json (its cached per-token JSON joined, then fsync) for every revoke,
with group commit; the script times one such save in process on the data dir's own tokens.json and prints
what a serial client pays for --tokens revokes. Beside each side's time it prints the CPU seconds (user+sys) of
the side's processes (bash and curl, or ansible and the module) and of the gateway, which say more than the time
on a loaded machine. A figure, not a test: it exits 0 whatever the ratio is.

    .venv/bin/python bench/token_revoke.py [--tokens 5000] [--concurrency N] [--sides curl,module] [--json out.json]
    .venv/bin/python bench/token_revoke.py --sizes 1000,5000,20000 --json out.json   # growth (issue 20)

With --sizes each size is measured as above (a fresh gateway a side and size) and the script prints a growth
table, module and curl loop side by side, with each side's slope (seconds per 1,000 more tokens, least squares)
and the machine's load; --json then holds the seconds at each size and the slopes. --sides module measures the module
alone (the curl loop takes 10 minutes at 20,000 tokens), for trying a change; the ratio needs both sides.
"""

import argparse
import concurrent.futures
import http.client
import json
import os
import platform
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "src"))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import growth  # noqa: E402

ANSIBLE = os.path.join(os.path.dirname(sys.executable), "ansible")
TARGET = 5.0
CLIENT = "ci-bot"
LISTEN_RE = re.compile(r"listening on http://127\.0\.0\.1:(\d+) ")


# -- the gateway -------------------------------------------------------------------------


class Gateway:
    def __init__(self, work, name, token_file):
        from mcpops.lab.seed import seed_data_dir

        self.dir = os.path.join(work, name)
        self.data_dir = os.path.join(self.dir, "data")
        seed_data_dir(self.data_dir)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ONEC_") and not k.endswith("_PASSWORD")}
        env.update({"ONEC_MCP_DATA_DIR": self.data_dir, "ONEC_MCP_LISTEN": "127.0.0.1:0",
                    "ONEC_MCP_HTTP_TOKEN_FILE": token_file, "ONEC_MCP_DISCOVER_SECONDS": "0",
                    "PYTHONUNBUFFERED": "1", "PYTHONPATH": os.path.join(ROOT, "src")})
        self.stderr_path = os.path.join(self.dir, "gateway.stderr")
        self._err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "mcpops.lab.gateway"], env=env, cwd=self.dir,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._err)
        self.pid = self.proc.pid
        self.port = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with open(self.stderr_path, "r", errors="replace") as handle:
                match = LISTEN_RE.search(handle.read(4096))
            if match:
                self.port = int(match.group(1))
                self.url = "http://127.0.0.1:%d" % self.port
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("gateway did not start (see its stderr)")

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._err.close()
        return self.proc.returncode


class Api:
    """Admin API calls over one kept-alive connection per thread."""

    def __init__(self, port, admin_token):
        self.port = port
        self.headers = {"Authorization": "Bearer " + admin_token}
        self.local = threading.local()

    def call(self, method, path, body=None):
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = dict(self.headers)
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
        except (OSError, http.client.HTTPException):
            conn.close()
            self.local.conn = None
            raise
        if resp.status >= 300:
            raise RuntimeError("%s %s: HTTP %d %s" % (method, path, resp.status, raw[:200]))
        return json.loads(raw.decode("utf-8"))

    def issue(self, org, count, workers=8):
        def one(_):
            self.call("POST", "/api/mcp-tokens", {"clientId": CLIENT, "orgId": org, "scopes": ["tools:read"]})
            return 1  # the secret is dropped at once

        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            return sum(pool.map(one, range(count)))

    def ids(self, org, status):
        ids, cursor = [], None
        while True:
            path = "/api/mcp-tokens?orgId=%s&status=%s&limit=100" % (org, status)
            if cursor:
                path += "&cursor=" + cursor
            page = self.call("GET", path)
            ids.extend(t["id"] for t in page["tokens"])
            cursor = page.get("nextCursor")
            if not cursor:
                return ids


def save_floor(data_dir, repeat=3):
    """Seconds one gateway save of this data dir's tokens.json takes (what every revoke pays, under the lock):
    the gateway's own Store joining its cached per-token JSON, then the durable write."""
    from mcpops.lab.gateway import fsutil
    from mcpops.lab.gateway.store import Store

    with open(os.path.join(data_dir, "tokens.json")) as handle:
        tokens = json.load(handle)["tokens"]
    scratch = tempfile.mkdtemp(prefix=".save-floor-", dir=os.path.dirname(data_dir))
    try:
        store = Store(scratch, {"meta": {}, "tokens": tokens, "profiles": [], "clients": [],
                                "audit_count": 0, "usage_count": 0})
        store.tokens_json_bytes()  # the per-token cache a running gateway has
        start = time.perf_counter()
        for _ in range(repeat):
            fsutil.atomic_write(store.path("tokens.json"), store.tokens_json_bytes(), mode=0o600)
        return (time.perf_counter() - start) / repeat, len(tokens)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# -- the two sides -----------------------------------------------------------------------


def ansible_env():
    return dict(
        os.environ,
        ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, "collections"),
        ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
        ANSIBLE_LOCALHOST_WARNING="0",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
    )


def children_cpu():
    """CPU seconds (user+sys) of the child processes waited for so far: a side's processes once it has returned."""
    times = os.times()
    return times.children_user + times.children_system


def process_cpu(pid):
    """CPU seconds (user+sys) a running process has used so far (Linux /proc), None elsewhere."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def run_module(module, args, extra_vars_file=None):
    cmd = [ANSIBLE, "localhost", "-i", "localhost,", "-c", "local",
           "-e", "ansible_python_interpreter=%s" % sys.executable]
    if extra_vars_file:
        cmd += ["-e", "@" + extra_vars_file]
    cmd += ["-m", module]
    if args:
        cmd += ["-a", json.dumps(args)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=ansible_env(), capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    try:
        data = json.loads(proc.stdout[proc.stdout.index("{"):])
        result = data["plays"][0]["tasks"][0]["hosts"]["localhost"]
    except (ValueError, KeyError, IndexError):
        raise RuntimeError("%s did not return a result (rc %d): %s %s"
                           % (module, proc.returncode, proc.stdout[-1500:], proc.stderr[-1500:]))
    if result.get("failed") or result.get("unreachable"):
        raise RuntimeError("%s failed: %s" % (module, result.get("msg")))
    return elapsed, result


def write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


LOOP = """set -e
while IFS= read -r id; do
  curl -sf -K "$CURL_CONFIG" -X POST "$GATEWAY/api/mcp-tokens/$id/revoke" >/dev/null
done < "$IDS"
"""


def curl_side(gw, api, org, work):
    ids = api.ids(org, "active")  # listing is not timed
    ids_file = os.path.join(gw.dir, "ids.txt")
    with open(ids_file, "w") as handle:
        handle.write("\n".join(ids) + "\n")
    env = dict(os.environ, CURL_CONFIG=os.path.join(work, "curl.cfg"), GATEWAY=gw.url, IDS=ids_file)
    start = time.perf_counter()
    subprocess.run(["bash", "-c", LOOP], env=env, check=True)
    return time.perf_counter() - start, len(ids)


def module_side(gw, org, work, concurrency=None):
    args = {"org_id": org, "all_in_org": True, "api_url": gw.url, "api_token": "{{ admin_token }}"}
    if concurrency:
        args["concurrency"] = concurrency
    elapsed, result = run_module("mcpops.runbooks.token_revoke", args,
                                 extra_vars_file=os.path.join(work, "admin.json"))
    if not result.get("changed"):
        raise RuntimeError("token_revoke reported no change")
    return elapsed, len(result.get("revoked") or [])


def measure(side, work, admin_token, count, concurrency=None):
    org = "org_bench_" + side
    gw = Gateway(work, "%s-%d" % (side, count), os.path.join(work, "admin_token"))
    try:
        api = Api(gw.port, admin_token)
        start = time.perf_counter()
        issued = api.issue(org, count)
        issue_s = time.perf_counter() - start
        active = len(api.ids(org, "active"))
        if issued != count or active != count:
            raise RuntimeError("%s: issued %d, %d active, wanted %d" % (org, issued, active, count))
        floor, n_tokens = save_floor(gw.data_dir)
        cpu_before, gateway_before = children_cpu(), process_cpu(gw.pid)
        if side == "curl":
            elapsed, reported = curl_side(gw, api, org, work)
        else:
            elapsed, reported = module_side(gw, org, work, concurrency)
        cpu, gateway_after = children_cpu() - cpu_before, process_cpu(gw.pid)
        gateway_cpu = gateway_after - gateway_before if None not in (gateway_before, gateway_after) else None
        left = len(api.ids(org, "active"))
        revoked = len(api.ids(org, "revoked"))
        ok = left == 0 and revoked == count and reported == count
        print("%s: issued %d in %s in %.1f s (untimed); revoked %.2f s (%.0f/s), CPU %.2f s, gateway CPU %s; "
              "after: %d active, %d revoked%s; one tokens.json save at %d tokens %.1f ms; load %.2f"
              % (side, count, org, issue_s, elapsed, count / elapsed if elapsed else 0, cpu,
                 "%.2f s" % gateway_cpu if gateway_cpu is not None else "unknown", left, revoked,
                 "" if ok else "  NOT ALL REVOKED (reported %d)" % reported, n_tokens, floor * 1000,
                 os.getloadavg()[0]), flush=True)
        return {"seconds": elapsed, "cpu_s": round(cpu, 3), "gateway_cpu_s": gateway_cpu, "issue_s": issue_s,
                "active_after": left, "revoked_after": revoked, "reported": reported, "all_revoked": ok,
                "save_s": floor, "store_tokens": n_tokens}
    finally:
        rc = gw.stop()
        if rc not in (0, None):
            print("%s: gateway %d exited %s" % (side, gw.pid, rc), file=sys.stderr)


def one_size(work, admin_token, count, have_curl, concurrency=None):
    results = {"tokens": count}
    if have_curl:
        results["curl"] = measure("curl", work, admin_token, count)
    results["module"] = measure("module", work, admin_token, count, concurrency)
    mod = results["module"]["seconds"]
    floor = results["module"]["save_s"] * count
    if have_curl:
        base = results["curl"]["seconds"]
        ratio = base / mod if mod > 0 else float("inf")
        results["ratio"] = round(ratio, 2)
        print("revoke %d tokens: module %.2f s, baseline curl loop %.2f s, ratio %.2fx faster (target >= %.0fx)%s"
              % (count, mod, base, ratio, TARGET, "" if ratio >= TARGET else "  BELOW TARGET"))
    else:
        print("revoke %d tokens: module %.2f s, curl loop not measured (--sides, or no curl on PATH)" % (count, mod))
    print("one tokens.json save %.1f ms: a serial client (the curl loop) waits for %d of them, %.1f s; "
          "concurrent requests share one (group commit)" % (results["module"]["save_s"] * 1000, count, floor),
          flush=True)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=5000, help="tokens to issue and revoke per side (default 5000)")
    parser.add_argument("--sizes", help="several token counts, comma-separated (e.g. 1000,5000,20000): a growth "
                                        "curve; overrides --tokens")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument("--tmpdir", help="where to put the data dirs (default: the system temp dir)")
    parser.add_argument("--concurrency", type=int, help="the module's concurrency option (default: the module's)")
    parser.add_argument("--sides", default="curl,module", help="which sides to measure: curl,module (default) or "
                                                               "module alone")
    args = parser.parse_args(argv)
    sizes = growth.parse_sizes(args.sizes) if args.sizes else [args.tokens]
    sides_wanted = {part.strip() for part in args.sides.split(",") if part.strip()}
    if not sides_wanted or sides_wanted - {"curl", "module"} or "module" not in sides_wanted:
        parser.error("--sides wants module or curl,module")

    work = tempfile.mkdtemp(prefix="mcpops-bench-revoke-", dir=args.tmpdir)
    try:
        admin_token = "adm-" + secrets.token_urlsafe(32)
        write_private(os.path.join(work, "admin_token"), admin_token + "\n")
        write_private(os.path.join(work, "admin.json"), json.dumps({"admin_token": admin_token}))
        write_private(os.path.join(work, "curl.cfg"), 'header = "Authorization: Bearer %s"\n' % admin_token)
        machine_before = growth.machine()
        print(growth.machine_line("machine before"), flush=True)
        ping = run_module("ansible.builtin.ping", {})[0]
        print("ansible ping (start-up alone, included in the module time): %.2f s; no warm-up round "
              "(each run revokes a fresh set of tokens on a fresh gateway)" % ping, flush=True)
        have_curl = "curl" in sides_wanted and shutil.which("curl") is not None
        by_size = [one_size(work, admin_token, count, have_curl, args.concurrency) for count in sizes]
        print(growth.machine_line("machine after"))
        results = dict(by_size[-1]) if len(sizes) == 1 else {"sizes": by_size}
        results["ansible_ping_s"] = round(ping, 3)
        results["concurrency"] = args.concurrency or "module default"
        sides = {"module": {r["tokens"]: r["module"]["seconds"] for r in by_size}}
        if have_curl:
            sides["curl loop"] = {r["tokens"]: r["curl"]["seconds"] for r in by_size}
        if len(sizes) > 1:
            for line in growth.growth_table("tokens", sides, per=1000):
                print(line)
        results["growth"] = growth.growth(sides)
        if args.json:
            results.update({"statistic": "one run", "machine_before": machine_before, "machine_after": growth.machine(),
                            "curves": [growth.curve("token_revoke", "revoke every token of an org: time against tokens",
                                                    "tokens revoked", sides)]})
            results.update({"figure": "token_revoke", "target": TARGET, "python": sys.version.split()[0],
                            "machine": platform.machine(), "cpus": os.cpu_count(), "load": growth.machine()})
            with open(args.json, "w") as handle:
                json.dump(results, handle, indent=2)
                handle.write("\n")
    except Exception as exc:  # a figure: report, never fail the caller
        print("bench/token_revoke.py: error: %s" % exc, file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
