"""The "high load" fault's traffic: concurrent requests on the LEGO dashboard from a process of its own, so that the
load outlives the command that starts it (`mcpops lab break high-load --platform kubernetes`) until `repair` or `down`
stops the process by its PID (or the drill does, when the runbook's run ends: the load is over).

    python -m mcpops.lab.lego.dashboard_load --status-file FILE  < {"kubectl", "kubeconfig", "namespace", "selector",
                                                                     "port", "path", "clients", "pause"} (JSON)

There is no Service routing in the lab (pod IPs are loopback, mcpops.lab.lego.dashboard), so the process plays the
Service: every second it lists the Ready pods of the selector (kubectl get pods) and spreads its clients' requests
over them in turn; a pod a scale-up adds gets its share from its first Ready second. `clients` threads each send a
GET, wait for the answer, pause `pause` seconds, again. Every second, and once more when it stops, it writes
{"pid", "started_at", "updated_at", "requests", "errors", "per_pod": {pod: answers}, "pods": [Ready pods now],
"stopped"} into the status file. SIGTERM or SIGINT: the clients stop, the last status is written, exit 0.
"""

import argparse
import contextlib
import datetime
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

CLIENTS = 4    # concurrent clients: a steady load the dashboard's own access log shows, cheap on a shared machine
PAUSE = 0.05   # seconds a client waits between its requests
PATH = "/api/v8/equipment"  # what the dashboard's users read: a query of PostgreSQL each
REFRESH = 1.0  # seconds between two listings of the Ready pods


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_status(path, status):
    tmp = f"{path}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(status, handle)
    os.replace(tmp, path)


def read_status(path):
    """The status the process wrote last, or None."""
    try:
        return json.loads(open(path, encoding="utf-8").read())
    except (OSError, ValueError):
        return None


def ready_pods(params):
    """{pod: http://<pod IP>:<port>} of the Ready pods of the selector; {} when kubectl fails."""
    from mcpops.lab.lego.dashboard import ready_urls

    proc = subprocess.run([params["kubectl"], f"--kubeconfig={params['kubeconfig']}", "-n", params["namespace"],
                           "get", "pods", "-l", params["selector"], "-o", "json"],
                          capture_output=True, text=True, timeout=30, check=False)
    if proc.returncode != 0:
        return {}
    try:
        return ready_urls(json.loads(proc.stdout)["items"], port=int(params["port"]))
    except (ValueError, KeyError):
        return {}


class Load:
    """The clients and their tally; `pods` is replaced by the listing thread."""

    def __init__(self, params):
        self.params = params
        self.pods = {}
        self.per_pod = {}
        self.requests = 0
        self.errors = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.turn = itertools.count()
        self.started_at = _now()

    def status(self, stopped=False):
        with self.lock:
            return {"pid": os.getpid(), "started_at": self.started_at, "updated_at": _now(),
                    "requests": self.requests, "errors": self.errors, "per_pod": dict(self.per_pod),
                    "pods": sorted(self.pods), "stopped": stopped}

    def client(self):
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        while not self.stop.is_set():
            pods = sorted(self.pods.items())
            if not pods:
                self.stop.wait(0.2)
                continue
            name, url = pods[next(self.turn) % len(pods)]
            ok = False
            with contextlib.suppress(OSError, urllib.error.URLError):
                with opener.open(url + self.params["path"], timeout=10) as answer:
                    answer.read()
                    ok = answer.status == 200
            with self.lock:
                self.requests += 1
                if ok:
                    self.per_pod[name] = self.per_pod.get(name, 0) + 1
                else:
                    self.errors += 1
            self.stop.wait(float(self.params["pause"]))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="dashboard_load")
    parser.add_argument("--status-file", required=True)
    args = parser.parse_args(argv)
    params = dict({"path": PATH, "clients": CLIENTS, "pause": PAUSE}, **json.loads(sys.stdin.read()))
    load = Load(params)
    signal.signal(signal.SIGTERM, lambda *_: load.stop.set())
    signal.signal(signal.SIGINT, lambda *_: load.stop.set())
    load.pods = ready_pods(params)
    clients = [threading.Thread(target=load.client, daemon=True) for _ in range(int(params["clients"]))]
    for thread in clients:
        thread.start()
    try:
        while not load.stop.is_set():
            write_status(args.status_file, load.status())
            load.stop.wait(REFRESH)
            if not load.stop.is_set():
                load.pods = ready_pods(params) or load.pods  # a failed listing keeps the pods it had
    finally:
        load.stop.set()
        for thread in clients:
            thread.join(timeout=15)
        write_status(args.status_file, load.status(stopped=True))
    return 0


def start(stack, status_file, clients=CLIENTS, pause=PAUSE):
    """The load process for a LegoStack, in a session of its own (it outlives the command that starts it; no signal
    to that command's terminal reaches it); its Popen. Nothing secret in its parameters: the dashboard's read API
    takes no key."""
    from mcpops.lab.lego.dashboard import NAMESPACE, PORT, SELECTOR

    status_file = str(status_file)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(status_file)
    params = {"kubectl": str(stack.plane.binaries.kubectl), "kubeconfig": str(stack.plane.kubeconfig),
              "namespace": NAMESPACE, "selector": SELECTOR, "port": PORT, "path": PATH, "clients": clients,
              "pause": pause}
    log = open(status_file + ".log", "ab")
    try:
        proc = subprocess.Popen([sys.executable, "-m", "mcpops.lab.lego.dashboard_load", "--status-file",
                                 status_file], stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    finally:
        log.close()
    proc.stdin.write(json.dumps(params).encode())
    proc.stdin.close()
    return proc


def wait_spread(status_file, pods, deadline, proc=None):
    """Wait until the load's status says each of `pods` answered it (a callable giving the pod names now, or a
    list); the status. LookupError naming what is missing at the deadline, or when the process exited."""
    end = time.monotonic() + deadline
    while True:
        status = read_status(status_file) or {}
        wanted = set(pods() if callable(pods) else pods)
        missing = sorted(wanted - {name for name, count in (status.get("per_pod") or {}).items() if count > 0})
        if wanted and not missing:
            return status
        if proc is not None and proc.poll() is not None:
            raise LookupError(f"the load process exited {proc.returncode}; its log {status_file}.log")
        if time.monotonic() >= end:
            raise LookupError(f"within {deadline:g}s the load reached no answer from {', '.join(missing) or 'any pod'}"
                              f" (status: {status})")
        time.sleep(0.3)


if __name__ == "__main__":
    sys.exit(main())
