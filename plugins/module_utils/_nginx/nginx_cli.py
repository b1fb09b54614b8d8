# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nginx binary asked to test its conf (`nginx -t`) or to reload (`nginx -s reload`), with the prefix and main
conf the operator runs it with."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

from ansible_collections.mcpops.runbooks.plugins.module_utils._nginx import conf_text
from ansible_collections.mcpops.runbooks.plugins.module_utils._nginx.conf_text import ConfError

TIMEOUT = 30
RELOAD_WAIT_SECONDS = 10.0
# The options of every nginx module (documented by the doc fragment mcpops.runbooks.nginx).
NGINX_ARGSPEC = dict(
    nginx_conf=dict(type="path", required=True),
    nginx_prefix=dict(type="path"),
    nginx_binary=dict(type="str", default="nginx"),
    reload=dict(type="bool", default=False),
)


def _run(argv):
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired:
        return 124, "%s did not answer within %ds" % (" ".join(argv[:2]), TIMEOUT)
    except OSError as exc:
        return 127, "%s: %s" % (argv[0], exc.strerror or exc)
    return proc.returncode, (proc.stdout + proc.stderr).strip()


class Nginx:
    """binary (a path, or a name looked up in PATH and /usr/sbin), prefix (nginx -p; None: nginx's own default) and
    conf (nginx -c, the main conf). run_command(argv) -> (rc, output) is what a unit test replaces."""

    def __init__(self, binary, conf, prefix=None, run_command=None):
        self.binary = self._binary(binary or "nginx")
        self.conf = conf
        self.prefix = prefix
        self.run_command = run_command or _run

    @staticmethod
    def _binary(binary):
        if os.sep in binary:
            return binary
        search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin", "/sbin"])
        found = shutil.which(binary, path=search)
        if not found:
            raise ConfError("%s not found (PATH, /usr/sbin): give nginx_binary" % binary)
        return found

    def _where(self):
        prefix = []
        if self.prefix:
            prefix = ["-p", self.prefix if self.prefix.endswith("/") else self.prefix + "/"]
        return prefix + ["-c", self.conf]

    def test(self):
        """(ok, what nginx said): nginx's own lines about the conf, without its 'syntax is ok' chatter."""
        rc, out = self.run_command([self.binary, "-t"] + self._where())
        said = [line for line in out.splitlines()
                if line.strip() and not line.rstrip().endswith(("syntax is ok", "test is successful"))]
        return rc == 0, "\n".join(said)[-2000:] or ("nginx -t exited %d" % rc if rc else "")

    def master_pid(self):
        """The running master's PID, from the pid file the main conf names (`pid`, relative to the prefix); None
        when the conf names none (nginx's compiled default is not guessed) or no nginx has it."""
        try:
            with open(self.conf) as handle:
                root = conf_text.parse(handle.read())
        except (OSError, UnicodeDecodeError, ConfError):
            return None
        named = [d.args[0].strip("\"'") for d in root.children if d.name == "pid" and d.args]
        if not named or (not os.path.isabs(named[-1]) and not self.prefix):
            return None
        path = os.path.join(self.prefix or "/", named[-1])
        try:
            with open(path) as handle:
                pid = int(handle.read().strip())
            with open("/proc/%d/cmdline" % pid, "rb") as handle:
                return pid if handle.read().startswith(b"nginx: master process") else None
        except (OSError, ValueError):
            return None

    @staticmethod
    def workers(master):
        """The PIDs whose parent is master (its worker and cache processes)."""
        found = set()
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % entry, "rb") as handle:
                    rest = handle.read().decode("ascii", "replace").rsplit(")", 1)[-1].split()
            except OSError:
                continue
            if len(rest) > 1 and rest[1] == str(master):
                found.add(int(entry))
        return found

    def reload(self):
        """(ok, what nginx said, confirmed) of `nginx -s reload`. The master re-reads its conf and starts new workers
        (it keeps the old ones when the new conf fails to load). confirmed: True once a worker of the new generation
        runs, False when none did within RELOAD_WAIT_SECONDS, None when the master is not known (no pid file)."""
        master = self.master_pid()
        before = self.workers(master) if master else set()
        rc, out = self.run_command([self.binary] + self._where() + ["-s", "reload"])
        said = out[-2000:] or ("nginx -s reload exited %d" % rc if rc else "")
        if rc != 0 or not master:
            return rc == 0, said, None
        deadline = time.monotonic() + RELOAD_WAIT_SECONDS
        while not self.workers(master) - before:
            if time.monotonic() >= deadline:
                return True, said, False
            time.sleep(0.05)
        return True, said, True
