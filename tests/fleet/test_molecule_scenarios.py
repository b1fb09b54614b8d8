"""Every molecule scenario (molecule/<runbook>/) end to end on the fleet lab: create and destroy are
`mcpops fleet up|down`, converge breaks the hosts and runs the runbook, verify checks the end state."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fleet_helpers import REPO

BIN = Path(sys.executable).parent
SCENARIOS = sorted(p.parent.name for p in (REPO / "molecule").glob("*/molecule.yml"))


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario(scenario, tmp_path):
    env = dict(os.environ, PATH="%s:%s" % (BIN, os.environ.get("PATH", "")), ANSIBLE_NOCOLOR="1", NO_COLOR="1",
               ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), no_proxy="127.0.0.1,localhost")
    proc = subprocess.run([str(BIN / "molecule"), "test", "-s", scenario], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=1800)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    # Every action the scenario's test_sequence names (idempotence where the runbook is idempotent) ran and passed.
    sequence = yaml.safe_load((REPO / "molecule" / scenario / "molecule.yml").read_text())["scenario"]["test_sequence"]
    for action in {"create", "converge", "verify", "destroy"} | set(sequence):
        assert "%s: Executed: Successful" % action in out.replace("\u279c ", ""), action
