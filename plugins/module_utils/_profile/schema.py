# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A service profile's schema: validate() checks every field, refuses unknown keys and fills the defaults.

A profile says how to judge, run and read one service (docs/services.md has every field). It never holds a secret:
an auth or a datastore names the Ansible variable that holds it (secret_var). An error names the profile and the
field's path (``health.checks[0].auth``); a value that may be a secret is never echoed in it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from ansible_collections.mcpops.runbooks.plugins.module_utils._health import conditions

NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}\Z")
KEY_NAME = re.compile(r"^[a-z0-9_]{1,64}\Z")  # auth and check names
DATASTORE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\Z")
HEADER = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}\Z")  # an RFC 9110 token (service_health's limit)
VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
URL_PATH = re.compile(r"^/[^\s\x00-\x1f\x7f]*\Z")
ABS_PATH = re.compile(r"^/[^\x00\n\r]*\Z")
# A unit, program, compose service, deployment, namespace or host goes to a command's argv: one word, never an option.
WORD = re.compile(r"^[^\s\x00-\x1f\x7f-][^\s\x00-\x1f\x7f]*\Z")

KINDS = ("gateway", "mcp-server", "api")
AUTH_STYLES = ("bearer", "header")
METHODS = ("GET", "HEAD", "POST")
PLATFORMS = ("systemd", "supervisor", "docker_compose", "kubernetes")
# The runtime fields a platform needs to find the service.
PLATFORM_FIELDS = {
    "systemd": ("unit",),
    "supervisor": ("program",),
    "docker_compose": ("compose_service",),
    "kubernetes": ("deployment", "namespace"),
}
DATASTORE_KINDS = ("postgresql", "mysql", "redis")
LOG_SOURCES = ("file", "journald", "supervisor", "docker_compose", "kubernetes")
LOG_FORMATS = ("json", "text")
# The JSON keys app_log_scan reads (its option fields; _applog/log_fields.py): a dotted path reaches a nested key.
LOG_FIELDS = ("time", "level", "message", "latency", "event", "client_ip", "error_type", "status", "path")
BACKUP_KINDS = ("gateway_backup", "pg_dump", "mysqldump")
FEATURES = ("index_jobs", "gateway_backups", "audit_log", "mcp_checks", "tokens")
NO_AUTH = "none"
# Added by validate() from the rest, so recomputed whenever given, never trusted.
DERIVED = ("secret_vars", "health_check_names")
# An unknown key that looks like it holds a secret gets a word on secret_var.
_SECRET_LIKE = re.compile(r"value|token|pass|secret|key|cred", re.IGNORECASE)

_REQUIRED = object()

# key -> default: _REQUIRED, a value, or a factory (dict, list) so that no two profiles share a container.
_TOP = {"name": _REQUIRED, "kind": _REQUIRED, "description": _REQUIRED, "seed": None, "api": _REQUIRED, "auth": dict,
        "health": _REQUIRED, "metrics": None, "runtime": _REQUIRED, "datastores": dict, "logs": _REQUIRED,
        "data_dir": None, "backup": None, "features": list}
_API = {"default_url": _REQUIRED}
_AUTH = {"style": _REQUIRED, "header": None, "secret_var": _REQUIRED}
_HEALTH = {"checks": _REQUIRED, "liveness": _REQUIRED, "readiness": _REQUIRED, "deep": _REQUIRED}
_CHECK = {"name": _REQUIRED, "path": _REQUIRED, "method": "GET", "auth": NO_AUTH, "expect_status": 200,
          "max_latency_ms": 2000, "conditions": list}
_METRICS = {"url": None, "path": _REQUIRED, "auth": NO_AUTH}
_RUNTIME = {"platform": _REQUIRED, "unit": None, "program": None, "compose_service": None, "compose_project_src": None,
            "deployment": None, "namespace": None, "depends_on": list}
_DATASTORE = {"kind": _REQUIRED, "host": _REQUIRED, "port": _REQUIRED, "database": None, "user": None, "secret_var": None}
_LOGS = {"source": _REQUIRED, "unit": None, "path": None, "security_path": None, "format": _REQUIRED, "fields": dict}
_BACKUP = {"kind": _REQUIRED}


class ProfileError(ValueError):
    """A profile that does not fit the schema. profile: its name (or where it came from); path: the field."""

    def __init__(self, profile, path, problem):
        self.profile = profile
        self.path = path
        self.problem = problem
        super().__init__("service profile %s: %s%s" % (profile, "%s: " % path if path else "", problem))


class _Bad(Exception):
    """A field check's refusal; validate() adds the profile's name to make it a ProfileError."""

    def __init__(self, path, problem):
        super().__init__(problem)
        self.path = path
        self.problem = problem


def _at(path, key):
    return "%s.%s" % (path, key) if path else str(key)


def _item(path, index):
    return "%s[%d]" % (path, index)


def _show(value):
    """A short, YAML-ish rendering of a value for a message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = repr(str(value))
    elif isinstance(value, (int, float)):
        text = repr(value)
    elif isinstance(value, Mapping):
        return "a mapping"
    elif isinstance(value, (list, tuple)):
        return "a list"
    else:
        return "a %s" % type(value).__name__
    return text if len(text) <= 80 else text[:77] + "..."


def _fields(value, path, spec, what="fields"):
    """value's keys checked against spec (unknown refused, required present); a dict of every key, defaults filled."""
    if not isinstance(value, Mapping):
        raise _Bad(path, "must be a mapping of %s, not %s" % (what, _show(value)))
    unknown = [key for key in value if key not in spec]
    if unknown:
        hint = ""
        if any(_SECRET_LIKE.search(str(key)) for key in unknown):
            hint = "; a profile never holds a secret: secret_var names the Ansible variable that holds it"
        allowed = ", ".join(spec)
        if len(unknown) == 1:
            raise _Bad(_at(path, unknown[0]), "unknown key (allowed here: %s)%s" % (allowed, hint))
        raise _Bad(path or "(top level)", "unknown keys %s (allowed here: %s)%s"
                   % (", ".join(_show(key) for key in unknown), allowed, hint))
    out = {}
    for key, default in spec.items():
        if key in value:
            out[key] = value[key]
        elif default is _REQUIRED:
            raise _Bad(_at(path, key), "missing (required)")
        else:
            out[key] = default() if callable(default) else default
    return out


def _string(value, path, pattern=None, hint="", nullable=False, echo=True):
    """value as a plain str (or None when nullable); pattern, when given, must match the whole of it."""
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        quote = " (quote it in YAML)" if isinstance(value, (int, float)) and not isinstance(value, bool) else ""
        raise _Bad(path, "must be a string%s, not %s%s" % (" or null" if nullable else "", _show(value), quote))
    if pattern is not None and not pattern.match(value):
        raise _Bad(path, "%s %s" % (_show(value) if echo else "the value (not shown)", hint))
    return str(value)


def _word(value, path, nullable=True):
    return _string(value, path, WORD, "is not one word (not empty, no whitespace, not starting with -)", nullable)


def _abs_path(value, path, nullable=True):
    return _string(value, path, ABS_PATH, "is not an absolute path", nullable)


def _url_path(value, path):
    return _string(value, path, URL_PATH, "is not a URL path (starts with /, no whitespace)")


def _choice(value, path, choices):
    if not isinstance(value, str) or value not in choices:
        raise _Bad(path, "%s is not one of %s" % (_show(value), ", ".join(choices)))
    return str(value)


def _int(value, path, low, high=None):
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Bad(path, "must be an integer, not %s" % _show(value))
    if value < low or (high is not None and value > high):
        span = "from %d to %d" % (low, high) if high is not None else "%d or more" % low
        raise _Bad(path, "%d is out of range (%s)" % (value, span))
    return int(value)


def _list(value, path, what):
    if not isinstance(value, list):
        raise _Bad(path, "must be a list of %s, not %s" % (what, _show(value)))
    return value


def _url(value, path, nullable=False):
    if value is None and nullable:
        return None
    text = _string(value, path)
    try:
        parts = urlsplit(text)
        bad_port = parts.port == 0  # .port raises ValueError for a port out of range or not a number
    except ValueError:
        bad_port = True
    if bad_port:
        raise _Bad(path, "%s is not a URL (its host or port cannot be read)" % _show(text))
    if parts.username is not None or parts.password is not None:
        # the URL itself is not shown: its user part may hold a password
        raise _Bad(path, "a URL never carries credentials: name the variable that holds them (secret_var)")
    if parts.scheme not in ("http", "https") or not parts.hostname or re.search(r"[\s\x00-\x1f\x7f]", text):
        raise _Bad(path, "%s is not an http:// or https:// URL with a host" % _show(text))
    return text


def _var_name(value, path, nullable=False):
    # not echoed: whoever got it wrong may have pasted the secret itself here
    return _string(value, path, VAR_NAME, "is not an Ansible variable name (letters, digits and _, not starting with a "
                   "digit): secret_var names the variable that holds the secret", nullable, echo=False)


def _auth(value, path):
    if not isinstance(value, Mapping):
        raise _Bad(path, "must be a mapping of auth names to {style, header, secret_var} ({} for none), not %s"
                   % _show(value))
    out = {}
    for name, entry in value.items():
        if not isinstance(name, str) or not KEY_NAME.match(name):
            raise _Bad(path, "auth name %s is not lowercase letters, digits and _ (1 to 64)" % _show(name))
        if name == NO_AUTH:
            raise _Bad(path, "auth name 'none' is taken: a check's auth none means no auth")
        where = _at(path, name)
        fields = _fields(entry, where, _AUTH)
        style = _choice(fields["style"], _at(where, "style"), AUTH_STYLES)
        header = fields["header"]
        if style == "header":
            if header is None:
                raise _Bad(_at(where, "header"), "missing: style header sends the secret in the header named here "
                           "(e.g. X-API-Key)")
            header = _string(header, _at(where, "header"), HEADER,
                             "is not an HTTP header name (1 to 128 letters, digits and !#$%&'*+.^_`|~-)")
        elif header is not None:
            raise _Bad(_at(where, "header"), "not for style bearer (it sends Authorization: Bearer <secret>): "
                       "remove it, or use style header")
        out[str(name)] = {"style": style, "header": header,
                          "secret_var": _var_name(fields["secret_var"], _at(where, "secret_var"))}
    return out


def _auth_ref(value, path, auths):
    """A reference to one of the profile's auths, or none."""
    known = ", ".join(sorted(auths)) if auths else "it has none"
    if not isinstance(value, str):
        raise _Bad(path, "must be none or an auth of this profile (%s), not %s" % (known, _show(value)))
    if value != NO_AUTH and value not in auths:
        raise _Bad(path, "%s is not an auth of this profile (%s) or none" % (_show(value), known))
    return str(value)


def _conditions(value, path):
    texts = []
    for index, text in enumerate(_list(value, path, "conditions such as 'status == healthy'")):
        try:
            conditions.parse(text)
        except ValueError as exc:
            raise _Bad(_item(path, index), str(exc)) from None
        texts.append(str(text))
    return texts


def _check(value, path, auths):
    fields = _fields(value, path, _CHECK, "check fields")
    return {
        "name": _string(fields["name"], _at(path, "name"), KEY_NAME,
                        "is not a check name (lowercase letters, digits and _, 1 to 64)"),
        "path": _url_path(fields["path"], _at(path, "path")),
        "method": _choice(fields["method"], _at(path, "method"), METHODS),
        "auth": _auth_ref(fields["auth"], _at(path, "auth"), auths),
        "expect_status": _int(fields["expect_status"], _at(path, "expect_status"), 100, 599),
        "max_latency_ms": _int(fields["max_latency_ms"], _at(path, "max_latency_ms"), 1),
        "conditions": _conditions(fields["conditions"], _at(path, "conditions")),
    }


def _health(value, path, auths):
    fields = _fields(value, path, _HEALTH)
    where = _at(path, "checks")
    entries = _list(fields["checks"], where, "checks")
    if not entries:
        raise _Bad(where, "must hold at least one check")
    checks, seen = [], {}
    for index, entry in enumerate(entries):
        check = _check(entry, _item(where, index), auths)
        if check["name"] in seen:
            raise _Bad(_at(_item(where, index), "name"), "%s is also the name of %s: check names are unique"
                       % (_show(check["name"]), _item(where, seen[check["name"]])))
        seen[check["name"]] = index
        checks.append(check)
    out = {"checks": checks}
    for role in ("liveness", "readiness", "deep"):
        name = _string(fields[role], _at(path, role))
        if name not in seen:
            raise _Bad(_at(path, role), "%s names no check (checks: %s)" % (_show(name), ", ".join(seen)))
        out[role] = name
    return out


def _metrics(value, path, auths):
    if value is None:
        return None
    fields = _fields(value, path, _METRICS)
    return {"url": _url(fields["url"], _at(path, "url"), nullable=True),
            "path": _url_path(fields["path"], _at(path, "path")),
            "auth": _auth_ref(fields["auth"], _at(path, "auth"), auths)}


def _runtime(value, path):
    fields = _fields(value, path, _RUNTIME)
    platform = _choice(fields["platform"], _at(path, "platform"), PLATFORMS)
    out = {"platform": platform}
    for key in ("unit", "program", "compose_service", "deployment", "namespace"):
        out[key] = _word(fields[key], _at(path, key))
    out["compose_project_src"] = _string(fields["compose_project_src"], _at(path, "compose_project_src"), nullable=True)
    for key in PLATFORM_FIELDS[platform]:
        if out[key] is None:
            raise _Bad(_at(path, key), "missing: platform %s finds the service by it" % platform)
    where = _at(path, "depends_on")
    out["depends_on"] = [_word(name, _item(where, index), nullable=False)
                         for index, name in enumerate(_list(fields["depends_on"], where, "service names"))]
    return out


def _datastores(value, path):
    if not isinstance(value, Mapping):
        raise _Bad(path, "must be a mapping of datastore names to {kind, host, port, ...} ({} for none), not %s"
                   % _show(value))
    out = {}
    for name, entry in value.items():
        if not isinstance(name, str) or not DATASTORE_NAME.match(name):
            raise _Bad(path, "datastore name %s is not lowercase letters, digits, _ and - (1 to 64)" % _show(name))
        where = _at(path, name)
        fields = _fields(entry, where, _DATASTORE)
        out[str(name)] = {
            "kind": _choice(fields["kind"], _at(where, "kind"), DATASTORE_KINDS),
            "host": _word(fields["host"], _at(where, "host"), nullable=False),
            "port": _int(fields["port"], _at(where, "port"), 1, 65535),
            "database": _string(fields["database"], _at(where, "database"), nullable=True),
            "user": _string(fields["user"], _at(where, "user"), nullable=True),
            "secret_var": _var_name(fields["secret_var"], _at(where, "secret_var"), nullable=True),
        }
    return out


def _logs(value, path):
    fields = _fields(value, path, _LOGS)
    out = {
        "source": _choice(fields["source"], _at(path, "source"), LOG_SOURCES),
        "unit": _word(fields["unit"], _at(path, "unit")),
        "path": _abs_path(fields["path"], _at(path, "path")),
        "security_path": _abs_path(fields["security_path"], _at(path, "security_path")),
        "format": _choice(fields["format"], _at(path, "format"), LOG_FORMATS),
    }
    if out["source"] == "file" and out["path"] is None:
        raise _Bad(_at(path, "path"), "missing: source file reads the log at this absolute path")
    if out["source"] == "journald" and out["unit"] is None:
        raise _Bad(_at(path, "unit"), "missing: source journald reads this unit's journal")
    where = _at(path, "fields")
    given = _fields(fields["fields"], where, dict.fromkeys(LOG_FIELDS), "what the log calls level, message, ...")
    names = {}
    for key in LOG_FIELDS:
        if key in fields["fields"]:
            names[key] = _string(given[key], _at(where, key))
            if not names[key].strip():
                raise _Bad(_at(where, key), "is empty: the name of the log's %s field" % key)
    out["fields"] = names
    return out


def _backup(value, path):
    if value is None:
        return None
    fields = _fields(value, path, _BACKUP)
    return {"kind": _choice(fields["kind"], _at(path, "kind"), BACKUP_KINDS)}


def _features(value, path):
    out = []
    for index, feature in enumerate(_list(value, path, "features")):
        feature = _choice(feature, _item(path, index), FEATURES)
        if feature in out:
            raise _Bad(_item(path, index), "%s is listed twice" % _show(feature))
        out.append(feature)
    return out


def _profile(profile):
    if not isinstance(profile, Mapping):
        raise _Bad("", "must be a mapping of fields, not %s" % _show(profile))
    fields = _fields({key: value for key, value in profile.items() if key not in DERIVED}, "", _TOP)
    out = {
        "name": _string(fields["name"], "name", NAME, "is not a profile name (lowercase letters, digits and -, "
                        "starting with a letter or digit, at most 63)"),
        "kind": _choice(fields["kind"], "kind", KINDS),
        "description": _string(fields["description"], "description"),
        "seed": _string(fields["seed"], "seed", nullable=True),
        "api": {"default_url": _url(_fields(fields["api"], "api", _API)["default_url"], "api.default_url")},
    }
    auths = out["auth"] = _auth(fields["auth"], "auth")
    out["health"] = _health(fields["health"], "health", auths)
    out["metrics"] = _metrics(fields["metrics"], "metrics", auths)
    out["runtime"] = _runtime(fields["runtime"], "runtime")
    out["datastores"] = _datastores(fields["datastores"], "datastores")
    out["logs"] = _logs(fields["logs"], "logs")
    out["data_dir"] = _abs_path(fields["data_dir"], "data_dir")
    out["backup"] = _backup(fields["backup"], "backup")
    out["features"] = _features(fields["features"], "features")
    # what the health checks need from the inventory (datastore secrets are the datastore steps' own)
    out["secret_vars"] = sorted({auth["secret_var"] for auth in auths.values()})
    out["health_check_names"] = [check["name"] for check in out["health"]["checks"]]
    return out


def validate(profile, source="given dict"):
    """A normalised copy of profile (every field present, defaults filled, secret_vars and health_check_names
    derived), or ProfileError naming the profile and the bad field's path.

    source says where the profile came from (``profiles/lego-mcp.yml``); the error names it when the profile has no
    valid name of its own to be named by.
    """
    label = "(%s)" % source
    if isinstance(profile, Mapping):
        name = profile.get("name")
        if isinstance(name, str) and NAME.match(name):
            label = str(name)
    try:
        return _profile(profile)
    except _Bad as bad:
        raise ProfileError(label, bad.path, bad.problem) from None
