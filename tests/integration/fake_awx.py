"""A fake AWX API on loopback, for `awx import` (awxkit's own client and import code) with no AWX server.

    with FakeAwx() as awx:
        subprocess.run(["awx", "--conf.host", awx.url, "--conf.token", awx.token, "import"], stdin=...)
        awx.objects("job_templates")

It answers what `ApiV2.import_assets` asks, in AWX's shapes (awx/api/serializers.py, awx/api/views/ of AWX 24):
`/api/` and `/api/v2/`, OPTIONS with each list's POST fields (the type `id` is what awxkit resolves by natural
key), GET lists filtered by field (awxkit's natural-key look-ups), POST and PUT of objects with their `related`
links, the sub-lists an import fills (survey_spec, notification_templates_*, workflow_nodes, success_nodes, ...)
and a node's create_approval_template. What AWX would refuse, it refuses with a 400 as AWX does:
- a name already taken (unique per organization for templates, projects and notification templates; globally
  for organizations and execution environments);
- an `id` field naming no object of its type;
- a survey spec AWX's `_validate_spec_data` rejects (no questions, unknown type, default of the wrong type or
  not among the choices, duplicated variable);
- a workflow node prompting for a field its job template does not ask on launch;
- a notification template missing a webhook parameter, or a message that does not render against AWX's
  notification context stub (JobNotificationMixin.context_stub) with undefined names as errors.
Everything stays in memory in the test process; the server listens on 127.0.0.1 on a port the kernel picks.
"""

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

V2 = "/api/v2/"


def fields(**types):
    return {name: {"type": kind, "required": name in ("name",)} for name, kind in types.items()}


_UJT_NOTIFY = ("notification_templates_started", "notification_templates_success", "notification_templates_error")

# collection -> (type, POST fields, unique together, sub-lists)
COLLECTIONS = {
    "organizations": ("organization", fields(name="string", description="string", max_hosts="integer",
                                             default_environment="id"), ("name",), ()),
    "execution_environments": ("execution_environment", fields(
        name="string", description="string", organization="id", image="string", credential="id", pull="choice"),
        ("name",), ()),
    "projects": ("project", fields(
        name="string", description="string", local_path="string", scm_type="choice", scm_url="string",
        scm_branch="string", scm_refspec="string", scm_clean="boolean", scm_track_submodules="boolean",
        scm_delete_on_update="boolean", credential="id", timeout="integer", scm_update_on_launch="boolean",
        scm_update_cache_timeout="integer", allow_override="boolean", default_environment="id",
        signature_validation_credential="id", organization="id"), ("organization", "name"), _UJT_NOTIFY + ("schedules",)),
    "job_templates": ("job_template", fields(
        name="string", description="string", job_type="choice", inventory="id", project="id", playbook="string",
        scm_branch="string", forks="integer", limit="string", verbosity="choice", extra_vars="string",
        job_tags="string", force_handlers="boolean", skip_tags="string", start_at_task="string", timeout="integer",
        use_fact_cache="boolean", execution_environment="id", host_config_key="string",
        ask_scm_branch_on_launch="boolean", ask_diff_mode_on_launch="boolean", ask_variables_on_launch="boolean",
        ask_limit_on_launch="boolean", ask_tags_on_launch="boolean", ask_skip_tags_on_launch="boolean",
        ask_job_type_on_launch="boolean", ask_verbosity_on_launch="boolean", ask_inventory_on_launch="boolean",
        ask_credential_on_launch="boolean", ask_execution_environment_on_launch="boolean",
        ask_labels_on_launch="boolean", ask_forks_on_launch="boolean", ask_job_slice_count_on_launch="boolean",
        ask_timeout_on_launch="boolean", ask_instance_groups_on_launch="boolean", survey_enabled="boolean",
        become_enabled="boolean", diff_mode="boolean", allow_simultaneous="boolean", job_slice_count="integer",
        webhook_service="choice", webhook_credential="id", prevent_instance_group_fallback="boolean"),
        ("organization", "name"), _UJT_NOTIFY + ("schedules", "labels", "credentials", "survey_spec")),
    "workflow_job_templates": ("workflow_job_template", fields(
        name="string", description="string", extra_vars="string", organization="id", survey_enabled="boolean",
        allow_simultaneous="boolean", ask_variables_on_launch="boolean", inventory="id", limit="string",
        scm_branch="string", ask_inventory_on_launch="boolean", ask_scm_branch_on_launch="boolean",
        ask_limit_on_launch="boolean", webhook_service="choice", webhook_credential="id",
        ask_labels_on_launch="boolean", ask_skip_tags_on_launch="boolean", ask_tags_on_launch="boolean",
        skip_tags="string", job_tags="string"),
        ("organization", "name"),
        _UJT_NOTIFY + ("notification_templates_approvals", "schedules", "labels", "survey_spec", "workflow_nodes")),
    "notification_templates": ("notification_template", fields(
        name="string", description="string", organization="id", notification_type="choice",
        notification_configuration="json", messages="json"), ("organization", "name"), ()),
    "workflow_job_template_nodes": ("workflow_job_template_node", fields(
        extra_data="json", inventory="id", scm_branch="string", job_type="choice", job_tags="string",
        skip_tags="string", limit="string", diff_mode="boolean", verbosity="choice", execution_environment="id",
        forks="integer", job_slice_count="integer", timeout="integer", workflow_job_template="id",
        unified_job_template="id", all_parents_must_converge="boolean", identifier="string"),
        ("workflow_job_template", "identifier"),
        ("success_nodes", "failure_nodes", "always_nodes", "credentials", "labels", "instance_groups",
         "create_approval_template")),
    "workflow_approval_templates": ("workflow_approval_template", fields(
        name="string", description="string", timeout="integer"), (), ()),
}
# Exportable lists this fake keeps empty: awxkit asks for their POST fields and imports nothing into them.
EMPTY = {"users": "user", "teams": "team", "credential_types": "credential_type", "credentials": "credential",
         "inventory": "inventory", "inventory_sources": "inventory_source", "applications": "o_auth2_application",
         "schedules": "schedule", "system_job_templates": "system_job_template"}
# Which collection an `id` field points into (unified_job_template: any template; checked by the node's rules).
ID_TARGETS = {"organization": "organizations", "execution_environment": "execution_environments",
              "default_environment": "execution_environments", "project": "projects",
              "workflow_job_template": "workflow_job_templates", "inventory": None, "credential": None,
              "webhook_credential": None, "signature_validation_credential": None}
# A workflow node's prompt -> the job template's ask_*_on_launch (AWX's get_ask_mapping).
NODE_PROMPTS = {"job_type": "ask_job_type_on_launch", "diff_mode": "ask_diff_mode_on_launch",
                "limit": "ask_limit_on_launch", "inventory": "ask_inventory_on_launch",
                "scm_branch": "ask_scm_branch_on_launch", "job_tags": "ask_tags_on_launch",
                "skip_tags": "ask_skip_tags_on_launch", "verbosity": "ask_verbosity_on_launch",
                "execution_environment": "ask_execution_environment_on_launch", "forks": "ask_forks_on_launch",
                "timeout": "ask_timeout_on_launch", "job_slice_count": "ask_job_slice_count_on_launch"}
SURVEY_TYPES = {"text": str, "textarea": str, "password": str, "multiplechoice": str, "multiselect": str,
                "integer": int, "float": (float, int)}
WEBHOOK_PARAMETERS = {"url": str, "http_method": str, "disable_ssl_verification": bool, "username": str,
                      "password": str, "headers": dict}
WEBHOOK_REQUIRED = ("url", "headers")  # the webhook backend's init_parameters without a default

# AWX's JobNotificationMixin.context_stub() (awx/main/models/notifications.py), the context AWX renders a
# notification message against when the template is saved; the fields the export's messages may use.
CONTEXT_STUB = {
    "job": {
        "allow_simultaneous": False, "artifacts": {}, "controller_node": "foo_controller",
        "created": "2018-11-13T06:04:00Z", "custom_virtualenv": "my_venv", "description": "Sample job description",
        "diff_mode": False, "elapsed": 0.403018, "execution_node": "awx", "failed": False, "finished": False,
        "force_handlers": False, "forks": 0,
        "host_status_counts": {"skipped": 1, "ok": 5, "changed": 3, "failures": 0, "dark": 0, "failed": False,
                               "processed": 0, "rescued": 0},
        "id": 42, "job_explanation": "Sample job explanation", "job_slice_count": 1, "job_slice_number": 0,
        "job_tags": "", "job_type": "run", "launch_type": "workflow", "limit": "bar_limit",
        "modified": "2018-12-13T06:04:00Z", "name": "Stub JobTemplate", "playbook": "ping.yml", "scm_branch": "",
        "scm_revision": "", "skip_tags": "", "start_at_task": "", "started": "2019-07-29T17:38:14.137461Z",
        "status": "running",
        "summary_fields": {
            "created_by": {"first_name": "", "id": 1, "last_name": "", "username": "admin"},
            "instance_group": {"id": 1, "name": "tower"},
            "inventory": {"description": "Sample inventory description", "has_active_failures": False,
                          "has_inventory_sources": False, "hosts_with_active_failures": 0, "id": 17,
                          "inventory_sources_with_failures": 0, "kind": "", "name": "Stub Inventory",
                          "organization_id": 121, "total_groups": 0, "total_hosts": 1, "total_inventory_sources": 0},
            "job_template": {"description": "Sample job template description", "id": 39, "name": "Stub JobTemplate"},
            "labels": {"count": 0, "results": []},
            "project": {"description": "Sample project description", "id": 38, "name": "Stub project",
                        "scm_type": "git", "status": "successful"},
            "schedule": {"description": "Sample schedule", "id": 42, "name": "Stub schedule",
                         "next_run": "2038-01-01T00:00:00Z"},
            "unified_job_template": {"description": "Sample unified job template description", "id": 39,
                                     "name": "Stub Job Template", "unified_job_type": "job"},
        },
        "timeout": 0, "type": "job", "url": "/api/v2/jobs/13/", "use_fact_cache": False, "verbosity": 0,
    },
    "job_friendly_name": "Job",
    "url": "https://platformhost/#/jobs/playbook/1010",
    "approval_status": "approved",
    "approval_node_name": "Approve Me",
    "workflow_url": "https://platformhost/#/jobs/workflow/1010",
    "job_metadata": "{}",
}


class Refused(Exception):
    """A 400 as AWX answers it: {field: [message]}."""

    def __init__(self, errors):
        super().__init__(json.dumps(errors))
        self.errors = errors


def render_message(template):
    """A notification message rendered as AWX validates it on save; Refused naming the problem."""
    try:
        return ImmutableSandboxedEnvironment(undefined=StrictUndefined).from_string(template).render(CONTEXT_STUB)
    except Exception as exc:  # AWX reports any rendering error as a validation error
        raise Refused({"messages": [f"Unable to render message {template!r}: {exc}"]}) from None


def check_messages(notification_type, messages):
    if messages is None:
        return
    for event, by_type in messages.items():
        if event not in ("started", "success", "error", "workflow_approval"):
            raise Refused({"messages": [f"Event '{event}' invalid"]})
        groups = by_type.values() if event == "workflow_approval" else [by_type]
        for group in groups:
            for kind, text in (group or {}).items():
                if kind not in ("message", "body"):
                    raise Refused({"messages": [f"Message type '{kind}' invalid"]})
                if kind == "message" and "\n" in text:
                    raise Refused({"messages": ["Messages cannot contain newlines"]})
                rendered = render_message(text)
                if kind == "body" and notification_type == "webhook":
                    # AWX's webhook backend json.loads the body and sends {} when it is not a JSON object.
                    try:
                        if not isinstance(json.loads(rendered), dict):
                            raise ValueError("not an object")
                    except ValueError as exc:
                        raise Refused({"messages": [f"webhook body for {event} is not a JSON object: {exc}"]}) from None


def check_survey(spec):
    """AWX's _validate_spec_data, the parts an export can get wrong."""
    if not isinstance(spec.get("name"), str) or not isinstance(spec.get("description"), str):
        raise Refused({"error": "name and description are strings"})
    if not isinstance(spec.get("spec"), list) or not spec["spec"]:
        raise Refused({"error": "'spec' doesn't contain any items."})
    seen = set()
    for idx, item in enumerate(spec["spec"]):
        for key, kind in (("type", str), ("question_name", str), ("variable", str), ("required", bool)):
            if not isinstance(item.get(key), kind):
                raise Refused({"error": f"'{key}' missing or of the wrong type in survey question {idx}"})
        if item["variable"] in seen:
            raise Refused({"error": f"'variable' '{item['variable']}' duplicated in survey question {idx}"})
        seen.add(item["variable"])
        if item["type"] not in SURVEY_TYPES:
            raise Refused({"error": f"'{item['type']}' in survey question {idx} is not an allowed type"})
        default = item.get("default", "")
        if default != "" and not isinstance(default, SURVEY_TYPES[item["type"]]):
            raise Refused({"error": f"Default value {default!r} in survey question {idx} has the wrong type"})
        for key in ("min", "max"):
            if item.get(key) is not None and not isinstance(item[key], int):
                raise Refused({"error": f"The {key} limit in survey question {idx} expected to be integer."})
        if item["type"] in ("multiplechoice", "multiselect"):
            if not item.get("choices"):
                raise Refused({"error": f"Survey question {idx} must specify choices."})
            defaults = [d for d in str(default).splitlines() if d.strip()]
            if item["type"] == "multiplechoice" and len(defaults) > 1:
                raise Refused({"error": "Multiple Choice (Single Select) can only have one default value."})
            if any(d not in item["choices"] for d in defaults):
                raise Refused({"error": "Default choice must be answered from the choices listed."})


class FakeAwx:
    token = "fake-awx-token"

    def __init__(self):
        self._lock = threading.Lock()
        self._next_id = 1
        self.store = {name: {} for name in COLLECTIONS}
        self.links = {}  # (collection, id, sub-list) -> [ids]
        self.surveys = {}  # (collection, id) -> spec
        self.requests = []  # (method, path) in order
        self._create("organizations", {"name": "Default", "description": ""})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self._server.server_address[1]

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    # ------------------------------------------------------------------ what the test reads

    def objects(self, collection):
        with self._lock:
            return [self._render(collection, obj_id) for obj_id in self.store[collection]]

    def by_name(self, collection, name):
        matches = [o for o in self.objects(collection) if o.get("name") == name]
        assert len(matches) == 1, f"{len(matches)} {collection} named {name!r}"
        return matches[0]

    def linked(self, collection, obj_id, sub):
        with self._lock:
            return list(self.links.get((collection, obj_id, sub), []))

    def survey(self, collection, obj_id):
        with self._lock:
            return self.surveys.get((collection, obj_id))

    def snapshot(self):
        """Everything an import leaves, an approval node's template by its content: awxkit creates it anew on
        each import (the create_approval_template endpoint always creates one; see docs/awx.md)."""
        with self._lock:
            approvals = self.store["workflow_approval_templates"]
            objects = {c: {i: dict(o) for i, o in items.items()} for c, items in self.store.items()
                       if c != "workflow_approval_templates"}
            for node in objects["workflow_job_template_nodes"].values():
                if node.get("unified_job_template") in approvals:
                    node["unified_job_template"] = dict(approvals[node["unified_job_template"]])
            return {"objects": objects, "links": {k: sorted(v) for k, v in self.links.items()},
                    "surveys": dict(self.surveys)}

    def store_of(self, obj_id):
        return next((c for c, items in self.store.items() if obj_id in items), None)

    # ------------------------------------------------------------------ the model

    def _create(self, collection, data):
        obj_id = self._next_id
        self._next_id += 1
        self.store[collection][obj_id] = dict(data)
        return obj_id

    def _org_of(self, collection, obj):
        if collection == "job_templates":  # read-only in AWX: the project's organization
            project = self.store["projects"].get(obj.get("project"))
            return project.get("organization") if project else None
        return obj.get("organization")

    def _url(self, collection, obj_id):
        return f"{V2}{collection}/{obj_id}/"

    def _render(self, collection, obj_id):
        obj = self.store[collection][obj_id]
        kind, _post, _unique, subs = COLLECTIONS[collection]
        out = dict(obj, id=obj_id, type=kind, url=self._url(collection, obj_id), summary_fields={})
        related = {sub: self._url(collection, obj_id) + sub + "/" for sub in subs}
        org = self._org_of(collection, obj)
        if collection == "job_templates":
            out["organization"] = org
        if org:
            related["organization"] = self._url("organizations", org)
        for key, target in (("project", "projects"), ("execution_environment", "execution_environments"),
                            ("default_environment", "execution_environments"),
                            ("workflow_job_template", "workflow_job_templates")):
            if obj.get(key):
                related[key] = self._url(target, obj[key])
        if obj.get("unified_job_template"):
            related["unified_job_template"] = self._url(self.store_of(obj["unified_job_template"]),
                                                        obj["unified_job_template"])
        if collection == "projects":
            out.update(status="successful", scm_revision="0" * 40)
        out["related"] = related
        return out

    def _check(self, collection, data, obj_id=None):
        kind, post, unique, _subs = COLLECTIONS[collection]
        merged = dict(self.store[collection].get(obj_id, {}), **data)
        for key, value in data.items():
            if post.get(key, {}).get("type") == "id" and value is not None:
                target = ID_TARGETS.get(key, "any")
                if key == "unified_job_template":
                    target = self.store_of(value)
                if target is None or not isinstance(value, int) or value not in self.store.get(target, {}):
                    raise Refused({key: [f'Invalid pk "{value}" - object does not exist.']})
        if "name" in post and collection != "workflow_approval_templates" and not merged.get("name"):
            raise Refused({"name": ["This field is required."]})
        if collection == "job_templates":
            for key in ("project", "playbook"):
                if not merged.get(key):
                    raise Refused({key: ["This field is required."]})
        if collection == "notification_templates":
            config = merged.get("notification_configuration") or {}
            if merged.get("notification_type") == "webhook":
                missing = [p for p in WEBHOOK_REQUIRED if p not in config]
                wrong = [p for p, t in WEBHOOK_PARAMETERS.items() if p in config and not isinstance(config[p], t)]
                unknown = set(config) - set(WEBHOOK_PARAMETERS)
                if missing or wrong or unknown:
                    raise Refused({"notification_configuration": [f"missing {missing}, wrong type {wrong}, "
                                                                  f"unknown {sorted(unknown)}"]})
            check_messages(merged.get("notification_type"), merged.get("messages"))
        if collection == "workflow_job_template_nodes":
            template = self.store["job_templates"].get(merged.get("unified_job_template"))
            for prompt, ask in NODE_PROMPTS.items():
                if merged.get(prompt) not in (None, "") and template is not None and not template.get(ask):
                    raise Refused({prompt: ["Field is not configured to prompt on launch."]})
        if unique:
            probe = {k: (self._org_of(collection, merged) if k == "organization" else merged.get(k)) for k in unique}
            for other_id, other in self.store[collection].items():
                if other_id != obj_id and all(
                        (self._org_of(collection, other) if k == "organization" else other.get(k)) == v
                        for k, v in probe.items()):
                    raise Refused({"__all__": [f"{kind} with this {' and '.join(unique)} already exists."]})
        return merged

    def _filtered(self, collection, query):
        out = []
        for obj_id, obj in self.store[collection].items():
            rendered = self._render(collection, obj_id)
            if all(str(rendered.get(k)) == v[0] for k, v in query.items() if k not in ("page", "page_size")):
                out.append(rendered)
        return out

    # ------------------------------------------------------------------ HTTP

    def handle(self, method, path, query, body):
        """(status, json or None) for one request; all of the model behind one lock."""
        with self._lock:
            self.requests.append((method, path))
            try:
                return self._route(method, path, query, body)
            except Refused as exc:
                return 400, exc.errors

    def _route(self, method, path, query, body):
        if path == "/api/":
            return 200, {"available_versions": {"v2": V2}, "current_version": V2}
        if path == V2:
            root = {c: f"{V2}{c}/" for c in COLLECTIONS}
            root.update({n: f"{V2}{'inventories' if n == 'inventory' else n}/" for n in EMPTY})
            return 200, root
        match = re.fullmatch(r"/api/v2/(\w+)/(?:(\d+)/(?:(\w+)/)?)?", path)
        if not match:
            return 404, {"detail": "Not found."}
        collection, obj_id, sub = match.group(1), match.group(2), match.group(3)
        collection = "inventory" if collection == "inventories" else collection
        if collection in EMPTY:
            if method == "OPTIONS":
                return 200, {"actions": {"POST": {"name": {"type": "string"}}}}
            return 200, page([])
        if collection not in COLLECTIONS:
            return 404, {"detail": "Not found."}
        if obj_id is None:
            return self._list(method, collection, query, body)
        obj_id = int(obj_id)
        if obj_id not in self.store[collection]:
            return 404, {"detail": "Not found."}
        if sub is None:
            return self._detail(method, collection, obj_id, body)
        return self._sub(method, collection, obj_id, sub, body)

    def _list(self, method, collection, query, body):
        if method == "OPTIONS":
            return 200, {"actions": {"POST": COLLECTIONS[collection][1]}}
        if method == "GET":
            return 200, page(self._filtered(collection, query))
        if method == "POST":
            if collection in ("workflow_job_template_nodes", "workflow_approval_templates"):
                return 405, {"detail": "create these through a workflow"}
            data = self._accepted(collection, body)
            self._check(collection, data)
            return 201, self._render(collection, self._create(collection, data))
        return 405, {"detail": f'Method "{method}" not allowed.'}

    def _detail(self, method, collection, obj_id, body):
        if method == "GET":
            return 200, self._render(collection, obj_id)
        if method in ("PUT", "PATCH"):
            data = self._accepted(collection, body)
            if collection == "workflow_job_template_nodes":
                data.pop("workflow_job_template", None)  # a node never moves to another workflow
            merged = self._check(collection, data, obj_id)
            self.store[collection][obj_id] = merged
            return 200, self._render(collection, obj_id)
        return 405, {"detail": f'Method "{method}" not allowed.'}

    def _accepted(self, collection, body):
        post = COLLECTIONS[collection][1]
        return {k: v for k, v in (body or {}).items() if k in post}

    def _sub(self, method, collection, obj_id, sub, body):
        subs = COLLECTIONS[collection][3]
        if sub not in subs:
            return 404, {"detail": "Not found."}
        if sub == "survey_spec":
            if method == "GET":
                return 200, self.surveys.get((collection, obj_id), {})
            if method == "POST":
                check_survey(body)
                self.surveys[(collection, obj_id)] = body
                return 200, None
        elif sub == "workflow_nodes":
            return self._workflow_nodes(method, obj_id, body)
        elif sub == "create_approval_template":
            if method == "OPTIONS":
                return 200, {"actions": {"POST": COLLECTIONS["workflow_approval_templates"][1]}}
            if method == "POST":
                data = self._accepted("workflow_approval_templates", body)
                if not data.get("name"):
                    raise Refused({"name": ["This field is required."]})
                # AWX's WorkflowJobTemplateNode.create_approval_template: always a new one, the node points to it.
                approval_id = self._create("workflow_approval_templates", data)
                self.store["workflow_job_template_nodes"][obj_id]["unified_job_template"] = approval_id
                return 201, self._render("workflow_approval_templates", approval_id)
        else:
            target = "workflow_job_template_nodes" if sub.endswith("_nodes") else \
                "notification_templates" if sub.startswith("notification_templates") else None
            key = (collection, obj_id, sub)
            if method == "GET":
                ids = self.links.get(key, [])
                return 200, page([self._render(target, i) for i in ids] if target else [])
            if method == "OPTIONS":
                return 200, {"actions": {"POST": {"id": {"type": "integer"}}}}
            if method == "POST" and target:
                linked = (body or {}).get("id")
                if linked not in self.store[target]:
                    raise Refused({"msg": f"no {target} with id {linked}"})
                if target == "workflow_job_template_nodes":
                    here = self.store[collection][obj_id]["workflow_job_template"]
                    if self.store[target][linked]["workflow_job_template"] != here or linked == obj_id:
                        raise Refused({"Error": "Relationship not allowed."})
                if linked not in self.links.setdefault(key, []):
                    self.links[key].append(linked)
                return 204, None
        return 405, {"detail": f'Method "{method}" not allowed.'}

    def _workflow_nodes(self, method, workflow_id, body):
        if method == "OPTIONS":
            return 200, {"actions": {"POST": COLLECTIONS["workflow_job_template_nodes"][1]}}
        if method == "GET":
            nodes = [i for i, n in self.store["workflow_job_template_nodes"].items()
                     if n["workflow_job_template"] == workflow_id]
            return 200, page([self._render("workflow_job_template_nodes", i) for i in nodes])
        if method == "POST":
            data = dict(self._accepted("workflow_job_template_nodes", body), workflow_job_template=workflow_id)
            self._check("workflow_job_template_nodes", data)
            return 201, self._render("workflow_job_template_nodes", self._create("workflow_job_template_nodes", data))
        return 405, {"detail": f'Method "{method}" not allowed.'}

    def _handler(self):
        awx = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self):
                split = urlsplit(self.path)
                public = self.command == "GET" and split.path in ("/api/", V2)  # as AWX's API roots
                if not public and self.headers.get("Authorization") != f"Bearer {awx.token}":
                    return self._answer(401, {"detail": "Authentication credentials were not provided."})
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                status, payload = awx.handle(self.command, split.path, parse_qs(split.query), body)
                self._answer(status, payload)

            def _answer(self, status, payload):
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Allow", "GET, POST, PUT, PATCH, OPTIONS")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_OPTIONS = _serve

            def log_message(self, *args):
                pass

        return Handler


def page(results):
    return {"count": len(results), "next": None, "previous": None, "results": results}
