"""TLS helpers the integration tests share: the lab's certificate cases served by a real TLS server process
(mcpops.lab.fixtures.tls_server) on loopback, and one ansible ad-hoc module run."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from mcpops.lab.fixtures.ca import make_cases
from mcpops.lab.fixtures.tls_server import TlsServerProcess

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# the tests also call module_utils directly: the collection through the checkout's link, as tests/unit do
if str(REPO / "collections") not in sys.path:
    sys.path.insert(0, str(REPO / "collections"))


class CaseServers:
    """The seven certificate cases, each on its own loopback port, plus a refused port and a silent one."""

    def __init__(self, directory):
        self.directory = Path(directory)
        self.ca, self.paths, self.ca_file = make_cases(self.directory / "certs")
        endpoints = [{"name": case, "host": "127.0.0.1", "port": 0, "cert": p["cert"], "key": p["key"]}
                     for case, p in self.paths.items()]
        self.server = TlsServerProcess(self.directory, endpoints)
        self.ports = self.server.start()
        # accepts TCP (the kernel's backlog) but never speaks TLS: a handshake timeout
        self.silent = socket.socket()
        self.silent.bind(("127.0.0.1", 0))
        self.silent.listen(8)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.refused_port = probe.getsockname()[1]

    def target(self, case):
        if case == "refused":
            return "127.0.0.1:%d" % self.refused_port
        if case == "timeout":
            return "127.0.0.1:%d" % self.silent.getsockname()[1]
        return "127.0.0.1:%d" % self.ports[case]

    def stop(self):
        self.silent.close()
        self.server.stop()


def ansible_env(**extra):
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(REPO / "collections"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_LOCALHOST_WARNING="0",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
        PATH="%s:%s" % (BIN, env.get("PATH", "")),
        no_proxy="127.0.0.1,localhost",
        NO_PROXY="127.0.0.1,localhost",
    )
    env.update(extra)
    return env


def run_module(module, args, *flags):
    """(host result, whole output) of `ansible localhost -m mcpops.runbooks.<module>`."""
    env = ansible_env(ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1")
    proc = subprocess.run(
        [str(BIN / "ansible"), "localhost", "-c", "local", "-e", "ansible_python_interpreter=%s" % sys.executable,
         "-m", "mcpops.runbooks.%s" % module, "-a", json.dumps(args)] + list(flags),
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    data = json.loads(proc.stdout[proc.stdout.index("{"):])
    return data["plays"][0]["tasks"][0]["hosts"]["localhost"], proc.stdout + proc.stderr


def run_playbook(playbook, *args, **env):
    cmd = [str(BIN / "ansible-playbook"), playbook, "-i", "inventories/lab"] + list(args)
    return subprocess.run(cmd, cwd=REPO, env=ansible_env(**env), capture_output=True, text=True, timeout=600)
