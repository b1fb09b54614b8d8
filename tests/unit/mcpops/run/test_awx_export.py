"""The AWX export's shape, from made-up runbooks: natural keys as awxkit's page classes define them, a workflow
(check, approve, run) per changing runbook only, variables accepted on launch, notifications attached."""

from pathlib import Path

from awxkit.api.pages.execution_environments import ExecutionEnvironment
from awxkit.api.pages.job_templates import JobTemplate
from awxkit.api.pages.notification_templates import NotificationTemplate
from awxkit.api.pages.organizations import Organization
from awxkit.api.pages.projects import Project
from awxkit.api.pages.workflow_job_template_nodes import WorkflowJobTemplateNode
from awxkit.api.pages.workflow_job_templates import WorkflowJobTemplate

from mcpops.run.awx_export import build_export
from mcpops.run.runbooks import ExtraVar, Runbook

AWXKIT_NATURAL_KEYS = {kind: set(page.NATURAL_KEY) for kind, page in {
    "organization": Organization, "execution_environment": ExecutionEnvironment, "project": Project,
    "job_template": JobTemplate, "workflow_job_template": WorkflowJobTemplate,
    "workflow_job_template_node": WorkflowJobTemplateNode, "notification_template": NotificationTemplate}.items()}


def runbook(runbook_id, changes, **extra_vars):
    return Runbook(id=runbook_id, path=Path(f"/x/playbooks/{runbook_id}.yml"), incident="INC-000", title=runbook_id,
                   purpose="a purpose", changes=changes,
                   extra_vars={name: ExtraVar(name=name, description=name, **spec) for name, spec in extra_vars.items()})


EXPORT = build_export([
    runbook("restore", True, backup_id={"default": "latest_valid"}, scopes={"type": "list"}),
    runbook("look", False, window={"default": "15m"}),
    runbook("no-vars", True),
])


def references(value):
    """Every natural key in the export: a mapping with a `type` inside a reference or `natural_key`."""
    if isinstance(value, dict):
        if isinstance(value.get("type"), str) and ("name" in value or "identifier" in value):
            yield value
        for item in value.values():
            yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def test_every_reference_has_the_fields_of_awxkits_natural_key_for_its_type():
    keys = [key for key in references(EXPORT) if key.get("type") in AWXKIT_NATURAL_KEYS]
    assert {key["type"] for key in keys} == set(AWXKIT_NATURAL_KEYS)
    for key in keys:
        assert set(key) - {"type"} == AWXKIT_NATURAL_KEYS[key["type"]], key
    assert EXPORT["job_templates"][0]["execution_environment"] == {"name": "mcpops-runbooks-ee",
                                                                   "type": "execution_environment"}


def test_a_workflow_checks_then_waits_for_approval_then_runs_each_changing_runbook():
    workflows = {w["name"]: w for w in EXPORT["workflow_job_templates"]}
    assert set(workflows) == {"mcpops restore: check, approve, run", "mcpops no-vars: check, approve, run"}
    nodes = {n["identifier"]: n for n in workflows["mcpops restore: check, approve, run"]["related"]["workflow_nodes"]}
    assert nodes["check"]["job_type"] == "check" and nodes["run"]["job_type"] == "run"
    assert nodes["check"]["unified_job_template"]["name"] == nodes["run"]["unified_job_template"]["name"] == "mcpops restore"
    assert [k["identifier"] for k in nodes["check"]["related"]["success_nodes"]] == ["approve"]
    assert [k["identifier"] for k in nodes["approve"]["related"]["success_nodes"]] == ["run"]
    assert "unified_job_template" not in nodes["approve"]
    assert nodes["approve"]["related"]["create_approval_template"]["timeout"] > 0
    # The job template must prompt for the job type, or AWX refuses the check node.
    restore = next(t for t in EXPORT["job_templates"] if t["name"] == "mcpops restore")
    assert restore["ask_job_type_on_launch"] is True


def test_every_template_accepts_variables_on_launch_and_has_the_notifications():
    for template in EXPORT["job_templates"] + EXPORT["workflow_job_templates"]:
        assert template["ask_variables_on_launch"] is True, template["name"]
        related = template["related"]
        assert [n["name"] for n in related["notification_templates_error"]] == ["mcpops runbook failed"]
        assert [n["name"] for n in related["notification_templates_success"]] == ["mcpops runbook succeeded"]
    for workflow in EXPORT["workflow_job_templates"]:
        assert [n["name"] for n in workflow["related"]["notification_templates_approvals"]] == ["mcpops approval needed"]


def test_a_template_without_survey_questions_sends_no_survey_spec():
    no_vars = next(t for t in EXPORT["job_templates"] if t["name"] == "mcpops no-vars")
    assert no_vars["survey_enabled"] is False and "survey_spec" not in no_vars["related"]
    restore = next(t for t in EXPORT["job_templates"] if t["name"] == "mcpops restore")
    assert [q["variable"] for q in restore["related"]["survey_spec"]["spec"]] == ["backup_id"]
    assert "give scopes as extra vars on launch" in restore["related"]["survey_spec"]["description"]
