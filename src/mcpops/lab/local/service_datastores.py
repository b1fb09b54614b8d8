"""The service lab's private datastores: PostgreSQL, Redis and MariaDB (MySQL) on free ports on 127.0.0.1.

The first start of each uses its fixture (mcpops.lab.fixtures: PgCluster, RedisServer, MariaDbServer), which
makes its dir and data and starts the server; then the database and user the service logs in with are created.
What the lab needs to find it again from another process is a record (a dict kept in lab.json, no secrets):
its port, dir, PID, and how to start it again on the same data (`datastores-up`, `up` after `down`). Every stop
is by the recorded PID, after checking that the PID still is that server (its command line and working dir).
"""

import os
import pwd
import secrets as _secrets
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

from mcpops.lab import pids
from mcpops.lab.local.errors import LabError
from mcpops.lab.local.service_catalog import MYSQL, POSTGRES, REDIS

START_TIMEOUT = 120.0  # a loaded CI machine can be slow (initdb, mariadb-install-db)
STOP_TIMEOUT = 30.0
KILL_TIMEOUT = 10.0
# What a fixture's unix socket adds below its base dir ("/mcpops-mariadb-XXXXXXXX/mariadbd.sock",
# "/mcpops-pg-XXXXXXXX/.s.PGSQL.65535"); Redis listens on TCP only. sun_path holds 107 bytes and a NUL.
_SOCKET_ROOM = {POSTGRES: 36, MYSQL: 38, REDIS: 0}
_SUN_PATH = 107


def _short_enough(base, kind):
    return len(str(base)) + _SOCKET_ROOM[kind] <= _SUN_PATH


def _others_can_reach(path, uid):
    """True when every dir from / down to path can be searched by uid (owner, or o+x)."""
    path = Path(path).resolve()
    for part in [path, *path.parents]:
        try:
            st = part.stat()
        except OSError:
            return False
        if st.st_uid != uid and not st.st_mode & stat.S_IXOTH:
            return False
    return True


def base_dir(state_dir, kind):
    """Where a datastore's fixture makes its dir: <state dir>/ds, unless its socket path would be too long there or
    (PostgreSQL run as `postgres` when we are root) that user cannot reach it: then /tmp."""
    base = Path(state_dir) / "ds"
    if not _short_enough(base, kind):
        return Path("/tmp")
    base.mkdir(mode=0o700, exist_ok=True)
    if kind == POSTGRES and os.getuid() == 0:
        uid = pwd.getpwnam("postgres").pw_uid
        if not _others_can_reach(base.parent, uid):
            return Path("/tmp")
        os.chmod(base, 0o711)
    return base


def _accepts(port, greeting=False, timeout=1.0):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            if not greeting:
                return True
            sock.settimeout(timeout)
            return len(sock.recv(1)) == 1
    except OSError:
        return False


def _cwd(pid):
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return None


def is_ours(record, pid):
    """True when pid is alive and is the server this record describes (command line, and working dir)."""
    if not pid or not pids.pid_alive(int(pid)):
        return False
    args = pids.cmdline(int(pid))
    if not args:
        return not os.path.isdir(f"/proc/{pid}")  # no /proc: trust the record
    joined = " ".join(args)
    kind = record["kind"]
    if kind == POSTGRES:
        return os.path.basename(args[0]).startswith("postgres") and record["data_dir"] in args
    if kind == REDIS:
        # redis-server rewrites its title to "redis-server 127.0.0.1:<port>"; its working dir is its --dir.
        cwd = _cwd(pid)
        return "redis-server" in joined and f":{record['port']}" in joined and (cwd is None or cwd == record["dir"])
    if kind == MYSQL:
        return ("mariadbd" in joined or "mysqld" in joined) and f"--datadir={record['data_dir']}" in args
    return False


def _postmaster_pid(data_dir):
    try:
        return int(Path(data_dir, "postmaster.pid").read_text().split("\n", 1)[0].strip())
    except (OSError, ValueError):
        return None


def running_pid(record):
    """The server's PID when it runs and is ours, else None (the recorded PID first; PostgreSQL's pid file)."""
    candidates = [record.get("pid")]
    if record["kind"] == POSTGRES:
        candidates.append(_postmaster_pid(record["data_dir"]))
    for pid in candidates:
        if pid and is_ours(record, pid):
            return int(pid)
    return None


# ---------------------------------------------------------------------- first start (fixtures)


def create(kind, port, base, database=None, user=None, password=None):
    """Start a new datastore with its fixture and make the service's database and user.

    Returns (record, admin) where admin holds the superuser's login secrets to keep in the lab's secrets dir."""
    if kind == POSTGRES:
        return _create_postgres(port, base, database, user, password)
    if kind == REDIS:
        return _create_redis(port, base)
    if kind == MYSQL:
        return _create_mysql(port, base, database, user, password)
    raise LabError(f"unknown datastore kind {kind!r}")


def _create_postgres(port, base, database, user, password):
    from mcpops.lab.fixtures.pg_cluster import PgCluster, PgClusterError

    try:
        cluster = PgCluster(port, base=str(base))
    except PgClusterError as exc:
        raise LabError(f"PostgreSQL: {exc}") from None
    try:
        cluster.start()
        if user:
            cluster.psql(f"CREATE ROLE {user} LOGIN PASSWORD '{password}'")
            cluster.psql(f"CREATE DATABASE {database} OWNER {user}")
    except PgClusterError as exc:
        _stop_fixture(cluster)
        raise LabError(f"PostgreSQL on 127.0.0.1:{port}: {exc}") from None
    record = {
        "kind": POSTGRES, "port": port, "dir": cluster.dir, "data_dir": cluster.data_dir, "log": cluster.log_path,
        "bindir": cluster.bindir, "as_root": cluster.as_root, "pid": _postmaster_pid(cluster.data_dir),
        "database": database, "user": user, "admin_user": "postgres",
    }
    return record, {"superuser_password": cluster.superuser_password}


def _create_redis(port, base):
    from mcpops.lab.fixtures.redis_server import RedisServer, RedisServerError

    try:
        server = RedisServer(port, base=str(base))
        server.start()
    except RedisServerError as exc:
        raise LabError(f"Redis: {exc}") from None
    record = {"kind": REDIS, "port": port, "dir": server.dir, "log": server.log_path, "pid": server.pid,
              "command": server.command(), "database": "0"}
    return record, {}


def _create_mysql(port, base, database, user, password):
    from mcpops.lab.fixtures.mariadb_server import MariaDbServer, MariaDbServerError

    try:
        server = MariaDbServer(port, base=str(base))
    except MariaDbServerError as exc:
        raise LabError(f"MariaDB: {exc}") from None
    try:
        server.start()
        if user:
            server.create_database(database, user, password)
    except Exception as exc:  # MariaDbServerError, or PyMySQL's errors from create_database
        _stop_fixture(server)
        raise LabError(f"MariaDB on 127.0.0.1:{port}: {type(exc).__name__}: {exc}") from None
    record = {"kind": MYSQL, "port": port, "dir": server.dir, "data_dir": server.data_dir, "log": server.log_path,
              "socket": server.socket, "pid": server.pid, "command": server.command(), "database": database,
              "user": user, "admin_user": "root"}
    return record, {"root_password": server.root_password}


def _stop_fixture(fixture):
    try:
        fixture.stop()
    except Exception:  # already failing: the first error is the one to report
        pass


# ---------------------------------------------------------------------- start again, stop, url


def restart(record):
    """Start a datastore that is down again on its dir and data; returns its PID."""
    pid = running_pid(record)
    if pid:
        return pid
    if not os.path.isdir(record.get("data_dir") or record["dir"]):
        raise LabError(f"{record['kind']}: its dir {record['dir']} is gone; `mcpops lab down --purge` and `up` "
                       f"to make a new one")
    if record["kind"] == POSTGRES:
        pid = _restart_postgres(record)
    else:
        pid = _restart_command(record)
    record["pid"] = pid
    return pid


def _restart_postgres(record):
    cmd = [os.path.join(record["bindir"], "pg_ctl"), "-D", record["data_dir"], "-l", record["log"], "-w",
           "-t", str(int(START_TIMEOUT)), "start"]
    if record.get("as_root"):
        cmd = ["runuser", "-u", "postgres", "--"] + cmd
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=START_TIMEOUT + 10, cwd=record["dir"],
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise LabError(f"PostgreSQL on 127.0.0.1:{record['port']}: {' '.join(cmd)} failed (rc {proc.returncode}): "
                       f"{(proc.stdout + proc.stderr)[-1500:]}")
    pid = _postmaster_pid(record["data_dir"])
    if not pid or not is_ours(record, pid):
        raise LabError(f"PostgreSQL on 127.0.0.1:{record['port']} started but {record['data_dir']}/postmaster.pid "
                       f"names no postgres of that data dir")
    return pid


def _restart_command(record):
    """Redis and MariaDB: the fixture's own command line again, in its dir, in a session of its own."""
    kind, port = record["kind"], record["port"]
    if not _port_free(port):
        raise LabError(f"{kind}: 127.0.0.1:{port} is in use by a process that is not this lab's {kind}")
    log = open(record["log"], "ab") if kind == REDIS else open(os.devnull, "wb")
    try:
        proc = subprocess.Popen(record["command"], cwd=record["dir"], stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
    finally:
        log.close()
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LabError(f"{kind} on 127.0.0.1:{port} exited {proc.returncode} at start; see {record['log']}")
        if _accepts(port, greeting=(kind == MYSQL)):
            return proc.pid
        time.sleep(0.1)
    pids.terminate([proc.pid], timeout=STOP_TIMEOUT, kill_timeout=KILL_TIMEOUT)
    raise LabError(f"{kind} on 127.0.0.1:{port} did not accept connections within {START_TIMEOUT:.0f}s; "
                   f"see {record['log']}")


def _port_free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def stop(record):
    """Stop the datastore by its PID when that PID is ours; returns the PID stopped, or None."""
    pid = running_pid(record)
    if not pid:
        return None
    # PostgreSQL: SIGINT is its fast shutdown (SIGTERM would wait for the service's pooled sessions to end).
    first = signal.SIGINT if record["kind"] == POSTGRES else signal.SIGTERM
    pids.signal_pid(pid, first)
    left = pids.wait_gone([pid], STOP_TIMEOUT)
    if left and is_ours(record, pid):
        if record["kind"] == POSTGRES:  # immediate shutdown before a kill
            pids.signal_pid(pid, signal.SIGQUIT)
            left = pids.wait_gone([pid], KILL_TIMEOUT)
        if left and is_ours(record, pid):
            pids.signal_pid(pid, signal.SIGKILL)
            left = pids.wait_gone([pid], KILL_TIMEOUT)
    if left:
        raise LabError(f"could not stop {record['kind']} pid {pid}")
    return pid


def url(record, password=None):
    """The URL the service is given (with the user's password)."""
    kind, port = record["kind"], record["port"]
    if kind == POSTGRES:
        return f"postgresql://{record['user']}:{password}@127.0.0.1:{port}/{record['database']}"
    if kind == MYSQL:
        return f"mysql://{record['user']}:{password}@127.0.0.1:{port}/{record['database']}"
    return f"redis://127.0.0.1:{port}/{record.get('database') or 0}"


def new_password():
    return _secrets.token_hex(16)  # URL- and SQL-safe: no quoting needed anywhere it goes
