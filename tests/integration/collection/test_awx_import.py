"""The AWX export imported the way docs/awx.md says, `awx import < docs/awx/mcpops-runbooks.json`: awxkit's own CLI
and import code (ApiV2.import_assets) against a fake AWX API on loopback (tests/integration/fake_awx.py), twice.
Every reference resolves (the execution environment, the project, the job templates in the workflows, the
notification templates), the workflows run check, approval, run, and the second import changes nothing."""

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

from jinja2 import ChainableUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from fake_awx import CONTEXT_STUB, FakeAwx, check_messages
from mcpops.run.awx_export import (APPROVAL_NOTIFICATION, EE_NAME, EXPORT_PATH, FAILED_NOTIFICATION,
                                   SUCCEEDED_NOTIFICATION)

REPO = Path(__file__).resolve().parents[3]
AWX = Path(sys.executable).parent / "awx"


def awx_import(awx, export_text):
    """`awx import` of export_text into the fake AWX: (exit code, stderr)."""
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "NO_PROXY": "127.0.0.1"}
    proc = subprocess.run([str(AWX), "--conf.host", awx.url, "--conf.token", awx.token, "import"],
                          input=export_text, capture_output=True, text=True, env=env, timeout=120)
    return proc.returncode, proc.stdout + proc.stderr


def test_the_export_imports_with_every_reference_resolved_and_twice_changes_nothing():
    export_text = (REPO / EXPORT_PATH).read_text()
    export = json.loads(export_text)
    with FakeAwx() as awx:
        rc, output = awx_import(awx, export_text)
        assert rc == 0, output

        [ee] = awx.objects("execution_environments")
        [project] = awx.objects("projects")
        assert ee["name"] == EE_NAME and project["default_environment"] == ee["id"]
        notification = {n["name"]: n["id"] for n in awx.objects("notification_templates")}
        assert set(notification) == {FAILED_NOTIFICATION, SUCCEEDED_NOTIFICATION, APPROVAL_NOTIFICATION}
        templates = {t["name"]: t for t in awx.objects("job_templates")}
        assert set(templates) == {t["name"] for t in export["job_templates"]}
        for template in templates.values():
            assert template["execution_environment"] == ee["id"], template["name"]
            assert template["project"] == project["id"] and template["ask_variables_on_launch"] is True
            for event, name in (("error", FAILED_NOTIFICATION), ("success", SUCCEEDED_NOTIFICATION)):
                assert awx.linked("job_templates", template["id"], f"notification_templates_{event}") == [notification[name]]
            if template["survey_enabled"]:
                assert awx.survey("job_templates", template["id"])["spec"]

        workflows = awx.objects("workflow_job_templates")
        assert {w["name"] for w in workflows} == {w["name"] for w in export["workflow_job_templates"]}
        approval_templates = {a["id"]: a for a in awx.objects("workflow_approval_templates")}
        for workflow in workflows:
            nodes = {n["identifier"]: n for n in awx.objects("workflow_job_template_nodes")
                     if n["workflow_job_template"] == workflow["id"]}
            assert set(nodes) == {"check", "approve", "run"}
            check, approve, run = nodes["check"], nodes["approve"], nodes["run"]
            template = templates[workflow["name"].split(":")[0]]
            assert check["unified_job_template"] == run["unified_job_template"] == template["id"]
            assert (check["job_type"], run["job_type"]) == ("check", "run")
            assert approval_templates[approve["unified_job_template"]]["timeout"] > 0
            assert awx.linked("workflow_job_template_nodes", check["id"], "success_nodes") == [approve["id"]]
            assert awx.linked("workflow_job_template_nodes", approve["id"], "success_nodes") == [run["id"]]
            assert awx.linked("workflow_job_template_nodes", run["id"], "success_nodes") == []
            assert awx.linked("workflow_job_templates", workflow["id"], "notification_templates_approvals") == [
                notification[APPROVAL_NOTIFICATION]]
        # Read-only runbooks (health-check, triage) get no workflow: nothing to approve.
        assert "mcpops health-check" in templates
        assert not any(w["name"].startswith("mcpops health-check") for w in workflows)

        first = awx.snapshot()
        rc, output = awx_import(awx, export_text)
        assert rc == 0, output
        assert awx.snapshot() == first


def minimal_export():
    """The execution environment, the notification templates, the project and one job template of the export."""
    export = json.loads((REPO / EXPORT_PATH).read_text())
    return {key: export[key] for key in ("execution_environments", "notification_templates", "projects")} | {
        "job_templates": export["job_templates"][:1]}


def test_an_execution_environment_keyed_with_its_organization_imports_as_null_and_fails_again():
    """Issue 22's symptom, reproduced with the same tools: the export's EE reference in the old shape
    (awxkit's ExecutionEnvironment key is the name alone)."""
    export = minimal_export()
    old_key = {"organization": {"name": "Default", "type": "organization"}, "name": EE_NAME,
               "type": "execution_environment"}
    export["execution_environments"][0]["natural_key"] = old_key
    export["projects"][0]["default_environment"] = old_key
    export["job_templates"][0]["execution_environment"] = old_key
    with FakeAwx() as awx:
        rc, output = awx_import(awx, json.dumps(export))
        assert rc == 0, output
        [template] = awx.objects("job_templates")
        assert template["execution_environment"] is None
        rc, output = awx_import(awx, json.dumps(export))
        assert rc != 0 and "already exists" in output


def render_body(body, context, undefined):
    return json.loads(ImmutableSandboxedEnvironment(undefined=undefined).from_string(body).render(context))


def test_the_webhook_bodies_are_json_objects_carrying_the_summary():
    export = json.loads((REPO / EXPORT_PATH).read_text())
    by_name = {n["name"]: n for n in export["notification_templates"]}
    for template in by_name.values():
        check_messages(template["notification_type"], template["messages"])  # as AWX validates on save

    failed_body = by_name[FAILED_NOTIFICATION]["messages"]["error"]["body"]
    job = copy.deepcopy(CONTEXT_STUB)
    job["job"].update(status="failed", name='mcpops "inc-003-restore"', job_type="check",
                      artifacts={"mcpops_summary": ["Restored 20261123T020000Z-a1b2c3", 'a "quoted" line']})
    sent = render_body(failed_body, job, ChainableUndefined)
    assert sent["summary"] == ["Restored 20261123T020000Z-a1b2c3", 'a "quoted" line']
    assert sent["template"] == 'mcpops "inc-003-restore"' and sent["status"] == "failed"
    assert sent["hosts"]["changed"] == 3 and sent["launched_by"] == "admin"

    # A workflow job has no job_type, artifacts nor created_by (a schedule launched it): still a JSON object.
    workflow = copy.deepcopy(CONTEXT_STUB)
    for key in ("job_type", "artifacts", "summary_fields"):
        del workflow["job"][key]
    sent = render_body(failed_body, workflow, ChainableUndefined)
    assert sent["summary"] == [] and sent["job_type"] == "" and sent["launched_by"] == "workflow"
