"""A private PostgreSQL cluster for the lab, the tests and the bench: initdb into a temp dir, pg_ctl start
listening on 127.0.0.1:<port> with its unix socket in that dir, pg_ctl stop at the end.

initdb refuses to run as root, so when we are root every server command runs as the `postgres` user
(`runuser -u postgres --`) in a temp dir that user owns; otherwise as ourselves. Local (socket) logins are
`trust` (the socket dir is private to the cluster's owner); TCP logins need a password (scram-sha-256), so a
wrong password is refused as on a real server.
"""

import glob
import os
import pwd
import re
import secrets
import shutil
import subprocess
import tempfile

SUPERUSER = "postgres"
START_TIMEOUT = 120  # seconds pg_ctl waits; a loaded CI machine can be slow


class PgClusterError(Exception):
    pass


def _version_key(path):
    return [int(n) for n in re.findall(r"\d+", path)]


def find_bindir():
    """The directory holding initdb and pg_ctl: `pg_config --bindir`, else the newest /usr/lib/postgresql/*/bin."""
    candidates = []
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        if out.returncode == 0:
            candidates.append(out.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    for path in candidates:
        if os.path.isfile(os.path.join(path, "initdb")) and os.path.isfile(os.path.join(path, "pg_ctl")):
            return path
    raise PgClusterError("no initdb/pg_ctl found (pg_config --bindir, /usr/lib/postgresql/*/bin): "
                         "install the Debian package postgresql (scripts/bootstrap does when root)")


class PgCluster:
    """One private cluster. `start()` then `stop()`; `dsn(...)` gives connection parameters."""

    def __init__(self, port, max_connections=200, settings=None, base=None):
        self.port = int(port)
        self.max_connections = int(max_connections)
        self.settings = dict(settings or {})
        self.bindir = find_bindir()
        self.as_root = os.getuid() == 0
        self.dir = tempfile.mkdtemp(prefix="mcpops-pg-", dir=base or "/tmp")  # short: the socket path
        self.data_dir = os.path.join(self.dir, "data")
        self.log_path = os.path.join(self.dir, "postgresql.log")
        self.superuser_password = secrets.token_urlsafe(18)
        self.started = False
        if self.as_root:
            owner = pwd.getpwnam("postgres")
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
        os.chmod(self.dir, 0o700)

    # -- running the server's tools -----------------------------------------------------

    def _run(self, args, timeout=START_TIMEOUT, **kwargs):
        cmd = [os.path.join(self.bindir, args[0])] + list(args[1:])
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.dir, **kwargs)
        if proc.returncode != 0:
            raise PgClusterError("%s failed (rc %d): %s%s\nlog %s:\n%s" % (
                " ".join(cmd), proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:], self.log_path, self.log_tail()))
        return proc

    def log_tail(self, lines=20):
        try:
            with open(self.log_path, errors="replace") as handle:
                return "".join(handle.readlines()[-lines:])
        except OSError:
            return ""

    def start(self):
        pwfile = os.path.join(self.dir, "pwfile")
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(self.superuser_password + "\n")
        if self.as_root:
            owner = pwd.getpwnam("postgres")
            os.chown(pwfile, owner.pw_uid, owner.pw_gid)
        try:
            self._run(["initdb", "-D", self.data_dir, "-U", SUPERUSER, "--pwfile", pwfile, "--auth-local=trust",
                       "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"])
        finally:
            os.unlink(pwfile)
        conf = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": "'%s'" % self.dir,
            "max_connections": str(self.max_connections),
            "shared_buffers": "32MB",
            "fsync": "off",  # a throwaway cluster: nothing to keep across a crash
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "log_min_messages": "warning",
        }
        conf.update(self.settings)
        with open(os.path.join(self.data_dir, "postgresql.auto.conf"), "a") as handle:
            handle.writelines("%s = %s\n" % item for item in conf.items())
        self._run(["pg_ctl", "-D", self.data_dir, "-l", self.log_path, "-w", "-t", str(START_TIMEOUT), "start"])
        self.started = True
        return self

    def stop(self):
        """pg_ctl stop (the postmaster of our data dir, by its pid file), then remove the dir."""
        if self.started:
            self._run(["pg_ctl", "-D", self.data_dir, "-m", "fast", "-w", "-t", str(START_TIMEOUT), "stop"])
            self.started = False
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- connecting ----------------------------------------------------------------------

    def dsn(self, user=SUPERUSER, dbname="postgres", password=None, tcp=False, **extra):
        """Keyword arguments for psycopg.connect: the unix socket (trust) unless tcp (password)."""
        params = dict(user=user, dbname=dbname, port=self.port, **extra)
        if tcp:
            params.update(host="127.0.0.1", password=password if password is not None else self.superuser_password)
        else:
            params["host"] = self.dir
        return params

    def admin(self, dbname="postgres"):
        """An autocommit superuser connection over the socket (psycopg 3)."""
        import psycopg

        return psycopg.connect(autocommit=True, **self.dsn(dbname=dbname))

    def psql(self, sql, dbname="postgres"):
        """Run SQL with psql as the superuser over the socket (for shell-side setup in the tests and bench)."""
        return self._run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.dir, "-p", str(self.port),
                          "-U", SUPERUSER, "-d", dbname, "-c", sql]).stdout
