"""Configuration from the environment (conventions.md, "Gateway environment")."""

import os
from dataclasses import dataclass

DEFAULT_LISTEN = "127.0.0.1:3000"
DEFAULT_DATA_DIR = "/var/lib/onec-mcp-gateway"


class ConfigError(Exception):
    pass


def load_env_file(path, environ=None):
    """Load `KEY=VALUE` lines (comments, blanks, `export ` and quotes tolerated) into environ.

    Values already present in the process environment win. Returns the keys read."""
    environ = os.environ if environ is None else environ
    keys = []
    with open(path, "r", encoding="utf-8") as handle:
        for raw in handle:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("export "):
                line = line[len("export "):].lstrip()
            if "=" not in line:
                continue
            key, value = line.split("=", 1)
            key = key.strip()
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            if not key:
                continue
            environ.setdefault(key, value)
            keys.append(key)
    return keys


@dataclass
class Config:
    host: str
    port: int
    data_dir: str
    admin_token: str
    discover_seconds: float
    reserve_bytes: int = 0
    # Lab only: the HTTP Date header runs this many seconds off, as from a host whose clock drifted
    # (INC-002's clock-skew step reads it).
    clock_offset_seconds: float = 0.0
    # Lab only: no Date header at all, as from a proxy that strips it (INC-002 then reads the host's clock).
    send_date_header: bool = True
    # Lab only: an index.discover job also ends as soon as this file exists (a test ends a long job when it is done
    # with it, instead of waiting out a length chosen to outlast a loaded machine).
    discover_release_file: str = ""

    @classmethod
    def from_env(cls, environ=None):
        environ = os.environ if environ is None else environ
        env_file = environ.get("ONEC_MCP_ENV_FILE")
        if env_file:
            try:
                load_env_file(env_file, environ)
            except OSError as exc:
                raise ConfigError("cannot read ONEC_MCP_ENV_FILE %s: %s" % (env_file, exc.strerror or exc))
        listen = environ.get("ONEC_MCP_LISTEN") or DEFAULT_LISTEN
        host, sep, port_text = listen.rpartition(":")
        if not sep or not host:
            raise ConfigError("ONEC_MCP_LISTEN must be host:port, got %r" % listen)
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        try:
            port = int(port_text)
            if not 0 <= port <= 65535:
                raise ValueError
        except ValueError:
            raise ConfigError("ONEC_MCP_LISTEN port must be 0..65535, got %r" % port_text)
        data_dir = environ.get("ONEC_MCP_DATA_DIR") or DEFAULT_DATA_DIR
        token = ""
        token_file = environ.get("ONEC_MCP_HTTP_TOKEN_FILE")
        if token_file:  # the file wins (keeps the token out of ps and unit files)
            try:
                with open(token_file, "r", encoding="utf-8") as handle:
                    token = handle.read().strip()
            except OSError as exc:
                raise ConfigError("cannot read ONEC_MCP_HTTP_TOKEN_FILE %s: %s" % (token_file, exc.strerror or exc))
        else:
            token = (environ.get("ONEC_MCP_HTTP_TOKEN") or "").strip()
        try:
            discover = float(environ.get("ONEC_MCP_DISCOVER_SECONDS") or 3)
            if discover < 0:
                raise ValueError
        except ValueError:
            raise ConfigError("ONEC_MCP_DISCOVER_SECONDS must be a non-negative number")
        try:
            reserve = int(environ.get("ONEC_MCP_BACKUP_RESERVE_BYTES") or 0)
        except ValueError:
            raise ConfigError("ONEC_MCP_BACKUP_RESERVE_BYTES must be an integer")
        try:
            clock_offset = float(environ.get("ONEC_MCP_LAB_CLOCK_OFFSET_SECONDS") or 0)
        except ValueError:
            raise ConfigError("ONEC_MCP_LAB_CLOCK_OFFSET_SECONDS must be a number of seconds")
        return cls(host=host, port=port, data_dir=os.path.abspath(data_dir), admin_token=token,
                   discover_seconds=discover, reserve_bytes=max(reserve, 0), clock_offset_seconds=clock_offset,
                   send_date_header=(environ.get("ONEC_MCP_LAB_NO_DATE_HEADER") or "0") in ("0", ""),
                   discover_release_file=environ.get("ONEC_MCP_LAB_DISCOVER_RELEASE_FILE") or "")
