"""Make a fleet host a management host as docs/scheduling.md describes one: the checkout at
/opt/mcpops-runbooks with its .venv (the `mcpops` command, ansible-core, ansible-runner), a `mcpops` user,
and an inventory that reaches the fleet's gateways over SSH with the fleet's key.

The image has python3 (3.11, as here) but no pip and no network: the venv is made on the host with
`python3 -m venv --without-pip`, and the installed distributions `mcpops` needs (its requirements, followed
recursively, no extras) are copied into it from this venv, as pip would have laid them out. Everything is
written through /proc/<host's PID 1>/root, i.e. into the host's volatile overlay, gone at its next boot.
"""

import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from mcpops.lab.fleet import inventory

REPO = Path(__file__).resolve().parents[2]
CHECKOUT = "/opt/mcpops-runbooks"  # where docs/scheduling/mcpops-backup.service expects it
VENV = CHECKOUT + "/.venv"
SITE = VENV + "/lib/python%d.%d/site-packages" % sys.version_info[:2]
FLEET_COPY = "/home/mcpops/fleet"  # the bits of the fleet's state dir the inventory reads (key, tokens)
USER = "mcpops"


def distributions(top="mcpops"):
    """{name: Distribution} of `top` and everything it requires (markers evaluated here, no extras)."""
    found, todo = {}, [top]
    while todo:
        name = canonicalize_name(todo.pop())
        if name in found:
            continue
        dist = metadata.distribution(name)
        found[name] = dist
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return found


class HostRoot:
    """Files of a running fleet host, seen from here."""

    def __init__(self, fleet, host):
        self.fleet, self.host = fleet, host
        self.root = Path("/proc/%d/root" % host.leader_pid(fleet.pid(host)))

    def path(self, inside):
        return self.root / inside.lstrip("/")

    def write(self, inside, data, mode=0o644):
        path = self.path(inside)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        os.chmod(path, mode)

    def copy(self, source, inside, mode=None):
        path = self.path(inside)
        path.parent.mkdir(parents=True, exist_ok=True)
        if os.path.islink(source):
            path.unlink(missing_ok=True)
            os.symlink(os.readlink(source), path)
            return
        shutil.copyfile(source, path)
        os.chmod(path, mode if mode is not None else os.stat(source).st_mode & 0o777)

    def run(self, *argv, timeout=120):
        return self.fleet.run(self.host, list(argv), timeout=timeout)


def checkout_files():
    """The working tree's files: tracked ones and new ones not ignored (a tree with uncommitted new modules
    that tracked files import still installs whole)."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                         capture_output=True, check=True).stdout
    return [name for name in out.decode().split("\0") if name and os.path.lexists(REPO / name)]


def install_checkout(host_root):
    for name in checkout_files():
        host_root.copy(REPO / name, "%s/%s" % (CHECKOUT, name))


def install_venv(host_root):
    host_root.run("python3", "-m", "venv", "--without-pip", VENV)
    scripts = []
    for name, dist in distributions().items():
        scripts += [ep for ep in dist.entry_points if ep.group == "console_scripts"]
        if name == "mcpops":
            continue  # installed editable here; on the host it is the checkout's src/
        base = Path(dist.locate_file(""))
        for rel in dist.files or []:
            if ".." in rel.parts or "__pycache__" in rel.parts:
                continue  # scripts (written below) and byte code (made on the host)
            host_root.copy(base / rel, "%s/%s" % (SITE, rel))
    host_root.write(SITE + "/mcpops-checkout.pth", CHECKOUT + "/src\n")
    for ep in scripts:
        module, _, attr = ep.value.partition(":")
        host_root.write("%s/bin/%s" % (VENV, ep.name),
                        "#!%s/bin/python\nimport sys\nfrom %s import %s\nsys.exit(%s())\n"
                        % (VENV, module, attr.split(".")[0], attr), 0o755)


def install_inventory(host_root):
    """inventories/production on the host: the fleet's inventory, its state dir a copy owned by mcpops."""
    fleet, host = host_root.fleet, host_root.host
    inv = CHECKOUT + "/inventories/production"
    host_root.write(inv + "/hosts.yml", inventory.hosts_yml(FLEET_COPY, [host]))
    host_root.write(inv + "/group_vars/gateways.yml", inventory.group_vars())
    for source, inside in ((fleet.client_key, "ssh/id_ed25519"), (fleet.known_hosts, "ssh/known_hosts"),
                           (host.admin_token_file, "hosts/%s/etc-gateway/admin_token" % host.name),
                           (host.mcp_token_file, "hosts/%s/secrets/mcp_token" % host.name)):
        host_root.copy(source, "%s/%s" % (FLEET_COPY, inside), 0o600)


def make_management_host(fleet, host):
    """The host as a management host: checkout, venv, user, inventory; returns its HostRoot."""
    host_root = HostRoot(fleet, host)
    host_root.run("useradd", "--system", "--create-home", "--home-dir", "/home/" + USER, "--shell", "/bin/sh", USER)
    install_checkout(host_root)
    install_venv(host_root)
    install_inventory(host_root)
    host_root.run("chown", "-R", "%s:%s" % (USER, USER), CHECKOUT, "/home/" + USER)
    host_root.run("chmod", "700", FLEET_COPY)
    return host_root
