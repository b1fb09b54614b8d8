"""`mcpops watch`: ansible-rulebook with the collection's rulebook (mcpops.runbooks.alert_to_runbook), this
project's inventory and run dirs, until Ctrl-C or SIGTERM; the decisions it makes are printed as they happen.

ansible-rulebook is a child process started here and stopped by its PID (SIGTERM, then SIGKILL after a grace
period); the environment it gets names the inventory (each alert's dispatch needs the operator's inventory, not
the temporary copy ansible-rulebook gives a playbook), the runs dir and the `mcpops` command to run."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from mcpops.run.runbooks import REPO

RULEBOOK = "mcpops.runbooks.alert_to_runbook"
# The rulebook's inventory is the controller alone (its actions run there); the operator's goes to the dispatch.
CONTROLLER_INVENTORY = REPO / "extensions" / "eda" / "inventory" / "controller.yml"
GRACE_SECONDS = 20
POLL_SECONDS = 0.5


def rulebook_command(env_vars):
    bin_dir = Path(sys.executable).parent
    command = [str(bin_dir / "ansible-rulebook"), "-r", RULEBOOK, "-i", str(CONTROLLER_INVENTORY)]
    if env_vars:
        command += ["-E", ",".join(env_vars)]
    return command


def rulebook_env(inventory, runs_root, host=None, port=None, token_file=None, environ=None):
    """(environment, the names ansible-rulebook imports as rulebook vars with -E)."""
    environ = dict(os.environ if environ is None else environ)
    bin_dir = Path(sys.executable).parent
    env = dict(environ, PATH=os.pathsep.join([str(bin_dir), environ.get("PATH", "")]),
               ANSIBLE_CONFIG=environ.get("ANSIBLE_CONFIG") or str(REPO / "ansible.cfg"),
               MCPOPS_INVENTORY=str(inventory), MCPOPS_RUNS_DIR=str(runs_root), MCPOPS_BIN=str(bin_dir / "mcpops"))
    if environ.get("ANSIBLE_HOST_KEY_CHECKING"):  # ansible-runner turns it off when unset; the dispatch restores it
        env["MCPOPS_HOST_KEY_CHECKING"] = environ["ANSIBLE_HOST_KEY_CHECKING"]
    for name, value in (("MCPOPS_EDA_HOST", host), ("MCPOPS_EDA_PORT", port), ("MCPOPS_EDA_TOKEN_FILE", token_file)):
        if value is not None:
            env[name] = str(value)
    names = ["MCPOPS_BIN"] + [name for name in ("MCPOPS_EDA_HOST", "MCPOPS_EDA_PORT", "MCPOPS_EDA_TOKEN_FILE")
                              if env.get(name)]
    return env, names


class DecisionTail:
    """New lines of the decisions log, read as they are appended."""

    def __init__(self, path):
        self.path = Path(path)
        self.offset = self.path.stat().st_size if self.path.exists() else 0

    def new_lines(self):
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                data = handle.read()
        except OSError:
            return []
        complete = data[:data.rfind(b"\n") + 1]
        self.offset += len(complete)
        return complete.decode("utf-8", "replace").splitlines()


def watch(inventory, runs_root, host, port, token_file, out=None):
    """Run the rulebook until it exits or this process gets SIGINT/SIGTERM; returns ansible-rulebook's status
    (0 after a clean stop)."""
    out = out or sys.stdout
    env, names = rulebook_env(inventory, runs_root, host, port, token_file)
    tail = DecisionTail(Path(runs_root) / ".alerts" / "decisions.log")
    print("mcpops watch: Alertmanager's webhook on http://%s:%s/alerts (rulebook %s, inventory %s)"
          % (env.get("MCPOPS_EDA_HOST", "127.0.0.1"), env.get("MCPOPS_EDA_PORT", "5000"), RULEBOOK, inventory),
          file=out, flush=True)
    print("mcpops watch: reports go to %s/<UTC time>-<runbook>/; decisions to %s; pending approvals: mcpops approvals"
          % (runs_root, tail.path), file=out, flush=True)
    # ansible-rulebook in a session of its own: a Ctrl-C at the terminal reaches this process alone, which then
    # stops the child by its PID, once, and waits for it.
    child = subprocess.Popen(rulebook_command(names), env=env, cwd=str(REPO), start_new_session=True)
    stopping = []

    def stop(signum, _frame):
        stopping.append(signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while child.poll() is None and not stopping:
            for line in tail.new_lines():
                print("decision: %s" % line, file=out, flush=True)
            time.sleep(POLL_SECONDS)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        for line in tail.new_lines():
            print("decision: %s" % line, file=out, flush=True)
    if stopping:
        print("mcpops watch: stopped (%s); reports are in %s" % (signal.Signals(stopping[0]).name, runs_root),
              file=out, flush=True)
        return 0
    print("mcpops watch: ansible-rulebook exited %s" % child.returncode, file=out, flush=True)
    return child.returncode or 1
