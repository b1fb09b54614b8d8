"""The AWX export (`awx import < docs/awx/mcpops-runbooks.json`) generated from the runbooks' metadata.

One job template a runbook, with a survey of its extra vars: secret ones as password fields, ints as
integer fields, choices and booleans as multiple choice. List and dict vars (e.g. INC-006's
`odata_passwords`) cannot be survey answers; those templates prompt for variables on launch instead.
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


def _ref(name, kind, organization=True):
    ref = {"name": name, "type": kind}
    if organization:
        ref = {"organization": ORGANIZATION, **ref}
    return ref


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


def job_template(runbook):
    name = f"mcpops {runbook.id}"
    questions = [q for q in (survey_question(v) for v in runbook.extra_vars.values()) if q]
    unsurveyed = [v.name for v in runbook.extra_vars.values() if survey_question(v) is None]
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
        # A list or dict var (no survey field can hold one) is given as launch-time extra vars.
        "ask_variables_on_launch": bool(unsurveyed),
        "ask_limit_on_launch": True,
        "ask_tags_on_launch": False,
        "ask_skip_tags_on_launch": False,
        # `check` runs the runbook with --check: what it would change, nothing changed.
        "ask_job_type_on_launch": runbook.changes,
        "ask_verbosity_on_launch": False,
        "ask_inventory_on_launch": True,
        "ask_credential_on_launch": True,
        "survey_enabled": bool(questions),
        "become_enabled": False,
        "diff_mode": False,
        "allow_simultaneous": False,
        "job_slice_count": 1,
        "webhook_service": "",
        "inventory": None,
        "project": _ref(PROJECT_NAME, "project"),
        "execution_environment": _ref(EE_NAME, "execution_environment"),
        "natural_key": _ref(name, "job_template"),
        "related": {
            "labels": [],
            "credentials": [],
            "schedules": [],
            "notification_templates_started": [],
            "notification_templates_success": [],
            "notification_templates_error": [],
            "survey_spec": {
                "name": f"{runbook.id} extra vars",
                "description": "From the playbook's mcpops_runbook metadata"
                               + (f"; give {', '.join(unsurveyed)} as extra vars on launch" if unsurveyed else ""),
                "spec": questions,
            },
        },
    }


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
            "natural_key": _ref(EE_NAME, "execution_environment"),
        }],
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
            "default_environment": _ref(EE_NAME, "execution_environment"),
            "credential": None,
            "natural_key": _ref(PROJECT_NAME, "project"),
            "related": {"schedules": [], "notification_templates_error": []},
        }],
        "job_templates": [job_template(r) for r in runbooks],
    }


def render_export(runbooks=None):
    return json.dumps(build_export(runbooks), indent=2) + "\n"
