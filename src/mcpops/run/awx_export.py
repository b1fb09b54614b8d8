"""The AWX export (`awx import < docs/awx/mcpops-runbooks.json`) generated from the runbooks' metadata.

What it holds, for awxkit's `ApiV2.import_assets` (the code behind `awx import`):
- the execution environment and the project;
- one job template a runbook, with a survey of its extra vars: secret ones as password fields, ints as integer
  fields, choices and booleans as multiple choice; list and dict vars (e.g. INC-006's `odata_passwords`) cannot be
  survey answers and are given as launch-time extra vars;
- one workflow job template a changing runbook: the job template in check mode, an approval, then for real;
- webhook notification templates for failure, success and a pending approval, attached to the templates.

Every reference is a natural key in the shape of awxkit's page class for its type (`NATURAL_KEY`): the execution
environment by its name alone, projects, templates and notification templates by organization and name, workflow
nodes by workflow and identifier. awxkit looks each reference up by exactly that key; a key of another shape is never
found, imports as null and makes a re-import create the object again (tests/integration/collection/test_awx_import.py
imports this file twice into a fake AWX with awxkit's own code).

`scripts/awx-export` rewrites the file; a test checks it is in sync with the playbooks.

Survey answers and launch-time extra vars are data there as under `mcpops run` (issue 23): with AWX's default
`ALLOW_JINJA_IN_EXTRA_VARS = template` only a job template's own saved extra vars may hold Jinja, and these
templates save none (`extra_vars: "---"`); AWX passes prompted and survey values as `!unsafe`. Keep that setting
(or set it to `never`) on the AWX that runs them.
"""

import json

from mcpops.run.runbooks import discover

ORGANIZATION = {"name": "Default", "type": "organization"}
PROJECT_NAME = "mcpops-runbooks"
EE_NAME = "mcpops-runbooks-ee"
EXPORT_PATH = "docs/awx/mcpops-runbooks.json"

FAILED_NOTIFICATION = "mcpops runbook failed"
SUCCEEDED_NOTIFICATION = "mcpops runbook succeeded"
APPROVAL_NOTIFICATION = "mcpops approval needed"
WEBHOOK_URL = "https://chat.example.invalid/hooks/mcpops-runbooks"
# The check run's view of the hosts goes stale; an approval left longer than this times out and nothing runs.
APPROVAL_TIMEOUT_SECONDS = 3600


def execution_environment_key(name=EE_NAME):
    """awxkit's ExecutionEnvironment.NATURAL_KEY is ('name',): an EE is found by its name alone."""
    return {"name": name, "type": "execution_environment"}


def organization_key(name, kind):
    """Projects, job and workflow templates, notification templates: NATURAL_KEY ('organization', 'name')."""
    return {"organization": ORGANIZATION, "name": name, "type": kind}


def workflow_node_key(workflow_name, identifier):
    """WorkflowJobTemplateNode.NATURAL_KEY is ('workflow_job_template', 'identifier')."""
    return {"workflow_job_template": organization_key(workflow_name, "workflow_job_template"),
            "identifier": identifier, "type": "workflow_job_template_node"}


def job_template_name(runbook):
    return f"mcpops {runbook.id}"


def workflow_name(runbook):
    return f"mcpops {runbook.id}: check, approve, run"


def survey_question(var):
    """One survey question for an extra var, or None when a survey cannot carry it (list, dict)."""
    if var.type in ("list", "dict"):
        return None
    question = {
        "question_name": var.name,
        "question_description": var.description,
        "required": var.required,
        "variable": var.name,
        "new_question": False,
        "min": 0,
        "max": 1024,
        "default": "" if var.default is None else var.default,
        "choices": "",
        "type": "text",
    }
    if var.secret:
        question.update(type="password", default="")
    elif var.choices or var.type == "bool":
        choices = [str(c) for c in var.choices] or ["true", "false"]
        question.update(type="multiplechoice", choices="\n".join(choices),
                        default="" if var.default is None else str(var.default).lower() if var.type == "bool" else str(var.default))
    elif var.type == "int":
        question.update(type="integer", min=0, max=10 ** 9, default="" if var.default is None else int(var.default))
    elif var.type == "float":
        question.update(type="float", min=0, max=10 ** 9, default="" if var.default is None else float(var.default))
    return question


def unsurveyed_vars(runbook):
    return [v.name for v in runbook.extra_vars.values() if survey_question(v) is None]


def survey_spec(runbook):
    unsurveyed = unsurveyed_vars(runbook)
    return {
        "name": f"{runbook.id} extra vars",
        "description": "From the playbook's mcpops_runbook metadata"
                       + (f"; give {', '.join(unsurveyed)} as extra vars on launch" if unsurveyed else ""),
        "spec": [q for q in (survey_question(v) for v in runbook.extra_vars.values()) if q],
    }


def survey_related(spec):
    """AWX refuses a survey spec without questions ("'spec' doesn't contain any items"): none is sent then."""
    return {"survey_spec": spec} if spec["spec"] else {}


def notifications(events):
    """The `related` lists that attach the notification templates, e.g. {"error": FAILED_NOTIFICATION}."""
    return {f"notification_templates_{event}": [organization_key(name, "notification_template")]
            for event, name in events.items()}


def job_template(runbook):
    name = job_template_name(runbook)
    spec = survey_spec(runbook)
    description = f"{runbook.incident or 'maintenance'}: {runbook.purpose}"
    return {
        "name": name,
        "description": description[:512],
        "job_type": "run",
        "playbook": f"playbooks/{runbook.path.name}",
        "scm_branch": "",
        "forks": 0,
        "limit": "",
        "verbosity": 0,
        "extra_vars": "---\n",
        "job_tags": "",
        "force_handlers": False,
        "skip_tags": "",
        "start_at_task": "",
        "timeout": 0,
        "use_fact_cache": False,
        "host_config_key": "",
        "ask_scm_branch_on_launch": False,
        "ask_diff_mode_on_launch": True,
        # A rulebook's run_job_template always sends extra vars (`ansible_eda`, and its own such as the host to
        # act on), and a list or dict var no survey field can hold is given on launch: AWX refuses a launch with
        # variables the template does not prompt for.
        "ask_variables_on_launch": True,
        "ask_limit_on_launch": True,
        "ask_tags_on_launch": False,
        "ask_skip_tags_on_launch": False,
        # `check` runs the runbook with --check: what it would change, nothing changed (the workflow's first node).
        "ask_job_type_on_launch": runbook.changes,
        "ask_verbosity_on_launch": False,
        "ask_inventory_on_launch": True,
        "ask_credential_on_launch": True,
        "survey_enabled": bool(spec["spec"]),
        "become_enabled": False,
        "diff_mode": False,
        "allow_simultaneous": False,
        "job_slice_count": 1,
        "webhook_service": "",
        "inventory": None,
        "project": organization_key(PROJECT_NAME, "project"),
        "execution_environment": execution_environment_key(),
        "natural_key": organization_key(name, "job_template"),
        "related": {
            "labels": [],
            "credentials": [],
            "schedules": [],
            "notification_templates_started": [],
            **notifications({"success": SUCCEEDED_NOTIFICATION, "error": FAILED_NOTIFICATION}),
            **survey_related(spec),
        },
    }


def workflow_node(runbook, identifier, then=None, job_type=None, approval=None):
    """One node: the runbook's job template with a job type, or an approval (created through the node's
    create_approval_template endpoint, the way awxkit exports one); `then` is the identifier run on success."""
    name = workflow_name(runbook)
    node = {"identifier": identifier, "all_parents_must_converge": False, "extra_data": {}}
    related = {}
    if approval is None:
        node.update(unified_job_template=organization_key(job_template_name(runbook), "job_template"),
                    job_type=job_type, diff_mode=True if job_type == "check" else None)
    else:
        related["create_approval_template"] = approval
    if then:
        related["success_nodes"] = [workflow_node_key(name, then)]
    node["natural_key"] = workflow_node_key(name, identifier)
    node["related"] = related
    return node


def workflow_job_template(runbook):
    """Check, approve, run (awx#13668, awx#1206): what the runbook would change, a person approves, then it runs."""
    name = workflow_name(runbook)
    approval = {
        "name": f"Approve mcpops {runbook.id}",
        "description": "Read the check run's output (what the runbook would change) before approving; "
                       "denied or left for an hour, nothing is changed",
        "timeout": APPROVAL_TIMEOUT_SECONDS,
    }
    return {
        "name": name,
        "description": f"{runbook.incident or 'maintenance'}: {runbook.purpose}"[:512],
        "extra_vars": "---\n",
        "organization": ORGANIZATION,
        "survey_enabled": bool(survey_spec(runbook)["spec"]),
        "allow_simultaneous": False,
        "ask_variables_on_launch": True,
        "inventory": None,
        "limit": None,
        "scm_branch": None,
        "ask_inventory_on_launch": True,
        "ask_scm_branch_on_launch": False,
        "ask_limit_on_launch": True,
        "ask_labels_on_launch": False,
        "ask_tags_on_launch": False,
        "ask_skip_tags_on_launch": False,
        "webhook_service": "",
        "webhook_credential": None,
        "natural_key": organization_key(name, "workflow_job_template"),
        "related": {
            "labels": [],
            "schedules": [],
            "notification_templates_started": [],
            **notifications({"success": SUCCEEDED_NOTIFICATION, "error": FAILED_NOTIFICATION,
                             "approvals": APPROVAL_NOTIFICATION}),
            **survey_related(survey_spec(runbook)),
            "workflow_nodes": [
                workflow_node(runbook, "check", then="approve", job_type="check"),
                workflow_node(runbook, "approve", then="run", approval=approval),
                workflow_node(runbook, "run", job_type="run"),
            ],
        },
    }


# AWX renders these with its sandboxed Jinja2 and the job's notification context (JobNotificationMixin.context:
# `job.*` from its allowed list, `job_friendly_name`, `url`; docs/awx.md lists them). A webhook body must render
# to a JSON object: every value goes through `tojson`, and what a job may lack has a default.
_MESSAGE = "{{ job_friendly_name }} #{{ job.id }} '{{ job.name }}' %s ({{ job.job_type }}): {{ url }}"
_BODY = """{
  "text": {{ ("%s: " ~ job.name ~ " #" ~ job.id ~ " (" ~ job.job_type ~ ") " ~ url) | tojson }},
  "template": {{ job.name | tojson }},
  "job_id": {{ job.id | tojson }},
  "job_type": {{ job.job_type | default('') | tojson }},
  "status": {{ job.status | tojson }},
  "url": {{ url | tojson }},
  "limit": {{ job.limit | default('', true) | tojson }},
  "inventory": {{ job.summary_fields.inventory.name | default('') | tojson }},
  "launched_by": {{ job.summary_fields.created_by.username | default(job.launch_type) | tojson }},
  "finished": {{ job.finished | default('', true) | string | tojson }},
  "elapsed_seconds": {{ job.elapsed | default(0) | tojson }},
  "explanation": {{ job.job_explanation | default('', true) | tojson }},
  "hosts": {{ job.host_status_counts | default({}) | tojson }},
  "summary": {{ job.artifacts.mcpops_summary | default([]) | tojson }}
}"""
_APPROVAL_BODY = """{
  "text": {{ ("%s: " ~ approval_node_name ~ " in " ~ workflow_url) | tojson }},
  "approval": {{ approval_node_name | tojson }},
  "status": {{ approval_status | tojson }},
  "workflow_url": {{ workflow_url | tojson }}
}"""


def webhook_notification(name, description, messages):
    return {
        "name": name,
        "description": description,
        "organization": ORGANIZATION,
        "notification_type": "webhook",
        # Set url (and headers or username/password for the receiver's auth) after the import.
        "notification_configuration": {
            "url": WEBHOOK_URL,
            "http_method": "POST",
            "headers": {"Content-Type": "application/json"},
            "username": "",
            "password": "",
            "disable_ssl_verification": False,
        },
        "messages": messages,
        "natural_key": organization_key(name, "notification_template"),
    }


def notification_templates():
    return [
        webhook_notification(
            FAILED_NOTIFICATION, "A runbook job or workflow failed: its hosts, explanation and the report's summary",
            {"error": {"message": _MESSAGE % "failed", "body": _BODY % "FAILED"}}),
        webhook_notification(
            SUCCEEDED_NOTIFICATION, "A runbook job or workflow succeeded: its hosts and the report's summary",
            {"success": {"message": _MESSAGE % "succeeded", "body": _BODY % "succeeded"}}),
        webhook_notification(
            APPROVAL_NOTIFICATION, "A runbook workflow waits for approval after its check run",
            {"workflow_approval": {
                event: {"message": "{{ approval_node_name }} %s: {{ workflow_url }}" % word,
                        "body": _APPROVAL_BODY % f"Approval {word}"}
                for event, word in (("running", "needed"), ("approved", "given"), ("denied", "denied"),
                                    ("timed_out", "timed out"))}}),
    ]


def build_export(runbooks=None):
    runbooks = discover() if runbooks is None else runbooks
    return {
        "execution_environments": [{
            "name": EE_NAME,
            "description": "execution-environment.yml of this repository (ansible-builder build)",
            "image": "registry.example.invalid/mcpops-runbooks-ee:0.1.0",
            "pull": "missing",
            "organization": ORGANIZATION,
            "credential": None,
            "natural_key": execution_environment_key(),
        }],
        "notification_templates": notification_templates(),
        "projects": [{
            "name": PROJECT_NAME,
            "description": "The mcpops.runbooks collection and its playbooks (this repository)",
            "scm_type": "git",
            "scm_url": "https://example.invalid/mcpops-runbooks.git",
            "scm_branch": "main",
            "scm_clean": True,
            "scm_delete_on_update": False,
            "scm_update_on_launch": True,
            "scm_update_cache_timeout": 300,
            "allow_override": False,
            "timeout": 0,
            "organization": ORGANIZATION,
            "default_environment": execution_environment_key(),
            "credential": None,
            "natural_key": organization_key(PROJECT_NAME, "project"),
            "related": {"schedules": [], **notifications({"error": FAILED_NOTIFICATION})},
        }],
        "job_templates": [job_template(r) for r in runbooks],
        "workflow_job_templates": [workflow_job_template(r) for r in runbooks if r.changes],
    }


def render_export(runbooks=None):
    return json.dumps(build_export(runbooks), indent=2) + "\n"
