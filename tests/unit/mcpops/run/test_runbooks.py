"""The runbook metadata reader (src/mcpops/run/runbooks.py): discovery, validation, extra vars."""

import pytest

from mcpops.run import runbooks
from mcpops.run.runbooks import RunbookError, discover, find, load_runbook

PLAY = """---
# header comment
- name: "X"
  hosts: "{{{{ x_hosts | default('gateways') }}}}"
  gather_facts: false
  vars:
{meta}
    other: 1
  tasks: []
"""
META = """    mcpops_runbook:
      id: {id}
      incident: null
      title: "Nightly thing"
      purpose: "Does a thing"
      changes: false
      extra_vars:
        keep_last: {{description: "backups kept", default: 7, type: int}}
        min_free: {{description: "percent free", default: 5, type: float}}
        mode: {{description: "fast or slow", default: fast, choices: [fast, slow]}}
        targets: {{description: "names", type: list}}
        api_key: {{description: "the key", secret: true, required: true}}
      manual_steps: ["Look at the dashboard"]
"""


def write(tmp_path, name, meta=True, meta_id=None):
    text = PLAY.format(meta=META.format(id=meta_id or name) if meta else "")
    path = tmp_path / f"{name}.yml"
    path.write_text(text)
    return path


def test_every_playbook_with_metadata_is_found_and_others_are_left_out(tmp_path):
    write(tmp_path, "nightly")
    write(tmp_path, "helper", meta=False)
    (tmp_path / "tasks.yml").write_text("- name: a task list\n  ansible.builtin.debug: {}\n")
    found = discover(tmp_path)
    assert [r.id for r in found] == ["nightly"]
    nightly = found[0]
    assert nightly.changes is False and nightly.incident is None
    assert nightly.hosts == "{{ x_hosts | default('gateways') }}"
    assert nightly.manual_steps == ("Look at the dashboard",)
    assert nightly.secret_names() == ["api_key"]


def test_the_repository_playbooks_carry_valid_metadata():
    found = {r.id: r for r in discover()}
    for name in ("inc-001-gateway-down", "inc-002-auth-failures", "inc-003-restore", "inc-004-upstream-degraded",
                 "inc-005-rate-limit", "inc-006-secret-leak"):
        assert found[name].path.name == f"{name}.yml"
        assert found[name].incident == name[:7].upper()
        assert found[name].manual_steps


def test_the_repository_defaults_have_their_declared_type():
    # mcpops run and the AWX surveys type a value by `type` (str when absent): a bool, number or list
    # default without its type would reach the playbook as a string ("false" is true in Jinja).
    python_type = {bool: "bool", int: "int", float: "float", list: "list", dict: "dict", str: "str"}
    wrong = []
    for runbook in discover():
        for var in runbook.extra_vars.values():
            if var.default is None:
                continue
            declared = python_type[type(var.default)]
            if declared != var.type and not (declared == "int" and var.type == "float"):
                wrong.append("%s %s: default %r, type %s" % (runbook.id, var.name, var.default, var.type))
    assert wrong == []


def test_id_must_be_the_file_name(tmp_path):
    path = write(tmp_path, "nightly", meta_id="daily")
    with pytest.raises(RunbookError, match="expected the file name 'nightly'"):
        load_runbook(path)


def test_unknown_runbook_lists_the_known_ones(tmp_path):
    write(tmp_path, "nightly")
    with pytest.raises(RunbookError, match=r"unknown runbook 'nope' \(known: nightly"):
        find("nope", tmp_path)
    assert find("nightly", tmp_path).id == "nightly"
    assert find("nightly.yml", tmp_path).id == "nightly"


@pytest.mark.parametrize("pairs, message", [
    (["keep_last=3", "api_key=k"], None),
    (["keep_last=three", "api_key=k"], "expected a whole number"),
    (["min_free=lots", "api_key=k"], "expected a number"),
    (["mode=medium", "api_key=k"], "is not one of fast, slow"),
    (["targets=a,b", "api_key=k"], "expected a JSON list"),
    (["nope=1", "api_key=k"], "has no extra var 'nope'"),
    (["keep_last"], "expected name=value"),
    (["keep_last=3"], "needs -e api_key="),
])
def test_extra_vars_are_typed_and_checked(tmp_path, pairs, message):
    runbook = load_runbook(write(tmp_path, "nightly"))
    if message is None:
        assert runbook.parse_extra_vars(pairs) == {"keep_last": 3, "api_key": "k"}
    else:
        with pytest.raises(RunbookError, match=message):
            runbook.parse_extra_vars(pairs)


def test_float_values_are_numbers(tmp_path):
    runbook = load_runbook(write(tmp_path, "nightly"))
    assert runbook.parse_extra_vars(["min_free=2.5", "api_key=k"])["min_free"] == 2.5


def test_list_and_dict_values_are_json(tmp_path):
    runbook = load_runbook(write(tmp_path, "nightly"))
    assert runbook.parse_extra_vars(['targets=["a","b"]', "api_key=k"])["targets"] == ["a", "b"]


def test_malformed_metadata_is_named(tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text(PLAY.format(meta=META.format(id="bad").replace('type: int', 'type: integer')))
    with pytest.raises(RunbookError, match="extra_vars.keep_last: type must be one of"):
        load_runbook(path)


def test_ansible_tags_do_not_stop_the_reader(tmp_path):
    path = write(tmp_path, "nightly")
    path.write_text(path.read_text().replace("other: 1", "other: !unsafe '{{ not templated }}'"))
    assert load_runbook(path).id == "nightly"
    assert runbooks.PLAYBOOKS_DIR.name == "playbooks"
