"""AWX pieces: the export is in sync with the playbooks' metadata, collections/requirements.yml names every
collection the playbooks and roles use, `ansible-builder create` makes the EE build context, and under
ansible-runner with AWX's job environment the incident report is printed into the job output."""

import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

from mcpops.run.awx_export import EXPORT_PATH, render_export
from mcpops.run.runbooks import discover

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
# A module key (`community.general.foo:`) or a role's name (`name: mcpops.runbooks.bar`); not a `when:` item such as
# `- result.stat.exists`, which has the same dots.
FQCN = re.compile(r"^\s*(?:-\s+)?(?:name:\s+([a-z0-9_]+)\.([a-z0-9_]+)\.[a-z0-9_]+|([a-z0-9_]+)\.([a-z0-9_]+)\.[a-z0-9_]+:)\s*$")
# A filter or test plugin by its full name in a Jinja expression: `| community.general.keep_keys(...)`.
FQCN_FILTER = re.compile(r"\|\s*([a-z0-9_]+)\.([a-z0-9_]+)\.[a-z0-9_]+\b")


def test_the_awx_export_is_in_sync_with_the_playbooks():
    committed = (REPO / EXPORT_PATH).read_text()
    assert committed == render_export(), "run scripts/awx-export and commit docs/awx/mcpops-runbooks.json"


def test_a_job_template_and_survey_per_runbook():
    export = json.loads((REPO / EXPORT_PATH).read_text())
    templates = {t["playbook"]: t for t in export["job_templates"]}
    for runbook in discover():
        template = templates.pop(f"playbooks/{runbook.path.name}")
        spec = {q["variable"]: q for q in template["related"].get("survey_spec", {"spec": []})["spec"]}
        for name, var in runbook.extra_vars.items():
            if var.type in ("list", "dict"):
                assert name not in spec and template["ask_variables_on_launch"] is True
                continue
            question = spec.pop(name)
            assert question["required"] == var.required
            if var.secret:
                assert question["type"] == "password" and question["default"] == ""
            elif var.type == "int":
                assert question["type"] == "integer"
        assert spec == {}
        assert template["ask_job_type_on_launch"] == runbook.changes  # `check` job type for changing runbooks
        assert template["ask_variables_on_launch"] is True  # a rulebook's run_job_template sends extra vars
        assert template["project"]["name"] == export["projects"][0]["name"]
    assert templates == {}
    inc003 = next(t for t in export["job_templates"] if t["name"] == "mcpops inc-003-restore")
    assert {"variable": "backup_id", "default": "latest_valid"}.items() <= inc003["related"]["survey_spec"]["spec"][0].items()


def used_collections():
    found = set()
    for path in list((REPO / "playbooks").rglob("*.yml")) + list((REPO / "roles").rglob("*.yml")):
        for line in path.read_text().splitlines():
            match = FQCN.match(line)
            if match:
                found.add("%s.%s" % tuple(group for group in match.groups() if group))
            found.update("%s.%s" % pair for pair in FQCN_FILTER.findall(line))
    return found


def test_requirements_name_every_collection_the_playbooks_use():
    required = {c["name"] for c in yaml.safe_load((REPO / "collections/requirements.yml").read_text())["collections"]}
    used = used_collections()
    assert {"ansible.builtin", "mcpops.runbooks", "community.general"} <= used
    assert used - {"ansible.builtin", "mcpops.runbooks"} <= required


def test_ansible_builder_create_makes_the_build_context(tmp_path):
    context = tmp_path / "context"
    proc = subprocess.run([str(BIN / "ansible-builder"), "create", "-f", "execution-environment.yml", "-c", str(context),
                           "--output-filename", "Containerfile"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    containerfile = (context / "Containerfile").read_text()
    assert "ansible-galaxy collection install" in containerfile or "ansible-galaxy" in containerfile
    assert (context / "_build" / "requirements.yml").read_text() == (REPO / "collections/requirements.yml").read_text()
    python_reqs = (context / "_build" / "requirements.txt").read_text()
    assert "cryptography" in python_reqs and "psycopg" in python_reqs
    assert "ansible-core>=2.19,<2.20" in containerfile
    # a supported base (fedora-minimal:40 is past its end of life) with the package manager it has
    assert 'EE_BASE_IMAGE="quay.io/centos/centos:stream10"' in containerfile and 'PKGMGR="/usr/bin/dnf"' in containerfile


PLAYBOOK = """---
- name: A runbook-shaped playbook
  hosts: localhost
  gather_facts: false
  vars:
    mcpops_runbook:
      id: awx-probe
      incident: INC-000
      title: "AWX probe"
      purpose: "Shows where the report goes under AWX"
      changes: false
      extra_vars: {}
      manual_steps: ["Read the report in the job output"]
  tasks:
    - name: "Step 1: Say hello"
      ansible.builtin.debug:
        msg: hello
    - name: "Step 2: Summary"
      mcpops.runbooks.runbook_summary:
        msg: ["all good", "nothing changed"]
"""


def test_under_awx_the_report_is_in_the_job_output_and_artifacts(tmp_path):
    """AWX runs ansible-runner with JOB_ID set and the artifacts dir as AWX_ISOLATED_DATA_DIR."""
    import ansible_runner

    project = tmp_path / "project"
    project.mkdir()
    (project / "awx-probe.yml").write_text(PLAYBOOK)
    private = tmp_path / "private"
    private.mkdir()
    result = ansible_runner.run(
        private_data_dir=str(private), project_dir=str(project), playbook="awx-probe.yml", quiet=True,
        inventory="localhost ansible_connection=local ansible_python_interpreter=%s" % sys.executable,
        envvars={"JOB_ID": "42", "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "PATH": "%s:/usr/bin:/bin" % BIN},
    )
    assert result.rc == 0, result.stdout.read()
    [report_md] = list(private.glob("artifacts/*/report.md"))
    report = json.loads((report_md.parent / "report.json").read_text())
    assert report["runbook"]["id"] == "awx-probe" and report["status"] == "ok"
    stdout = (report_md.parent / "stdout").read_text()
    assert "## Post-incident review (draft)" in stdout
    assert "- [ ] Read the report in the job output" in stdout
    # AWX builds the job output from these events: the report is in one of them.
    events = [json.loads(p.read_text()) for p in report_md.parent.glob("job_events/*.json")]
    assert any("Post-incident review" in (e.get("stdout") or "") for e in events)
    # The summary step publishes its lines as a custom stat: AWX keeps them as the job's artifacts, which the
    # collection's notification templates send (job.artifacts.mcpops_summary).
    [stats] = [e for e in events if e.get("event") == "playbook_on_stats"]
    assert stats["event_data"]["artifact_data"] == {"mcpops_summary": ["localhost: all good", "localhost: nothing changed"]}
    assert "localhost: all good\nlocalhost: nothing changed" in stdout  # printed at any verbosity, one line a line
    assert report["summary"] == [{"host": "localhost", "step": "Step 2: Summary", "lines": ["all good", "nothing changed"]}]
