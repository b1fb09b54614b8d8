"""Each section of mcp-diagnostics.sh with a fake host: which commands run, in the seed's order; a failing step
recorded in its section; processes from the unit's cgroup; only the service's listening ports; the log sections."""

import json

from ansible_collections.mcpops.runbooks.plugins.module_utils._diagnostics import sections
from diag_fakes import FakeHost, params


def cgroup_root(tmp_path):
    unit = tmp_path / "system.slice" / "cctelegram-mcp.service"
    unit.mkdir(parents=True)
    (unit / "cgroup.procs").write_text("40\n41\n")
    return (str(tmp_path),)


def by_name(found):
    return {name: steps for name, _, steps, _ in found}


def test_every_section_in_the_seed_order_with_its_commands(tmp_path):
    host = FakeHost()
    found = sections.collect(params(), host, transport=None, cgroup_roots=cgroup_root(tmp_path))
    assert [name for name, _, _, _ in found] == [name for name, _ in sections.SECTIONS]
    steps = by_name(found)
    assert [s["command"] for s in steps["system-information"]] == ["hostname", "uptime", "uname -a"]
    assert [s["command"] for s in steps["service-status"]] == [
        "systemctl status --no-pager --lines=10 cctelegram-mcp", "systemctl status --no-pager --lines=10 cctelegram-bridge",
        "systemctl show --property=LoadState --value nginx"]
    assert "nginx is not installed here" in steps["service-status"][2]["output"]
    assert steps["service-status"][2]["rc"] == 0  # an optional unit that is absent is not a failure
    assert [s["command"] for s in steps["resource-usage"]] == ["free -h", "df -h /", "df -h /var/log"]
    assert steps["resource-usage"][2]["rc"] == 1  # recorded, not raised


def test_processes_come_from_the_units_cgroup_not_a_pattern(tmp_path):
    host = FakeHost()
    steps = by_name(sections.collect(params(sections=["process-information"]), host, None,
                                     names=["process-information"], cgroup_roots=cgroup_root(tmp_path)))
    shown = steps["process-information"]
    assert shown[1]["command"] == "ps -ww -o %s -p 40,41" % sections.PS_COLUMNS
    assert "cctelegram-mcp.service: 40 41" in shown[0]["output"]
    assert "no processes" in shown[2]["output"] and len(shown) == 3  # the stopped bridge: no ps
    assert not any("grep" in " ".join(c) or "pgrep" in c for c in host.calls)


def test_only_the_services_ports_are_listed():
    steps = by_name(sections.collect(params(), FakeHost(), None, names=["network-connections"]))
    lines = steps["network-connections"][0]["output"].splitlines()
    assert lines[0].startswith("State") and len(lines) == 3
    assert ":8080" in lines[1] and ":9090" in lines[2]
    assert sections.listening_on("h\nx y z 1.2.3.4:22 q\n", []) == "h\nx y z 1.2.3.4:22 q\n"


def test_log_sections_keep_the_newest_matching_lines(tmp_path):
    app, sec = tmp_path / "application.log", tmp_path / "security.log"
    app.write_text("".join(json.dumps({"level": lvl, "message": "m%d" % i}) + "\n"
                           for i, lvl in enumerate(["ERROR"] * 5 + ["INFO"] * 8 + ["ERROR", "WARN"])))
    sec.write_text("".join(json.dumps({"event": ev, "n": i}) + "\n"
                           for i, ev in enumerate(["SECURITY"] * 6 + ["other", "RATE_LIMIT_EXCEEDED"])))
    p = params(app_log=str(app), security_log=str(sec))
    steps = by_name(sections.collect(p, FakeHost(), None, names=["recent-errors", "security-events"]))
    errors = steps["recent-errors"][0]
    assert [json.loads(x)["message"] for x in errors["output"].splitlines()[:-1]] == ["m13"]  # m0..m4 are older than the last 10
    assert errors["output"].splitlines()[-1] == "[1 of the last 10 lines]"
    events = steps["security-events"][0]
    assert [json.loads(x)["n"] for x in events["output"].splitlines()[:-1]] == [3, 4, 5, 7]


def test_a_missing_app_log_is_a_failed_step_a_missing_security_log_no_event_yet():
    p = params(app_log="/nonexistent/application.log", security_log="/nonexistent/security.log")
    steps = by_name(sections.collect(p, FakeHost(), None, names=["recent-errors", "security-events"]))
    assert steps["recent-errors"][0]["rc"] == 1 and "/nonexistent/application.log: not there" in steps["recent-errors"][0]["output"]
    assert steps["security-events"][0]["rc"] == 0
    assert steps["security-events"][0]["output"] == "/nonexistent/security.log: not there (nothing logged yet)\n"
