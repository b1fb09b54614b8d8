"""The LEGO lab that outlives the command that starts it (`mcpops lab up --platform kubernetes`): a LegoStack with its
own control plane (mcpops.lab.lego.stack), whose processes keep running after the command exits, and what a later
process needs to find them again recorded on disk, so that `mcpops lab status|break|repair|down --platform
kubernetes` and `mcpops drill <lego runbook> --lab kubernetes` reattach to it; `down` stops everything by the recorded
PIDs and removes the dirs. The compose lab (mcpops.lab.compose.recorded_lab) is the model.

    <state dir>/kube-lab.json (0600, no secret in it):
        {"platform": "kubernetes", "service": "lego-mcp", "started_at": ...,
         "stack_dir", "replicas", "pod_network", "manifests",       the LegoStack's own dir (the HSM's) and shape
         "plane": {"dir", "ports", "pids"},                         etcd, kube-apiserver, kube-controller-manager
         "agent": {"dir", "pid", "node_name", "namespaces"},        the node agent (it records its pods' services)
         "pg": {"dir", "port", "max_connections"},                  PostgreSQL (stopped by pg_ctl on its data dir)
         "hsm": {"dir", "port"},                                    the HSM service (its PID in <dir>/hsm.pid)
         "inventory": ".../inventory/hosts.yml",
         "compromised": pod or null, "holder_pid": PID or null,     what a fault left for its repair
         "load_pid": PID or null}
    <state dir>/inventory/                      the LEGO playbooks' inventory (mcpops.lab.lego.inventory), and
        group_vars/gateways/lab.yml             lego_dump_dir, lego_hsm_fallback_key_dir (no secret)
        group_vars/gateways/secrets.yml (0600)  the DB password and the API key: the one place the lab keeps them (a
                                                security-incident run that rotates them updates this file)
    <state dir>/dumps/                          pg_dump -Fc of lego_mcp (the "nightly" dump `break namespace-wiped`
                                                takes first, so that lego-full-recovery has one to restore)
    <state dir>/fallback-key/                   the HSM fallback's software key (lego-hsm-unavailable)

The state dir is --dir, else $MCPOPS_KUBE_LAB_DIR, else ./.lab-kubernetes. The stack's processes live in dirs of their
own under /tmp (PostgreSQL, run as the postgres user, could not reach into a 0700 state dir). A recorded PID is
signalled only while its command line (the HSM: its environment) names our dir, so a PID the kernel has given to
another process is never touched. The "DB connections exhausted" fault's sessions are held by a child process
(mcpops.lab.lego.session_holder), recorded by its PID and stopped on repair and down; so is the "high load" fault's
traffic (mcpops.lab.lego.dashboard_load, its status in <state dir>/dashboard-load.json).
"""

import datetime
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from mcpops.lab import pids
from mcpops.lab.fixtures.pg_cluster import START_TIMEOUT as PG_TIMEOUT
from mcpops.lab.fixtures.pg_cluster import PgCluster, PgClusterError
from mcpops.lab.kube.build import KubeBinaries
from mcpops.lab.kube.control_plane import STOP_TIMEOUT as PLANE_STOP_TIMEOUT
from mcpops.lab.kube.control_plane import ControlPlane
from mcpops.lab.kube.node_process import STOP_TIMEOUT as AGENT_STOP_TIMEOUT
from mcpops.lab.kube.node_process import NodeAgentProcess, _ours
from mcpops.lab.lego import faults
from mcpops.lab.lego.hsm_process import STOP_TIMEOUT as HSM_STOP_TIMEOUT
from mcpops.lab.lego.hsm_process import HsmProcess, LegoError
from mcpops.lab.lego.inventory import write_inventory
from mcpops.lab.lego.stack import DB_NAME, DB_USER, LegoStack

STATE_FILE = "kube-lab.json"
SERVICE = "lego-mcp"
HOLDER_FAULT = "db-connections-exhausted"
HOLDER_WAIT = 120  # seconds for the session holder to fill PostgreSQL's slots on a loaded machine
LOAD_FAULT = "high-load"
LOAD_STATUS = "dashboard-load.json"
PLANE_ORDER = ("etcd", "kube-apiserver", "kube-controller-manager")


def default_state_dir():
    return Path(os.environ.get("MCPOPS_KUBE_LAB_DIR") or ".lab-kubernetes")


def _ours_by_argv(pid, *needles):
    """pid, while it is alive and its command line holds every needle; else None."""
    if not pids.pid_alive(pid):
        return None
    argv = " ".join(pids.cmdline(pid))
    return pid if all(needle in argv for needle in needles) else None


# -- the stack's parts, as an earlier process left them

class RecordedPlane(ControlPlane):
    """The control plane an earlier process started: kubectl against its kubeconfig, stopped by its recorded PIDs."""

    def __init__(self, record):
        super().__init__(binaries=KubeBinaries(out=None), out=None)
        self.dir = record["dir"]
        self.ports = dict(record["ports"])
        self._recorded = {name: int(pid) for name, pid in (record.get("pids") or {}).items()}

    @property
    def pids(self):
        """{name: PID} of the processes still running our dir (their command lines name it)."""
        return {name: pid for name, pid in self._recorded.items() if _ours_by_argv(pid, self.dir)}

    def stop(self, keep_dir=False):
        running = self.pids
        left = []
        for name in reversed(PLANE_ORDER):  # the controller manager first, as ControlPlane.stop does
            if name in running:
                left += pids.terminate([running[name]], timeout=PLANE_STOP_TIMEOUT)
        if self.dir and not keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        if left:
            raise LegoError(f"still running after SIGKILL: control plane PIDs {left}")


class RecordedAgent(NodeAgentProcess):
    """The node agent an earlier process started (and the services it runs for pods), stopped by recorded PIDs."""

    def __init__(self, record):  # no NodeAgentProcess.__init__: nothing to make, nothing started
        self.dir = record["dir"]
        self.node_name = record.get("node_name")
        self.namespaces = tuple(record.get("namespaces") or ())
        self.proc = None
        self._pid = int(record.get("pid") or 0)

    @property
    def pid(self):
        return _ours_by_argv(self._pid, "mcpops.lab.kube.node_agent", f"--state-dir={self.dir}")

    def stop(self, keep_dir=False):
        """The agent by its PID (it stops its children), then any child it left (only while it runs our code)."""
        pid = self.pid
        left = pids.terminate([pid], timeout=AGENT_STOP_TIMEOUT) if pid else []
        children = [p for p in self.child_pids() if pids.pid_alive(p) and _ours(p)]
        left += pids.terminate(children) if children else []
        if self.dir and not keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        if left:
            raise LegoError(f"still running after stop: node agent and its children {left}")


class RecordedPg(PgCluster):
    """The private PostgreSQL cluster an earlier process started; pg_ctl stop on its data dir."""

    def __init__(self, record):  # no PgCluster.__init__: it would make a new dir
        from mcpops.lab.fixtures.pg_cluster import find_bindir

        self.port = int(record["port"])
        self.max_connections = int(record["max_connections"])
        self.settings = {}
        self.bindir = find_bindir()
        self.as_root = os.getuid() == 0
        self.dir = record["dir"]
        self.data_dir = os.path.join(self.dir, "data")
        self.log_path = os.path.join(self.dir, "postgresql.log")
        self.superuser_password = None
        self.started = self.pid is not None

    @property
    def pid(self):
        """The postmaster's PID (its postmaster.pid) while it runs our data dir, else None."""
        try:
            pid = int(Path(self.data_dir, "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None
        return _ours_by_argv(pid, self.data_dir)  # postgres -D <data dir>

    def stop(self):
        if self.pid is not None:
            self._run(["pg_ctl", "-D", self.data_dir, "-m", "fast", "-w", "-t", str(PG_TIMEOUT), "stop"])
        self.started = False
        shutil.rmtree(self.dir, ignore_errors=True)


class RecordedHsm(HsmProcess):
    """The HSM service an earlier process started (its PID in <dir>/hsm.pid, checked against its environment's token
    dir), or one this process starts again (the hsm-down repair)."""

    @property
    def pid(self):
        if self.proc is not None and self.proc.poll() is None:
            return self.proc.pid
        try:
            pid = int((self.dir / "hsm.pid").read_text().strip())
        except (OSError, ValueError):
            return None
        if not _ours_by_argv(pid, "mcpops.lab.hsm", "serve"):
            return None
        return pid if pids.environ(pid).get("HSM_TOKEN_STATE_DIR") == str(self.token_dir) else None

    def running(self):
        return self.pid is not None

    def stop(self):
        if self.proc is not None:
            super().stop()
        pid = self.pid
        if pid:
            pids.terminate([pid], timeout=HSM_STOP_TIMEOUT)


class RecordedLegoStack(LegoStack):
    """A LegoStack made of recorded parts: what faults.inject/repair and the inventory need, nothing started."""

    def __init__(self, record, secrets):
        super().__init__(plane=RecordedPlane(record["plane"]), out=print, manifests=record["manifests"])
        self._own_plane = True
        self.dir = record["stack_dir"]
        self.replicas = int(record.get("replicas") or 2)
        self.pod_network = record.get("pod_network")
        self.pg = RecordedPg(record["pg"])
        self.hsm = RecordedHsm(record["hsm"]["dir"], record["hsm"]["port"])
        self.agent = RecordedAgent(record["agent"])
        self.db_password = secrets.get("lego_db_password")
        self.api_key = secrets.get("lego_api_key")
        self.compromised = record.get("compromised")


def stack_record(stack):
    """What kube-lab.json keeps of a started LegoStack (no secret)."""
    plane = stack.plane
    return {"stack_dir": stack.dir, "replicas": stack.replicas, "pod_network": stack.pod_network,
            "manifests": str(stack.manifests),
            "plane": {"dir": plane.dir, "ports": plane.ports, "pids": plane.pids},
            "agent": {"dir": stack.agent.dir, "pid": stack.agent.pid, "node_name": stack.agent.node_name,
                      "namespaces": list(stack.agent.namespaces)},
            "pg": {"dir": stack.pg.dir, "port": stack.pg.port, "max_connections": stack.pg.max_connections},
            "hsm": {"dir": str(stack.hsm.dir), "port": stack.hsm.port}}


def _write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


# -- the lab of one state dir

class RecordedLegoLab:
    """The Kubernetes (LEGO) lab of one state dir: up (or found running), attach, status, break/repair, down."""

    def __init__(self, state_dir=None, out=print):
        self.state_dir = Path(state_dir or default_state_dir()).expanduser().resolve()
        self.state_file = self.state_dir / STATE_FILE
        self.out = out

    # -- where things are

    @property
    def inventory_dir(self):
        return self.state_dir / "inventory"

    @property
    def inventory_path(self):
        return self.inventory_dir / "hosts.yml"

    @property
    def secrets_file(self):
        return self.inventory_dir / "group_vars" / "gateways" / "secrets.yml"

    @property
    def dump_dir(self):
        return self.state_dir / "dumps"

    @property
    def fallback_key_dir(self):
        return self.state_dir / "fallback-key"

    def record(self):
        """The recorded lab, or None."""
        try:
            return json.loads(self.state_file.read_text())
        except FileNotFoundError:
            return None
        except ValueError as exc:
            raise LegoError(f"{self.state_file} is not JSON ({exc}): `mcpops lab down --platform kubernetes` "
                            "removes it") from None

    def _save(self, record):
        _write_private(self.state_file, json.dumps(record, indent=2) + "\n")

    def _update(self, **fields):
        record = self.record()
        record.update(fields)
        self._save(record)

    def secrets(self):
        """The inventory's secret vars (lego_db_password, lego_api_key); {} when there is no such file."""
        import yaml

        try:
            return yaml.safe_load(self.secrets_file.read_text()) or {}
        except FileNotFoundError:
            return {}

    def running(self):
        """Whether the recorded API server runs (the application itself may be broken: status says)."""
        record = self.record()
        return bool(record) and "kube-apiserver" in RecordedPlane(record["plane"]).pids

    def attach(self):
        """The running lab as a RecordedLegoStack; LegoError when none runs here."""
        record = self.record()
        if record is None or "kube-apiserver" not in RecordedPlane(record["plane"]).pids:
            raise LegoError(f"no Kubernetes lab runs in {self.state_dir}: `mcpops lab up --platform kubernetes`"
                            + ("" if record is None else " (the recorded API server is gone: `mcpops lab down "
                                                         "--platform kubernetes` first)"))
        return RecordedLegoStack(record, self.secrets())

    # -- up and down

    def _detached(self, action, *args):
        """`action` run by `python -m mcpops.lab.lego.recorded_lab` in a session of its own, so that the processes it
        starts are in that session too and no signal to this command's terminal (Ctrl-C, hang-up) reaches them; its
        lines go to our stderr, its answer (JSON, its last line on stdout) is returned. Already in a session of our
        own (that child): the action itself."""
        if os.getsid(0) == os.getpid():
            return getattr(self, "_" + action.replace("-", "_"))(*args)
        proc = subprocess.run([sys.executable, "-m", "mcpops.lab.lego.recorded_lab", "--dir", str(self.state_dir),
                               action, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True,
                              start_new_session=True, check=False)
        if proc.returncode != 0:
            raise LegoError(f"{action} {' '.join(args)}".strip() + f" exited {proc.returncode} (its error above)")
        return json.loads(proc.stdout.strip().splitlines()[-1])

    def up(self):
        """{"started", "state_dir", "inventory", "apiserver", "pids", "dashboard"}: the running lab, or a new one
        started and recorded (what a stale record left is cleaned up first)."""
        if self.running():
            return self._summary(self.attach(), started=False)
        return self._detached("up")

    def _up(self):
        if self.running():
            return self._summary(self.attach(), started=False)
        if self.record() is not None:
            self.down()
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.state_dir, 0o700)
        stack = LegoStack(out=self.out).start()
        try:
            write_inventory(stack, self.inventory_dir)
            for directory in (self.dump_dir, self.fallback_key_dir):
                directory.mkdir(mode=0o700, exist_ok=True)
            lab_vars = {"lego_dump_dir": str(self.dump_dir), "lego_hsm_fallback_key_dir": str(self.fallback_key_dir)}
            (self.inventory_dir / "group_vars" / "gateways" / "lab.yml").write_text(
                "---\n" + json.dumps(lab_vars, indent=2, sort_keys=True) + "\n")
            record = {"platform": "kubernetes", "service": SERVICE, "started_at": _now(), **stack_record(stack),
                      "inventory": str(self.inventory_path), "compromised": None, "holder_pid": None,
                      "load_pid": None}
            self._save(record)
        except BaseException:
            stack.stop()
            raise
        return self._summary(self.attach(), started=True)  # as a later command finds it

    def _summary(self, stack, started):
        return {"started": started, "state_dir": str(self.state_dir), "inventory": str(self.inventory_path),
                "apiserver": stack.plane.server, "kubeconfig": str(stack.plane.kubeconfig),
                "pids": self._pids(stack), "dashboard": sorted(stack.dashboard_urls().values()),
                "postgres": f"127.0.0.1:{stack.pg.port}", "hsm": stack.hsm.url}

    @staticmethod
    def _pids(stack, holder=None, load=None):
        found = dict(stack.plane.pids)
        found.update({"node-agent": stack.agent.pid, "postgres": stack.pg.pid, "hsm": stack.hsm.pid})
        if holder:
            found["session-holder"] = holder
        if load:
            found["dashboard-load"] = load
        return found

    def down(self):
        """{"stopped": [PIDs], "removed": [dirs]}: the session holder, the node agent (and its pods' services), the
        HSM, PostgreSQL and the control plane stopped by PID, their dirs and the state dir removed. Nothing recorded:
        nothing done."""
        record = self.record()
        if record is None:
            return {"stopped": [], "removed": []}
        stack = RecordedLegoStack(record, self.secrets())
        holder = self._holder_pid(record)
        load = self._load_pid(record)
        stopped = [pid for pid in self._pids(stack, holder, load).values() if pid]
        stopped += [pid for pid in stack.agent.child_pids() if pids.pid_alive(pid) and _ours(pid)]
        errors = []
        for pid in (holder, load):
            if pid:
                pids.terminate([pid])
        for part in (stack.agent, stack.hsm, stack.pg, stack.plane):
            try:
                part.stop()
            except (LegoError, PgClusterError, OSError, subprocess.SubprocessError) as exc:
                errors.append(str(exc))
        removed = [record["stack_dir"], stack.agent.dir, stack.pg.dir, stack.plane.dir, str(self.state_dir)]
        shutil.rmtree(record["stack_dir"], ignore_errors=True)
        shutil.rmtree(self.state_dir, ignore_errors=True)
        if errors:
            raise LegoError("lab down: " + "; ".join(errors))
        return {"stopped": stopped, "removed": removed}

    # -- status

    def status(self):
        """What runs (each part's PID), the deployments, whether the dashboard is healthy; no secret."""
        record = self.record()
        if record is None:
            return {"state_dir": str(self.state_dir), "recorded": False, "healthy": False, "pids": {},
                    "problem": None}
        stack = RecordedLegoStack(record, self.secrets())
        found = {"state_dir": str(self.state_dir), "recorded": True, "started_at": record.get("started_at"),
                 "inventory": record.get("inventory"), "apiserver": stack.plane.server,
                 "pids": self._pids(stack, self._holder_pid(record), self._load_pid(record)), "pods": {},
                 "deployments": {},
                 "compromised": record.get("compromised"), "healthy": False, "problem": None}
        if "kube-apiserver" not in found["pids"]:
            found["problem"] = "the API server is not running"
            return found
        for name in ("dashboard", "celery-worker"):
            proc = stack.kubectl("get", "deployment", name, "-o", "json", check=False)
            if proc.returncode == 0:
                deployment = json.loads(proc.stdout)
                found["deployments"][name] = {"replicas": deployment["spec"].get("replicas"),
                                              "ready": (deployment.get("status") or {}).get("readyReplicas", 0),
                                              "image": deployment["spec"]["template"]["spec"]["containers"][0]["image"]}
            else:
                found["deployments"][name] = None
        from mcpops.lab.lego import dashboard

        found["pods"] = {name: dashboard.health(url)[0] for name, url in stack.dashboard_urls().items()}
        verdict = stack.healthy()
        found["healthy"] = verdict is True
        found["problem"] = None if verdict is True else verdict
        return found

    # -- faults

    def break_(self, fault):
        """The fault into the running lab; one line saying what it did."""
        if fault not in faults.FAULTS:
            raise LegoError(f"unknown LEGO fault {fault!r}; known: {', '.join(faults.FAULTS)}")
        stack = self.attach()
        if fault == HOLDER_FAULT:
            return f"{fault}: injected ({self._hold_sessions(stack)} idle lego_mcp sessions held by the session " \
                   f"holder, pid {self.record()['holder_pid']})"
        if fault == LOAD_FAULT:
            from mcpops.lab.lego.dashboard_load import CLIENTS

            status = self._start_load(stack)
            return (f"{fault}: injected ({CLIENTS} concurrent clients, pid {status['pid']}, on the "
                    f"dashboard's {len(status['pods'])} Ready pods: {status['requests']} requests so far)")
        if fault == "namespace-wiped":
            dump = self.take_dump(stack)
            faults.inject(stack, fault)
            return f"{fault}: injected (namespace deleted; the dump before it: {dump})"
        what = faults.inject(stack, fault)
        if fault == "compromised-pod":
            self._update(compromised=what)
        return f"{fault}: injected" + (f" ({what})" if what not in (None, "") else "")

    def repair(self, fault):
        """Undo the fault (a no-op where a runbook did) and wait until the dashboard is healthy again; in a session of
        its own when it starts a process (the HSM)."""
        if fault not in faults.FAULTS:
            raise LegoError(f"unknown LEGO fault {fault!r}; known: {', '.join(faults.FAULTS)}")
        return self._detached("repair", fault) if fault == "hsm-down" else self._repair(fault)

    def start_hsm(self):
        """The HSM service started again if it is not running (in a session of its own), without waiting for the
        dashboard: {"pid"}."""
        return self._detached("start-hsm")

    def _start_hsm(self):
        stack = self.attach()
        stack.hsm.start()
        return {"pid": stack.hsm.pid}

    def _repair(self, fault):
        stack = self.attach()
        if fault == HOLDER_FAULT:
            self.release_sessions()
        if fault == LOAD_FAULT:
            self.stop_load()
        faults.repair(stack, fault)
        if fault == "compromised-pod":
            self._update(compromised=None)
        return f"{fault}: repaired, the dashboard is healthy ({stack.replicas} pods signing with the HSM)"

    def _holder_pid(self, record=None):
        record = record or self.record() or {}
        return _ours_by_argv(int(record.get("holder_pid") or 0), "mcpops.lab.lego.session_holder",
                             str(self.state_dir))

    def _hold_sessions(self, stack):
        """Start the session holder (a session of its own, so that it outlives this command), recorded by its PID;
        wait until it holds PostgreSQL's free slots; returns how many."""
        if self._holder_pid():
            return json.loads((self.state_dir / "session-holder.json").read_text()).get("held")
        status_file = self.state_dir / "session-holder.json"
        status_file.unlink(missing_ok=True)
        params = {"host": "127.0.0.1", "port": stack.pg.port, "user": DB_USER, "dbname": DB_NAME,
                  "password": stack.db_password, "max_connections": stack.pg.max_connections}
        with open(self.state_dir / "session-holder.log", "ab") as log:
            proc = subprocess.Popen([sys.executable, "-m", "mcpops.lab.lego.session_holder", "--status-file",
                                     str(status_file)], stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        proc.stdin.write(json.dumps(params).encode())
        proc.stdin.close()
        self._update(holder_pid=proc.pid)
        deadline = time.monotonic() + HOLDER_WAIT
        while time.monotonic() < deadline:
            if status_file.exists():
                status = json.loads(status_file.read_text())
                if status.get("error"):
                    self.release_sessions()
                    raise LegoError(f"the session holder could not fill PostgreSQL's slots: {status['error']}")
                return status.get("held")
            if proc.poll() is not None:
                self._update(holder_pid=None)
                raise LegoError(f"the session holder exited {proc.returncode}; its log "
                                f"{self.state_dir / 'session-holder.log'}")
            time.sleep(0.2)
        self.release_sessions()
        raise LegoError(f"the session holder held no sessions within {HOLDER_WAIT}s")

    def release_sessions(self):
        """Stop the session holder by its PID (it closes its sessions); forget it."""
        pid = self._holder_pid()
        if pid:
            pids.terminate([pid])
        if self.record() is not None:
            self._update(holder_pid=None)
        (self.state_dir / "session-holder.json").unlink(missing_ok=True)

    def _load_pid(self, record=None):
        record = record or self.record() or {}
        return _ours_by_argv(int(record.get("load_pid") or 0), "mcpops.lab.lego.dashboard_load",
                             str(self.state_dir / LOAD_STATUS))

    def _start_load(self, stack):
        """Start the load process (a session of its own, recorded by its PID) unless it runs; wait until every Ready
        dashboard pod answered it; its status."""
        from mcpops.lab.lego import dashboard_load

        status_file = self.state_dir / LOAD_STATUS
        if self._load_pid():
            return dashboard_load.read_status(status_file)
        proc = dashboard_load.start(stack, status_file)
        self._update(load_pid=proc.pid)
        try:
            return dashboard_load.wait_spread(status_file, lambda: stack.dashboard_urls(), faults.LOAD_SPREAD_WAIT,
                                              proc)
        except LookupError as exc:
            self.stop_load()
            raise LegoError(f"{LOAD_FAULT}: {exc}") from None

    def load_running(self):
        return bool(self._load_pid())

    def load_status(self):
        """What the load process wrote last ({"requests", "errors", "per_pod", "pods", "stopped", ...}), or None."""
        from mcpops.lab.lego import dashboard_load

        return dashboard_load.read_status(self.state_dir / LOAD_STATUS)

    def stop_load(self):
        """Stop the load process by its PID (it writes its last status first); forget it; that last status."""
        pid = self._load_pid()
        if pid:
            pids.terminate([pid], timeout=30)
            pids.reap(pid)
        if self.record() is not None:
            self._update(load_pid=None)
        return self.load_status()

    def take_dump(self, stack):
        """pg_dump -Fc of lego_mcp into the dump dir (as the nightly backup would be); returns its path."""
        self.dump_dir.mkdir(mode=0o700, exist_ok=True)
        path = self.dump_dir / f"lego_mcp-{datetime.datetime.now(datetime.timezone.utc):%Y%m%dT%H%M%SZ}.dump"
        env = dict(os.environ, PGPASSWORD=stack.db_password)
        proc = subprocess.run([os.path.join(stack.pg.bindir, "pg_dump"), "-Fc", "-h", "127.0.0.1", "-p",
                               str(stack.pg.port), "-U", DB_USER, "-f", str(path), DB_NAME],
                              env=env, capture_output=True, text=True, timeout=300, check=False)
        if proc.returncode != 0:
            raise LegoError(f"pg_dump of {DB_NAME} exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
        return path


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def main(argv=None):
    """`python -m mcpops.lab.lego.recorded_lab --dir D up|repair FAULT|start-hsm`: RecordedLegoLab._detached's child
    (already in a session of its own); what it says goes to stderr, its answer as JSON to stdout."""
    import argparse

    parser = argparse.ArgumentParser(prog="mcpops.lab.lego.recorded_lab")
    parser.add_argument("--dir", required=True)
    parser.add_argument("action", choices=("up", "repair", "start-hsm"))
    parser.add_argument("fault", nargs="?")
    args = parser.parse_args(argv)
    lab = RecordedLegoLab(args.dir, out=lambda line: print(line, file=sys.stderr, flush=True))
    try:
        answer = lab._detached(args.action, *([args.fault] if args.fault else []))
    except Exception as exc:  # LegoError, KubeLabError, PgClusterError: one line for the parent's error
        print(f"mcpops lab: error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
