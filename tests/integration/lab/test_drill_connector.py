"""`mcpops drill <runbook> --service connector-mcp` on the real connector lab (two backend instances under supervisord
behind a private nginx, a private MariaDB and Redis): the drill brings the lab up (or finds it running), injects the
lab's fault once, runs the ConnectorMCP playbook through ansible-runner with the inventory it writes into the lab's
state dir (no secret in it: each password is a lookup of the lab's 0600 secret file), checks every instance (its
profile's /health and deep /api/health) and the fault's symptom against what it saw right after the fault.

A representative subset; CI time: one lab for all but the first, the session's shared connector lab
(connector_lab_helpers.shared_connector_lab): the drill finds it running, reuses it and leaves it running, and the
test puts it back in its `up` state (`break healthy`) when the drill has left a fault in it:
    pool-exhausted      on a lab of its own, because what it proves is that the drill starts and downs the lab; one
                        instance broken, only it restarted
    datasource-failing  every instance broken; a per-instance symptom (the breakers)
    bad-deploy          on a running lab: reused, left running; the release links and the versions
    rate-limit-storm    a symptom of the whole lab (403 at nginx), then the undo run (the block taken out again)
    clock-skew          a drill that expects the runbook to end red (exit 2) naming the skewed instance
The other scenarios of the table (mysql-max-connections, oauth-states-expired, memory-leak, stop) run the same code
paths; their faults and playbooks are rehearsed by tests/integration/playbooks/test_connector_playbooks.py, and
their table entries and symptom checks by tests/unit/mcpops/drill/.
"""

import json
import stat

import pytest

from connector_lab_helpers import ready
from loopback import free_port
from mcpops.lab.local.service_lab import ServiceLab
from mcpops_command import files_containing, mcpops

SERVICE = ("--service", "connector-mcp")


def lab_secrets(lab_dir):
    secrets_dir = lab_dir / "secrets"
    found = [p.read_text().strip() for p in sorted(secrets_dir.iterdir()) if p.suffix != ".env"]
    found = [s for s in found if s]
    assert found and all(len(s) >= 12 for s in found), "a secret this short would match by chance"
    return found


def verdict_of(runs_dir):
    [run_dir] = [p for p in runs_dir.iterdir() if p.is_dir()]
    return run_dir, json.loads((run_dir / "drill.json").read_text())


def checks_of(verdict):
    return {(c["name"], c["target"]): c for c in verdict["checks"]}


def drill(tmp_path, runbook, *args, lab_dir=None):
    lab_dir = lab_dir or tmp_path / "lab"
    runs_dir = tmp_path / "runs"
    proc = mcpops("drill", runbook, *SERVICE, *args, "--dir", str(lab_dir), lab_dir=lab_dir, runs_dir=runs_dir)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-8000:]
    run_dir, verdict = verdict_of(runs_dir)
    assert verdict["passed"] is True and verdict["service"] == "connector-mcp", verdict["checks"]
    assert all(c["ok"] for c in verdict["checks"]), verdict["checks"]
    assert verdict["targets"] == ["backend-1", "backend-2"]
    assert len(verdict["injected"]) == 1 and verdict["injected"][0].startswith("local lab: ")  # the lab's, once
    for host in ("backend-1", "backend-2"):  # every instance passes its profile's liveness and deep checks
        assert checks_of(verdict)[("healthy", host)]["detail"].startswith("/health 200, /api/health 200")
    # no secret of the lab anywhere: the output, the run dir, the inventory the drill wrote
    secrets = lab_secrets(lab_dir)
    assert [s[:4] for s in secrets if s in out] == []
    assert files_containing(run_dir, secrets) == []
    inventory = lab_dir / "drill" / "connector-inventory.json"
    assert files_containing(inventory.parent, secrets) == []
    assert stat.S_IMODE(inventory.stat().st_mode) == 0o600
    return out, run_dir, verdict


@pytest.fixture
def clab(shared_connector_lab):
    """The shared lab in its `up` state; after the test, `break healthy` takes out what the drill left in it."""
    lab = ready(shared_connector_lab)
    yield lab
    lab.break_("healthy")


def test_pool_exhausted_drill_starts_the_lab_restarts_only_that_instance_and_downs_it(tmp_path):
    out, run_dir, verdict = drill(tmp_path, "connector-db-connections", "--listen", "127.0.0.1:%d" % free_port())
    assert verdict["fault"] == "pool-exhausted" and verdict["runbook_exit"] == 0 and verdict["recover_seconds"] > 0
    checks = checks_of(verdict)
    assert checks[("exhausted_restarted", "backend-1")]["detail"].startswith("pool exhausted at the fault: restarted")
    assert checks[("exhausted_restarted", "backend-2")]["detail"].startswith(
        "pool not exhausted at the fault: left alone")
    assert out.index("== 3/6 Break") < out.index("backend-1: pool exhausted, restarted") < out.index("== 5/6 Verify")
    inventory = json.loads((tmp_path / "lab" / "drill" / "connector-inventory.json").read_text())
    hosts = inventory["all"]["children"]["connector_backends"]["hosts"]
    assert sorted(hosts) == ["backend-1", "backend-2"]
    assert inventory["all"]["vars"]["mysql_login_password"].startswith("{{ lookup('ansible.builtin.file', ")
    for name in ("report.md", "report.json", "drill.md", "drill.json"):
        assert (run_dir / name).is_file(), name
    assert "**Verdict: PASSED**" in (run_dir / "drill.md").read_text()
    assert "drill connector-db-connections (pool-exhausted, connector-mcp on the local lab): PASSED" in out
    # The drill started the lab, so it downed it: no supervisord, no nginx.
    lab = ServiceLab(tmp_path / "lab")
    assert "lab down: local lab stopped" in out
    assert lab.supervisord_pid() is None and lab.topology.nginx_pid() is None


def test_datasource_failing_drill_closes_every_breaker(clab, tmp_path):
    out, _, verdict = drill(tmp_path, "connector-connector-failures", lab_dir=clab.state_dir)
    assert verdict["fault"] == "datasource-failing" and "-e breaker_wait=0" in out
    checks = checks_of(verdict)
    for host in ("backend-1", "backend-2"):
        assert checks[("breakers_closed", host)]["detail"].endswith("every one closed")
    assert '"circuit": "open"' in verdict["injected"][0]  # the fault really opened them first


def test_bad_deploy_drill_on_a_running_lab_rolls_back_and_leaves_it_running(clab, tmp_path):
    supervisord = clab.supervisord_pid()
    out, _, verdict = drill(tmp_path, "connector-rollback", lab_dir=clab.state_dir)
    assert verdict["fault"] == "bad-deploy"
    checks = checks_of(verdict)
    for host in ("backend-1", "backend-2"):
        assert checks[("release_rolled_back", host)]["detail"] == (
            "releases/current -> 1.0.0 (before the fault: 1.0.0); /api/health 200 version 1.0.0")
    # It was running before the drill: left running, same supervisord, on the release before.
    assert "Lab left running" in out and "`mcpops lab break healthy` undoes it" in out
    assert clab.supervisord_pid() == supervisord and clab.topology.release_links()["current"] == "1.0.0"


def test_rate_limit_storm_drill_blocks_the_source_at_nginx_then_takes_the_block_out(clab, tmp_path):
    out, run_dir, verdict = drill(tmp_path, "connector-rate-limits", lab_dir=clab.state_dir)
    assert verdict["fault"] == "rate-limit-storm" and "429x" in verdict["injected"][0]
    checks = checks_of(verdict)
    assert checks[("storm_blocked", "")]["detail"] == ("GET /health through nginx from 127.0.0.77: 403 (expected 403); "
                                                       "from 127.0.0.1: 200 (expected 200)")
    assert checks[("undo", "")]["ok"] and checks[("undone", "")]["ok"]
    assert (run_dir / "undo" / "report.md").is_file()
    blocklist = clab.state_dir / "nginx" / "conf" / "blocklist.conf"
    assert "127.0.0.77" not in blocklist.read_text()  # the next drill's storm meets the rate limit, not a 403


def test_clock_skew_drill_passes_when_the_runbook_ends_red_naming_the_skewed_instance(clab, tmp_path):
    out, _, verdict = drill(tmp_path, "connector-oauth-states", "--fault", "clock-skew", lab_dir=clab.state_dir)
    assert verdict["runbook_exit"] == 2 and verdict["expected_exit"] == 2
    assert checks_of(verdict)[("named_skew", "")]["detail"].startswith("the run says 'Clock sync: backend-2 is more")
    assert "the runbook named the fault" in out
