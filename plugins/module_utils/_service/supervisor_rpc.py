# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""supervisorctl's three state reads (status, maintail, tail) over supervisord's XML-RPC socket, in this process.

Each supervisorctl is a Python start-up (about a second on a loaded host) and a state read needs three.
supervisorctl is itself an XML-RPC client of these calls, so they are made here and answered with the
text supervisorctl would print. Only the case supervisorctl -c <config> would handle with a unix socket
and no credentials is read this way: ``reader(config)`` returns None for anything else, and the methods
raise Unusable on anything unexpected, so the caller runs supervisorctl as before. Nothing here changes
anything (no start, stop or restart is ever sent)."""

from __future__ import annotations

import os

SOCKET_TIMEOUT = 10.0
# supervisor.xmlrpc.Faults that supervisorctl maintail / tail print as "ERROR (...)" and exit non-zero on
# (NO_FILE, FAILED; tail also BAD_NAME): an answer ("no log"), not a reason to ask supervisorctl instead.
_MAINTAIL_ERROR_FAULTS = (20, 30)
_TAIL_ERROR_FAULTS = (10, 20, 30)


class Unusable(Exception):
    """The RPC read cannot stand for supervisorctl's here: ask supervisorctl."""


def socket_path(config_path):
    """The unix socket `supervisorctl -c config_path` talks to, or None when it would use something else:
    no such config, no [supervisorctl] section, an inet serverurl, a username or password (auth)."""
    if not config_path:
        return None  # supervisorctl would search its default config paths: leave that to it
    import configparser  # pylint: disable=import-outside-toplevel  # module import cost: only when read

    # As supervisor's UnhosedConfigParser reads it (Python 2 style comments, duplicate options allowed).
    parser = configparser.RawConfigParser(inline_comment_prefixes=(";", "#"), strict=False)
    config_path = os.path.abspath(os.path.expanduser(config_path))
    try:
        with open(config_path, encoding="utf-8") as handle:
            parser.read_file(handle)
    except (OSError, UnicodeDecodeError, configparser.Error):
        return None
    if not parser.has_section("supervisorctl"):
        return None
    if parser.has_option("supervisorctl", "username") or parser.has_option("supervisorctl", "password"):
        return None
    if not parser.has_option("supervisorctl", "serverurl"):
        return None  # supervisorctl's default is http://localhost:9001: inet
    expansions = dict(("ENV_%s" % key, value) for key, value in os.environ.items())
    expansions["here"] = os.path.dirname(config_path)
    try:
        url = parser.get("supervisorctl", "serverurl") % expansions
    except (KeyError, ValueError, TypeError):
        return None
    if not url.startswith("unix://"):
        return None
    return os.path.abspath(os.path.expanduser(url[len("unix://"):]))


def status_line(info):
    """`supervisorctl status <name>`'s line for one getProcessInfo answer (its _show_statuses format)."""
    if info["group"] == info["name"]:
        namespec = info["name"]
    else:
        namespec = "%s:%s" % (info["group"], info["name"])
    return "%-*s%-10s%s" % (max(30, len(namespec)) + 3, namespec, info["statename"], info["description"])


class SupervisorRPC:
    """The three reads, each answering with supervisorctl's stdout (its output() adds a newline)."""

    def __init__(self, sock):
        self.sock = sock

    def _call(self, method, *args, error_faults=()):
        """method's answer; None for a fault in error_faults; Unusable for any other failure."""
        import xmlrpc.client  # pylint: disable=import-outside-toplevel  # module import cost: only when read

        try:
            with unix_proxy(self.sock) as proxy:
                return getattr(proxy.supervisor, method)(*args)
        except xmlrpc.client.Fault as exc:
            if exc.faultCode in error_faults:
                return None
            raise Unusable("supervisor.%s: fault %s %s" % (method, exc.faultCode, exc.faultString)) from exc
        except Exception as exc:  # pylint: disable=broad-exception-caught  # socket, HTTP, XML: supervisorctl decides
            raise Unusable("supervisor.%s over %s: %s" % (method, self.sock, exc)) from exc

    def status(self, name):
        info = self._call("getProcessInfo", name)
        try:
            return status_line(info) + "\n"
        except (KeyError, TypeError) as exc:
            raise Unusable("supervisor.getProcessInfo answered %r" % (info,)) from exc

    def maintail(self, size):
        """The last size bytes of supervisord's log; None when supervisorctl maintail would fail."""
        text = self._call("readLog", -size, 0, error_faults=_MAINTAIL_ERROR_FAULTS)
        return None if text is None else text + "\n"

    def tail(self, name, size):
        """The last size bytes of name's stderr log; None when supervisorctl tail would fail."""
        text = self._call("readProcessStderrLog", name, -size, 0, error_faults=_TAIL_ERROR_FAULTS)
        return None if text is None else text + "\n"


def reader(config_path):
    """A SupervisorRPC for supervisorctl -c config_path's socket, or None when that is not a plain unix socket."""
    sock = socket_path(config_path)
    if sock is None or not os.path.exists(sock):
        return None
    return SupervisorRPC(sock)


def unix_proxy(sock, timeout=SOCKET_TIMEOUT):
    """An xmlrpc ServerProxy whose HTTP goes over the unix socket sock (as supervisor's own transport does).

    timeout: seconds for each socket operation (a start that waits for startsecs needs more than a read)."""
    # pylint: disable=import-outside-toplevel  # module import cost: only when read
    import http.client
    import socket
    import xmlrpc.client

    class UnixHTTPConnection(http.client.HTTPConnection):
        def connect(self):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(sock)

    class UnixTransport(xmlrpc.client.Transport):
        def make_connection(self, host):
            # Kept where Transport.close() (the proxy's `with` exit) closes it.
            if self._connection[1] is None:
                self._connection = host, UnixHTTPConnection("localhost", timeout=timeout)
            return self._connection[1]

    return xmlrpc.client.ServerProxy("http://localhost", transport=UnixTransport())
