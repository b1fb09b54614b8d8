"""mcpops.run.runner without running Ansible: where run dirs go, their names, the exit status of a run, the
environment ansible-playbook gets, and the recorded environment masked."""

import json
import os
import stat

import pytest

from mcpops.run import runner
from mcpops.run.runbooks import REPO


def test_run_dirs_go_under_mcpops_runs_dir_else_the_checkouts_runs(monkeypatch, tmp_path):
    monkeypatch.delenv("MCPOPS_RUNS_DIR", raising=False)
    assert runner.runs_root() == REPO / "runs"
    monkeypatch.setenv("MCPOPS_RUNS_DIR", str(tmp_path / "elsewhere"))
    assert runner.runs_root() == tmp_path / "elsewhere"


def test_a_run_dir_is_private_named_by_utc_time_and_runbook_and_never_reused(tmp_path):
    first = runner.new_run_dir("inc-003-restore", tmp_path)
    second = runner.new_run_dir("inc-003-restore", tmp_path)
    assert first.parent == tmp_path and first.name.endswith("Z-inc-003-restore")
    assert len(first.name.split("-", 1)[0]) == len("20261124T020000Z")
    assert second != first and second.name.startswith(first.name.split("-", 1)[0])
    assert stat.S_IMODE(os.stat(first).st_mode) == 0o700


@pytest.mark.parametrize("stats, rc, status", [
    ({}, 0, runner.EXIT_OK),
    ({}, 2, runner.EXIT_ERROR),  # no recap at all: ansible-playbook itself failed
    ({"ok": {"h": 3}}, 0, runner.EXIT_OK),
    ({"failures": {"h": 1}}, 2, runner.EXIT_FAILED),
    ({"failures": {"h": 1}, "dark": {"g": 1}}, 4, runner.EXIT_UNREACHABLE),  # unreachable wins
    ({"ok": {"h": 3}}, 1, runner.EXIT_ERROR),
])
def test_exit_status_of_a_run(stats, rc, status):
    assert runner.exit_status(stats, rc) == status


def test_ansible_playbook_gets_the_report_dir_the_config_and_host_key_checking(monkeypatch, tmp_path):
    monkeypatch.delenv("ANSIBLE_HOST_KEY_CHECKING", raising=False)
    env = runner.runner_env(tmp_path, {"MCPOPS_LAB_DIR": "/lab"})
    assert env["MCPOPS_REPORT_DIR"] == str(tmp_path) and env["MCPOPS_LAB_DIR"] == "/lab"
    assert env["ANSIBLE_CONFIG"] == str(REPO / "ansible.cfg") and env["ANSIBLE_HOST_KEY_CHECKING"] == "True"


def test_the_recorded_environment_is_masked(tmp_path):
    command = tmp_path / "artifacts" / "ident" / "command"
    command.parent.mkdir(parents=True)
    secret = "s3cr3t-" + "Zq9x" * 8
    command.write_text(json.dumps({"command": ["ansible-playbook"], "env": {"GATEWAY_ADMIN_TOKEN": secret,
                                                                           "HOME": "/root"}}))
    runner.mask_recorded_env(tmp_path)
    recorded = json.loads(command.read_text())
    assert secret not in command.read_text() and recorded["env"]["HOME"] == "/root"
    assert recorded["command"] == ["ansible-playbook"]
    assert stat.S_IMODE(os.stat(command).st_mode) == 0o600


# -- extra vars are data: the !unsafe vars file ---------------------------------------------------------

HOSTILE_VARS = {
    "backup_id": "{{ lookup('pipe', 'touch MARKER') }}",
    "inc003_hosts": "{% for x in range(3) %}gateways{% endfor %}",
    "numberish": "123", "yes_word": "yes", "empty": "", "null_word": "null", "tilde": "~", "date": "2026-01-01",
    "floatish": "1.5", "multi": "line one\n{{ lookup('pipe', 'touch MARKER') }}\n", "spaced": "  x  ",
    "tag": "!unsafe x", "anchor": "&a", "alias": "*a", "at_file": "@/etc/passwd", "mapping_like": "a: b",
    "seq_like": "- a", "comment": "# x", "unicode": "Ж \U0001F600", "control": "a\x01b\x7f",
    "count": 3, "ratio": 0.5, "flag": True, "nothing": None,
    "odata_passwords": {"ERP_PASSWORD": "{{ lookup('pipe', 'touch MARKER') }}",
                        "{{ lookup('pipe', 'touch MARKER') }}": "key"},
    "org_ids": ["org_acme", "{{ lookup('pipe', 'touch MARKER') }}", ["{{ 7 * 7 }}", {"deep": "{{ 7 * 7 }}"}]],
}


def _strings(value):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, str):
        yield value


def _loaded_as_ansible_does(tmp_path, extra_vars):
    """The vars file read the way ansible-playbook reads `-e @file` (utils/vars.py load_extra_vars)."""
    from ansible.parsing.dataloader import DataLoader

    marker = tmp_path / "MARKER"
    text = runner.unsafe_extra_vars_yaml(json.loads(json.dumps(extra_vars).replace("MARKER", str(marker))))
    path = tmp_path / "extra_vars.yml"
    path.write_text(text, encoding="utf-8")
    return DataLoader().load_from_file(str(path), trusted_as_template=True), marker


def test_extra_vars_load_with_their_types_and_nothing_trusted_as_a_template(tmp_path):
    from ansible.template import is_trusted_as_template

    loaded, marker = _loaded_as_ansible_does(tmp_path, HOSTILE_VARS)
    expected = json.loads(json.dumps(HOSTILE_VARS).replace("MARKER", str(marker)))
    assert loaded == expected
    # "123", "yes", "", "null" stay strings (Ansible's tagged str is a str subclass), 3 stays an int, None None
    assert {k: type(expected[k]) for k in expected if not isinstance(loaded[k], type(expected[k]))} == {}
    strings = list(_strings(loaded))
    assert len(strings) > 30
    assert [s for s in strings if is_trusted_as_template(s)] == []
    # The control: the same file without the tag would be trusted, i.e. the test can see the difference.
    plain = tmp_path / "plain.yml"
    plain.write_text(runner.unsafe_extra_vars_yaml({"x": "{{ 1 }}"}).replace("!unsafe", "", 1))
    from ansible.parsing.dataloader import DataLoader
    assert is_trusted_as_template(DataLoader().load_from_file(str(plain), trusted_as_template=True)["x"])


def test_a_template_in_an_extra_var_is_never_run_when_a_playbook_uses_it(tmp_path):
    """Ansible's own templar renders a playbook's `{{ backup_id }}` etc. from the loaded vars: the literal comes
    back and the pipe lookup never runs."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    loaded, marker = _loaded_as_ansible_does(tmp_path, HOSTILE_VARS)
    templar = Templar(loader=DataLoader(), variables=loaded)
    render = templar.template
    templar.template = lambda text: render(trust_as_template(text))  # the playbook's own text is trusted
    assert templar.template("{{ backup_id }}") == "{{ lookup('pipe', 'touch %s') }}" % marker
    assert templar.template("{{ backup_id | string is match('^[A-Za-z0-9]+$') }}") is False
    assert templar.template("{{ org_ids[2][1].deep }}-{{ odata_passwords.ERP_PASSWORD }}") == (
        "{{ 7 * 7 }}-{{ lookup('pipe', 'touch %s') }}" % marker)
    assert templar.template("{{ multi }}") == HOSTILE_VARS["multi"].replace("MARKER", str(marker))
    assert templar.template("{{ count + 1 }}") == 4 and templar.template("{{ flag }}") is True
    assert not marker.exists()


# -- the environment: recorded masked, handed to ansible-playbook whole ------------------------------------

CANARY_ENV = {
    "PGPASSWORD": "CanaryPg-1a2b3c",
    "DATABASE_URL": "postgresql://mcpops:CanaryUrl-4d5e6f@127.0.0.1:5432/gateway",
    "MYSQL_PWD": "CanaryMy-777x",
    "REDISCLI_AUTH": "CanaryRedis-88",
    "AWS_SECRET_ACCESS_KEY": "CanaryAws/99+x",
    "PGOPTIONS": "-c application_name=CanaryPg-1a2b3c",
}


def test_the_environment_is_split_into_what_may_be_recorded_and_what_is_hidden():
    masker = runner.load("secret_mask").SecretMasker(["SecretSalt-xyz"])
    environ = dict(CANARY_ENV, HOME="/root", PATH="/usr/bin:/bin", NOTE="salt SecretSalt-xyz")
    overrides, hidden = runner.recorded_environment(environ, masker)
    assert set(overrides) == set(CANARY_ENV) | {"NOTE"}
    assert overrides["DATABASE_URL"] == "postgresql://mcpops:********@127.0.0.1:5432/gateway"
    assert overrides["NOTE"] == "salt ********" and overrides["PGPASSWORD"] == "********"
    assert hidden == {name: [overrides[name], environ[name]] for name in overrides}
    recorded = json.dumps({**environ, **overrides})
    assert all(secret not in recorded for secret in list(CANARY_ENV.values()) + ["SecretSalt-xyz"])


def test_nothing_to_hide_in_an_ordinary_environment():
    overrides, hidden = runner.recorded_environment({"HOME": "/root", "PATH": "/usr/bin", "LANG": "C.UTF-8"},
                                                    runner.load("secret_mask").SecretMasker())
    assert overrides == {} and hidden == {}


def test_hidden_env_puts_the_real_values_back_even_where_ansible_runner_appended():
    from mcpops.run.hidden_env import restored

    hidden = {"PGPASSWORD": ["********", "real-pg"], "ANSIBLE_CALLBACK_PLUGINS": ["/x/********", "/x/real"],
              "GONE": ["********", "real-gone"]}
    environ = {"PGPASSWORD": "********", "ANSIBLE_CALLBACK_PLUGINS": "/x/********:/runner/callbacks", "HOME": "/root"}
    assert restored(environ, hidden) == {"PGPASSWORD": "real-pg", "HOME": "/root", "GONE": "real-gone",
                                         "ANSIBLE_CALLBACK_PLUGINS": "/x/real:/runner/callbacks"}


def test_the_launcher_starts_ansible_playbook_with_the_real_values_and_removes_their_file(tmp_path):
    """The launcher as ansible-runner runs it: with the masked environment; the program it starts (a stand-in
    for ansible-playbook on PATH) sees the real values, and the file that held them is gone."""
    import subprocess

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "ansible-playbook"
    fake.write_text("#!/bin/sh\nprintf '%s\\n' \"$@\"\nenv\n")
    fake.chmod(0o700)
    vars_dir = tmp_path / "vars"
    vars_dir.mkdir(mode=0o700)
    masker = runner.load("secret_mask").SecretMasker()
    overrides, hidden = runner.recorded_environment(dict(CANARY_ENV), masker)
    launcher = runner._hidden_env_launcher(vars_dir, hidden, str(bin_dir))
    assert stat.S_IMODE(os.stat(launcher).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(vars_dir / "hidden_env.json").st_mode) == 0o600
    assert all(secret not in launcher.read_text() for secret in CANARY_ENV.values())
    env = {"PATH": "/usr/bin:/bin", **overrides}
    proc = subprocess.run([str(launcher), "--check", "play book.yml"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[:2] == ["--check", "play book.yml"]
    for name, value in CANARY_ENV.items():
        assert "%s=%s" % (name, value) in lines
    assert not (vars_dir / "hidden_env.json").exists()


# -- the run dir scrubbed of every known secret ---------------------------------------------------------------

def test_every_file_of_the_run_dir_is_scrubbed_and_json_stays_json(tmp_path):
    masker = runner.load("secret_mask").SecretMasker()
    masker.add_environment({"PGPASSWORD": 'Quo"te\\pw-1', "MYSQL_PWD": "Ünïcode-pw", "DB_PASSWORD": "31415926",
                            "DATABASE_URL": "postgresql://u:CanaryUrl-4d5e6f@db/x"})
    run_dir = tmp_path / "run"
    events = run_dir / "artifacts" / "ident" / "job_events"
    events.mkdir(parents=True)
    event = {"uuid": "6c2c0e3d-1111-2222-3333-444455556666", "counter": 31415926,
             "event_data": {"res": {"msg": 'login as u with Quo"te\\pw-1 failed', "stdout_lines": ["Ünïcode-pw"]},
                            "Ünïcode-pw": "as a key"}}
    (events / "1-x.json").write_text(json.dumps(event))
    report = run_dir / "report.json"
    report.write_text(json.dumps({"summary": ["postgresql://u:CanaryUrl-4d5e6f@db/x"], "ok": True}, indent=2) + "\n")
    report.chmod(0o644)
    stdout = run_dir / "artifacts" / "ident" / "stdout"
    stdout.write_bytes(b"\xff\xfe binary-ish PGPASSWORD=Quo\"te\\pw-1 and \xc3\x9cn\xc3\xafcode-pw\n")
    untouched = run_dir / "artifacts" / "ident" / "rc"
    untouched.write_text("0")
    outside = tmp_path / "outside.txt"
    outside.write_text("not ours: CanaryUrl-4d5e6f")
    os.symlink(outside, run_dir / "link.txt")
    os.mkfifo(run_dir / "fifo")  # never opened: a FIFO would block a read

    rewritten = runner.scrub_run_dir(run_dir, masker)

    assert sorted(rewritten) == sorted(str(p) for p in (events / "1-x.json", report, stdout))
    scrubbed_event = json.loads((events / "1-x.json").read_text())
    assert scrubbed_event["uuid"] == event["uuid"] and scrubbed_event["counter"] == "********"
    assert scrubbed_event["event_data"]["res"] == {"msg": "login as u with ******** failed",
                                                   "stdout_lines": ["********"]}
    assert scrubbed_event["event_data"]["********"] == "as a key"
    assert report.read_text() == json.dumps({"summary": ["postgresql://u:********@db/x"], "ok": True}, indent=2) + "\n"
    assert stat.S_IMODE(report.stat().st_mode) == 0o644
    assert stdout.read_bytes() == b"\xff\xfe binary-ish PGPASSWORD=******** and ********\n"
    assert untouched.read_text() == "0" and outside.read_text() == "not ours: CanaryUrl-4d5e6f"
    for path in run_dir.rglob("*"):
        if path.is_file() and not path.is_symlink() and path.suffix != "":
            data = path.read_bytes()
            assert all(s.encode() not in data for s in ("Ünïcode-pw", "31415926", "CanaryUrl-4d5e6f")), path


class _Runbook:
    id = "inc-006-secret-leak"
    path = REPO / "playbooks" / "inc-006-secret-leak.yml"

    def secret_names(self):
        return ["ip_salt"]


class _Progress:
    def __init__(self):
        self.masker = runner.load("secret_mask").SecretMasker()
        self.closed = False

    def on_event(self, event):
        return True

    def close(self):
        self.closed = True


def test_run_hands_ansible_runner_a_masked_environment_and_leaves_no_secret_in_the_run_dir(monkeypatch, tmp_path):
    """run() with a stand-in for ansible_runner that records its environment as the real one does (os.environ
    updated with envvars, into artifacts/<ident>/command) and whose playbook prints every secret it was given."""
    import shlex
    import sys
    import types

    for name, value in CANARY_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(runner.tempfile, "tempdir", None)
    salt = "CanarySalt-" + os.urandom(4).hex()
    seen = {}

    def fake_run(**kwargs):
        seen.update(kwargs)
        env = {**os.environ, **kwargs["envvars"]}
        command = [kwargs.get("binary") or "ansible-playbook"] + shlex.split(kwargs["cmdline"] or "")
        artifacts = tmp_path / "runs" / "run" / "artifacts" / "ident"
        (artifacts / "job_events").mkdir(parents=True)
        (artifacts / "command").write_text(json.dumps({"command": command, "cwd": str(REPO), "env": env}))
        seen["hidden_env"] = json.loads((tmp_path / "tmp").glob("mcpops-vars-*/hidden_env.json").__next__().read_text())
        seen["vars_yml"] = next((tmp_path / "tmp").glob("mcpops-vars-*/extra_vars.yml")).read_text()
        printed = " ".join(list(CANARY_ENV.values()) + [salt])  # a task that printed them all
        (artifacts / "job_events" / "1-u.json").write_text(json.dumps({"event_data": {"res": {"msg": printed}}}))
        (artifacts / "stdout").write_text(printed + "\n")
        return types.SimpleNamespace(stats={"ok": {"gw": 1}}, rc=0)

    monkeypatch.setitem(sys.modules, "ansible_runner", types.SimpleNamespace(run=fake_run))
    request = runner.RunRequest(runbook=_Runbook(), inventory=REPO / "inventories" / "lab", check=True,
                                extra_vars={"org_id": "{{ lookup('pipe', 'id') }}", "ip_salt": salt})
    progress = _Progress()
    status, run_dir = runner.run(request, progress, run_dir=tmp_path / "runs" / "run")

    assert status == runner.EXIT_OK and progress.closed
    secrets_given = list(CANARY_ENV.values()) + [salt]
    # ansible-runner never saw a secret: not in its environment, nor on its command line
    assert all(s not in json.dumps(seen["envvars"]) + seen["cmdline"] for s in secrets_given)
    assert seen["envvars"]["DATABASE_URL"] == "postgresql://mcpops:********@127.0.0.1:5432/gateway"
    # the launcher started ansible-playbook with the real values, from a file only it read
    assert seen["binary"].endswith("/ansible-playbook") and "playbook" not in seen
    assert seen["cmdline"].endswith(str(_Runbook.path))
    assert {name: real for name, (_, real) in seen["hidden_env"].items()} == CANARY_ENV
    # extra vars: data, as YAML tagged !unsafe
    assert seen["vars_yml"].startswith("!unsafe\n") and "org_id: '{{ lookup(''pipe'', ''id'') }}'" in seen["vars_yml"]
    # and nothing under the run dir keeps a secret, whatever a task printed
    for path in run_dir.rglob("*"):
        if path.is_file():
            data = path.read_text()
            assert all(s not in data for s in secrets_given), path
    assert json.loads((run_dir / "artifacts" / "ident" / "job_events" / "1-u.json").read_text())
    assert list((tmp_path / "tmp").iterdir()) == []  # the private temp dir went with the run
    # the terminal's masker knows them too
    assert progress.masker.text("pw CanaryMy-777x") == "pw ********"
