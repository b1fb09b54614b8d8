# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only calls to the Docker Engine API on its unix socket: a compose project's containers and a container's last
log lines, in milliseconds where the docker CLI takes a tenth of a second of CPU to start each time.

socket_path(docker_host, environ) says which socket the CLI would talk to, or None when it would talk to something
else (tcp://, ssh://, a docker context): then the caller uses the CLI. project_containers(...) and log_lines(...) raise
EngineError naming the call and what came back."""

from __future__ import annotations

import json
import os
import socket
import struct
from http import client as http_client
from urllib.parse import quote, urlencode

DEFAULT_SOCKET = "/var/run/docker.sock"
MAX_BODY = 64 * 1024 * 1024  # a log tail bigger than this is cut (its newest lines are what matter)
# labels compose puts on every container it makes
PROJECT_DIR_LABEL = "com.docker.compose.project.working_dir"
SERVICE_LABEL = "com.docker.compose.service"
NUMBER_LABEL = "com.docker.compose.container-number"
ONEOFF_LABEL = "com.docker.compose.oneoff"


class EngineError(Exception):
    """An Engine API call failed; the text names the call and what came back."""


class _UnixConnection(http_client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def _context_in_use(environ):
    """Whether the CLI would follow a docker context (DOCKER_CONTEXT, or config.json's currentContext)."""
    if environ.get("DOCKER_CONTEXT") not in (None, "", "default"):
        return True
    config_dir = environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    try:
        with open(os.path.join(config_dir, "config.json")) as handle:
            current = (json.load(handle) or {}).get("currentContext")
    except (OSError, ValueError, AttributeError):
        return False
    return current not in (None, "", "default")


def socket_path(docker_host, environ):
    """The unix socket the docker CLI would use with docker_host (else DOCKER_HOST, else the default), or None."""
    host = docker_host or environ.get("DOCKER_HOST") or ""
    if not host:
        return None if _context_in_use(environ) else DEFAULT_SOCKET
    return host[len("unix://"):] if host.startswith("unix://") else None


def _get(sock_path, path, query, timeout):
    """(content type, body bytes) of GET path?query; EngineError unless 200."""
    target = path + ("?" + urlencode(query) if query else "")
    conn = _UnixConnection(sock_path, timeout)
    try:
        conn.request("GET", target, headers={"Host": "docker"})
        answer = conn.getresponse()
        body = answer.read(MAX_BODY)
    except (OSError, http_client.HTTPException) as exc:
        raise EngineError("GET %s on unix://%s: %s" % (path, sock_path, exc or type(exc).__name__))
    finally:
        conn.close()
    if answer.status != 200:
        said = body[:300].decode("utf-8", "replace").strip()
        raise EngineError("GET %s on unix://%s: HTTP %s %s" % (path, sock_path, answer.status, said))
    return answer.getheader("Content-Type") or "", body


def project_containers(sock_path, project_src, timeout):
    """Every container compose made for the project in project_src (one-off `compose run` ones left out, as `compose
    ps --all` does), each as {Name, Service, State, Status, Health, Image, ExitCode, Id, Number}."""
    filters = json.dumps({"label": ["%s=%s" % (PROJECT_DIR_LABEL, project_src)]})
    dummy, body = _get(sock_path, "/containers/json", {"all": "1", "filters": filters}, timeout)
    try:
        listed = json.loads(body.decode("utf-8"))
    except ValueError:
        raise EngineError("GET /containers/json on unix://%s: the answer is not JSON" % sock_path)
    rows = []
    for item in listed if isinstance(listed, list) else []:
        labels = item.get("Labels") or {}
        if str(labels.get(ONEOFF_LABEL, "False")).lower() == "true":
            continue
        status = item.get("Status") or ""
        health = "healthy" if "(healthy)" in status else "unhealthy" if "(unhealthy)" in status else ""
        rows.append({"Name": ((item.get("Names") or ["?"])[0]).lstrip("/"), "Service": labels.get(SERVICE_LABEL, "?"),
                     "State": item.get("State") or "unknown", "Status": status, "Health": health,
                     "Image": item.get("Image"), "ExitCode": None, "Id": item.get("Id") or "",
                     "Number": labels.get(NUMBER_LABEL) or "1"})
    return rows


def demux(content_type, body):
    """The text of a logs answer: a container without a TTY sends frames (1 byte stream, 3 zero bytes, 4 bytes size,
    then the payload), stdout's and stderr's in the order written; with a TTY the bytes as they are."""
    framed = "multiplexed" in content_type or (len(body) >= 8 and body[0] in (0, 1, 2) and body[1:4] == b"\0\0\0")
    if not framed:
        return body.decode("utf-8", "replace")
    parts, offset = [], 0
    while offset + 8 <= len(body):
        size = struct.unpack(">I", body[offset + 4:offset + 8])[0]
        parts.append(body[offset + 8:offset + 8 + size])
        offset += 8 + size
    return b"".join(parts).decode("utf-8", "replace")


def log_lines(sock_path, container_id, tail, timeout):
    """The container's last `tail` lines, stdout and stderr in the order written."""
    content_type, body = _get(sock_path, "/containers/%s/logs" % quote(container_id, safe=""),
                              {"stdout": "1", "stderr": "1", "tail": str(tail)}, timeout)
    return demux(content_type, body).splitlines()
