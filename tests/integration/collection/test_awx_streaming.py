"""A runbook through AWX's streaming interface, as AWX runs a job on an execution node (issue 22, items 2 and 5):
`ansible-runner transmit | ansible-runner worker | ansible-runner process`, with AWX's job environment (JOB_ID).
The incident report reaches the process side (the controller) in the job events, and its path is worded as one
on the execution node. A blank survey answer for the runbook's `*_hosts` variable (null or "") is refused, never
replaced by the default group, and the report says so."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
RUNNER = str(BIN / "ansible-runner")


def stream_job(tmp_path, extra_vars, cmdline=""):
    """One job through transmit | worker | process; returns (process side's artifacts dir, its events, rc)."""
    private = tmp_path / "transmit"
    for sub in ("env", "inventory", "project"):
        (private / sub).mkdir(parents=True)
    # What AWX gives a job: its id, the project's ansible.cfg (callback enabled there), the survey's answers.
    (private / "env" / "envvars").write_text(json.dumps({
        "JOB_ID": "4242", "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
        "PATH": "%s:/usr/bin:/bin" % BIN, "HOME": str(tmp_path / "home")}))
    (private / "env" / "extravars").write_text(json.dumps(extra_vars))
    if cmdline:
        (private / "env" / "cmdline").write_text(cmdline)
    # the survey would send it blank: the default group exists, so falling back to it would run on it
    (private / "inventory" / "hosts").write_text(
        "[gateways]\nlocalhost ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable)
    worker_dir = tmp_path / "worker"
    process_dir = tmp_path / "process"
    transmit = subprocess.Popen([RUNNER, "transmit", str(private), "-p", "mcpops.runbooks.inc_003_restore"],
                                stdout=subprocess.PIPE)
    worker = subprocess.Popen([RUNNER, "worker", "--private-data-dir", str(worker_dir)], stdin=transmit.stdout,
                              stdout=subprocess.PIPE)
    transmit.stdout.close()
    process = subprocess.run([RUNNER, "process", str(process_dir)], stdin=worker.stdout, capture_output=True,
                             text=True, timeout=300)
    worker.stdout.close()
    assert transmit.wait(timeout=60) == 0, process.stderr
    worker.wait(timeout=60)  # its exit status is the job's (2: a host failed), which the process side records in rc
    assert process.returncode == 0, process.stderr
    artifacts = process_dir / "artifacts"  # `process` writes the streamed artifacts here, without an ident dir
    events = [json.loads(p.read_text()) for p in sorted(artifacts.glob("job_events/*.json"))]
    return artifacts, events, process


def job_output(events):
    return "\n".join(e.get("stdout") or "" for e in sorted(events, key=lambda e: e.get("counter", 0)))


def test_the_report_of_a_streamed_job_is_in_the_process_sides_events(tmp_path):
    """A real step runs on the execution node (INC-003's input check refuses the id, before anything changes)."""
    artifacts, events, process = stream_job(tmp_path, {"backup_id": "../etc", "inc003_hosts": "gateways"}, "--check")
    output = job_output(events)
    assert "Before anything: check the backup id" in output
    assert "# INC-003: Data corruption / bad migration" in output and "| outcome | **failed** |" in output
    assert "## Post-incident review (draft)" in output
    # the path printed is the execution node's, and says so
    [line] = [x for x in output.splitlines() if x.startswith("incident report:")]
    assert "on the execution node at" in line and "not a path to open from AWX" in line
    # the worker streamed the job's artifacts back with the events: the files are on the controller side too
    report = json.loads((artifacts / "report.json").read_text())
    assert report["runbook"]["id"] == "inc-003-restore" and report["status"] == "failed"
    assert (artifacts / "rc").read_text().strip() != "0"
    # not also to the node's user state dir: the job's artifacts hold it
    assert not (tmp_path / "home" / ".local" / "state" / "mcpops").exists()


@pytest.mark.parametrize("blank", ["", None], ids=["empty-string", "null"])
def test_a_blank_hosts_answer_runs_nothing_and_the_report_says_why(tmp_path, blank):
    artifacts, events, process = stream_job(tmp_path, {"inc003_hosts": blank, "backup_id": "latest_valid"})
    output = job_output(events)
    # nothing ran: no task started, on the default group's host or any other
    assert not [e for e in events if e.get("event") == "runner_on_start"]
    assert "| outcome | **refused** |" in output
    assert "Nothing ran: inc003_hosts was given blank" in output
    report = json.loads((artifacts / "report.json").read_text())
    assert report["status"] == "refused" and report["timeline"] == [] and report["hosts"] == {}
    assert report["refused"].startswith("Nothing ran: inc003_hosts was given blank")
    assert report["extra_vars"]["inc003_hosts"] == blank
    # "" stops ansible-playbook with an error (a failed job); null matches no host (a successful job that did nothing)
    assert (artifacts / "status").read_text().strip() == ("failed" if blank == "" else "successful")
