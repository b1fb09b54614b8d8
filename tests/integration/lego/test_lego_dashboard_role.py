"""roles/lego_dashboard on the LEGO stack: every Ready dashboard pod asked on its pod IP; a broken HSM shows on each."""

import json

from lego_playbook_runs import HERE, lego_inventory, run_lego_playbook
from mcpops.lab.lego import faults


def probe(stack, tmp_path, name):
    out = tmp_path / ("%s.json" % name)
    proc = run_lego_playbook(lego_inventory(stack, tmp_path / "inventory"), tmp_path / ("report-" + name),
                             HERE / "playbooks" / "dashboard_probe.yml", {"probe_out": str(out)})
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return json.loads(out.read_text())


def test_each_ready_dashboard_pod_is_asked_on_its_own_ip_and_a_down_hsm_shows_on_every_one(lego_stack, tmp_path):
    healthy = probe(lego_stack, tmp_path, "healthy")
    ready = [p for p in healthy["pods"] if p["ready"]]
    assert healthy["healthy"] is True and int(healthy["ready"]) == len(ready) == 2, healthy
    assert sorted(healthy["answered"]) == sorted(p["name"] for p in ready)
    assert all(p["ip"].startswith("127.") for p in ready) and healthy["problems"] == []

    faults.inject(lego_stack, "hsm-down")
    try:
        broken = probe(lego_stack, tmp_path, "hsm-down")
    finally:
        faults.repair(lego_stack, "hsm-down")
    assert broken["healthy"] is False
    assert sorted(p.split(":")[0] for p in broken["problems"]) == sorted(broken["answered"]), broken["problems"]
