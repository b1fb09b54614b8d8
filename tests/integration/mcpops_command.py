"""The `mcpops` command as the tests run it (the venv's entry point, the checkout as cwd, loopback only), and
what they look for in its run dirs."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def mcpops(*args, lab_dir=None, runs_dir=None, stdin=subprocess.DEVNULL, extra_env=None):
    env = dict(os.environ)
    env.update(
        ANSIBLE_NOCOLOR="1",
        PATH="%s:%s" % (BIN, env.get("PATH", "")),
        no_proxy="127.0.0.1,localhost",
    )
    if lab_dir:
        env["MCPOPS_LAB_DIR"] = str(lab_dir)
    if runs_dir:
        env["MCPOPS_RUNS_DIR"] = str(runs_dir)
    env.update(extra_env or {})
    return subprocess.run([str(BIN / "mcpops")] + list(args), cwd=REPO, env=env, stdin=stdin,
                          capture_output=True, text=True, timeout=600)


def only_run_dir(runs_dir):
    [run_dir] = [p for p in Path(runs_dir).iterdir() if p.is_dir()]
    return run_dir


def files_containing(root, secrets):
    """Every file under root whose bytes contain one of the secrets."""
    hits = []
    for path in Path(root).rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            hits.extend(f"{path}: {s[:6]}..." for s in secrets if s.encode() in data)
    return hits
