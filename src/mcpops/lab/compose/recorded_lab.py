"""The compose lab that outlives the command that starts it (`mcpops lab up --platform compose`): its private dockerd
runs in its own session (mcpops.lab.fixtures.docker_engine starts it so), and what a later process needs to find it
again is recorded on disk, so that `mcpops lab status|break|repair|down --platform compose` and `mcpops drill --lab
compose` reattach to it; `down` stops everything by the recorded PID and is idempotent.

    <state dir>/compose-lab.json (0600, no secret in it):
        {"platform": "compose", "service": "loyalty-api", "started_at": ...,
         "engine": {"dir", "pid", "driver", "made_system_dirs"},   dockerd's PID and everything under its dir
         "lab_dir": ...}                                            the compose project (LoyaltyLab's dir, lab.json)

The state dir is --dir, else $MCPOPS_COMPOSE_LAB_DIR, else ./.lab-compose (not the local lab's .lab: the two labs
can run side by side). A recorded PID is signalled only while its command line is our dockerd's (`--data-root
<engine dir>/data`), so a PID the kernel has given to another process is never touched.
"""

import datetime
import json
import os
from pathlib import Path

from mcpops.lab import pids
from mcpops.lab.compose.loyalty_lab import LoyaltyLab, LoyaltyLabError
from mcpops.lab.fixtures.docker_engine import KILL_TIMEOUT, STOP_TIMEOUT, DockerEngine, api_get

STATE_FILE = "compose-lab.json"
SERVICE = "loyalty-api"


def default_state_dir():
    return Path(os.environ.get("MCPOPS_COMPOSE_LAB_DIR") or ".lab-compose")


class RecordedEngine(DockerEngine):
    """A dockerd an earlier process started, known by its record: stopped by its PID, then what is left of it (its
    containerd, shims, container processes, mounts, dir) the way DockerEngine.stop() does for its own child."""

    def __init__(self, record):  # no DockerEngine.__init__: nothing is started, no new dir is made
        self._lay_out(record["dir"])
        self.proc = None
        self.driver = record.get("driver")
        self.driver_note = ""
        self._made_system_dirs = tuple(record.get("made_system_dirs") or ())
        self._pid = int(record.get("pid") or 0)

    @property
    def pid(self):
        """The recorded PID while it is still our dockerd (alive, its command line names our data root), else None."""
        if not pids.pid_alive(self._pid):
            return None
        argv = pids.cmdline(self._pid)
        return self._pid if "--data-root" in argv and self.data_root in argv else None

    def answers(self):
        try:
            return api_get(self.socket, "/_ping", timeout=3.0) == (200, b"OK")
        except OSError:
            return False

    def halt(self):
        pid = self.pid
        if pid:
            pids.terminate([pid], timeout=STOP_TIMEOUT, kill_timeout=KILL_TIMEOUT)
        self._stop_leftovers()
        self._detach_mounts()


def engine_record(engine):
    """What compose-lab.json keeps of a started DockerEngine."""
    return {"dir": engine.dir, "pid": engine.pid, "driver": engine.driver,
            "made_system_dirs": list(engine._made_system_dirs)}


class RecordedComposeLab:
    """The compose lab of one state dir: up (or found running), attach, status, break/repair, down."""

    def __init__(self, state_dir=None, out=print):
        self.state_dir = Path(state_dir or default_state_dir()).expanduser().resolve()
        self.state_file = self.state_dir / STATE_FILE
        self.out = out

    def record(self):
        """The recorded lab, or None."""
        try:
            return json.loads(self.state_file.read_text())
        except FileNotFoundError:
            return None
        except ValueError as exc:
            raise LoyaltyLabError(f"{self.state_file} is not JSON ({exc}): `mcpops lab down --platform compose` "
                                  "removes it") from None

    def engine(self, record=None):
        record = record or self.record()
        return RecordedEngine(record["engine"]) if record else None

    def running(self):
        """Whether the recorded engine runs and answers (the project itself may be broken: status says)."""
        engine = self.engine()
        return bool(engine and engine.pid and engine.answers())

    def attach(self):
        """The running lab as a LoyaltyLab on its engine (its down() stops the engine too); LoyaltyLabError when none
        runs here."""
        from mcpops.lab.compose.docker_client import DockerClient

        record = self.record()
        engine = self.engine(record)
        if not (engine and engine.pid and engine.answers()):
            raise LoyaltyLabError(f"no compose lab runs in {self.state_dir}: `mcpops lab up --platform compose`"
                                  + (f" (its state dir {self.state_dir})" if record is None else
                                     " (the recorded dockerd is gone: `mcpops lab down --platform compose` first)"))
        docker = DockerClient(engine.host, os.path.join(engine.dir, "config"))
        return LoyaltyLab.attach(record["lab_dir"], docker, engine=engine)

    def up(self):
        """{"started", "url", "engine_pid", "lab_dir", "state_dir"}: the running lab, or a new one started and
        recorded (what a stale record left is cleaned up first)."""
        if self.running():
            lab = self.attach()
            return self._summary(lab, started=False)
        if self.record() is not None:
            self.down()
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        lab = LoyaltyLab.start(out=self.out)
        try:
            record = {"platform": "compose", "service": SERVICE, "engine": engine_record(lab.engine),
                      "lab_dir": str(lab.dir), "started_at": _now()}
            fd = os.open(self.state_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(json.dumps(record, indent=2) + "\n")
        except BaseException:
            lab.down()
            raise
        return self._summary(lab, started=True)

    def _summary(self, lab, started):
        return {"started": started, "url": lab.url, "engine_pid": lab.engine.pid, "engine_dir": lab.engine.dir,
                "lab_dir": str(lab.dir), "inventory": str(lab.inventory_path), "state_dir": str(self.state_dir)}

    def down(self):
        """{"stopped": [dockerd's PID], "removed": [dirs]}: the project down, the database volume unmounted, the lab's
        dir removed, dockerd and what is left of it stopped by PID, the record removed. Nothing recorded: nothing
        done."""
        record = self.record()
        if record is None:
            return {"stopped": [], "removed": []}
        engine = self.engine(record)
        pid = engine.pid
        lab_dir = Path(record.get("lab_dir") or "")
        if pid and engine.answers() and (lab_dir / "lab.json").exists():
            self.attach().down()  # compose down, umount, rm the lab dir, then the engine by PID
        else:  # the engine is gone (or never answered): what it left, without compose
            if str(lab_dir) not in ("", "."):
                remove_lab_dir(lab_dir)
            engine.stop()
        self.state_file.unlink(missing_ok=True)
        return {"stopped": [pid] if pid else [], "removed": [str(lab_dir), engine.dir]}

    def status(self):
        """What runs: the engine, each compose service's state, the profile's checks; no secret."""
        record = self.record()
        if record is None:
            return {"state_dir": str(self.state_dir), "recorded": False, "engine_pid": None, "healthy": False,
                    "services": {}, "checks": {}}
        engine = self.engine(record)
        found = {"state_dir": str(self.state_dir), "recorded": True, "engine_pid": engine.pid,
                 "engine_answers": bool(engine.pid and engine.answers()), "lab_dir": record.get("lab_dir"),
                 "started_at": record.get("started_at"), "services": {}, "checks": {}, "url": None}
        if found["engine_answers"]:
            lab = self.attach()
            found["url"] = lab.url
            found["services"] = {name: {"state": state, "exit_code": code}
                                 for name, (state, code) in sorted(lab.states().items())}
            for path in ("/live", "/ready"):
                found["checks"][path] = lab.get(path, timeout=5)[0]
        found["healthy"] = bool(found["checks"]) and all(code == 200 for code in found["checks"].values())
        return found

    def break_(self, fault):
        return self.attach().break_(fault)

    def repair(self, fault):
        return self.attach().repair(fault)


def remove_lab_dir(lab_dir):
    """A lab dir whose engine is gone: its database volume's tmpfs unmounted, the dir removed."""
    import shutil
    import subprocess

    from mcpops.lab.compose.loyalty_lab import _is_mount

    pgvol = Path(lab_dir) / "pgvol"
    if _is_mount(pgvol):
        subprocess.run(["umount", str(pgvol)], check=False, capture_output=True)
    shutil.rmtree(lab_dir, ignore_errors=True)


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
