# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One way to reach Redis for the collection's modules: RESP2 over a TCP socket (optionally TLS), standard library
only, so that a target host needs no redis-py.

CONNECTION_ARGSPEC holds the connection options (named as community.general's redis modules name them; their text
is the doc fragment mcpops.runbooks.redis). RedisConnection(params).open() connects, AUTHs (password, or username
and password for an ACL user) and SELECTs login_db. command() sends one command and returns its reply; pipeline()
sends many at once and returns their replies in order, a server error as an ErrorReply value in its place.

Every failure is a RedisError whose message says where (host:port, db, as whom), what the server or the socket
said, and what to check next - never the password. No Ansible here.
"""

from __future__ import annotations

import socket
import sys

CONNECTION_ARGSPEC = dict(
    login_host=dict(type="str", default="127.0.0.1"),
    login_port=dict(type="int", default=6379),
    login_user=dict(type="str"),
    login_password=dict(type="str", no_log=True),
    login_db=dict(type="int", default=0),
    tls=dict(type="bool", default=False),
    validate_certs=dict(type="bool", default=True),
    ca_certs=dict(type="str", aliases=["ca_cert"]),
    client_cert_file=dict(type="str"),
    client_key_file=dict(type="str"),
    connect_timeout=dict(type="float", default=10),
)

COMMAND_TIMEOUT = 120.0  # seconds one reply may take once connected (a big pipeline on a loaded server)
RECV_SIZE = 1 << 18


class RedisError(Exception):
    """A connection, a command or the input failed; .msg is ready for fail_json and holds no password."""

    def __init__(self, msg):
        super(RedisError, self).__init__(msg)
        self.msg = msg


class ErrorReply(object):
    """A server error reply (`-ERR ...`) as a value: pipeline() puts one where a command failed."""

    __slots__ = ("text",)

    def __init__(self, text):
        self.text = text

    @property
    def code(self):
        """The error's first word: ERR, WRONGTYPE, NOAUTH, NOPERM, MOVED, ..."""
        return self.text.split(" ", 1)[0] if self.text else ""

    def __repr__(self):
        return "ErrorReply(%r)" % self.text

    def __eq__(self, other):
        return isinstance(other, ErrorReply) and other.text == self.text


def as_bytes(value):
    """A command argument as bytes: text is UTF-8 (surrogateescape, so text made from any bytes goes back to them)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray):
        return bytes(value)
    if isinstance(value, bool):
        raise TypeError("a boolean is not a Redis argument")
    if isinstance(value, int):
        return b"%d" % value
    if isinstance(value, float):
        return repr(value).encode("ascii")
    return str(value).encode("utf-8", "surrogateescape")


def encode_command(args):
    """One command in RESP2: an array of bulk strings. Binary-safe: lengths, never separators."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = as_bytes(arg)
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def where(params):
    """Where and as whom, for messages: 'Redis at 127.0.0.1:6379 db 0 as user ops (TLS)'."""
    text = "Redis at %s:%s db %s" % (params.get("login_host") or "127.0.0.1", params.get("login_port") or 6379,
                                     params.get("login_db") or 0)
    if params.get("login_user"):
        text += " as user %s" % params["login_user"]
    if params.get("tls"):
        text += " (TLS)"
    return text


def scrub(text, params):
    """Belt and braces: the password never leaves in a message, whatever the server or the socket put in it."""
    text = str(text).strip()
    secret = params.get("login_password")
    if secret:
        text = text.replace(secret, "********")
    return text


def reply_hint(text, params):
    """What to do next, from the server's error words."""
    upper = text.upper()
    if upper.startswith("NOAUTH"):
        return "the server requires a password: set login_password (and login_user for an ACL user)"
    if upper.startswith("WRONGPASS") or "INVALID PASSWORD" in upper or "INVALID USERNAME-PASSWORD" in upper:
        return ("check login_password%s; nothing was changed" % (
            " for ACL user %s" % params["login_user"] if params.get("login_user") else
            " (the default user's: requirepass; an ACL user also needs login_user)"))
    if "WITHOUT ANY PASSWORD CONFIGURED" in upper:
        return "the server has no password set: leave login_password empty (or set requirepass on the server)"
    if upper.startswith("NOPERM"):
        return ("the ACL user lacks a permission this needs (commands SCAN, TYPE, TTL, MGET, UNLINK or DEL, EXPIRE, "
                "and the keys of the pattern): grant it with ACL SETUSER, or log in as a user that has it")
    if "DB INDEX IS OUT OF RANGE" in upper:
        return "check login_db: the server has fewer databases (CONFIG GET databases)"
    if upper.startswith("MOVED") or upper.startswith("ASK") or upper.startswith("CLUSTERDOWN") or upper.startswith("CROSSSLOT") \
            or "SELECT IS NOT ALLOWED IN CLUSTER MODE" in upper:
        return "this is a Redis Cluster node; cluster mode is not supported: run against each master node on its own"
    if upper.startswith("LOADING"):
        return "the server is loading its dataset into memory: retry when it has finished"
    if upper.startswith("READONLY"):
        return "this server is a read-only replica: point login_host/login_port at the master"
    if upper.startswith("BUSY"):
        return "the server is busy running a script: wait, or SCRIPT KILL it"
    if upper.startswith("OOM"):
        return "the server is out of memory (maxmemory): free memory before changing keys"
    if "UNKNOWN COMMAND" in upper:
        return "the server does not know this command (renamed or disabled in its config, or too old a Redis)"
    return "check the server's log and the command's permissions"


def socket_hint(exc, params):
    """What to do next, from a socket or TLS error."""
    ssl = sys.modules.get("ssl")  # imported for TLS only (tls_context): without it no error is a TLS one
    if ssl is not None and isinstance(exc, ssl.SSLCertVerificationError):
        return ("the server's certificate did not verify: set ca_certs to the CA that signed it, check that login_host is "
                "a name or address the certificate holds, or (a lab only) validate_certs=false")
    if ssl is not None and isinstance(exc, ssl.SSLError):
        return ("the TLS handshake failed: check that the server serves TLS on this port (tls-port), and ca_certs, "
                "client_cert_file, client_key_file")
    if isinstance(exc, socket.timeout):
        return ("no answer within %s s: check that something listens there and that no firewall drops the packets"
                % params.get("connect_timeout"))
    if isinstance(exc, ConnectionRefusedError):
        return ("nothing listens there: check that Redis runs (redis-cli -h <host> -p <port> ping) and "
                "login_host/login_port")
    if isinstance(exc, socket.gaierror):
        return "login_host does not resolve: check its spelling and DNS"
    return "check that Redis runs and listens there, and login_host/login_port"


class RespReader(object):
    """RESP2 replies from a socket, parsed from one growing buffer (no line-by-line reads)."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()
        self.pos = 0

    def _fill(self):
        if self.pos and self.pos >= len(self.buf) // 2:
            del self.buf[:self.pos]
            self.pos = 0
        chunk = self.sock.recv(RECV_SIZE)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buf += chunk

    def _line(self):
        end = self.buf.find(b"\r\n", self.pos)
        while end < 0:
            self._fill()
            end = self.buf.find(b"\r\n", self.pos)
        line = bytes(self.buf[self.pos:end])
        self.pos = end + 2
        return line

    def _bulk(self, size):
        while len(self.buf) < self.pos + size + 2:
            self._fill()
        data = bytes(self.buf[self.pos:self.pos + size])
        self.pos += size + 2
        return data

    def read_array_head(self):
        """The element count of an array reply whose elements read() then returns one by one, or an ErrorReply."""
        line = self._line()
        if line[:1] == b"*":
            return int(line[1:])
        if line[:1] == b"-":
            return ErrorReply(line[1:].decode("utf-8", "replace"))
        raise ConnectionError("the server sent %r where an array was due" % line[:40])

    def read(self):
        """One reply: bytes (bulk or status), int, None (nil), list, or ErrorReply."""
        line = self._line()
        if not line:
            raise ConnectionError("the server sent an empty line, not a RESP2 reply")
        kind, rest = line[:1], line[1:]
        if kind == b"$":
            size = int(rest)
            return None if size < 0 else self._bulk(size)
        if kind == b"*":
            count = int(rest)
            if count < 0:
                return None
            items = []
            append = items.append
            for dummy in range(count):
                # The common case inline (arrays of bulk strings: SCAN, MGET), else the general parse.
                end = self.buf.find(b"\r\n", self.pos)
                if end > self.pos and self.buf[self.pos] == 36:  # b"$"
                    size = int(self.buf[self.pos + 1:end])
                    if size < 0:
                        self.pos = end + 2
                        append(None)
                        continue
                    start = end + 2
                    if len(self.buf) >= start + size + 2:
                        append(bytes(self.buf[start:start + size]))
                        self.pos = start + size + 2
                        continue
                append(self.read())
            return items
        if kind == b":":
            return int(rest)
        if kind == b"+":
            return rest
        if kind == b"-":
            return ErrorReply(rest.decode("utf-8", "replace"))
        raise ConnectionError("the server sent %r, not a RESP2 reply (is this port a Redis?)" % line[:40])


class RedisConnection(object):
    """One connection: open() (connect, TLS, AUTH, SELECT), command(), pipeline(), close(); a `with` block opens and
    closes it. server_version is INFO's redis_version when INFO is allowed, else None."""

    def __init__(self, params):
        self.params = params
        self.sock = None
        self.reader = None
        self.server_version = None

    @property
    def where(self):
        return where(self.params)

    def fail(self, what, said, hint):
        return RedisError("%s on %s failed: %s. Next: %s" % (what, self.where, scrub(said, self.params), hint))

    def tls_context(self):
        import ssl  # here, not at the top: about 5 ms of import a run that uses no TLS need not pay

        params = self.params
        try:
            context = ssl.create_default_context(cafile=params.get("ca_certs") or None)
            if not params.get("validate_certs", True):
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            if params.get("client_cert_file"):
                context.load_cert_chain(params["client_cert_file"], params.get("client_key_file") or None)
        except (OSError, ssl.SSLError) as exc:
            raise self.fail("TLS set-up", "could not load a certificate or key file: %s" % exc,
                            "check that ca_certs, client_cert_file and client_key_file are readable PEM files")
        return context

    def open(self):
        params = self.params
        host = params.get("login_host") or "127.0.0.1"
        port = int(params.get("login_port") or 6379)
        timeout = float(10 if params.get("connect_timeout") is None else params["connect_timeout"])
        if timeout <= 0:
            raise RedisError("connect_timeout must be more than 0 seconds (got %s)" % params.get("connect_timeout"))
        try:
            sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as exc:
            raise self.fail("connecting", exc, socket_hint(exc, params))
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if params.get("tls"):
                sock = self.tls_context().wrap_socket(sock, server_hostname=host)
        except RedisError:
            sock.close()
            raise
        except OSError as exc:
            sock.close()
            raise self.fail("the TLS handshake", exc, socket_hint(exc, params))
        self.sock = sock
        self.reader = RespReader(sock)
        try:
            if params.get("login_password") or params.get("login_user"):
                args = [b"AUTH"]
                if params.get("login_user"):
                    args.append(params["login_user"])
                args.append(params.get("login_password") or "")
                self.command(*args, what="AUTH")
            if params.get("login_db"):
                self.command(b"SELECT", int(params["login_db"]), what="SELECT %s" % params["login_db"])
            self.sock.settimeout(max(COMMAND_TIMEOUT, timeout))
            self.server_version = self.read_version()
        except RedisError:
            self.close()
            raise
        return self

    def read_version(self):
        """INFO server's redis_version, or None when INFO is refused (an ACL user may lack it)."""
        reply = self.pipeline([[b"INFO", b"server"]])[0]
        if isinstance(reply, ErrorReply) or not isinstance(reply, bytes):
            if isinstance(reply, ErrorReply) and reply.code in ("NOAUTH", "LOADING"):
                raise self.fail("INFO server", reply.text, reply_hint(reply.text, self.params))
            return None
        for line in reply.split(b"\r\n"):
            if line.startswith(b"redis_version:"):
                return line.split(b":", 1)[1].decode("ascii", "replace").strip()
        return None

    def version_at_least(self, major, minor=0):
        """True when the server's version is known and >= major.minor; None when unknown."""
        if not self.server_version:
            return None
        try:
            parts = [int(p) for p in self.server_version.split(".")[:2]]
        except ValueError:
            return None
        return tuple(parts + [0] * (2 - len(parts))) >= (major, minor)

    def send(self, data):
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise self.fail("sending", exc, socket_hint(exc, self.params))

    def read_replies(self, count, what="reading replies"):
        """count replies in order, ErrorReply values in place of errors."""
        replies = []
        try:
            for dummy in range(count):
                replies.append(self.reader.read())
        except (OSError, ValueError) as exc:
            hint = socket_hint(exc, self.params)
            if isinstance(exc, ConnectionError) and not self.params.get("tls"):
                hint += "; a server that serves TLS on this port closes plain-text connections: set tls=true"
            raise self.fail(what, exc, hint)
        return replies

    def read_array_head(self, what):
        """See RespReader.read_array_head; a server error raises RedisError naming `what`."""
        try:
            head = self.reader.read_array_head()
        except (OSError, ValueError) as exc:
            raise self.fail(what, exc, socket_hint(exc, self.params))
        return self.check(head, what)

    def pipeline(self, commands, what="a pipeline"):
        """Send every command at once, then read their replies (ErrorReply values where one failed)."""
        if not commands:
            return []
        self.send(b"".join(encode_command(cmd) for cmd in commands))
        return self.read_replies(len(commands), what)

    def command(self, *args, **kwargs):
        """One command's reply; a server error raises RedisError naming the command (what=...) and a next step."""
        what = kwargs.get("what") or as_bytes(args[0]).decode("ascii", "replace").upper()
        reply = self.pipeline([args], what)[0]
        if isinstance(reply, ErrorReply):
            raise self.fail(what, "the server said: " + reply.text, reply_hint(reply.text, self.params))
        return reply

    def check(self, reply, what):
        """reply itself, or RedisError when it is an ErrorReply (for replies of a pipeline)."""
        if isinstance(reply, ErrorReply):
            raise self.fail(what, "the server said: " + reply.text, reply_hint(reply.text, self.params))
        return reply

    def close(self):
        sock, self.sock = self.sock, None
        if sock is not None:
            try:
                sock.close()
            except OSError:  # closing a broken connection must not hide the real error
                pass

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()
