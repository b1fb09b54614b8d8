# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PostgreSQL's client programs (pg_restore, psql): where they are, and the environment they run in.

The environment points them at the server of the module's connection options. The password travels in PGPASSWORD, never in argv, so `ps`
never shows it. No Ansible here.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess


class ToolError(Exception):
    pass


def _version_key(path):
    return [int(n) for n in re.findall(r"\d+", path)]


def candidate_dirs(bin_dir=None):
    """Where to look, in order: bin_dir, PATH, `pg_config --bindir`, the newest /usr/lib/postgresql/*/bin."""
    if bin_dir:
        return [bin_dir]
    dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d]
    if shutil.which("pg_config"):
        try:
            out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, timeout=30, check=False)
            if out.returncode == 0 and out.stdout.strip():
                dirs.append(out.stdout.strip())
        except (OSError, subprocess.SubprocessError):
            pass
    dirs += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    return dirs


def find_tool(name, bin_dir=None):
    """Absolute path of a client program or ToolError naming every place looked at."""
    dirs = candidate_dirs(bin_dir)
    for d in dirs:
        path = os.path.join(d, name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise ToolError("%s not found (looked in %s): install the PostgreSQL client (Debian: postgresql-client) or set "
                    "bin_dir" % (name, ", ".join(dirs) or "nowhere: PATH is empty"))


def libpq_env(params, dbname=None):
    """The process environment for a client program: PG* variables from the connection options."""
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith("PG"))
    host = params.get("login_unix_socket") or params.get("login_host")
    if host:
        env["PGHOST"] = host
    env["PGPORT"] = str(params.get("login_port") or 5432)
    env["PGUSER"] = params.get("login_user") or "postgres"
    env["PGDATABASE"] = dbname or params.get("login_db") or "postgres"
    env["PGSSLMODE"] = params.get("ssl_mode") or "prefer"
    env["PGCONNECT_TIMEOUT"] = str(params.get("connect_timeout") or 10)
    env["PGAPPNAME"] = "mcpops.runbooks"
    if params.get("ca_cert"):
        env["PGSSLROOTCERT"] = params["ca_cert"]
    if params.get("login_password"):
        env["PGPASSWORD"] = params["login_password"]
    return env


def last_lines(text, count=8):
    lines = [line for line in str(text).splitlines() if line.strip()]
    return "\n".join(lines[-count:])
