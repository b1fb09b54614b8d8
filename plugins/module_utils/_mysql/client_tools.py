# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""MariaDB's client programs (mariadb, mariadb-dump, mariadb-binlog): where they are, and how they are run.

ClientConfig writes the connection options into a `--defaults-extra-file` (mode 0600) in a private temp dir
(mode 0700), so the password is never in argv, in the environment, or in an error text; the dir is removed
when the `with` block ends. Every program gets that file as its FIRST argument (the client programs only
honour it there). SQL reaches `mariadb` on its stdin, never its argv. The CLI has no bound parameters:
callers put only validated identifiers (quote_ident) and values re-rendered from parsed numbers into SQL text.
No Ansible here.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile

from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.errors import MysqlError

# each tool and the older names it may go by
TOOL_NAMES = {
    "mariadb": ("mariadb", "mysql"),
    "mariadb-dump": ("mariadb-dump", "mysqldump"),
    "mariadb-binlog": ("mariadb-binlog", "mysqlbinlog"),
}
DB_NAME = re.compile(r"^[A-Za-z0-9_$]{1,64}$")


def find_tool(name, bin_dir=None):
    """Absolute path of a client program (its MariaDB name or the MySQL-era one); MysqlError naming the places."""
    on_path = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d]
    dirs = [bin_dir] if bin_dir else on_path + ["/usr/bin", "/usr/local/bin"]
    for candidate in TOOL_NAMES.get(name, (name,)):
        for directory in dirs:
            path = os.path.join(directory, candidate)
            if os.path.isfile(path) and os.access(path, os.X_OK):
                return path
    raise MysqlError("%s not found (looked in %s): install the MariaDB client programs (Debian: mariadb-client) "
                     "or set bin_dir" % (name, ", ".join(dirs) or "nowhere: PATH is empty"), "input")


def check_db_name(name, what="database"):
    """A database name we put into SQL and into mariadb-binlog's --rewrite-db: letters, digits, _ and $."""
    if not isinstance(name, str) or not DB_NAME.match(name):
        raise MysqlError("%s %r: use letters, digits, _ and $ only (1 to 64 characters)" % (what, name), "input")
    return name


def quote_ident(name):
    """`name` with backticks doubled: for names read from the server (tables); never for user text unchecked."""
    if not name or "\x00" in name:
        raise MysqlError("refusing an empty identifier or one with a NUL byte: %r" % (name,), "input")
    return "`%s`" % name.replace("`", "``")


def _option_value(value):
    """A value for an option file: double-quoted, with the escapes MariaDB's option file parser knows."""
    text = str(value)
    if "\x00" in text:
        raise MysqlError("a connection option holds a NUL byte; it cannot be passed to the client programs", "input")
    for raw, escaped in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t")):
        text = text.replace(raw, escaped)
    return '"%s"' % text


def last_lines(text, count=8, secret=None):
    lines = [line for line in str(text).splitlines() if line.strip()]
    out = "\n".join(lines[-count:])
    if secret:
        out = out.replace(secret, "********")
    return out


def _unescape_batch(field):
    if field == "NULL":
        return None
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        ch = field[i]
        if ch == "\\" and i + 1 < len(field):
            nxt = field[i + 1]
            out.append({"n": "\n", "t": "\t", "0": "\x00", "\\": "\\"}.get(nxt, nxt))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


class ClientConfig:
    """The connection options as a private 0600 option file, for one `with` block.

    params: login_host, login_port, login_user, login_password, login_unix_socket, connect_timeout, ca_cert,
    client_cert, client_key (the community.mysql names). A socket wins over host/port, as in community.mysql;
    login_host localhost is reached over TCP too (protocol=TCP), as the _mysql fragment documents."""

    def __init__(self, params, bin_dir=None):
        self.params = params
        self.bin_dir = bin_dir
        self.dir = None
        self.path = None
        self.tools = {}
        self.secret = params.get("login_password") or None

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="mcpops-mysql-")
        os.chmod(self.dir, 0o700)
        self.path = os.path.join(self.dir, "client.cnf")
        p = self.params
        lines = ["[client]"]
        lines.append("user=%s" % _option_value(p.get("login_user") or "root"))
        if p.get("login_password"):
            lines.append("password=%s" % _option_value(p["login_password"]))
        if p.get("login_unix_socket"):
            lines.append("socket=%s" % _option_value(p["login_unix_socket"]))
            lines.append("protocol=SOCKET")
        else:
            lines.append("host=%s" % _option_value(p.get("login_host") or "localhost"))
            lines.append("port=%d" % int(p.get("login_port") or 3306))
            lines.append("protocol=TCP")
        for option, key in (("ssl-ca", "ca_cert"), ("ssl-cert", "client_cert"), ("ssl-key", "client_key")):
            if p.get(key):
                lines.append("%s=%s" % (option, _option_value(p[key])))
        # only the mariadb client knows connect-timeout (mariadb-dump and mariadb-binlog refuse it in [client])
        lines += ["[mysql]", "connect-timeout=%d" % int(p.get("connect_timeout") or 10)]
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write("\n".join(lines) + "\n")
        return self

    def __exit__(self, *exc):
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def scratch_path(self, name):
        """A path in the private temp dir (removed at the end of the block)."""
        return os.path.join(self.dir, name)

    def tool(self, name):
        if name not in self.tools:
            self.tools[name] = find_tool(name, self.bin_dir)
        return self.tools[name]

    def argv(self, name, *args):
        """[tool, --defaults-extra-file=<ours>, args...] (the file must come first)."""
        return [self.tool(name), "--defaults-extra-file=" + self.path] + list(args)

    def where(self):
        p = self.params
        if p.get("login_unix_socket"):
            return "%s@socket %s" % (p.get("login_user") or "root", p["login_unix_socket"])
        return "%s@%s:%s" % (p.get("login_user") or "root", p.get("login_host") or "localhost", p.get("login_port") or 3306)

    def fail(self, what, tool, rc, stderr, stage=None):
        raise MysqlError("%s: %s as %s exited %s: %s" % (what, tool, self.where(), rc,
                                                         last_lines(stderr, secret=self.secret) or "no error text"), stage)

    def query(self, sql, what, database=None, timeout=120, no_log_bin=False):
        """Rows (lists of str or None) of the last result set of sql, run by `mariadb --batch` on its stdin."""
        args = ["--batch", "--skip-column-names", "--default-character-set=utf8mb4"]
        if no_log_bin:
            args.append("--init-command=SET SESSION sql_log_bin=0")
        if database:
            args.append("--database=" + check_db_name(database))
        try:
            proc = subprocess.run(self.argv("mariadb", *args), input=sql.encode("utf-8"), capture_output=True,
                                  timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise MysqlError("%s: mariadb as %s did not answer within %ss" % (what, self.where(), timeout))
        except OSError as exc:
            raise MysqlError("%s: could not run mariadb: %s" % (what, exc.strerror or exc))
        if proc.returncode != 0:
            self.fail(what, "mariadb", proc.returncode, proc.stderr.decode("utf-8", "replace"))
        text = proc.stdout.decode("utf-8", "replace")
        return [[_unescape_batch(f) for f in line.split("\t")] for line in text.split("\n") if line != ""]

    def version(self, name):
        """The first line of `<tool> --version` (no connection)."""
        try:
            proc = subprocess.run([self.tool(name), "--version"], capture_output=True, text=True, timeout=30, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            raise MysqlError("%s --version failed: %s" % (name, exc))
        return (proc.stdout.strip().splitlines() or [""])[0]
