"""A local lab's private supervisord: its config file, its socket path, starting it and stopping it by PID.

Shared by the local labs (LocalLab: the 1C gateway; ServiceLab: the other reference services), so both write
the same config, wait for it the same way and stop it only by a PID whose command line names their config.
"""

import contextlib
import fcntl
import hashlib
import os
import signal
import subprocess
import time
from pathlib import Path

from mcpops.lab import pids
from mcpops.lab.local import supervisor as sup
from mcpops.lab.local.errors import LabError

START_TIMEOUT = 15.0
HEADER_COMMENT = "; written by `mcpops lab up`; regenerated on every start of the lab"


def conf_value(text):
    """Escape a value for supervisord.conf (ConfigParser-style %-expansion)."""
    text = str(text)
    if "\n" in text or '"' in text:
        raise LabError(f"path {text!r} cannot be written into supervisord.conf (newline or quote)")
    return text.replace("%", "%%")


def tail(path, lines=5):
    """The last lines of a (log) file, or "" when it cannot be read."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 8192))
            data = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(data.splitlines()[-lines:])


def socket_path(state_dir):
    """<state_dir>/supervisor.sock, or a private dir under /tmp when that path is too long for a unix socket."""
    path = Path(state_dir) / "supervisor.sock"
    if len(str(path)) <= 100:  # sun_path holds 108 bytes
        return path
    digest = hashlib.sha256(str(state_dir).encode()).hexdigest()[:12]
    return Path("/tmp") / f"mcpops-lab-{os.getuid()}-{digest}" / "supervisor.sock"


def prepare_socket_dir(sock):
    """Make the socket's dir when it is not the state dir: 0700 and ours, or refuse."""
    sockdir = Path(sock).parent
    sockdir.mkdir(mode=0o700, exist_ok=True)
    st = sockdir.stat()
    if st.st_uid != os.getuid():
        raise LabError(f"{sockdir} belongs to uid {st.st_uid}, not to us: remove it")
    os.chmod(sockdir, 0o700)


@contextlib.contextmanager
def locked(state_dir):
    """An exclusive flock on <state_dir>/.lab.lock for the length of one lab operation."""
    Path(state_dir).mkdir(parents=True, exist_ok=True)
    fd = os.open(Path(state_dir) / ".lab.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def render_header(sock, pidfile, logs_dir, state_dir):
    """The sections every lab's supervisord.conf starts with: its socket (0700), itself, RPC, supervisorctl."""
    v = conf_value
    return f"""{HEADER_COMMENT}
[unix_http_server]
file={v(sock)}
chmod=0700

[supervisord]
pidfile={v(pidfile)}
logfile={v(Path(logs_dir) / "supervisord.log")}
logfile_maxbytes=5MB
logfile_backups=2
childlogdir={v(logs_dir)}
directory={v(state_dir)}
identifier=mcpops-lab
nodaemon=true
silent=true

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{v(sock)}
"""


def render_program(name, command, directory, env, stdout_log, stderr_log, startsecs=1, startretries=3,
                   stopwaitsecs=10, autostart=True):
    """One [program:<name>] section; command is the shell-quoted command line, env a dict (no secrets).
    autostart=False: defined but not started with supervisord (a standby: `supervisorctl start <name>` starts it)."""
    v = conf_value
    env_line = ",".join(f'{k}="{v(val)}"' for k, val in env.items())
    return f"""
[program:{name}]
command={v(command)}
directory={v(directory)}
environment={env_line}
autostart={"true" if autostart else "false"}
autorestart=true
startsecs={startsecs}
startretries={startretries}
stopsignal=TERM
stopwaitsecs={stopwaitsecs}
stopasgroup=false
killasgroup=false
stdout_logfile={v(stdout_log)}
stdout_logfile_maxbytes=10MB
stdout_logfile_backups=2
stderr_logfile={v(stderr_log)}
stderr_logfile_maxbytes=10MB
stderr_logfile_backups=2
"""


def our_supervisord(candidates, config_path):
    """The first of candidates (PIDs, None allowed) that is alive and a supervisord of config_path, or None."""
    for pid in candidates:
        if pid and sup.is_our_supervisord(int(pid), config_path):
            return int(pid)
    return None


def pidfile_pid(pidfile):
    try:
        return int(Path(pidfile).read_text().strip())
    except (OSError, ValueError):
        return None


def start(python, config_path, logs_dir, state_dir, sock, env=None, timeout=START_TIMEOUT, on_started=None):
    """Start supervisord -c config_path in its own session; wait until it answers on sock.

    Returns the Popen. on_started(popen) is called as soon as the PID exists (to record it before waiting)."""
    out = open(Path(logs_dir) / "supervisord.out", "ab")
    try:
        popen = subprocess.Popen(
            [python, "-m", "supervisor.supervisord", "-c", str(config_path)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=str(state_dir),
            env=dict(os.environ) if env is None else env,
            start_new_session=True,
            close_fds=True,
        )
    finally:
        out.close()
    if on_started:
        on_started(popen)
    client = sup.SupervisorClient(sock)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            raise LabError(
                f"supervisord exited with {popen.returncode} at start; "
                f"{Path(logs_dir) / 'supervisord.out'} says:\n{tail(Path(logs_dir) / 'supervisord.out')}"
            )
        if client.alive():
            return popen
        time.sleep(0.1)
    raise LabError(f"supervisord (pid {popen.pid}) did not answer on {sock} within "
                   f"{timeout:.0f}s; see {Path(logs_dir) / 'supervisord.log'}")


def stop(pid, client, config_path, timeout, kill_timeout):
    """Shut down our supervisord (pid already checked to be ours): XML-RPC shutdown, else SIGTERM by PID;
    wait; SIGKILL by PID when it is still ours at the deadline."""
    try:
        client.shutdown()
    except sup.SupervisorError:
        pids.signal_pid(pid, signal.SIGTERM)
    left = pids.wait_gone([pid], timeout)
    if left and sup.is_our_supervisord(pid, config_path):
        pids.signal_pid(pid, signal.SIGKILL)
        pids.wait_gone([pid], kill_timeout)
