"""`mcpops drill` on the real local lab (supervisord + the reference gateway): break it, run the runbook
through ansible-runner, verify, report. Real drills of INC-003 and INC-001 pass; a drill whose
verification fails exits non-zero naming the check; refusals are one line and start nothing."""

import json

import pytest

from loopback import free_port
from mcpops import cli
from mcpops.drill import checks
from mcpops.lab.local.lab import LocalLab
from mcpops_command import files_containing, mcpops


def lab_secrets(lab):
    return [lab.admin_token(), lab.mcp_token()]


def verdict_of(run_dir):
    return json.loads((run_dir / "drill.json").read_text())


def the_run_dir(runs_dir):
    [run_dir] = [p for p in runs_dir.iterdir() if p.is_dir()]
    return run_dir


def test_inc003_drill_starts_the_lab_breaks_restores_verifies_and_downs_it(tmp_path):
    lab_dir, runs_dir = tmp_path / "lab", tmp_path / "runs"
    proc = mcpops("drill", "inc-003-restore", "--listen", "127.0.0.1:%d" % free_port(),
                  lab_dir=lab_dir, runs_dir=runs_dir)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    run_dir = the_run_dir(runs_dir)
    verdict = verdict_of(run_dir)
    assert verdict["passed"] is True and verdict["runbook_exit"] == 0 and verdict["fault"] == "corrupt-store"
    assert {c["name"] for c in verdict["checks"]} == {"runbook", "healthy", "storage-meta", "tokens", "store_parses"}
    assert all(c["ok"] for c in verdict["checks"]), verdict["checks"]
    assert verdict["recover_seconds"] > 0
    # The fault really broke it (a crash loop), and the runbook restored the backup the drill took first.
    assert "now BACKOFF" in verdict["injected"][0] or "now FATAL" in verdict["injected"][0]
    taken = out.split("lab-gateway: backup ", 1)[1].split()[0]
    assert "Restored backup %s" % taken in out
    assert out.index("== 3/6 Break") < out.index("Restored backup") < out.index("PASS healthy [lab-gateway]")
    assert '"schemaVersion": 3' in out
    assert "drill inc-003-restore (corrupt-store, local lab): PASSED" in out and str(run_dir) in out
    # Same run dir as `mcpops run`: the incident report, ansible-runner's artifacts, and the drill's verdict.
    for name in ("report.md", "report.json", "drill.md", "drill.json"):
        assert (run_dir / name).is_file(), name
    assert "Restored backup %s" % taken in (run_dir / "report.md").read_text() + (run_dir / "drill.md").read_text()
    assert "**Verdict: PASSED**" in (run_dir / "drill.md").read_text()
    # The drill started the lab, so it downed it: no supervisord left, nothing answers.
    lab = LocalLab(lab_dir)
    assert lab.supervisord_pid() is None and "lab down: local lab stopped" in out
    secrets = lab_secrets(lab)
    assert all(len(s) > 16 and s not in out for s in secrets)
    assert files_containing(run_dir, secrets) == []


def test_inc001_drill_on_a_running_lab_restarts_the_stopped_gateway_and_leaves_the_lab_up(tmp_path):
    lab = LocalLab(tmp_path / "lab", listen="127.0.0.1:%d" % free_port())
    lab.up()
    try:
        supervisord = lab.supervisord_pid()
        proc = mcpops("drill", "inc-001-gateway-down", lab_dir=lab.state_dir, runs_dir=tmp_path / "runs")
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out[-6000:]
        verdict = verdict_of(the_run_dir(tmp_path / "runs"))
        assert verdict["passed"] and verdict["fault"] == "stop"
        assert "supervisorctl stop onec-mcp-gateway" in verdict["injected"][0]
        assert "lab-gateway: service STOPPED" in out  # the symptom, seen before the run
        assert "PASS service_running [lab-gateway]: service state RUNNING" in out
        # It was running before the drill: the drill leaves it running, healthy, same supervisord.
        assert "Lab left running" in out
        assert lab.supervisord_pid() == supervisord and lab.status()["healthy"]
        assert files_containing(tmp_path / "runs", lab_secrets(lab)) == []
    finally:
        lab.down()


@pytest.mark.parametrize("fault, says", [("upstream-down", "upstream"), ("cert-expiring", "certificate")])
def test_inc004_drills_with_their_own_upstream_port_name_the_cause(tmp_path, fault, says):
    """INC-004 is read-only: its drill passes when the run fails naming the cause. The lab's upstream on a port of
    its own (--upstream), not the seed's 127.0.0.1:8443, so that two such drills can run at once."""
    lab_dir, runs_dir = tmp_path / "lab", tmp_path / "runs"
    upstream_port = free_port()
    proc = mcpops("drill", "inc-004-upstream-degraded", "--fault", fault, "--listen", "127.0.0.1:%d" % free_port(),
                  "--upstream", "127.0.0.1:%d" % upstream_port, lab_dir=lab_dir, runs_dir=runs_dir)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    verdict = verdict_of(the_run_dir(runs_dir))
    assert verdict["passed"] is True and verdict["runbook_exit"] == 2 and verdict["fault"] == fault
    assert "port %d" % upstream_port in verdict["injected"][0] or fault == "cert-expiring", verdict["injected"]
    assert "drill inc-004-upstream-degraded (%s, local lab): PASSED" % fault in out
    assert says in out
    assert LocalLab(lab_dir).supervisord_pid() is None  # downed: the drill started it
    assert all(s not in out for s in lab_secrets(LocalLab(lab_dir)))


def test_a_drill_whose_verification_fails_exits_1_and_names_the_check(tmp_path, monkeypatch, capsys):
    # The test hook: the drill expects a schemaVersion the gateway does not have; the runbook itself succeeds.
    monkeypatch.setattr(checks, "SUPPORTED_SCHEMA_VERSION", 4)
    monkeypatch.setenv("MCPOPS_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    status = cli.main(["drill", "inc-001-gateway-down", "--dir", str(tmp_path / "lab"),
                       "--listen", "127.0.0.1:%d" % free_port()])
    out = capsys.readouterr().out
    assert status == 1, out[-6000:]
    assert "drill inc-001-gateway-down (stop, local lab): FAILED (storage-meta)" in out
    assert "failed: FAIL storage-meta [lab-gateway]: schemaVersion 3 (expected 4)" in out
    run_dir = the_run_dir(tmp_path / "runs")
    verdict = verdict_of(run_dir)
    assert verdict["passed"] is False and verdict["runbook_exit"] == 0 and verdict["recover_seconds"] is None
    assert [c["name"] for c in verdict["checks"] if not c["ok"]] == ["storage-meta"]
    assert "**Verdict: FAILED**" in (run_dir / "drill.md").read_text()
    assert LocalLab(tmp_path / "lab").supervisord_pid() is None  # downed even though the drill failed


@pytest.mark.parametrize("args, words", [
    (["drill", "no-such-runbook"], ["unknown runbook 'no-such-runbook'", "inc-003-restore"]),
    (["drill", "pg-backup-verify"], ["pg-backup-verify cannot be drilled", "no PostgreSQL dumps",
                                     "drillable: backup-scheduled, ", "inc-001-gateway-down", "inc-003-restore"]),
    (["drill", "inc-003-restore", "--fault", "leak"], ["no drill with --fault leak", "corrupt-store, bad-migration"]),
    (["drill", "inc-003-restore", "-i", "inventories/production.example"],
     ["is not the local lab's", "its own lab only"]),
])
def test_refusals_are_one_line_exit_4_and_start_nothing(tmp_path, args, words):
    lab_dir, runs_dir = tmp_path / "lab", tmp_path / "runs"
    proc = mcpops(*args, lab_dir=lab_dir, runs_dir=runs_dir)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert proc.stdout == "" and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert proc.stderr.startswith("mcpops drill: error: ")
    for word in words:
        assert word in proc.stderr
    assert not lab_dir.exists() and not runs_dir.exists()
