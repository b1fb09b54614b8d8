"""Configuration from the environment, as the real services take it: plain functions that raise ConfigError with a
one-line message naming the variable. A message never echoes a value that may hold a secret (a URL with a
password, a key file's content)."""

import os
from dataclasses import dataclass
from urllib.parse import urlsplit

LISTEN_VAR = "MCPOPS_SERVICE_LISTEN"
STATE_DIR_VAR = "MCPOPS_SERVICE_STATE_DIR"
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


class ConfigError(Exception):
    pass


@dataclass(frozen=True)
class Common:
    host: str
    port: int
    state_dir: str


def require(environ, name):
    value = (environ.get(name) or "").strip()
    if not value:
        raise ConfigError("%s is not set" % name)
    return value


def parse_listen(value, name=LISTEN_VAR):
    """'host:port' (IPv6 as [addr]:port) -> (host, port); port 0 means "any free port" (the start line says which)."""
    host, sep, port_text = (value or "").strip().rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host:
        raise ConfigError("%s must be host:port, got %r" % (name, value))
    try:
        port = int(port_text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise ConfigError("%s port must be 0..65535, got %r" % (name, port_text))
    return host, port


def parse_flag(environ, name, default=False):
    """'1'/'true'/'yes'/'on' -> True, '0'/'false'/'no'/'off'/'' -> False, unset -> default."""
    if name not in environ:
        return default
    value = environ[name].strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError("%s must be 1 or 0, got %r" % (name, environ[name]))


def parse_int(environ, name, default, minimum=0):
    text = (environ.get(name) or "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ConfigError("%s must be an integer, got %r" % (name, text))
    if value < minimum:
        raise ConfigError("%s must be at least %d, got %d" % (name, minimum, value))
    return value


def read_secret_file(environ, name):
    """The stripped content of the file named by `name`; never echoed in an error."""
    path = require(environ, name)
    try:
        with open(path, "r", encoding="utf-8") as handle:
            secret = handle.read().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("cannot read %s %s: %s" % (name, path, getattr(exc, "strerror", None) or exc.__class__.__name__))
    if not secret:
        raise ConfigError("%s %s is empty" % (name, path))
    if any(c.isspace() for c in secret):
        raise ConfigError("%s %s holds more than one word (whitespace inside the secret)" % (name, path))
    return secret


def check_url(environ, name, schemes, need_host=True, need_path=False):
    """The URL in `name`, checked for its scheme and host; the error names the variable and the scheme only,
    never the URL (it may carry a password)."""
    value = require(environ, name)
    try:
        parts = urlsplit(value)
        parts.port  # a bad port raises ValueError here
    except ValueError:
        raise ConfigError("%s is not a valid URL (expected %s://...)" % (name, schemes[0]))
    if parts.scheme not in schemes:
        raise ConfigError("%s must be a %s URL (scheme %s), got scheme %r"
                          % (name, schemes[0], " or ".join("%s://" % s for s in schemes), parts.scheme))
    if need_host and not parts.hostname:
        raise ConfigError("%s has no host" % name)
    if need_path and not parts.path.strip("/"):
        raise ConfigError("%s names no database (the path after the port)" % name)
    return value


def url_password(url):
    """The password in a URL, or None (what the services redact from every log line and error they write)."""
    try:
        return urlsplit(url).password or None
    except ValueError:
        return None


def common(environ):
    """MCPOPS_SERVICE_LISTEN and MCPOPS_SERVICE_STATE_DIR (created when missing; faults.json lives there)."""
    host, port = parse_listen(require(environ, LISTEN_VAR))
    state_dir = os.path.abspath(require(environ, STATE_DIR_VAR))
    try:
        os.makedirs(state_dir, exist_ok=True)
    except OSError as exc:
        raise ConfigError("cannot create %s %s: %s" % (STATE_DIR_VAR, state_dir, exc.strerror or exc))
    if not os.path.isdir(state_dir):
        raise ConfigError("%s %s is not a directory" % (STATE_DIR_VAR, state_dir))
    return Common(host=host, port=port, state_dir=state_dir)
