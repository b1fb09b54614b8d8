"""`mcpops list | run | report` against the real local lab (supervisord + the reference gateway), and
the incident_report callback under plain ansible-playbook and under ansible-runner (as AWX runs it)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from loopback import free_port
from mcpops.lab.local.lab import LocalLab
from local_lab_helpers import backups_in, data_dir_digest, wait_state
from mcpops_command import files_containing, mcpops, only_run_dir  # noqa: F401

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent


@pytest.fixture
def broken_lab(tmp_path):
    lab = LocalLab(tmp_path / "lab", listen="127.0.0.1:%d" % free_port())
    lab.up()
    lab.break_("corrupt-store")
    # Supervisor has given up: a crash-looping gateway rewrites its own lock file.
    wait_state(lab, {"FATAL"}, timeout=60)
    yield lab
    lab.down()


def test_list_reads_every_runbooks_metadata():
    proc = mcpops("list", "--json")
    assert proc.returncode == 0, proc.stderr
    listed = {r["id"]: r for r in json.loads(proc.stdout)}
    playbooks = {p.stem for p in (REPO / "playbooks").glob("*.yml")
                 if not p.is_symlink() and "mcpops_runbook:" in p.read_text()}  # a link: a runbook's collection name
    assert set(listed) == playbooks and {"inc-002-auth-failures", "inc-003-restore", "inc-005-rate-limit",
                                         "inc-006-secret-leak"} <= playbooks
    inc003 = listed["inc-003-restore"]
    assert inc003["incident"] == "INC-003" and inc003["changes"] is True
    assert inc003["extra_vars"]["backup_id"]["default"] == "latest_valid"
    assert listed["inc-006-secret-leak"]["extra_vars"]["odata_passwords"]["secret"] is True

    text = mcpops("list")
    assert text.returncode == 0
    assert "inc-003-restore  [INC-003] changes" in text.stdout
    assert "-e backup_id=..." in text.stdout


@pytest.mark.parametrize("args, words", [
    (["run", "inc-999-nope", "-i", "inventories/lab"], "unknown runbook 'inc-999-nope'"),
    (["run", "inc-003-restore", "-i", "inventories/missing"], "inventory inventories/missing: no such file"),
    (["run", "inc-003-restore", "-i", "inventories/lab", "-e", "backup=x"], "has no extra var 'backup'"),
    (["run", "inc-003-restore", "-i", "inventories/lab", "-e", "backup_id"], "expected name=value"),
    (["run", "inc-003-restore", "-i", "inventories/lab", "-e", "gateway_max_schema_version=three"], "whole number"),
    (["run", "inc-006-secret-leak", "-i", "inventories/lab", "--check"], "needs -e org_id="),
    (["run", "inc-003-restore"], "required: -i/--inventory"),
    (["report", "/nonexistent-run-dir"], "no such run dir"),
])
def test_usage_errors_are_one_line_and_nothing_runs(tmp_path, args, words):
    runs = tmp_path / "runs"
    proc = mcpops(*args, runs_dir=runs)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert words in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert proc.stdout == ""
    assert not runs.exists()  # no run dir: nothing ran


def test_confirmation_refused_without_a_terminal_and_without_yes(tmp_path):
    runs = tmp_path / "runs"
    proc = mcpops("run", "inc-003-restore", "-i", "inventories/lab", runs_dir=runs, stdin=subprocess.DEVNULL)
    assert proc.returncode == 4
    assert "no terminal to confirm on: pass --yes" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not runs.exists()


def test_check_run_changes_nothing_and_reports_it(broken_lab, tmp_path):
    runs = tmp_path / "runs"
    digest = data_dir_digest(broken_lab.data_dir)
    # --check needs no confirmation, even without a terminal.
    proc = mcpops("run", "inc-003-restore", "-i", "inventories/lab", "--check", lab_dir=broken_lab.state_dir, runs_dir=runs)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "changed     lab-gateway      Step 3: Restore the chosen backup" in proc.stdout  # the plain progress lines
    assert "\x1b[" not in proc.stdout  # not a terminal: nothing rewritten, no colours
    assert data_dir_digest(broken_lab.data_dir) == digest
    assert broken_lab.program_state() == "FATAL"
    run_dir = only_run_dir(runs)
    assert run_dir.name.endswith("-inc-003-restore")
    report = json.loads((run_dir / "report.json").read_text())
    assert report["check_mode"] is True and report["status"] == "ok"
    assert "check (nothing was changed)" in (run_dir / "report.md").read_text()


def test_real_inc003_run_reports_the_restored_and_safety_backups_and_no_secret(broken_lab, tmp_path):
    runs = tmp_path / "runs"
    [initial] = backups_in(broken_lab)
    # The canary: the lab's admin token, and an ops MCP token, both used by the run.
    canaries = [broken_lab.admin_token(), broken_lab.mcp_token()]
    proc = mcpops("run", "inc-003-restore", "-i", "inventories/lab", "--yes", lab_dir=broken_lab.state_dir, runs_dir=runs)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert broken_lab.program_state() == "RUNNING"
    # the safety backup is sealed with the lab's forensic key, outside what the gateway lists
    [safety] = os.listdir(Path(broken_lab.data_dir, "backups", ".sealed"))

    run_dir = only_run_dir(runs)
    report = json.loads((run_dir / "report.json").read_text())
    assert report["status"] == "ok" and report["check_mode"] is False
    assert report["runbook"]["incident"] == "INC-003"
    [restore] = [e for e in report["evidence"] if e["module"] == "mcpops.runbooks.gateway_backup"]
    assert restore["facts"]["backup_id"] == initial
    assert restore["facts"]["safety_backup_id"] == safety
    health = [e for e in report["evidence"] if e["module"] == "mcpops.runbooks.gateway_health"]
    assert health and all(e["facts"]["healthy"] for e in health)
    steps = [e["step"] for e in report["timeline"] if e["task"] == e["step"]]
    assert steps.index("Step 1: Stop the gateway") < steps.index(
        "Step 3: Restore the chosen backup (POST /api/system/backups/<backupId>/restore)")
    assert all(e["end"] and e["status"] in ("ok", "changed", "skipped") for e in report["timeline"])
    assert report["manual_steps"][0] == "Find the root cause in the migration version and fix forward"

    markdown = (run_dir / "report.md").read_text()
    assert initial in markdown and safety in markdown
    assert "### Incident Post-Mortem: INC-003" in markdown
    assert "- [ ] Find the root cause in the migration version and fix forward - [Owner] - [Due Date]" in markdown

    # No secret anywhere under the run dir: report, runner artifacts, job events, recorded command.
    assert list(run_dir.rglob("job_events/*.json"))
    assert files_containing(run_dir, canaries) == []
    for text in (proc.stdout, proc.stderr):
        assert all(c not in text for c in canaries)

    # `mcpops report` re-renders the same report from report.json.
    (run_dir / "report.md").write_text("stale")
    again = mcpops("report", str(run_dir))
    assert again.returncode == 0, again.stderr
    assert again.stdout == markdown == (run_dir / "report.md").read_text()


def test_a_failing_host_exits_2(broken_lab, tmp_path):
    runs = tmp_path / "runs"
    proc = mcpops("run", "inc-003-restore", "-i", "inventories/lab", "--check", "-e", "backup_id=20260101T000000Z-abcdef",
                  lab_dir=broken_lab.state_dir, runs_dir=runs)
    assert proc.returncode == 2, proc.stdout[-3000:]
    assert "unknown backup '20260101T000000Z-abcdef'" in proc.stdout
    report = json.loads((only_run_dir(runs) / "report.json").read_text())
    assert report["status"] == "failed"
    assert report["hosts"]["lab-gateway"]["failures"] >= 1
    assert any(e["status"] == "failed" and "unknown backup" in e.get("message", "") for e in report["timeline"])


def test_an_unreachable_host_exits_3(broken_lab, tmp_path):
    runs = tmp_path / "runs"
    inventory = tmp_path / "inventory.yml"
    info = broken_lab.read_info()
    lab_host = {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "gateway_platform": "supervisor",
        "gateway_service_name": info["service_name"],
        "gateway_supervisor_config": info["supervisor_config"],
        "gateway_supervisorctl_path": str(BIN / "supervisorctl"),
        "gateway_data_dir": info["data_dir"],
        "gateway_api_url": info["api_url"],
        "gateway_admin_token": broken_lab.admin_token(),
        "mcpops_break_glass_account": "lab-break-glass",
        "mcpops_forensic_key_file": info["forensic_key_file"],
    }
    # Nothing listens on this loopback port: ssh cannot connect, the host is unreachable.
    cut_off = {"ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": free_port(),
               "ansible_user": "nobody", "ansible_ssh_common_args": "-o ConnectTimeout=5 -o StrictHostKeyChecking=no",
               # the read-only checks on the controller pass: the first thing that fails is reaching the host
               "mcpops_break_glass_account": "lab-break-glass", "mcpops_forensic_key_file": "/etc/mcpops/forensic.key"}
    inventory.write_text(json.dumps({"all": {"children": {"gateways": {"hosts": {"gw-lab": lab_host, "gw-cut-off": cut_off}}}}}))
    proc = mcpops("run", "inc-003-restore", "-i", str(inventory), "--check", lab_dir=broken_lab.state_dir, runs_dir=runs)
    assert proc.returncode == 3, proc.stdout[-3000:]
    assert "unreachable gw-cut-off" in proc.stdout
    report = json.loads((only_run_dir(runs) / "report.json").read_text())
    assert report["status"] == "unreachable"
    assert report["hosts"]["gw-cut-off"]["unreachable"] == 1
    assert report["hosts"]["gw-lab"]["failures"] == 0
    assert files_containing(only_run_dir(runs), [broken_lab.admin_token()]) == []


def test_callback_under_ansible_playbook_and_under_ansible_runner(broken_lab, tmp_path):
    """The same report without mcpops: plain ansible-playbook (MCPOPS_REPORT_DIR), and ansible-runner
    as AWX runs it (no report dir configured: the job's artifacts dir)."""
    import ansible_runner

    env = dict(os.environ, MCPOPS_LAB_DIR=str(broken_lab.state_dir), MCPOPS_REPORT_DIR=str(tmp_path / "plain"),
               ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), PATH="%s:%s" % (BIN, os.environ.get("PATH", "")))
    proc = subprocess.run([str(BIN / "ansible-playbook"), "playbooks/inc-003-restore.yml", "-i", "inventories/lab", "--check"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "incident report: %s" % (tmp_path / "plain" / "report.md") in proc.stdout
    plain = json.loads((tmp_path / "plain" / "report.json").read_text())

    runner_dir = tmp_path / "runner"
    runner_dir.mkdir()
    result = ansible_runner.run(
        private_data_dir=str(runner_dir), project_dir=str(REPO), playbook=str(REPO / "playbooks/inc-003-restore.yml"),
        inventory=str(REPO / "inventories/lab"), cmdline="--check", quiet=True,
        envvars={"MCPOPS_LAB_DIR": str(broken_lab.state_dir), "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
                 "PATH": env["PATH"]},
    )
    assert result.rc == 0
    [artifact_report] = list(runner_dir.glob("artifacts/*/report.json"))
    in_runner = json.loads(artifact_report.read_text())
    for report in (plain, in_runner):
        assert report["runbook"]["id"] == "inc-003-restore" and report["check_mode"] is True
    assert [e["step"] for e in plain["timeline"]] == [e["step"] for e in in_runner["timeline"]]
    # `mcpops report` finds a report in the artifacts dir too.
    assert mcpops("report", str(runner_dir)).returncode == 0
    for out_dir in (tmp_path / "plain", runner_dir):
        assert files_containing(out_dir, [broken_lab.admin_token(), broken_lab.mcp_token()]) == []


def test_a_secret_extra_var_never_reaches_the_run_dir(tmp_path):
    """INC-006 in check mode with a secret extra var (ip_salt, `secret: true` in the metadata): it is passed
    to ansible-playbook through a temp file that is gone after the run, and masked in the report."""
    from local_lab_helpers import make_lab

    lab = make_lab(tmp_path / "lab")
    try:
        canary = "CanarySalt-" + os.urandom(6).hex()
        runs = tmp_path / "runs"
        # a temp dir of this test's own: other runs on the machine make and remove their vars files in /tmp
        tmp = tmp_path / "tmp"
        tmp.mkdir()
        proc = mcpops("run", "inc-006-secret-leak", "-i", "inventories/lab", "--check", "-e", "org_id=org_acme",
                      "-e", "hash_ips=true", "-e", "ip_salt=" + canary, lab_dir=lab.state_dir, runs_dir=runs,
                      extra_env={"TMPDIR": str(tmp)})
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
        run_dir = only_run_dir(runs)
        report = json.loads((run_dir / "report.json").read_text())
        assert report["extra_vars"] == {"org_id": "org_acme", "hash_ips": True, "ip_salt": "********"}
        assert files_containing(run_dir, [canary, lab.admin_token()]) == []
        assert canary not in proc.stdout + proc.stderr
        # the run read its extra vars from a file in that temp dir, and the file is gone
        [command_file] = run_dir.glob("artifacts/*/command")
        assert any(str(tmp) + "/mcpops-vars-" in arg for arg in json.loads(command_file.read_text())["command"])
        assert not list(tmp.glob("mcpops-vars-*"))
    finally:
        lab.down()


def test_at_a_terminal_the_prompt_names_the_hosts_and_anything_but_yes_refuses(tmp_path):
    """stdin is a pseudo-terminal: the prompt lists the inventory's hosts; answering `no` runs nothing."""
    import pty

    master, slave = pty.openpty()
    try:
        os.write(master, b"no\n")
        runs = tmp_path / "runs"
        proc = mcpops("run", "inc-003-restore", "-i", "inventories/lab", runs_dir=runs, stdin=slave)
    finally:
        os.close(slave)
        os.close(master)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "inc-003-restore (Data corruption / bad migration) will change 1 host(s): lab-gateway" in proc.stderr
    assert "not confirmed: nothing was run" in proc.stderr
    assert not runs.exists()


# -- issue 23: extra vars are data; the operator's environment never reaches the run dir ----------------------

@pytest.fixture(scope="module")
def quiet_lab(tmp_path_factory):
    """A healthy local lab shared by the runs below: each is --check or refused, so none changes it."""
    from local_lab_helpers import make_lab

    lab = make_lab(tmp_path_factory.mktemp("quiet-lab") / "lab")
    yield lab
    lab.down()


@pytest.mark.parametrize("name, template", [
    ("backup_id", "{{ lookup('pipe', 'touch MARKER') }}"),
    ("backup_id", "{% for x in [1] %}{{ lookup('pipe', 'touch MARKER') }}{% endfor %}"),
    ("backup_id", "latest_valid{{ lookup('pipe', 'touch MARKER') }}"),
    ("backup_id", "{{ query('pipe', 'touch MARKER') | first | default('latest_valid', true) }}"),
])
def test_a_template_given_as_an_extra_var_is_refused_as_data_and_never_run(quiet_lab, tmp_path, name, template):
    """`-e backup_id={{ lookup('pipe', ...) }}` reaches the playbook as those characters: the pipe never runs (no
    marker file), the input check refuses the literal as a bad id before anything is stopped, and nothing changed."""
    runs = tmp_path / "runs"
    marker = tmp_path / "MARKER"
    digest = data_dir_digest(quiet_lab.data_dir)
    proc = mcpops("run", "inc-003-restore", "-i", "inventories/lab", "--check",
                  "-e", "%s=%s" % (name, template.replace("MARKER", str(marker))),
                  lab_dir=quiet_lab.state_dir, runs_dir=runs)
    assert not marker.exists(), "the extra var was run as a template"
    assert proc.returncode == 2, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "Bad input" in proc.stdout and "'pipe'" in proc.stdout  # refused, and shown as the text it is
    report = json.loads((only_run_dir(runs) / "report.json").read_text())
    [failed] = [e for e in report["timeline"] if e["status"] == "failed"]
    assert failed["step"].startswith("Before anything")
    assert all(e["status"] != "changed" for e in report["timeline"])
    assert data_dir_digest(quiet_lab.data_dir) == digest and quiet_lab.program_state() == "RUNNING"


def test_a_template_as_the_host_pattern_matches_no_host_and_is_never_run(quiet_lab, tmp_path):
    """inc003_hosts is templated into the play's hosts: as data it is a pattern no host has."""
    runs = tmp_path / "runs"
    marker = tmp_path / "MARKER"
    proc = mcpops("run", "inc-003-restore", "-i", "inventories/lab", "--check",
                  "-e", "inc003_hosts={{ lookup('pipe', 'touch %s') or 'gateways' }}" % marker,
                  lab_dir=quiet_lab.state_dir, runs_dir=runs)
    assert not marker.exists(), "the extra var was run as a template"
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    run_dir = only_run_dir(runs)
    [stdout] = run_dir.glob("artifacts/*/stdout")
    assert "skipping: no hosts matched" in stdout.read_text()
    assert json.loads((run_dir / "report.json").read_text())["timeline"] == []  # no task ran on any host


def test_a_typed_extra_var_that_is_a_template_is_refused_before_anything_runs(tmp_path):
    runs = tmp_path / "runs"
    marker = tmp_path / "MARKER"
    proc = mcpops("run", "inc-003-restore", "-i", "inventories/lab", "--check",
                  "-e", "gateway_max_schema_version={{ lookup('pipe', 'touch %s') }}" % marker, runs_dir=runs)
    assert proc.returncode == 4 and "whole number" in proc.stderr
    assert not marker.exists() and not runs.exists()


def _canaries():
    tag = os.urandom(5).hex()
    return {
        "PGPASSWORD": "CanaryPg-" + tag,
        "DATABASE_URL": "postgresql://mcpops:CanaryUrl-%s@127.0.0.1:5432/gateway" % tag,
        "MYSQL_PWD": "CanaryMy-" + tag,
        "REDISCLI_AUTH": "CanaryRedis-" + tag,
        "AWS_SECRET_ACCESS_KEY": "CanaryAws/" + tag + "+x",
        "AWS_SESSION_TOKEN": "CanaryAwsSession-" + tag,
        "GITHUB_TOKEN": "CanaryGh-" + tag,
        "REDIS_URL": "redis://:CanaryRedisUrl-%s@127.0.0.1:6379/0" % tag,
    }


def _secret_values(env):
    """What must never be on disk: each credential variable's value, and a URL's password."""
    values = []
    for name, value in env.items():
        values.append(value.split(":", 2)[2].split("@")[0] if "://" in value else value)
    return values


def test_the_operators_environment_secrets_never_reach_the_run_dir(quiet_lab, tmp_path):
    """A real runbook (triage, read-only: it reads the service, the gateway's health, the host, the logs) run from a
    shell that holds PGPASSWORD, a DATABASE_URL with a password, MYSQL_PWD, REDISCLI_AUTH, AWS keys, GITHUB_TOKEN,
    and one of them copied under an ordinary name: no file under the run dir (the recorded command and environment,
    job events, stdout, the report) nor in the bundle it writes keeps any."""
    runs = tmp_path / "runs"
    bundles = tmp_path / "bundles"
    canaries = _canaries()
    secrets = _secret_values(canaries)
    env = dict(canaries, PGOPTIONS="-c application_name=" + canaries["PGPASSWORD"])  # one under another name too
    proc = mcpops("run", "triage", "-i", "inventories/lab", "-e", "output_dir=%s" % bundles,
                  lab_dir=quiet_lab.state_dir, runs_dir=runs, extra_env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    run_dir = only_run_dir(runs)
    [command_file] = run_dir.glob("artifacts/*/command")
    recorded = json.loads(command_file.read_text())["env"]
    assert recorded["PGPASSWORD"] == recorded["MYSQL_PWD"] == recorded["AWS_SECRET_ACCESS_KEY"] == "********"
    assert recorded["DATABASE_URL"] == "postgresql://mcpops:********@127.0.0.1:5432/gateway"
    assert recorded["REDIS_URL"] == "redis://:********@127.0.0.1:6379/0"
    assert recorded["PGOPTIONS"] == "-c application_name=********"
    assert list(run_dir.rglob("job_events/*.json")) and list(bundles.glob("*.json.sealed"))
    assert files_containing(run_dir, secrets) == []
    assert files_containing(bundles, secrets) == []
    assert all(s not in proc.stdout + proc.stderr for s in secrets)


def test_secrets_a_playbook_prints_from_its_environment_are_scrubbed_and_it_still_gets_them(tmp_path):
    """A runbook of our own that proves ansible-playbook got the real values (their sha256s match) and then prints
    them: the launcher handed them over, and the run dir is scrubbed of what the tasks printed."""
    import hashlib

    env = _canaries()
    secrets = _secret_values(env)
    playbook = tmp_path / "env-echo.yml"
    checks = ["lookup('ansible.builtin.env', '%s') | hash('sha256') == '%s'"
              % (name, hashlib.sha256(value.encode()).hexdigest()) for name, value in env.items()]
    playbook.write_text(json.dumps([{
        "name": "Echo the environment",
        "hosts": "localhost",
        "gather_facts": False,
        "vars": {"mcpops_runbook": {"id": "env-echo", "title": "Echo", "purpose": "test", "changes": False}},
        "tasks": [
            {"name": "The real values arrived", "ansible.builtin.assert": {"that": checks, "quiet": True}},
            {"name": "Print them", "ansible.builtin.debug": {
                "msg": ["{{ lookup('ansible.builtin.env', '%s') }}" % name for name in env]}},
            {"name": "Fail with one in the message", "ansible.builtin.fail": {
                "msg": "could not log in with {{ lookup('ansible.builtin.env', 'PGPASSWORD') }}"},
             "ignore_errors": True},
        ],
    }]))
    runs = tmp_path / "runs"
    proc = mcpops("run", str(playbook), "-i", "inventories/lab", runs_dir=runs, extra_env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "could not log in with ********" in proc.stdout  # the terminal's line, masked
    run_dir = only_run_dir(runs)
    assert "********" in "".join(p.read_text() for p in run_dir.rglob("job_events/*.json"))
    assert files_containing(run_dir, secrets) == []
    assert all(s not in proc.stdout + proc.stderr for s in secrets)
