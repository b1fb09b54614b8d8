"""The gateway_service role's systemd backend on real systemd (fleet hosts over SSH): `status` returns what
`systemctl show` and the journal say, checked against the unit itself after a crash."""

import json

from fleet_helpers import REPO, UNIT, run_playbook, unit

STATUS_PLAYBOOK = str(REPO / "tests" / "fleet" / "playbooks" / "gateway_status.yml")


def read_status(fleet, out_dir, *args):
    out_dir.mkdir(exist_ok=True)
    proc = run_playbook(fleet, STATUS_PLAYBOOK, "-e", "status_dir=%s" % out_dir, *args)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    return {host.name: json.loads((out_dir / ("%s.json" % host.name)).read_text()) for host in fleet.hosts()}


def test_status_on_systemd_after_a_crash_and_on_a_stopped_unit(make_fleet, tmp_path):
    fleet = make_fleet(2)
    one, two = fleet.hosts()
    before = read_status(fleet, tmp_path / "before", "-e", "status_log_lines=50")
    for host in (one, two):
        status = before[host.name]
        state = unit(fleet, host)
        assert status["platform"] == "systemd" and status["available"] and status["name"] == UNIT
        assert status["state"] == "active" and status["sub_state"] == "running" and status["running"]
        assert status["pid"] == int(state["MainPID"]) > 1 and status["restarts"] == int(state["NRestarts"]) == 0
        assert status["last_exit_status"] is None  # nothing has exited since the host booted
        assert isinstance(status["uptime_seconds"], int) and status["uptime_seconds"] >= 0
        assert status["log_source"] == "journalctl -u %s" % UNIT and len(status["log_lines"]) <= 50
        # The gateway's start-up line, from the journal, naming this host's own address and data dir.
        assert any("python3[%d]: onec-mcp-gateway" % status["pid"] in line and "listening on %s" % host.api_url in line
                   and "data_dir=/var/lib/onec-mcp-gateway" in line for line in status["log_lines"]), status["log_lines"]
        assert not status["crash_loop"] and not status["data_corrupt"]

    # fleet1: SIGKILL; systemd restarts it itself (Restart=on-failure). fleet2: stopped by an operator.
    fleet.break_("fleet1", "crash")
    fleet.break_("fleet2", "stop")
    after = read_status(fleet, tmp_path / "after", "-e", "status_log_lines=5")

    crashed = after["fleet1"]
    assert crashed["running"] and crashed["pid"] == int(unit(fleet, one)["MainPID"]) != before["fleet1"]["pid"]
    assert crashed["restarts"] == before["fleet1"]["restarts"] + 1
    assert crashed["last_exit_status"] == 137  # 128 + SIGKILL, from systemd's "Main process exited" line
    assert len(crashed["log_lines"]) == 5  # the last N lines, as asked
    assert not crashed["crash_loop"]  # one restart and running again is not a loop

    stopped = after["fleet2"]
    assert stopped["state"] == "inactive" and not stopped["running"] and stopped["pid"] is None
    assert stopped["uptime_seconds"] is None and stopped["restarts"] == 0
    # The gateway exits 0 on systemctl stop's SIGTERM.
    assert stopped["last_exit_status"] == 0
    assert any("Stopped %s.service" % UNIT in line for line in stopped["log_lines"]), stopped["log_lines"]
    for status in after.values():
        for host in (one, two):
            assert host.admin_token() not in json.dumps(status)
