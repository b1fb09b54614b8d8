"""_profile/schema.py: every builtin profile validates; each kind of bad field is refused with an error naming the
profile and the field's path; defaults are filled and the derived fields recomputed."""

import copy
import glob
import os

import pytest
import yaml

from ansible_collections.mcpops.runbooks.plugins.module_utils._profile.schema import ProfileError, validate

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", ".."))
BUILTIN = sorted(glob.glob(os.path.join(ROOT, "profiles", "*.yml")))
SEEDS = {"onec-gateway": "000", "lego-mcp": "001", "cctelegram-mcp": "002", "loyalty-api": "003", "connector-mcp": "004"}


def read(name):
    with open(os.path.join(ROOT, "profiles", name + ".yml")) as handle:
        return yaml.safe_load(handle)


def minimal():
    """The smallest valid profile: the required fields only."""
    return {
        "name": "billing-api",
        "kind": "api",
        "description": "a service of our own",
        "api": {"default_url": "http://127.0.0.1:8081"},
        "health": {"checks": [{"name": "live", "path": "/livez"}], "liveness": "live", "readiness": "live",
                   "deep": "live"},
        "runtime": {"platform": "systemd", "unit": "billing-api"},
        "logs": {"source": "journald", "unit": "billing-api", "format": "text"},
    }


def refused(profile, source="given dict"):
    with pytest.raises(ProfileError) as info:
        validate(profile, source=source)
    return str(info.value)


def cctelegram_with(path, value):
    """The CCTelegram profile with one field (a dotted path, [i] for a list item) set to value."""
    profile = read("cctelegram-mcp")
    node = profile
    keys = path.replace("[", ".[").split(".")
    for key in keys[:-1]:
        node = node[int(key[1:-1])] if key.startswith("[") else node[key]
    last = keys[-1]
    if value is DELETE:
        del node[last]
    elif last.startswith("["):
        node[int(last[1:-1])] = value
    else:
        node[last] = value
    return profile


DELETE = object()


# -- the builtin profiles ----------------------------------------------------------

def test_the_five_seed_profiles_ship():
    assert [os.path.basename(p)[:-4] for p in BUILTIN] == sorted(SEEDS)


@pytest.mark.parametrize("path", BUILTIN, ids=lambda p: os.path.basename(p))
def test_every_builtin_profile_validates_and_is_named_after_its_file(path):
    with open(path) as handle:
        raw = yaml.safe_load(handle)
    profile = validate(raw, source=path)
    name = os.path.basename(path)[:-4]
    assert profile["name"] == name
    assert profile["seed"] == SEEDS[name]
    assert profile["health_check_names"] == [c["name"] for c in raw["health"]["checks"]]
    # validating the result again gives the same: a normalised profile is a valid profile
    assert validate(profile) == profile


def test_the_builtin_secret_vars_are_what_their_auths_name():
    assert validate(read("cctelegram-mcp"))["secret_vars"] == ["cctelegram_api_key"]
    assert validate(read("loyalty-api"))["secret_vars"] == ["loyalty_metrics_token"]
    assert validate(read("onec-gateway"))["secret_vars"] == ["gateway_admin_token"]
    assert validate(read("lego-mcp"))["secret_vars"] == []  # datastore secrets are not the health checks'


def test_defaults_are_filled():
    profile = validate(minimal())
    assert profile["health"]["checks"] == [{"name": "live", "path": "/livez", "method": "GET", "auth": "none",
                                            "expect_status": 200, "max_latency_ms": 2000, "conditions": []}]
    assert profile["runtime"] == {"platform": "systemd", "unit": "billing-api", "program": None, "compose_service": None,
                                  "deployment": None, "namespace": None, "compose_project_src": None, "depends_on": []}
    assert profile["logs"] == {"source": "journald", "unit": "billing-api", "path": None, "security_path": None,
                               "format": "text", "fields": {}}
    for key, value in {"seed": None, "auth": {}, "metrics": None, "datastores": {}, "data_dir": None, "backup": None,
                       "features": [], "secret_vars": [], "health_check_names": ["live"]}.items():
        assert profile[key] == value, key


def test_validate_returns_a_copy_and_leaves_its_input_alone():
    raw = read("onec-gateway")
    before = copy.deepcopy(raw)
    profile = validate(raw)
    profile["health"]["checks"][0]["conditions"].append("x exists")
    profile["auth"]["admin"]["secret_var"] = "other"
    assert raw == before
    assert validate(raw)["health"]["checks"][0]["conditions"] == ["status == ok"]


def test_secret_vars_given_are_recomputed_not_trusted():
    raw = read("cctelegram-mcp")
    raw["secret_vars"] = ["PATH", "anything"]
    raw["health_check_names"] = ["made", "up"]
    profile = validate(raw)
    assert profile["secret_vars"] == ["cctelegram_api_key"]
    assert profile["health_check_names"] == ["health", "bridge"]


def test_secret_vars_are_sorted_and_unique():
    raw = minimal()
    raw["auth"] = {"b": {"style": "bearer", "secret_var": "zed"}, "a": {"style": "header", "header": "X-A",
                                                                        "secret_var": "alpha"},
                   "c": {"style": "header", "header": "X-C", "secret_var": "zed"}}
    assert validate(raw)["secret_vars"] == ["alpha", "zed"]


def test_bearer_auth_has_no_header_and_accepts_an_explicit_null():
    raw = read("onec-gateway")
    raw["auth"]["admin"]["header"] = None
    assert validate(raw)["auth"]["admin"] == {"style": "bearer", "header": None, "secret_var": "gateway_admin_token"}


# -- each kind of bad field --------------------------------------------------------

def test_the_example_of_the_issue():
    message = refused(cctelegram_with("health.checks[0].auth", "token"))
    assert message == ("service profile cctelegram-mcp: health.checks[0].auth: 'token' is not an auth of this "
                       "profile (api_key) or none")


@pytest.mark.parametrize("path, value, expected", [
    # missing fields
    ("runtime.platform", DELETE, "runtime.platform: missing (required)"),
    ("health.liveness", DELETE, "health.liveness: missing (required)"),
    ("description", DELETE, "description: missing (required)"),
    ("health.checks[1].path", DELETE, "health.checks[1].path: missing (required)"),
    ("auth.api_key.secret_var", DELETE, "auth.api_key.secret_var: missing (required)"),
    # unknown auth style, a header style without its header, a bearer with one
    ("auth.api_key.style", "basic", "auth.api_key.style: 'basic' is not one of bearer, header"),
    ("auth.api_key.header", DELETE, "auth.api_key.header: missing: style header sends the secret in the header"),
    ("auth.api_key.header", "X API Key", "auth.api_key.header: 'X API Key' is not an HTTP header name"),
    # auth referencing a missing auth
    ("health.checks[1].auth", "admin", "health.checks[1].auth: 'admin' is not an auth of this profile (api_key) or none"),
    ("metrics.auth", "metrics_token", "metrics.auth: 'metrics_token' is not an auth of this profile (api_key) or none"),
    ("health.checks[0].auth", None, "health.checks[0].auth: must be none or an auth of this profile (api_key), not null"),
    # bad conditions
    ("health.checks[0].conditions", ["status == healthy", "status is healthy"],
     "health.checks[0].conditions[1]: condition 'status is healthy' is not '<path> <op> <value>'"),
    ("health.checks[1].conditions", ["bridge.running > yes"], "health.checks[1].conditions[0]: condition "
     "'bridge.running > yes': > compares numbers"),
    ("health.checks[0].conditions", [3], "health.checks[0].conditions[0]: a condition must be a string"),
    ("health.checks[0].conditions", "status == healthy", "health.checks[0].conditions: must be a list of conditions"),
    # liveness / readiness / deep naming no check
    ("health.liveness", "healthz", "health.liveness: 'healthz' names no check (checks: health, bridge)"),
    ("health.deep", "Bridge", "health.deep: 'Bridge' names no check (checks: health, bridge)"),
    # bad platform, and the platform's name field missing
    ("runtime.platform", "upstart", "runtime.platform: 'upstart' is not one of systemd, supervisor, docker_compose, "
     "kubernetes"),
    ("runtime.unit", None, "runtime.unit: missing: platform systemd finds the service by it"),
    ("runtime.unit", "--now", "runtime.unit: '--now' is not one word (not empty, no whitespace, not starting with -)"),
    # bad secret_var names; the value is not echoed, it may be the secret itself
    ("auth.api_key.secret_var", "sk-live-0123456789", "auth.api_key.secret_var: the value (not shown) is not an "
     "Ansible variable name"),
    ("auth.api_key.secret_var", "1token", "auth.api_key.secret_var: the value (not shown) is not an Ansible variable"),
    # check fields
    ("health.checks[0].expect_status", True, "health.checks[0].expect_status: must be an integer, not true"),
    ("health.checks[0].expect_status", 600, "health.checks[0].expect_status: 600 is out of range (from 100 to 599)"),
    ("health.checks[0].expect_status", "200", "health.checks[0].expect_status: must be an integer, not '200'"),
    ("health.checks[0].max_latency_ms", 0, "health.checks[0].max_latency_ms: 0 is out of range (1 or more)"),
    ("health.checks[0].max_latency_ms", 2.5, "health.checks[0].max_latency_ms: must be an integer, not 2.5"),
    ("health.checks[0].method", "get", "health.checks[0].method: 'get' is not one of GET, HEAD, POST"),
    ("health.checks[0].path", "health", "health.checks[0].path: 'health' is not a URL path"),
    ("health.checks[0].path", "/health check", "health.checks[0].path: '/health check' is not a URL path"),
    ("health.checks[0].name", "Health", "health.checks[0].name: 'Health' is not a check name"),
    ("health.checks", [], "health.checks: must hold at least one check"),
    ("health.checks", {"name": "health"}, "health.checks: must be a list of checks, not a mapping"),
    # top-level fields
    ("kind", "service", "kind: 'service' is not one of gateway, mcp-server, api"),
    ("seed", 2, "seed: must be a string or null, not 2 (quote it in YAML)"),
    ("api.default_url", "ftp://host/x", "api.default_url: 'ftp://host/x' is not an http:// or https:// URL with a host"),
    ("api.default_url", "http://", "api.default_url: 'http://' is not an http:// or https:// URL with a host"),
    ("api.default_url", "http://h:99999", "api.default_url: 'http://h:99999' is not a URL (its host or port cannot be read)"),
    ("api.default_url", "http://h:0", "api.default_url: 'http://h:0' is not a URL (its host or port cannot be read)"),
    ("api.default_url", "http://h\tx", "api.default_url: 'http://h\\tx' is not an http:// or https:// URL"),
    ("api.default_url", "http://u:hunter2@h:8080", "api.default_url: a URL never carries credentials"),
    ("metrics.url", "127.0.0.1:9090", "metrics.url: '127.0.0.1:9090' is not an http:// or https:// URL with a host"),
    ("metrics.path", "metrics", "metrics.path: 'metrics' is not a URL path"),
    ("logs.source", "syslog", "logs.source: 'syslog' is not one of file, journald, supervisor, docker_compose, kubernetes"),
    ("logs.path", None, "logs.path: missing: source file reads the log at this absolute path"),
    ("logs.path", "var/log/x.log", "logs.path: 'var/log/x.log' is not an absolute path"),
    ("logs.format", "jsonl", "logs.format: 'jsonl' is not one of json, text"),
    ("logs.fields", {"level": "level", "host": "hostname"}, "logs.fields.host: unknown key (allowed here: time, level, "
     "message, latency, event, client_ip, error_type, status, path)"),
    ("logs.fields", {"level": ""}, "logs.fields.level: is empty"),
    ("data_dir", "relative/dir", "data_dir: 'relative/dir' is not an absolute path"),
    ("backup", {"kind": "tar"}, "backup.kind: 'tar' is not one of gateway_backup, pg_dump, mysqldump"),
    ("features", ["index_jobs", "backups"], "features[1]: 'backups' is not one of index_jobs, gateway_backups"),
    ("features", ["tokens", "tokens"], "features[1]: 'tokens' is listed twice"),
    ("features", "tokens", "features: must be a list of features, not 'tokens'"),
    ("runtime.depends_on", ["cctelegram bridge"], "runtime.depends_on[0]: 'cctelegram bridge' is not one word"),
    ("auth", None, "auth: must be a mapping of auth names to {style, header, secret_var} ({} for none), not null"),
    ("health", "ok", "health: must be a mapping of fields, not 'ok'"),
])
def test_a_bad_field_is_named_with_its_path(path, value, expected):
    message = refused(cctelegram_with(path, value))
    assert message.startswith("service profile cctelegram-mcp: "), message
    assert expected in message


@pytest.mark.parametrize("path, value, expected", [
    ("", {"timeout": 3}, "timeout: unknown key (allowed here: name, kind, description, seed, api, auth, health, "),
    ("health", {"chekcs": []}, "health.chekcs: unknown key (allowed here: checks, liveness, readiness, deep)"),
    ("health.checks[0]", {"expect": 200}, "health.checks[0].expect: unknown key (allowed here: name, path, method, "
     "auth, expect_status, max_latency_ms, conditions)"),
    ("runtime", {"service": "x"}, "runtime.service: unknown key (allowed here: platform, unit, program"),
    ("metrics", {"port": 9090}, "metrics.port: unknown key (allowed here: url, path, auth)"),
    ("logs", {"level_field": "lvl"}, "logs.level_field: unknown key"),
    ("api", {"url": "http://x"}, "api.url: unknown key (allowed here: default_url)"),
    ("runtime", {"a": 1, "b": 2}, "runtime: unknown keys 'a', 'b' (allowed here: platform,"),
])
def test_unknown_keys_are_refused_at_every_level(path, value, expected):
    profile = read("cctelegram-mcp")
    node = profile
    for key in path.replace("[", ".[").split(".") if path else []:
        node = node[int(key[1:-1])] if key.startswith("[") else node[key]
    node.update(value)
    assert expected in refused(profile)


@pytest.mark.parametrize("key", ["value", "token", "password", "api_key_value"])
def test_a_secret_in_an_auth_is_an_unknown_key_that_points_at_secret_var(key):
    canary = "CANARY-sk-9f8e7d6c5b4a"
    message = refused(cctelegram_with("auth.api_key." + key, canary))
    assert "auth.api_key.%s: unknown key (allowed here: style, header, secret_var)" % key in message
    assert "secret_var names the Ansible variable that holds it" in message
    assert canary not in message


def test_a_secret_in_a_datastore_is_refused_too():
    profile = read("connector-mcp")
    profile["datastores"]["mysql"]["password"] = "hunter2"
    message = refused(profile)
    assert "datastores.mysql.password: unknown key" in message and "hunter2" not in message


def test_a_url_with_credentials_is_not_echoed():
    message = refused(cctelegram_with("metrics.url", "https://scraper:CANARYpw@metrics.internal"))
    assert "metrics.url: a URL never carries credentials" in message and "CANARYpw" not in message


def test_duplicate_check_names():
    profile = read("loyalty-api")
    profile["health"]["checks"][2]["name"] = "live"
    assert refused(profile) == ("service profile loyalty-api: health.checks[2].name: 'live' is also the name of "
                                "health.checks[0]: check names are unique")


@pytest.mark.parametrize("platform, missing", [
    ("supervisor", "program"), ("docker_compose", "compose_service"), ("kubernetes", "deployment"),
    ("kubernetes", "namespace"),
])
def test_each_platform_needs_its_name_field(platform, missing):
    profile = read("onec-gateway")
    profile["runtime"]["platform"] = platform
    assert validate(profile)["runtime"]["platform"] == platform
    profile["runtime"][missing] = None
    assert ("runtime.%s: missing: platform %s finds the service by it" % (missing, platform)) in refused(profile)


def test_journald_logs_need_a_unit():
    profile = read("onec-gateway")
    profile["logs"]["unit"] = None
    assert "logs.unit: missing: source journald reads this unit's journal" in refused(profile)


def test_auth_names():
    profile = read("onec-gateway")
    profile["auth"]["none"] = {"style": "bearer", "secret_var": "x"}
    assert "auth: auth name 'none' is taken" in refused(profile)
    profile = read("onec-gateway")
    profile["auth"]["Admin-Token"] = profile["auth"].pop("admin")
    assert "auth: auth name 'Admin-Token' is not lowercase letters, digits and _" in refused(profile)


def test_a_bearer_auth_with_a_header_is_refused():
    profile = read("onec-gateway")
    profile["auth"]["admin"]["header"] = "X-Admin"
    assert "auth.admin.header: not for style bearer" in refused(profile)


def test_datastore_fields():
    profile = read("connector-mcp")
    profile["datastores"]["mysql"]["port"] = 70000
    assert "datastores.mysql.port: 70000 is out of range (from 1 to 65535)" in refused(profile)
    profile = read("connector-mcp")
    profile["datastores"]["redis"]["kind"] = "memcached"
    assert "datastores.redis.kind: 'memcached' is not one of postgresql, mysql, redis" in refused(profile)
    profile = read("connector-mcp")
    profile["datastores"]["redis"]["database"] = 0
    assert "datastores.redis.database: must be a string or null, not 0 (quote it in YAML)" in refused(profile)
    profile = read("connector-mcp")
    profile["datastores"]["mysql"]["secret_var"] = "connector-mysql-password"
    assert "datastores.mysql.secret_var: the value (not shown) is not an Ansible variable name" in refused(profile)
    profile = read("connector-mcp")
    del profile["datastores"]["mysql"]["host"]
    assert "datastores.mysql.host: missing (required)" in refused(profile)
    profile = read("connector-mcp")
    profile["datastores"]["My SQL"] = profile["datastores"].pop("mysql")
    assert "datastores: datastore name 'My SQL' is not" in refused(profile)


def test_the_minimal_profile_is_enough_and_each_required_top_field_is_needed():
    validate(minimal())
    for key in ("name", "kind", "description", "api", "health", "runtime", "logs"):
        profile = minimal()
        del profile[key]
        message = refused(profile, source="custom profile")
        assert ": %s: missing (required)" % key in message


def test_without_a_valid_name_the_error_names_the_source():
    profile = minimal()
    del profile["name"]
    assert refused(profile, source="mcp_service_profile") == "service profile (mcp_service_profile): name: missing (required)"
    profile["name"] = "../etc"
    assert refused(profile, source="mcp_service_profile").startswith("service profile (mcp_service_profile): name: '../etc'")
    profile["name"] = "CCTelegram"
    assert "name: 'CCTelegram' is not a profile name (lowercase letters, digits and -" in refused(profile)
    assert refused(["a", "list"]) == "service profile (given dict): must be a mapping of fields, not a list"


def test_profile_error_is_a_value_error_with_its_parts():
    with pytest.raises(ValueError) as info:
        validate(cctelegram_with("runtime.platform", "upstart"))
    error = info.value
    assert isinstance(error, ProfileError)
    assert (error.profile, error.path) == ("cctelegram-mcp", "runtime.platform")
    assert error.problem.startswith("'upstart' is not one of")
