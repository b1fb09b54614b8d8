"""INC-003 end to end: the local lab (real supervisord, real reference gateway) is broken the way the
runbook describes, then `ansible-playbook playbooks/inc-003-restore.yml` is run against it."""

import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from mcpops.lab.http_client import http_json
from local_lab_helpers import backups_in, data_dir_digest, lab_host_vars, make_lab, open_sealed, wait_state, write_inventory  # noqa: F401

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent


@pytest.fixture
def lab(tmp_path):
    lab = make_lab(tmp_path / "lab")
    yield lab
    lab.down()


def run_playbook(lab_dir, *args, inventory="inventories/lab", report_dir=None):
    env = dict(os.environ)
    if report_dir is not None:
        env["MCPOPS_REPORT_DIR"] = str(report_dir)
    env.update(
        MCPOPS_LAB_DIR=str(lab_dir),
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(REPO / "collections"),
        ANSIBLE_NOCOLOR="1",
        PATH="%s:%s" % (BIN, env.get("PATH", "")),
        no_proxy="127.0.0.1,localhost",
    )
    cmd = [str(BIN / "ansible-playbook"), "playbooks/inc-003-restore.yml", "-i", str(inventory)] + list(args)
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    return proc


def storage_meta(lab):
    status, body = http_json(lab.api_url + "/api/system/storage-meta", token=lab.admin_token())
    assert status == 200, body
    return body


def assert_no_secret(lab, *texts):
    for secret in (lab.admin_token(), lab.mcp_token()):
        assert len(secret) > 16
        for text in texts:
            assert secret not in text


def test_corrupt_store_restored_to_healthy(lab, tmp_path):
    before = storage_meta(lab)
    [initial_backup] = backups_in(lab)
    lab.break_("corrupt-store")
    wait_state(lab, {"BACKOFF", "FATAL"})
    corrupt = Path(lab.data_dir, "tokens.json").read_bytes()

    proc = run_playbook(lab.state_dir, report_dir=tmp_path / "report")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]

    assert lab.program_state() == "RUNNING"
    after = storage_meta(lab)
    assert after["schemaVersion"] == 3
    assert all(store["ok"] for store in after["stores"].values())
    assert after["stores"]["tokens"]["records"] == before["stores"]["tokens"]["records"]
    # The restored backup is the lab's own, and a safety backup holds the corrupt bytes for the review.
    assert "Restored backup %s" % initial_backup in proc.stdout
    # The safety backup is sealed with the lab's forensic key (backups/.sealed/, outside what the gateway lists):
    # no clear copy of the corrupt data, and the key opens it to exactly those bytes.
    assert not [b for b in backups_in(lab) if "-pre-restore-" in b]
    [safety] = os.listdir(Path(lab.data_dir, "backups", ".sealed"))
    assert safety in proc.stdout
    sealed_tokens = Path(lab.data_dir, "backups", ".sealed", safety, "data", "tokens.json")
    assert sealed_tokens.read_bytes() != corrupt
    assert open_sealed(lab, sealed_tokens) == corrupt
    assert "Post-incident validation: passed, no write tools on production" in proc.stdout
    assert_no_secret(lab, proc.stdout, proc.stderr)

    # The post-recovery and post-incident validation (seed 000), in the incident report: the lab's ops token works
    # against erp-prod; the two production profiles pass check_profile_health; every tool declares readOnlyHint;
    # check_connection_health ran for both (the lab's 1C upstream is not started: reported, not a failed restore).
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    [validation] = report["validation"]
    assert validation["host"] == "lab-gateway" and validation["passed"] is True, validation
    assert validation["active_profile"] == "erp-prod (production)"
    assert validation["write_tools_on_production"] == [] and validation["tools_judged_by_name"] == []
    assert validation["profile_health"] == {"erp-prod": True, "hr-prod": True}
    assert sorted(validation["connection_health"]) == ["erp-prod", "hr-prod"]
    [evidence] = [e for e in report["evidence"] if e["facts"].get("mcp_validation") == "post_incident"]
    assert evidence["facts"]["healthy"] is True and evidence["facts"]["mcp_write_tools_listed"] == []
    assert any(line.startswith("Post-incident validation on lab-gateway: passed")
               for item in report["summary"] for line in item["lines"])
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert "mcp_active_profile: `erp-prod (production)`" in markdown
    assert "get_active_profile: erp-prod (production, bound to the token)" in markdown
    assert "check_connection_health: erp-prod " in markdown
    assert_no_secret(lab, (tmp_path / "report" / "report.json").read_text(), markdown)


def test_a_write_tool_declared_on_production_fails_the_validation_not_the_restore(lab, tmp_path):
    """The lab gateway made to list a write tool to every token (ONEC_MCP_LAB_UNSAFE_WRITE_TOOL in its env file, read
    when the run starts it again): its name has no write prefix, only its annotations say it writes. The restore is
    done and kept; the validation fails the run and the report names the tool and why."""
    with open(lab.env_file, "a", encoding="utf-8") as env_file:
        env_file.write("ONEC_MCP_LAB_UNSAFE_WRITE_TOOL=1\n")
    lab.break_("corrupt-store")
    wait_state(lab, {"BACKOFF", "FATAL"})
    proc = run_playbook(lab.state_dir, report_dir=tmp_path / "report")
    said = " ".join(proc.stdout.split())
    assert proc.returncode == 2, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "Step 3: Restore the chosen backup" in proc.stdout and lab.program_state() == "RUNNING"
    assert storage_meta(lab)["schemaVersion"] == 3  # restored and kept: no rescue sends it back to the corrupt data
    assert "The post-incident validation failed on lab-gateway: tools/list lists write tools for the production-bound " \
           "token: import_documents (declares readOnlyHint false, destructiveHint true)" in said
    assert "INC-003 failed" not in said and "-e backup_id=" not in said

    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["status"] == "failed"
    [validation] = report["validation"]
    assert validation["passed"] is False
    assert validation["write_tools_on_production"] == ["import_documents: declares readOnlyHint false, destructiveHint true"]
    assert validation["active_profile"] == "erp-prod (production)"
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert "Write tools on production: import_documents - declares readOnlyHint false, destructiveHint true" in markdown
    assert_no_secret(lab, proc.stdout, proc.stderr, (tmp_path / "report" / "report.json").read_text(), markdown)


def test_bad_migration_restored_to_healthy(lab):
    lab.break_("bad-migration")
    wait_state(lab, {"BACKOFF", "FATAL"})
    proc = run_playbook(lab.state_dir)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    meta = storage_meta(lab)
    assert meta["schemaVersion"] == 3
    assert "099_future" not in meta["appliedMigrations"]


def test_check_mode_leaves_the_data_dir_byte_identical(lab):
    lab.break_("corrupt-store")
    # Hash once supervisor has given up: a crash-looping gateway rewrites its own lock file.
    wait_state(lab, {"FATAL"}, timeout=60)
    digest = data_dir_digest(lab.data_dir)
    proc = run_playbook(lab.state_dir, "--check", "--diff")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "Check mode: would restore backup %s" % backups_in(lab)[0] in proc.stdout
    assert "tokens.json" in proc.stdout  # the diff names the file the restore would change
    assert data_dir_digest(lab.data_dir) == digest
    assert lab.program_state() == "FATAL"


def test_bad_backup_id_is_refused_before_anything_is_touched(lab):
    digest_backups = sorted(backups_in(lab))
    lab.break_("corrupt-store")
    wait_state(lab, {"FATAL"}, timeout=120)  # supervisor gave up: a state no step of the run would leave alone
    corrupt = Path(lab.data_dir, "tokens.json").read_bytes()
    proc = run_playbook(lab.state_dir, "-e", "backup_id=../../etc")
    assert proc.returncode == 2, proc.stdout[-4000:]
    assert "Bad input: backup_id must be latest_valid or a backup id" in proc.stdout
    assert 'got "../../etc"; gateway_max_schema_version' in " ".join(proc.stdout.split())
    assert "Nothing was changed." in proc.stdout
    assert "Step 1: Stop the gateway" not in proc.stdout
    assert lab.program_state() == "FATAL"  # not stopped, not started: untouched
    assert Path(lab.data_dir, "tokens.json").read_bytes() == corrupt
    assert sorted(backups_in(lab)) == digest_backups


def test_one_host_fails_the_other_recovers(tmp_path):
    """Two gateways in one inventory: one has no valid backup left. That host is reported and left
    stopped; the other is restored and healthy."""
    good = make_lab(tmp_path / "good")
    bad = make_lab(tmp_path / "bad")
    try:
        for lab in (good, bad):
            lab.break_("corrupt-store")
        # Tamper with every backup of the bad host: none passes verification any more.
        for manifest in Path(bad.data_dir, "backups").glob("*/manifest.json"):
            data = manifest.parent / "data" / "tokens.json"
            data.write_bytes(data.read_bytes() + b" ")
        inventory = tmp_path / "two-hosts.yml"
        write_inventory(inventory, {"gw-good": lab_host_vars(good), "gw-bad": lab_host_vars(bad)})
        wait_state(bad, {"FATAL"}, timeout=120)
        proc = run_playbook(good.state_dir, inventory=inventory)
        assert proc.returncode == 2, proc.stdout[-4000:]
        # Refused before step 1 on that host: it was not stopped for a restore that could not happen.
        assert "INC-003 refused on gw-bad: No valid backup" in " ".join(proc.stdout.split())
        assert "Nothing was changed: the gateway was not stopped (it is FATAL, as found)" in " ".join(proc.stdout.split())
        assert good.program_state() == "RUNNING"
        assert storage_meta(good)["schemaVersion"] == 3
        assert bad.program_state() == "FATAL"
        assert_no_secret(good, proc.stdout, proc.stderr)
        assert_no_secret(bad, proc.stdout, proc.stderr)
    finally:
        good.down()
        bad.down()



# -- issue 23: input the restore would refuse is refused before step 1 stops anything ------------------------------

class ProgramWatch:
    """Samples the gateway program's (state, pid) from supervisord while a run goes on, and reads what supervisord
    logged meanwhile: a stop and start between two samples still shows as a new pid and a "stopped:" line."""

    def __init__(self, lab):
        self.lab = lab
        self.samples = []
        self.done = threading.Event()
        self.log = Path(lab.logs_dir, "supervisord.log")
        self.log_offset = self.log.stat().st_size
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        while not self.done.is_set():
            self.samples.append(self.lab.program())
            self.done.wait(0.2)

    def __enter__(self):
        self.before = self.lab.program()
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join(30)
        self.after = self.lab.program()

    def logged(self):
        with self.log.open("rb") as handle:
            handle.seek(self.log_offset)
            return handle.read().decode("utf-8", "replace")

    def assert_never_stopped(self):
        state, pid = self.before
        assert state == "RUNNING" and pid
        assert self.samples, "no sample taken"
        assert set(self.samples) == {(state, pid)}, sorted(set(self.samples))
        assert self.after == (state, pid)
        logged = self.logged()
        assert "stopped:" not in logged and "exited:" not in logged and "spawned:" not in logged, logged


@pytest.fixture(scope="module")
def running_lab(tmp_path_factory):
    """One healthy lab for the refusals: none of them may stop, restart or change anything on it."""
    lab = make_lab(tmp_path_factory.mktemp("inc003") / "lab")
    yield lab
    lab.down()


def refused_without_a_stop(lab, extra_vars, *words):
    digest = data_dir_digest(lab.data_dir)
    with ProgramWatch(lab) as watch:
        proc = run_playbook(lab.state_dir, "-e", json.dumps(extra_vars))
    said = " ".join(proc.stdout.split())
    assert proc.returncode == 2, proc.stdout[-4000:] + proc.stderr[-2000:]
    for word in words:
        assert word in said, said[-3000:]
    assert "Nothing was changed" in said
    assert "Step 1: Stop the gateway" not in proc.stdout
    assert "Step 3: Restore" not in proc.stdout
    watch.assert_never_stopped()
    assert data_dir_digest(lab.data_dir) == digest
    assert_no_secret(lab, proc.stdout, proc.stderr)
    return said


# The id check's own near misses: what an operator may paste, each next to a valid id.
@pytest.mark.parametrize("backup_id", [
    "latest_valid\n",             # the case: `$` matched before the final newline
    "latest_valid ",              # a trailing space
    "\tlatest_valid",             # a tab
    "latest_valid\r\n",           # pasted from a Windows ticket
    "\uff4catest_valid",          # a fullwidth look-alike letter
    "latest_v\u0430lid",          # a Cyrillic look-alike letter
    "",                           # empty
    "latest_valid\n../../etc",    # a second line
], ids=ascii)
def test_a_backup_id_that_is_not_a_whole_id_is_refused_before_the_stop(running_lab, backup_id):
    said = refused_without_a_stop(running_lab, {"backup_id": backup_id}, "Bad input: backup_id must be latest_valid")
    # The value is shown as JSON: a newline, a tab or a look-alike letter is visible.
    assert "got %s;" % json.dumps(backup_id) in said


def test_a_backup_id_that_is_not_a_string_is_refused(running_lab):
    refused_without_a_stop(running_lab, {"backup_id": ["latest_valid"]}, "Bad input: backup_id must be latest_valid")


def test_a_well_formed_id_that_does_not_exist_is_refused_before_the_stop(running_lab):
    [initial] = backups_in(running_lab)
    said = refused_without_a_stop(running_lab, {"backup_id": "20991231T235959Z-abcdef"},
                                  "INC-003 refused on lab-gateway: unknown backup '20991231T235959Z-abcdef': ",
                                  "/backups/20991231T235959Z-abcdef does not exist",
                                  "the newest valid one is %s" % initial, "the gateway was not stopped")
    assert "Before anything: Step 2: List backups" in said


def test_an_existing_backup_that_fails_verification_is_refused_before_the_stop(running_lab):
    [initial] = backups_in(running_lab)
    tampered = Path(running_lab.data_dir, "backups", initial, "data", "tokens.json")
    original = tampered.read_bytes()
    tampered.write_bytes(original + b" ")
    try:
        refused_without_a_stop(running_lab, {"backup_id": initial},
                               "INC-003 refused on lab-gateway: Backup %s fails verification: size_mismatch: tokens.json" % initial,
                               "the newest valid one is none")
        refused_without_a_stop(running_lab, {}, "INC-003 refused on lab-gateway: No valid backup in")
    finally:
        tampered.write_bytes(original)


def test_a_backup_newer_than_the_gateway_supports_is_refused_before_the_stop(running_lab):
    [initial] = backups_in(running_lab)
    refused_without_a_stop(running_lab, {"backup_id": initial, "gateway_max_schema_version": 2},
                           "Backup %s has schemaVersion 3, newer than the 2 this gateway supports" % initial)


@pytest.mark.parametrize("value", ["3\n", "3 ", "three", "\u0663"], ids=ascii)
def test_a_max_schema_version_that_is_not_a_number_is_refused(running_lab, value):
    refused_without_a_stop(running_lab, {"gateway_max_schema_version": value},
                           "gateway_max_schema_version must be a whole number")


class AnswersHealthz:
    """Something else answering /healthz on the gateway's address after the stop (a second instance, a stale
    proxy): gateway_backup refuses to restore under it, after step 1 stopped the real gateway."""

    def __init__(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"status": "ok"}')

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def test_a_restore_that_fails_after_the_stop_starts_the_gateway_again(lab):
    """The pre-checks pass, step 1 stops the gateway, step 3 refuses (something answers at api_url): no restore
    is left half done, so the rescue starts the gateway again and the failure says so."""
    state, pid = lab.program()
    assert state == "RUNNING"
    tokens = Path(lab.data_dir, "tokens.json").read_bytes()
    before = sorted(backups_in(lab))
    other = AnswersHealthz()
    try:
        proc = run_playbook(lab.state_dir, "-e", "gateway_api_url=" + other.url, "-e", "gateway_service_job_guard=false")
    finally:
        other.stop()
    said = " ".join(proc.stdout.split())
    assert proc.returncode == 2, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "Step 1: Stop the gateway" in proc.stdout
    assert 'INC-003 failed on lab-gateway at "Step 3: Restore the chosen backup' in said
    assert "the gateway answers at %s/healthz: stop it before restoring" % other.url in said
    assert "the gateway was started again and is RUNNING" in said
    assert "LEFT STOPPED" not in said
    new_state, new_pid = lab.program()
    assert new_state == "RUNNING" and new_pid != pid  # stopped by step 1, started again by the rescue
    assert http_json(lab.api_url + "/healthz")[0] == 200
    assert Path(lab.data_dir, "tokens.json").read_bytes() == tokens
    assert sorted(backups_in(lab)) == before  # no safety backup: nothing was swapped
    assert not Path(lab.data_dir, ".restore-journal.json").exists()
    assert_no_secret(lab, proc.stdout, proc.stderr)

