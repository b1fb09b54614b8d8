# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`kubectl set env deployment/<name> NAME=VALUE NAME-` planned from the Deployment object: which of its containers'
variables would change, said without the values of secret ones, and the strategic merge patch that changes them.

Idempotent by construction: a variable already at the wanted value (or already absent, for an unset) is no change,
and no change means no patch, so no rollout. Nothing here asks the API server."""

from __future__ import annotations

import re

MASK = "********"
# Kubernetes' rule for an env var name (a C identifier, plus '-' and '.').
ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*\Z")
# The house's credential variables: the same expression as plugins/plugin_utils/secret_mask.py's _CREDENTIAL_ENV (a
# module cannot import plugin_utils; tests/unit/plugins/module_utils/_service/test_k8s_env.py keeps the two equal).
# secret_mask also counts any *_KEY with a random-looking value; here every *_KEY counts, which hides more, never less.
CREDENTIAL_ENV = re.compile(
    r"^(?:PGPASSWORD|MYSQL_PWD|REDISCLI_AUTH|SSHPASS|AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN|AWS_SECURITY_TOKEN"
    r"|PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|SECRET_?KEY"
    r"|[A-Z0-9_]*_(?:PASSWORD|PASSWD|PASS|PWD|PASSPHRASE|SECRET|TOKEN|AUTH|AUTH_TOKEN|CREDENTIALS?|API_?KEY"
    r"|(?:SECRET|PRIVATE|ACCESS|AUTH|SIGNING|ENCRYPTION|MASTER|SESSION|CLIENT)_KEY))$",
    re.IGNORECASE,
)
ANY_KEY_ENV = re.compile(r"^(?:[A-Z0-9_]*_)?KEY$", re.IGNORECASE)
# A password inside a value, whatever the name: scheme://user:PASSWORD@host (DATABASE_URL).
URL_PASSWORD = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s/@:]*:[^\s@]+@")


def is_secret(name, *values):
    """Whether the variable's values must not be shown: a credential's name, or a URL with a password in a value."""
    if CREDENTIAL_ENV.match(name) or ANY_KEY_ENV.match(name):
        return True
    return any(isinstance(v, str) and URL_PASSWORD.search(v) for v in values)


def normalize(wanted):
    """{name: value} as the API stores it: text (booleans as true/false, as YAML writers mean them), None for unset.
    Raises ValueError naming every bad name or value (nothing is read or changed then)."""
    if not isinstance(wanted, dict) or not wanted:
        raise ValueError("set_env needs a non-empty dict of NAME: value (null to unset)")
    bad, out = [], {}
    for name, value in wanted.items():
        if not isinstance(name, str) or not ENV_NAME.match(name):
            bad.append("%r is not a valid environment variable name" % (name,))
        elif isinstance(value, bool):
            out[name] = "true" if value else "false"
        elif value is None or isinstance(value, str):
            out[name] = value
        elif isinstance(value, (int, float)):
            out[name] = str(value)
        else:
            bad.append("%s: a %s is not an environment value (text, a number, true/false or null)"
                       % (name, type(value).__name__))
    if bad:
        raise ValueError("; ".join(bad))
    return out


def _show(name, value, secret):
    if value is None:
        return "(unset)"
    if secret:
        return "(secret, not shown)"
    return value if value else '""'


def env_plan(deployment, wanted, containers=None):
    """(plan, patch) for setting `wanted` (normalize()d) on the named containers of the deployment (all when empty).

    plan: changed, changes [{container, name, action set|unset, secret, before, after}] (before/after masked when
    secret), unchanged [{container, name, before, after}], lines (one sentence a change), args (kubectl set env's,
    masked), secret_names, error (a container the deployment has not got). patch: the strategic merge patch, or None."""
    template_spec = (((deployment.get("spec") or {}).get("template") or {}).get("spec") or {})
    present = [c.get("name") for c in template_spec.get("containers") or []]
    chosen = list(containers or present)
    plan = {"changed": False, "changes": [], "unchanged": [], "lines": [], "args": [], "secret_names": [],
            "containers": chosen, "error": None}
    missing = [name for name in chosen if name not in present]
    if missing:
        plan["error"] = "deployment/%s has no container %s; its containers: %s" % (
            (deployment.get("metadata") or {}).get("name"), ", ".join(missing), ", ".join(present))
        return plan, None
    patch_containers = []
    for container in template_spec.get("containers") or []:
        if container.get("name") not in chosen:
            continue
        current = {e.get("name"): e for e in container.get("env") or []}
        entries = []
        for name, value in wanted.items():
            entry = current.get(name)
            before = None if entry is None else (None if "valueFrom" in entry else entry.get("value", ""))
            from_ref = entry is not None and "valueFrom" in entry
            secret = is_secret(name, before, value)
            if value is None:
                if entry is None:
                    plan["unchanged"].append({"container": container["name"], "name": name, "before": "(unset)",
                                              "after": "(unset)"})
                    continue
                entries.append({"name": name, "$patch": "delete"})
            else:
                if entry is not None and not from_ref and before == value:
                    shown = _show(name, value, secret)
                    plan["unchanged"].append({"container": container["name"], "name": name, "before": shown,
                                              "after": shown})
                    continue
                # a literal value replaces a valueFrom reference (null deletes it in a strategic merge)
                entries.append(dict({"name": name, "value": value}, **({"valueFrom": None} if from_ref else {})))
            shown_before = ("(from %s)" % ", ".join(sorted(entry["valueFrom"])) if from_ref
                            else _show(name, before, secret))
            plan["changes"].append({"container": container["name"], "name": name,
                                    "action": "unset" if value is None else "set", "secret": secret,
                                    "before": shown_before, "after": _show(name, value, secret)})
            if secret and name not in plan["secret_names"]:
                plan["secret_names"].append(name)
        if entries:
            patch_containers.append({"name": container["name"], "env": entries})
    for change in plan["changes"]:
        plan["lines"].append("%(container)s: %(name)s %(before)s -> %(after)s" % change)
    for name, value in wanted.items():
        masked = MASK if is_secret(name, value) else value
        plan["args"].append("%s-" % name if value is None else "%s=%s" % (name, masked))
    plan["changed"] = bool(patch_containers)
    patch = {"spec": {"template": {"spec": {"containers": patch_containers}}}} if patch_containers else None
    return plan, patch
