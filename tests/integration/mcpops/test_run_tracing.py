"""The otel_trace callback under plain ansible-playbook (as docs/tracing.md says to enable it, and as AWX runs it),
against a real OTLP/HTTP receiver on loopback that decodes what it gets: one span per task and host, every
outcome (ok, changed, skipped, failed, failed but ignored, unreachable), no argument, result or secret sent.
`mcpops run` with MCPOPS_OTLP_ENDPOINT is tested on the lab in tests/integration/playbooks/test_health_check.py."""

import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path

from loopback import free_port
from otlp_receiver import OtlpReceiver

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent

PLAYBOOK = """
- name: A small traced run
  hosts: traced
  gather_facts: false
  tasks:
    - name: Look at the canary
      ansible.builtin.debug:
        msg: "the value is {{ canary_password }}"
    - name: Change something
      ansible.builtin.command: echo {{ canary_password }}
    - name: Skip this one
      ansible.builtin.debug:
        msg: never
      when: false
    - name: Fail, and carry on
      ansible.builtin.fail:
        msg: "refused: {{ canary_password }}"
      ignore_errors: true
    - name: Keep a secret hidden
      ansible.builtin.set_fact:
        kept: "{{ canary_password }}"
      no_log: true
    - name: Loop over two items
      ansible.builtin.debug:
        msg: "{{ item }}"
      loop: [1, 2]
    - name: Fail for real
      ansible.builtin.fail:
        msg: "the end: {{ canary_password }}"
"""

# task name -> outcome, on the host that answers; the one that does not is unreachable at its first connection
# (debug runs on the controller: ok there too)
EXPECTED = {
    "Look at the canary": ("ok", "OK"),
    "Change something": ("changed", "OK"),
    "Skip this one": ("skipped", "UNSET"),
    "Fail, and carry on": ("failed", "UNSET"),
    "Keep a secret hidden": ("ok", "OK"),
    "Loop over two items": ("ok", "OK"),
    "Fail for real": ("failed", "ERROR"),
}


def test_one_span_per_task_and_host_under_the_run_span_and_no_secret(tmp_path):
    canary = "canary-" + secrets.token_urlsafe(18)
    header_canary = "hdr" + secrets.token_hex(16)
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        "traced:\n  hosts:\n"
        "    answers: {ansible_connection: local, ansible_python_interpreter: %s}\n"
        # nothing listens on that port: ssh is refused at once, the host is unreachable
        "    gone: {ansible_connection: ssh, ansible_host: 127.0.0.1, ansible_port: %d, ansible_user: nobody}\n"
        % (sys.executable, free_port()))
    playbook = tmp_path / "traced.yml"
    playbook.write_text(PLAYBOOK)
    with OtlpReceiver() as receiver:
        env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                   PATH="%s:%s" % (BIN, os.environ.get("PATH", "")), no_proxy="127.0.0.1,localhost",
                   ANSIBLE_CALLBACKS_ENABLED="mcpops.runbooks.otel_trace",
                   OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint, OTEL_SERVICE_NAME="traced-test",
                   OTEL_EXPORTER_OTLP_HEADERS="authorization=Bearer%20" + header_canary)
        proc = subprocess.run([str(BIN / "ansible-playbook"), str(playbook), "-i", str(inventory),
                               "-e", "canary_password=" + canary],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        # 4: ansible-playbook's code for an unreachable host
        assert proc.returncode == 4, proc.stdout[-3000:] + proc.stderr[-2000:]
        assert "otel_trace: 10 spans sent to %s/v1/traces" % receiver.endpoint in proc.stdout, proc.stdout[-2000:]
        spans = receiver.wait_for_spans()
        bodies = receiver.bodies()
        headers = receiver.headers()

    assert receiver.errors == []
    [root] = [s for s in spans if not s.parent_span_id]
    assert root.name == "traced.yml" and root.resource["service.name"] == "traced-test"
    assert root.attributes["ansible.run.status"] == "unreachable" and root.status == "ERROR"
    assert root.attributes["ansible.run.hosts"] == 2
    children = [s for s in spans if s.parent_span_id]
    assert all(s.parent_span_id == root.span_id and s.trace_id == root.trace_id for s in children)
    assert all(root.start_ns <= s.start_ns <= s.end_ns <= root.end_ns for s in children)

    by_host = {}
    for span in children:
        by_host.setdefault(span.attributes["ansible.task.host.name"], []).append(span)
    assert sorted(by_host) == ["answers", "gone"]
    # one span per task on the host that answered, in the run's order, named as the task is
    answered = sorted(by_host["answers"], key=lambda s: s.start_ns)
    assert [s.name for s in answered] == list(EXPECTED)
    for span in answered:
        assert (span.attributes["ansible.task.host.status"], span.status) == EXPECTED[span.name], span
        assert span.attributes["ansible.play.name"] == "A small traced run"
    ignored = next(s for s in answered if s.name == "Fail, and carry on")
    assert ignored.attributes["ansible.task.ignore_errors"] is True
    assert {s.name: s.attributes["ansible.task.action"] for s in answered}["Change something"] == "ansible.builtin.command"
    final = answered[-1]
    assert final.status_message.startswith("the end: ") and canary not in final.status_message
    looked, gone = sorted(by_host["gone"], key=lambda s: s.start_ns)
    assert looked.name == "Look at the canary" and looked.attributes["ansible.task.host.status"] == "ok"
    assert gone.name == "Change something" and gone.attributes["ansible.task.host.status"] == "unreachable"
    assert gone.status == "ERROR" and gone.status_message

    # No argument, result nor secret went out: only the attributes named in the callback's docs.
    allowed = {"ansible.task.host.name", "ansible.task.host.status", "ansible.task.action", "ansible.play.name",
               "ansible.task.ignore_errors", "mcpops.step"}
    assert all(set(s.attributes) <= allowed and not s.events for s in children)
    assert canary.encode() not in bodies and header_canary.encode() not in bodies
    # the header did reach the collector (it is how one authenticates to it), and only as a header
    assert all(h.get("authorization") == "Bearer " + header_canary for h in headers)


def test_a_collector_that_does_not_answer_is_one_warning_and_the_run_is_its_own(tmp_path):
    playbook = tmp_path / "quiet.yml"
    playbook.write_text("- name: One step\n  hosts: localhost\n  gather_facts: false\n  tasks:\n"
                        "    - name: Say hello\n      ansible.builtin.debug: {msg: hello}\n")
    # A port bound and never listened on: refused for as long as the test holds it (a port merely found free could be
    # taken by another test's server before the run ends).
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    closed = "http://127.0.0.1:%d" % holder.getsockname()[1]
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               PATH="%s:%s" % (BIN, os.environ.get("PATH", "")), no_proxy="127.0.0.1,localhost",
               ANSIBLE_CALLBACKS_ENABLED="mcpops.runbooks.otel_trace",
               OTEL_EXPORTER_OTLP_ENDPOINT=closed, OTEL_EXPORTER_OTLP_TIMEOUT="1")
    try:
        proc = subprocess.run([str(BIN / "ansible-playbook"), str(playbook), "-i", "localhost,", "-c", "local"],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    finally:
        holder.close()
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    out = proc.stdout + proc.stderr
    assert "otel_trace: the collector at %s/v1/traces did not take the trace" % closed in out
    # (the SDK's reason varies with how its retries meet the timeout: "Connection refused" or "timeout, max retries")
    assert out.count("otel_trace:") == 1 and "this run is not traced" in out
