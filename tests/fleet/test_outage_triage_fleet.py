"""playbooks/service-outage.yml and playbooks/triage.yml on real systemd hosts over SSH.

The outage: fleet1's gateway unit stopped; the playbook assesses it (systemd says inactive), restarts it through
systemd and verifies it healthy. The triage: two hosts, fleet2 crash-looping on a corrupt store; each host's bundle
in the run's output dir holds what systemd, journald, ss and the host itself said, and neither triage run (nor its
--check) touches a gateway: main PIDs and start times read over ssh are the same before and after.
"""

import json
import re

from ansible_collections.mcpops.runbooks.plugins.module_utils._forensic.forensic_key import read_key_file
from ansible_collections.mcpops.runbooks.plugins.module_utils._forensic.sealed_file import open_into
from fleet_helpers import assert_no_secret, out, run_playbook, same_process, snapshot, unit_show
from mcpops.lab.fleet import image
from mcpops.lab.http_client import http_json


def test_service_outage_restart_brings_a_stopped_systemd_gateway_back(make_fleet, tmp_path, monkeypatch):
    fleet = make_fleet(2)
    one, two = fleet.hosts()
    fleet.break_("fleet1", "stop")
    before = snapshot(fleet)
    assert before["fleet1"]["ActiveState"] == "inactive" and before["fleet1"]["MainPID"] == "0"

    monkeypatch.setenv("MCPOPS_REPORT_DIR", str(tmp_path / "report"))
    proc = run_playbook(fleet, "playbooks/service-outage.yml", "-e", "remedy=restart", "-e", "outage_hosts=fleet1")
    assert proc.returncode == 0, out(proc)
    said = " ".join(proc.stdout.split())
    # The assessment is systemd's own view of the outage, then the remedy, then the verification.
    assert "fleet1: inactive (running False" in said, out(proc)
    assert "fleet1: restart done; active, healthy; Post-incident validation on fleet1: passed" in said, out(proc)
    # The post-incident validation ran on the host, against its gateway, and its results are in the incident report.
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    [validation] = report["validation"]
    assert validation["host"] == "fleet1" and validation["passed"] is True, validation
    assert validation["active_profile"] == "erp-prod (production)" and validation["write_tools_on_production"] == []
    assert validation["profile_health"] == {"erp-prod": True, "hr-prod": True}
    assert sorted(validation["connection_health"]) == ["erp-prod", "hr-prod"]
    assert "get_active_profile: erp-prod (production, bound to the token)" in (tmp_path / "report" / "report.md").read_text()
    after = snapshot(fleet)
    assert after["fleet1"]["ActiveState"] == "active" and after["fleet1"]["MainPID"] != "0"
    assert http_json(one.api_url + "/readyz", timeout=10)[0] == 200
    # Only the host named: fleet2 kept its gateway process.
    assert same_process(before["fleet2"], after["fleet2"])
    assert not re.search(r"fleet2\s+: ok=", proc.stdout)
    assert_no_secret(fleet.hosts(), proc.stdout, proc.stderr, (tmp_path / "report" / "report.json").read_text())


def test_triage_writes_real_bundles_from_two_systemd_hosts_and_changes_nothing(make_fleet, tmp_path):
    fleet = make_fleet(2)
    one, two = fleet.hosts()
    fleet.break_("fleet2", "corrupt-store")  # crash-loops until systemd gives up: failed
    before = snapshot(fleet)
    assert before["fleet2"]["ActiveState"] == "failed"

    bundle_dir = tmp_path / "bundle"
    proc = run_playbook(fleet, "playbooks/triage.yml", "-e", "output_dir=%s" % bundle_dir)
    assert proc.returncode == 0, out(proc)
    checked = run_playbook(fleet, "playbooks/triage.yml", "--check", "-e", "output_dir=%s" % (tmp_path / "check"))
    assert checked.returncode == 0, out(checked)
    after = snapshot(fleet)
    for name in ("fleet1", "fleet2"):
        assert same_process(before[name], after[name]), (name, before[name], after[name])
        assert after[name]["ActiveState"] == before[name]["ActiveState"]
    # The only changes either run reports are its bundle files, written on the controller.
    for run in (proc, checked):
        changed = re.findall(r"^changed: \[([^\]]+)\]", run.stdout, re.M)
        assert changed and all(c.endswith(" -> localhost") for c in changed), changed

    # The bundles are forensic copies: sealed with the fleet's key on the controller (docs/dev/contract-forensic-copies.md).
    key = read_key_file(str(fleet.state_dir / "secrets" / "forensic.key"))

    def opened(name):
        sealed = bundle_dir / (name + ".sealed")
        assert b'"service"' not in sealed.read_bytes()
        clear = tmp_path / "opened" / name
        clear.parent.mkdir(exist_ok=True)
        open_into(key, str(sealed), str(clear))
        return clear.read_text()

    good = json.loads(opened("fleet1.json"))
    bad = json.loads(opened("fleet2.json"))
    # Service status: systemd's state and main PID, and where the logs came from.
    assert good["service"]["state"] == "active" and good["service"]["running"] is True
    assert str(good["service"]["pid"]) == before["fleet1"]["MainPID"]
    assert bad["service"]["state"] == "failed" and bad["service"]["running"] is False
    assert bad["service"]["data_corrupt"] is True and bad["service"]["crash_loop"] is True
    assert good["health"]["healthy"] is True and bad["health"]["healthy"] is False
    # Listening ports from ss on each host: its own sshd on :22 and (for the healthy one) its gateway on :3000,
    # told apart from the other hosts' sockets (the hosts share this machine's network) by the process.
    gateway_pid = before["fleet1"]["MainPID"]
    assert any(re.search(r"\s%s:22\s.*\"sshd" % re.escape(one.address), line) for line in good["listening"]["all"]), \
        good["listening"]
    assert any(re.search(r"\s%s:3000\s.*pid=%s," % (re.escape(one.address), gateway_pid), line)
               for line in good["listening"]["all"]), good["listening"]
    assert good["listening"]["gateway_port_listening"] is True
    assert any(re.search(r"\s%s:22\s.*\"sshd" % re.escape(two.address), line) for line in bad["listening"]["all"])
    assert bad["listening"]["gateway_port_listening"] is False, bad["listening"]
    # Resources of the host: load, memory, the data volume.
    for bundle in (good, bad):
        assert bundle["resources"]["volumes"][0]["path"] == image.GATEWAY_DATA
        assert set(bundle["resources"]["load"]) >= {"1m", "5m", "15m"}
        assert bundle["resources"]["memory"]["available_percent"] > 0
        assert "events" in bundle["security_events"] and bundle["security_events"]["error"] is None
    # The last errors and the log file come from journald on the host.
    assert any("StoreMigrationRunner" in line for line in bad["last_errors"]), bad["last_errors"]
    good_log = opened("fleet1.log")
    bad_log = opened("fleet2.log")
    for name, log in (("fleet1", good_log), ("fleet2", bad_log)):
        assert log.startswith("# journalctl -u %s on %s" % (image.SERVICE_NAME, name)), log[:200]
    assert re.search(r"fleet1 python3\[%s\]: .* GET /healthz 200" % gateway_pid, good_log), good_log[-2000:]
    assert "StoreMigrationRunner" in bad_log
    # --check wrote its bundles too (a read-only run has nothing to simulate), the same hosts.
    assert sorted(p.name for p in (tmp_path / "check").iterdir()) == sorted(p.name for p in bundle_dir.iterdir())
    for path in list((tmp_path / "opened").iterdir()):
        assert_no_secret(fleet.hosts(), path.read_text())
    assert_no_secret(fleet.hosts(), proc.stdout, proc.stderr, checked.stdout, checked.stderr)
    assert unit_show(fleet, one)["ActiveState"] == "active"
