"""INC-001 (playbooks/inc-001-gateway-down.yml) on real hosts over SSH, under real systemd: a host that cannot be
reached among ones that recover, the crash loop of corrupt data with and without the escalation to INC-003,
the disk threshold, and the index-job guard."""

import json
import os
import re
import time

import pytest

from fleet_helpers import (
    UNIT,
    assert_no_secret,
    data_checksums,
    healthy,
    jobs,
    kill_main,
    mcpops_run,
    release_index_job,
    run_playbook,
    scratch_dirs,
    start_index_job,
    unit,
)

PLAYBOOK = "playbooks/inc-001-gateway-down.yml"


@pytest.fixture(autouse=True)
def runs_dir(tmp_path, monkeypatch):
    """Incident reports (and INC-001's captured logs by default) under the test's tmp dir, not the checkout's runs/."""
    monkeypatch.setenv("MCPOPS_RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path / "runs"


def recap(stdout, name, **counts):
    """The PLAY RECAP line of one host, with the counts given (ok=..., unreachable=..., failed=...)."""
    line = re.search(r"^%s\s+:(.*)$" % re.escape(name), stdout, re.M)
    assert line, (name, stdout[-3000:])
    found = dict(re.findall(r"(\w+)=(\d+)", line.group(1)))
    return all(int(found[k]) == v for k, v in counts.items())


def only_report(runs_dir):
    [report] = list(runs_dir.glob("*-inc-001-gateway-down*/report.json"))
    return json.loads(report.read_text())


def test_inc001_on_three_hosts_one_unreachable_the_others_recover(make_fleet, tmp_path, runs_dir):
    fleet = make_fleet(3)
    one, two, three = fleet.hosts()
    fleet.break_("fleet1", "stop")
    killed = kill_main(fleet, two)
    fleet.break_("fleet3", "unreachable")
    stopped_pid = int(unit(fleet, three)["MainPID"])
    assert not healthy(one) and not healthy(two)

    proc = run_playbook(fleet, PLAYBOOK)
    out = proc.stdout + proc.stderr
    # ansible-playbook's own word for "some host was unreachable".
    assert proc.returncode == 4, out[-6000:]
    assert recap(proc.stdout, "fleet1", unreachable=0, failed=0)
    assert recap(proc.stdout, "fleet2", unreachable=0, failed=0)
    assert recap(proc.stdout, "fleet3", unreachable=1, failed=0)
    assert re.search(r"fatal: \[fleet3\]: UNREACHABLE!", proc.stdout)

    # The two reachable hosts are back: healthy over HTTP, active under a new main PID.
    for host, before in ((one, None), (two, killed)):
        state = unit(fleet, host)
        assert state["ActiveState"] == "active" and healthy(host), (host.name, state)
        if before:
            assert int(state["MainPID"]) != before
        assert "ok: [%s] =>" % host.name in proc.stdout
        assert re.search(r"Restarted: healthy again \(pid %s\)" % state["MainPID"], proc.stdout), host.name
    # The unreachable host was not touched: its gateway runs on under the PID it had.
    assert int(unit(fleet, three)["MainPID"]) == stopped_pid

    # The incident report says so too: outcome unreachable, which host, and why.
    report = only_report(runs_dir)
    assert report["status"] == "unreachable"
    assert report["hosts"]["fleet3"]["unreachable"] == 1 and report["hosts"]["fleet1"]["unreachable"] == 0
    [dark] = [t for t in report["timeline"] if t["host"] == "fleet3" and t["status"] == "unreachable"]
    assert three.address in dark["message"] and "port 22" in dark["message"]
    assert {s["host"] for s in report["summary"]} == {"fleet1", "fleet2"}
    # After the restart, the post-incident validation of each host that came back is in the report.
    assert {v["host"]: v["passed"] for v in report["validation"]} == {"fleet1": True, "fleet2": True}, report["validation"]
    assert all(v["active_profile"] == "erp-prod (production)" and v["write_tools_on_production"] == []
               for v in report["validation"])
    assert_no_secret(fleet.hosts(), out, json.dumps(report))

    # Through `mcpops run` (ansible-runner) the same fleet gives its exit status 3, "some host was unreachable".
    fleet.break_("fleet1", "stop")
    runs2 = tmp_path / "runs-mcpops"
    ran = mcpops_run(fleet, "inc-001-gateway-down", runs2)
    assert ran.returncode == 3, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert "inc-001-gateway-down: some host was unreachable" in ran.stdout
    assert healthy(one) and unit(fleet, one)["ActiveState"] == "active"
    report = only_report(runs2)
    assert report["status"] == "unreachable" and report["hosts"]["fleet3"]["unreachable"] == 1


def test_inc001_crash_loop_debugged_on_a_copy_then_escalated_to_inc003(make_fleet, tmp_path, runs_dir):
    fleet = make_fleet(2)
    one, two = fleet.hosts()
    fleet.break_("fleet1", "corrupt-store")
    fleet.break_("fleet2", "bad-migration")
    before = {h.name: data_checksums(h) for h in (one, two)}
    scratch_before = {h.name: scratch_dirs(fleet, h) for h in (one, two)}
    restarts_before = {h.name: int(unit(fleet, h)["NRestarts"]) for h in (one, two)}

    # Without escalation: each host stops at the diagnosis and names INC-003; nothing in the data dir changed.
    logs = tmp_path / "logs"
    proc = run_playbook(fleet, PLAYBOOK, "-e", "output_dir=%s" % logs)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out[-6000:]
    assert recap(proc.stdout, "fleet1", failed=1, unreachable=0) and recap(proc.stdout, "fleet2", failed=1)
    assert "The gateway on fleet1 crash-loops because its data dir is corrupt: StoreMigrationRunner: invalid JSON " \
           "in tokens.json" in " ".join(proc.stdout.split())
    assert "The gateway on fleet2 crash-loops because its data dir is corrupt: StoreMigrationRunner: schemaVersion " \
           "99 in storage-meta.json is newer than this binary supports" in " ".join(proc.stdout.split())
    assert "Run INC-003: ansible-playbook playbooks/inc-003-restore.yml -e inc003_hosts=fleet1" in \
        " ".join(proc.stdout.split())
    for host, says in ((one, "invalid JSON in tokens.json"), (two, "schemaVersion 99 in storage-meta.json")):
        assert data_checksums(host) == before[host.name], host.name
        assert scratch_dirs(fleet, host) == scratch_before[host.name]  # the scratch copy is gone again
        # systemd restarted it again after INC-001's restart, until it gave up (INC-001 need not wait for that: its
        # restart's wait ends at the first attempt that died on its data)
        deadline = time.monotonic() + 90
        state = unit(fleet, host)
        while state["ActiveState"] != "failed" and time.monotonic() < deadline:
            time.sleep(1)
            state = unit(fleet, host)
        assert state["ActiveState"] == "failed" and int(state["NRestarts"]) >= max(restarts_before[host.name], 3)
        captured = (logs / ("%s-gateway.log" % host.name)).read_text()
        # the state when INC-001 stopped waiting: its restart's wait ends at the first attempt that died on its data
        # (systemd about to restart it again), or systemd had given up already
        assert re.match(r"# journalctl -u %s on %s\n# state (activating|failed), restarts " % (UNIT, host.name),
                        captured), captured[:400]
        assert re.search(r"# crash loop: systemd (is waiting to restart it \(SubState=auto-restart\)|reports the "
                         r"service failed)", captured), captured[:400]
        assert "the logs have a StoreMigrationRunner start-up failure" in captured
        # The journal lines themselves: the gateway's own words and systemd's.
        assert re.search(r"%s python3\[\d+\]: StoreMigrationRunner: %s" % (host.name, re.escape(says)), captured)
        assert "%s.service: Main process exited, code=exited, status=1/FAILURE" % UNIT in captured
        assert "# foreground debug on a scratch copy (exit 1): StoreMigrationRunner: %s" % says in captured
        assert_no_secret([host], captured)
    # The incident report carries the diagnosis per host and the way on (INC-003).
    report = only_report(runs_dir)
    assert report["status"] == "failed" and report["hosts"]["fleet1"]["failures"] == 1
    failed = {t["host"]: t["message"] for t in report["timeline"] if t["status"] == "failed"
              and t["step"].startswith("Escalate")}
    assert "StoreMigrationRunner: invalid JSON in tokens.json" in failed["fleet1"] and "INC-003" in failed["fleet1"]
    assert "StoreMigrationRunner: schemaVersion 99" in failed["fleet2"]
    assert_no_secret(fleet.hosts(), out, json.dumps(report))

    # With escalate_to_restore: INC-003 runs for exactly these hosts and ends healthy.
    proc = run_playbook(fleet, PLAYBOOK, "-e", "escalate_to_restore=true", "-e", "output_dir=%s" % (tmp_path / "l2"))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    assert proc.stdout.count("Crash loop, data corrupt: escalated to INC-003 (it runs next)") == 2
    assert "PLAY [INC-003: Data corruption / bad migration" in proc.stdout
    for host in (one, two):
        assert healthy(host) and unit(fleet, host)["ActiveState"] == "active"
        [restored] = re.findall(r"^%s: Restored backup (\S+) " % re.escape(host.name), proc.stdout, re.M)
        for name in ("tokens.json", "storage-meta.json"):
            assert (host.data_dir / name).read_bytes() == \
                (host.data_dir / "backups" / restored / "data" / name).read_bytes()
    assert_no_secret(fleet.hosts(), out)


def test_inc001_disk_threshold_trips_naming_the_volume(make_fleet):
    fleet = make_fleet(1)
    [host] = fleet.hosts()
    fleet.break_("fleet1", "stop")  # down, so that step 4 would restart it if the disk let it
    # A threshold above what the data volume has free: the host's real volume, its real free space.
    st = os.statvfs(host.data_dir)
    free_mb = st.f_bavail * st.f_frsize // 2 ** 20
    proc = run_playbook(fleet, PLAYBOOK, "-e", "min_free_mb=%d" % (free_mb + 1024), "-e", "min_free_percent=0")
    out = " ".join(proc.stdout.split())
    assert proc.returncode == 2, proc.stdout[-6000:]
    assert 'INC-001 stopped on fleet1 at "Step 3: Disk space on data volume' in out
    assert re.search(r"/var/lib/onec-mcp-gateway \(mount /var/lib/onec-mcp-gateway, device .+?\) has [\d.]+ MiB "
                     r"free, below the %d MiB threshold" % (free_mb + 1024), out), out[-3000:]
    assert unit(fleet, host)["ActiveState"] == "inactive"  # step 4 never ran
    assert "Restarted: healthy again" not in proc.stdout


def test_inc001_restart_refused_during_an_index_job_and_done_after_it(make_fleet):
    fleet = make_fleet(1)
    [host] = fleet.hosts()
    job = start_index_job(fleet, host, 600)  # until released below (600 s: the cap should a failed test not release it)
    pid = int(unit(fleet, host)["MainPID"])
    assert [j["id"] for j in jobs(host) if j["state"] == "running"] == [job["id"]]

    refused = run_playbook(fleet, PLAYBOOK, "-e", "restart_when_healthy=true", "-e", "gateway_service_job_wait_timeout=1")
    out = " ".join(refused.stdout.split())
    assert refused.returncode == 2, refused.stdout[-6000:]
    assert 'INC-001 stopped on fleet1 at "Step 4: Restart refused or impossible' in out
    assert "index.discover job(s) still running" in out and job["id"] in out
    assert int(unit(fleet, host)["MainPID"]) == pid

    # The job ends (released now); again, with the default wait: the guard waits for it to finish, then restarts.
    release_index_job(fleet, host)
    done = run_playbook(fleet, PLAYBOOK, "-e", "restart_when_healthy=true")
    assert done.returncode == 0, done.stdout[-6000:]
    state = unit(fleet, host)
    assert state["ActiveState"] == "active" and int(state["MainPID"]) != pid and healthy(host)
    # The job finished before the restart (its catalog is on disk under its id); no discover had to be re-run.
    catalog = json.loads((host.data_dir / "index" / "catalog.json").read_text())
    assert catalog["jobId"] == job["id"]
    assert not [j for j in jobs(host) if j["kind"] == "index.discover"]
    assert_no_secret([host], refused.stdout, done.stdout)
