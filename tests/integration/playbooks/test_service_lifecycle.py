"""The gateway_service role and the playbooks built on it (INC-001, rolling restart, service outage, triage),
end to end on local labs: real supervisord, real reference gateways on free loopback ports."""

import glob
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from mcpops.lab.http_client import http_json
from mcpops.lab.local import faults
from mcpops.lab.local.lab import LocalLab
from local_lab_helpers import lab_host_vars, open_sealed, write_inventory
from loopback import free_port

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent


def make_lab(path):
    lab = LocalLab(path, listen="127.0.0.1:%d" % free_port())
    lab.up()
    return lab


@pytest.fixture
def lab(tmp_path):
    lab = make_lab(tmp_path / "lab")
    yield lab
    lab.down()


def run_playbook(playbook, *args, inventory="inventories/lab", lab_dir=None):
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(REPO / "collections"),
        ANSIBLE_NOCOLOR="1",
        PATH="%s:%s" % (BIN, env.get("PATH", "")),
        no_proxy="127.0.0.1,localhost",
    )
    if lab_dir:
        env["MCPOPS_LAB_DIR"] = str(lab_dir)
    cmd = [str(BIN / "ansible-playbook"), "playbooks/%s" % playbook, "-i", str(inventory)] + list(args)
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)


def out(proc):
    return proc.stdout[-6000:] + proc.stderr[-2000:]


def wait_state(lab, wanted, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lab.program_state() in wanted:
            return
        time.sleep(0.5)
    raise AssertionError("program state %s, wanted one of %s" % (lab.program_state(), wanted))


def healthy(lab):
    return all(http_json(lab.api_url + path, timeout=5)[0] == 200 for path in ("/healthz", "/readyz"))


def assert_no_secret(lab, *texts):
    for secret in (lab.admin_token(), lab.mcp_token()):
        assert len(secret) > 16
        for text in texts:
            assert secret not in text


def scratch_dirs():
    return set(glob.glob(os.path.join(tempfile.gettempdir(), "inc001-debug-*")))


# -- INC-001 ------------------------------------------------------------------------------------

def test_inc001_restarts_a_stopped_gateway_to_healthy(lab, tmp_path):
    lab.break_("stop")
    assert lab.program_state() == "STOPPED"

    check = run_playbook("inc-001-gateway-down.yml", "--check", lab_dir=lab.state_dir)
    assert check.returncode == 0, out(check)
    assert "Check mode: would restart onec-mcp-gateway" in check.stdout
    assert "Post-incident validation not run on lab-gateway: check mode: nothing was restarted or restored" in \
        " ".join(check.stdout.split())
    assert lab.program_state() == "STOPPED"

    proc = run_playbook("inc-001-gateway-down.yml", "-e", "output_dir=%s" % (tmp_path / "run"), lab_dir=lab.state_dir)
    assert proc.returncode == 0, out(proc)
    assert lab.program_state() == "RUNNING" and healthy(lab)
    assert "Found: STOPPED" in proc.stdout and "Restarted: healthy again (pid %d)" % lab.gateway_pid() in proc.stdout
    # after the restart: the seed's post-recovery and post-incident validation, with the lab's production-bound token
    said = " ".join(proc.stdout.split())
    assert "Post-incident validation on lab-gateway: passed" in said, out(proc)
    assert "get_active_profile: erp-prod (production, bound to the token)" in said
    assert_no_secret(lab, proc.stdout, proc.stderr)


def test_inc001_leaves_a_healthy_gateway_alone(lab):
    pid = lab.gateway_pid()
    proc = run_playbook("inc-001-gateway-down.yml", lab_dir=lab.state_dir)
    assert proc.returncode == 0, out(proc)
    assert "Healthy as found: nothing restarted" in proc.stdout
    assert lab.gateway_pid() == pid


def test_inc001_crash_loop_captured_debugged_on_a_copy_and_escalated_to_inc003(lab, tmp_path):
    lab.break_("corrupt-store")
    wait_state(lab, {"BACKOFF", "FATAL"})
    corrupt = Path(lab.data_dir, "tokens.json").read_bytes()
    scratch_before = scratch_dirs()

    # Without escalation: it stops at the diagnosis, the logs are captured, the data dir is untouched.
    proc = run_playbook("inc-001-gateway-down.yml", "-e", "output_dir=%s" % (tmp_path / "run1"), lab_dir=lab.state_dir)
    assert proc.returncode == 2, out(proc)
    assert "crash-loops because its data dir is corrupt: StoreMigrationRunner: invalid JSON in tokens.json" in proc.stdout
    assert "Run INC-003" in proc.stdout
    captured = (tmp_path / "run1" / "lab-gateway-gateway.log").read_text()
    assert "StoreMigrationRunner: invalid JSON in tokens.json" in captured
    assert "crash loop: supervisor reports the service" in captured
    # The foreground debug ran on a scratch copy (and says so) that is gone again; the real data is as it was.
    assert "# foreground debug on a scratch copy (exit 1): StoreMigrationRunner: invalid JSON" in captured
    assert scratch_dirs() == scratch_before
    assert Path(lab.data_dir, "tokens.json").read_bytes() == corrupt
    assert_no_secret(lab, proc.stdout, proc.stderr, captured)

    # With escalation: INC-003 runs for this host and ends healthy.
    proc = run_playbook("inc-001-gateway-down.yml", "-e", "escalate_to_restore=true",
                        "-e", "output_dir=%s" % (tmp_path / "run2"), lab_dir=lab.state_dir)
    assert proc.returncode == 0, out(proc)
    assert "Crash loop, data corrupt: escalated to INC-003" in proc.stdout
    assert "PLAY [INC-003: Data corruption / bad migration" in proc.stdout
    assert "Post-incident validation: passed, no write tools on production" in proc.stdout
    assert lab.program_state() == "RUNNING" and healthy(lab)
    assert_no_secret(lab, proc.stdout, proc.stderr)


def _can_mount_tmpfs():
    return os.geteuid() == 0 and os.path.exists("/proc/filesystems") and "tmpfs" in Path("/proc/filesystems").read_text()


@pytest.mark.skipif(not _can_mount_tmpfs(), reason="mounting a small tmpfs for the data volume needs root")
def test_inc001_disk_threshold_trips_on_a_small_volume_and_names_it(tmp_path):
    volume = tmp_path / "vol"
    volume.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs", str(volume)], check=True)
    small = None
    try:
        small = make_lab(volume / "lab")
        small.break_("fill-volume")
        small.break_("stop")  # down, so INC-001 would restart it if the disk let it
        inventory = write_inventory(tmp_path / "inv.json", {"small-gw": lab_host_vars(small)})
        proc = run_playbook("inc-001-gateway-down.yml", "-e", "min_free_mb=0", inventory=inventory)
        assert proc.returncode == 2, out(proc)
        assert 'INC-001 stopped on small-gw at "Step 3: Disk space on data volume' in proc.stdout
        assert "(mount %s, device tmpfs (tmpfs))" % volume in proc.stdout
        assert "below the 5.0% threshold" in proc.stdout
        assert small.program_state() == "STOPPED"  # step 4 never ran
    finally:
        if small is not None:
            small.down()
        subprocess.run(["umount", str(volume)], check=False)


# -- the index-job guard ------------------------------------------------------------------------

@pytest.fixture
def short_index_job(monkeypatch):
    # The job runs until the test releases it (faults.release_index_job), so no length has to outlast a loaded
    # machine; 600 s is only the cap of a job a failed test never released (the lab is torn down anyway).
    monkeypatch.setattr(faults, "INDEX_JOB_SECONDS", 600)


def jobs(lab):
    status, body = http_json(lab.api_url + "/api/system/jobs", token=lab.admin_token(), timeout=5)
    assert status == 200, body
    return body["jobs"]


def test_restart_is_refused_during_an_index_job_and_done_after_it(lab, short_index_job):
    lab.break_("index-job")
    [job] = [j for j in jobs(lab) if j["state"] == "running"]
    pid = lab.gateway_pid()

    refused = run_playbook("service-outage.yml", "-e", "remedy=restart", "-e", "gateway_service_job_wait_timeout=1",
                           lab_dir=lab.state_dir)
    assert refused.returncode == 2, out(refused)
    assert "index.discover job(s) still running after waiting" in refused.stdout and job["id"] in refused.stdout
    assert lab.gateway_pid() == pid

    # The job ends (released now, as a real one ends when it is done); the next run waits for it, then restarts.
    faults.release_index_job(lab)
    done = run_playbook("service-outage.yml", "-e", "remedy=restart", lab_dir=lab.state_dir)
    assert done.returncode == 0, out(done)
    assert lab.gateway_pid() != pid and healthy(lab)
    # The job finished before the restart: its catalog is on disk under its id.
    catalog = json.loads(Path(lab.data_dir, "index", "catalog.json").read_text())
    assert catalog["jobId"] == job["id"]
    assert_no_secret(lab, refused.stdout, done.stdout)


def test_forced_restart_interrupts_the_index_job_and_runs_discover_again(lab, short_index_job):
    lab.break_("index-job")
    [job] = [j for j in jobs(lab) if j["state"] == "running"]
    pid = lab.gateway_pid()
    proc = run_playbook("service-outage.yml", "-e", "remedy=restart", "-e", "force=true", lab_dir=lab.state_dir)
    assert proc.returncode == 0, out(proc)
    assert lab.gateway_pid() != pid
    assert "Re-run index discover that was interrupted by restart" in proc.stdout
    # The new process has the re-run job, not the interrupted one.
    rerun = [j for j in jobs(lab) if j["kind"] == "index.discover"]
    assert rerun and all(j["id"] != job["id"] for j in rerun)


def test_inc001_does_not_restart_into_a_running_index_job(lab, short_index_job):
    lab.break_("index-job")
    pid = lab.gateway_pid()
    proc = run_playbook("inc-001-gateway-down.yml", "-e", "restart_when_healthy=true",
                        "-e", "gateway_service_job_wait_timeout=1", lab_dir=lab.state_dir)
    assert proc.returncode == 2, out(proc)
    assert 'INC-001 stopped on lab-gateway at "Step 4: Restart refused or impossible' in proc.stdout
    assert "index.discover job(s) still running" in proc.stdout
    assert lab.gateway_pid() == pid


# -- rolling restart ----------------------------------------------------------------------------

def test_rolling_restart_check_mode_restarts_nothing(lab):
    pid = lab.gateway_pid()
    proc = run_playbook("rolling-restart.yml", "--check", lab_dir=lab.state_dir)
    assert proc.returncode == 0, out(proc)
    assert "Check mode: would restart onec-mcp-gateway on lab-gateway" in proc.stdout
    assert lab.gateway_pid() == pid


def test_rolling_restart_stops_at_the_host_that_fails_its_health_gate(tmp_path):
    labs = [make_lab(tmp_path / ("gw%d" % i)) for i in range(3)]
    try:
        labs[1].break_("not-ready")
        pids = [lab.gateway_pid() for lab in labs]
        inventory = write_inventory(tmp_path / "inv.json",
                                    {"gw-%d" % i: lab_host_vars(lab) for i, lab in enumerate(labs)})
        proc = run_playbook("rolling-restart.yml", "-e", "health_retries=3", inventory=inventory)
        assert proc.returncode == 2, out(proc)
        assert "Rolling restart stopped at gw-1 (batch 2)" in proc.stdout
        assert "Restarted and healthy before this batch: gw-0." in proc.stdout
        assert "Untouched (not restarted): gw-2." in proc.stdout
        # gw-0 restarted and healthy; gw-1 restarted but not ready; gw-2 not touched at all.
        assert labs[0].gateway_pid() != pids[0] and healthy(labs[0])
        assert labs[1].gateway_pid() != pids[1] and http_json(labs[1].api_url + "/readyz")[0] == 503
        assert labs[2].gateway_pid() == pids[2]
        for lab in labs:
            assert_no_secret(lab, proc.stdout, proc.stderr)
    finally:
        for lab in labs:
            lab.down()


def report_of(proc):
    """report.json of a run, from the path the incident_report callback prints."""
    paths = [line.split(": ", 1)[1] for line in proc.stdout.splitlines() if line.startswith("incident report: ")]
    assert len(paths) == 1, out(proc)
    return json.loads(Path(paths[0]).with_name("report.json").read_text())


def test_rolling_restart_stopped_by_an_unreachable_host_names_the_hosts_it_left_alone(tmp_path):
    """An unreachable host escapes the play's rescue, so the playbook's own "untouched" message never runs; the
    incident report names the hosts no task reached, on the terminal and in report.json."""
    labs = [make_lab(tmp_path / ("gw%d" % i)) for i in range(3)]
    try:
        pids = [lab.gateway_pid() for lab in labs]
        hosts = {"gw-%d" % i: lab_host_vars(lab) for i, lab in enumerate(labs)}
        # gw-1 over ssh to a loopback port nobody listens on: unreachable at its first task.
        hosts["gw-1"].update(ansible_connection="ssh", ansible_host="127.0.0.1", ansible_port=free_port())
        proc = run_playbook("rolling-restart.yml", "-e", "health_retries=3",
                            inventory=write_inventory(tmp_path / "inv.json", hosts))
        assert proc.returncode == 4, out(proc)  # ansible-playbook's status for "a host was unreachable"
        assert "UNREACHABLE!" in proc.stdout
        assert 'incident_report: no task ran on gw-2: the play "Rolling restart' in proc.stdout, out(proc)
        report = report_of(proc)
        assert report["status"] == "unreachable"
        assert [play["hosts"] for play in report["not_reached"]] == [["gw-2"]]
        assert report["hosts"]["gw-1"]["unreachable"] == 1 and "gw-2" not in report["hosts"]
        # gw-0 restarted and healthy; gw-1 and gw-2 untouched.
        assert labs[0].gateway_pid() != pids[0] and healthy(labs[0])
        assert [lab.gateway_pid() for lab in labs[1:]] == pids[1:]
    finally:
        for lab in labs:
            lab.down()


def test_mcpops_run_names_the_hosts_a_stopped_rollout_never_reached(tmp_path):
    """Under `mcpops run` the progress view shows results, not ansible-playbook's own lines: the command itself
    says which hosts no task reached (from the report), after its exit-status line."""
    labs = [make_lab(tmp_path / ("gw%d" % i)) for i in range(3)]
    try:
        hosts = {"gw-%d" % i: lab_host_vars(lab) for i, lab in enumerate(labs)}
        hosts["gw-1"].update(ansible_connection="ssh", ansible_host="127.0.0.1", ansible_port=free_port())
        env = dict(os.environ, ANSIBLE_NOCOLOR="1", PATH="%s:%s" % (BIN, os.environ.get("PATH", "")),
                   no_proxy="127.0.0.1,localhost", MCPOPS_RUNS_DIR=str(tmp_path / "runs"))
        proc = subprocess.run([str(BIN / "mcpops"), "run", "rolling-restart", "-i",
                               str(write_inventory(tmp_path / "inv.json", hosts)), "--yes", "-e", "health_retries=3"],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 3, out(proc)  # mcpops: some host was unreachable
        assert "rolling-restart: some host was unreachable" in proc.stdout
        assert 'not reached: gw-2: the play "Rolling restart: one host at a time' in proc.stdout, out(proc)
        assert labs[2].gateway_pid() == labs[2].read_info()["gateway_pid"]  # untouched since `lab up`
    finally:
        for lab in labs:
            lab.down()


@pytest.mark.parametrize("max_fail, goes_on", [(0, False), (50, True)])
def test_batches_count_an_unreachable_host_against_max_fail_percentage(tmp_path, max_fail, goes_on):
    """batch_size=2, gw-1 unreachable in the first batch: Ansible's max_fail_percentage counts failed hosts only,
    so without the playbook's own stop the rollout would go on at 0%. With 0 it stops after the batch (gw-2
    untouched); with 50, 1 of 2 is within it and gw-2 is restarted."""
    labs = [make_lab(tmp_path / ("gw%d" % i)) for i in range(3)]
    try:
        pids = [lab.gateway_pid() for lab in labs]
        hosts = {"gw-%d" % i: lab_host_vars(lab) for i, lab in enumerate(labs)}
        hosts["gw-1"].update(ansible_connection="ssh", ansible_host="127.0.0.1", ansible_port=free_port())
        proc = run_playbook("rolling-restart.yml", "-e", "batch_size=2", "-e", "max_fail_percentage=%d" % max_fail,
                            "-e", "health_retries=3", inventory=write_inventory(tmp_path / "inv.json", hosts))
        said = " ".join(proc.stdout.split())
        assert proc.returncode == 4, out(proc)
        assert labs[0].gateway_pid() != pids[0] and healthy(labs[0])
        assert labs[1].gateway_pid() == pids[1]
        if goes_on:
            assert labs[2].gateway_pid() != pids[2] and healthy(labs[2])
            assert "Rolling restart stopped" not in said
        else:
            assert labs[2].gateway_pid() == pids[2]
            assert "Rolling restart stopped after batch 1." in said, out(proc)
            assert "1 of 2 did not come back (gw-1, unreachable: gw-1), max_fail_percentage 0%." in said
            assert "Restarted and healthy in this batch: gw-0. Untouched (not restarted): gw-2." in said
            assert [play["hosts"] for play in report_of(proc)["not_reached"]] == [["gw-2"]]
    finally:
        for lab in labs:
            lab.down()


# -- triage -------------------------------------------------------------------------------------

def test_triage_writes_a_bundle_per_host_and_changes_nothing(tmp_path):
    good, bad = make_lab(tmp_path / "good"), make_lab(tmp_path / "bad")
    try:
        bad.break_("corrupt-store")
        wait_state(bad, {"FATAL"}, timeout=90)
        pid = good.gateway_pid()
        inventory = write_inventory(tmp_path / "inv.json", {"good": lab_host_vars(good), "bad": lab_host_vars(bad)})
        proc = run_playbook("triage.yml", "-e", "output_dir=%s" % (tmp_path / "bundle"), inventory=inventory)
        assert proc.returncode == 0, out(proc)
        # Each host's bundle is sealed with its forensic key (each lab has its own).
        assert sorted(p.name for p in (tmp_path / "bundle").iterdir()) == [
            "bad.json.sealed", "bad.log.sealed", "good.json.sealed", "good.log.sealed"]
        good_bundle = json.loads(open_sealed(good, tmp_path / "bundle" / "good.json.sealed"))
        bad_bundle = json.loads(open_sealed(bad, tmp_path / "bundle" / "bad.json.sealed"))
        assert good_bundle["service"]["state"] == "RUNNING" and good_bundle["health"]["healthy"]
        assert good_bundle["listening"]["gateway_port_listening"] is True
        assert good_bundle["resources"]["volumes"][0]["path"] == good.read_info()["data_dir"]
        assert "events" in good_bundle["security_events"]
        assert bad_bundle["service"]["state"] == "FATAL" and bad_bundle["service"]["data_corrupt"]
        assert bad_bundle["listening"]["gateway_port_listening"] is False
        assert any("StoreMigrationRunner" in line for line in bad_bundle["last_errors"])
        assert good.gateway_pid() == pid and bad.program_state() == "FATAL"
        for host, lab in (("good", good), ("bad", bad)):
            for kind in ("json", "log"):
                assert_no_secret(lab, open_sealed(lab, tmp_path / "bundle" / ("%s.%s.sealed" % (host, kind))).decode())
            assert_no_secret(lab, proc.stdout, proc.stderr)
    finally:
        good.down()
        bad.down()


# -- docker compose and kubernetes: check mode only (no engine on this machine) --------------------

def engine_inventory(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    common = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
              "gateway_data_dir": str(data), "gateway_api_url": "http://127.0.0.1:%d" % free_port(),
              "gateway_admin_token": "CANARYengineTOKEN0006x", "mcpops_break_glass_account": "lab-break-glass"}
    return write_inventory(tmp_path / "inv.json", {
        "compose-gw": dict(common, gateway_platform="docker_compose", gateway_compose_project_src=str(tmp_path)),
        "k8s-gw": dict(common, gateway_platform="kubernetes", gateway_k8s_namespace="mcp",
                       gateway_k8s_kubeconfig=str(tmp_path / "no-kubeconfig")),
    })


@pytest.mark.parametrize("remedy,compose_says,k8s_says", [
    (["-e", "remedy=restart"], "docker compose --project-directory {src} restart gateway",
     "kubectl --kubeconfig {src}/no-kubeconfig -n mcp rollout restart deployment/gateway"),
    (["-e", "remedy=scale", "-e", "replicas=3"], "docker compose --project-directory {src} up -d --scale gateway=3",
     "kubectl --kubeconfig {src}/no-kubeconfig -n mcp scale deployment/gateway --replicas=3"),
    (["-e", "remedy=rollback", "-e", "rollback_revision=4", "-e", "rollback_image=gw:1.3"],
     "GATEWAY_IMAGE=gw:1.3 docker compose --project-directory {src} up -d --no-deps --force-recreate gateway",
     "kubectl --kubeconfig {src}/no-kubeconfig -n mcp rollout undo deployment/gateway --to-revision=4"),
])
def test_compose_and_kubernetes_remedies_in_check_mode(tmp_path, remedy, compose_says, k8s_says):
    proc = run_playbook("service-outage.yml", "--check", *remedy, inventory=engine_inventory(tmp_path))
    assert proc.returncode == 0, out(proc)
    text = " ".join(proc.stdout.split())  # the yaml callback folds long lines
    assert compose_says.format(src=tmp_path) in text
    assert k8s_says.format(src=tmp_path) in text
    assert "CANARYengineTOKEN0006x" not in proc.stdout + proc.stderr


def test_a_real_run_without_the_engine_changes_nothing_and_says_why(tmp_path):
    proc = run_playbook("service-outage.yml", "-e", "remedy=restart", inventory=engine_inventory(tmp_path))
    assert proc.returncode == 2, out(proc)
    text = " ".join(proc.stdout.split())
    assert "Cannot read the state of the gateway through docker_compose" in text
    assert "Cannot read the state of the gateway through kubernetes" in text
    assert "Nothing was changed" in text


# -- issue 23: every runbook that restarts, scales or rolls back checks its extra vars whole, before anything ------

@pytest.fixture(scope="module")
def running_lab(tmp_path_factory):
    """One healthy lab for the refusals: none of them may restart it."""
    lab = make_lab(tmp_path_factory.mktemp("refusals") / "lab")
    yield lab
    lab.down()


@pytest.mark.parametrize("playbook, extra, words", [
    ("rolling-restart.yml", {"batch_size": "abc"}, "Rolling restart refused"),  # "abc" | int is 0: every host at once
    ("rolling-restart.yml", {"batch_size": "1\n"}, "Rolling restart refused"),
    ("rolling-restart.yml", {"health_retries": "5 "}, "Rolling restart refused"),
    ("rolling-restart.yml", {"max_fail_percentage": "101"}, "Rolling restart refused"),
    ("rolling-restart.yml", {"force": "yes\n"}, "Rolling restart refused"),
    ("service-outage.yml", {"remedy": "restart\n"}, "service-outage refused"),
    ("service-outage.yml", {"remedy": "scale", "replicas": "abc"}, "service-outage refused"),  # | int: scale to 0
    ("service-outage.yml", {"remedy": "scale", "replicas": "3\n"}, "service-outage refused"),
    ("service-outage.yml", {"remedy": "scale", "replicas": "\u0663"}, "service-outage refused"),  # int() reads 3
    ("service-outage.yml", {"remedy": "rollback", "rollback_image": "gw:1.3\n"}, "service-outage refused"),
    ("service-outage.yml", {"force": "maybe"}, "service-outage refused"),
    ("inc-001-gateway-down.yml", {"restart_when_healthy": "true\n"}, "INC-001 refused"),
    ("inc-001-gateway-down.yml", {"force": "maybe"}, "INC-001 refused"),
    ("inc-001-gateway-down.yml", {"min_free_percent": "5\n"}, "INC-001 refused"),
    ("inc-001-gateway-down.yml", {"min_free_mb": "1e3"}, "INC-001 refused"),
    ("inc-001-gateway-down.yml", {"escalate_to_restore": "yes please"}, "INC-001 refused"),
], ids=lambda value: ascii(value) if isinstance(value, dict) else value.split(".")[0])
def test_near_miss_extra_vars_are_refused_before_any_restart(running_lab, playbook, extra, words):
    lab = running_lab
    pid = lab.gateway_pid()
    proc = run_playbook(playbook, "-e", json.dumps(extra), lab_dir=lab.state_dir)
    assert proc.returncode == 2, out(proc)
    text = " ".join(proc.stdout.split())
    assert words in text and ("Nothing was changed" in text or "Nothing was restarted" in text), out(proc)
    assert "Step 2: Restart" not in proc.stdout and "Step 3: Immediate mitigation" not in proc.stdout
    assert "Step 1:" not in proc.stdout and "Step 2: Immediate assessment" not in proc.stdout
    assert lab.gateway_pid() == pid and lab.program_state() == "RUNNING"
    assert_no_secret(lab, proc.stdout, proc.stderr)
