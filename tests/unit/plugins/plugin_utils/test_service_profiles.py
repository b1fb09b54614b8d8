"""plugins/plugin_utils/service_profiles.py: the builtin profiles, overrides, a custom profile, bad names."""

import builtins
import io
import os

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._profile.schema import ProfileError
from ansible_collections.mcpops.runbooks.plugins.plugin_utils import service_profiles
from ansible_collections.mcpops.runbooks.plugins.plugin_utils.service_profiles import builtin_dir, builtin_names, load

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
NAMES = ["cctelegram-mcp", "connector-mcp", "lego-mcp", "loyalty-api", "onec-gateway"]


def custom():
    return {
        "name": "billing-api", "kind": "api", "description": "ours",
        "api": {"default_url": "http://127.0.0.1:8081"},
        "auth": {"ops": {"style": "header", "header": "X-Ops-Token", "secret_var": "billing_ops_token"}},
        "health": {"checks": [{"name": "live", "path": "/livez"}, {"name": "ready", "path": "/readyz", "auth": "ops"}],
                   "liveness": "live", "readiness": "ready", "deep": "ready"},
        "runtime": {"platform": "supervisor", "program": "billing-api"},
        "logs": {"source": "supervisor", "format": "json", "fields": {"level": "severity"}},
    }


def test_builtin_dir_is_the_collections_profiles():
    assert os.path.realpath(builtin_dir()) == os.path.realpath(os.path.join(ROOT, "profiles"))
    assert builtin_names() == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_load_a_builtin(name):
    profile = load(name)
    assert profile["name"] == name
    assert profile["health_check_names"] and "secret_vars" in profile


def test_the_cctelegram_profile_as_the_seed_says():
    profile = load("cctelegram-mcp")
    assert profile["api"]["default_url"] == "http://127.0.0.1:8080"
    assert profile["auth"] == {"api_key": {"style": "header", "header": "X-API-Key", "secret_var": "cctelegram_api_key"}}
    assert profile["secret_vars"] == ["cctelegram_api_key"]
    assert profile["runtime"]["platform"] == "systemd" and profile["runtime"]["depends_on"] == ["cctelegram-bridge"]


def test_overrides_are_merged_then_validated():
    profile = load("cctelegram-mcp", overrides={"api": {"default_url": "https://cc.internal:8443"},
                                                "runtime": {"platform": "supervisor"}, "metrics": None})
    assert profile["api"]["default_url"] == "https://cc.internal:8443"
    assert profile["runtime"]["platform"] == "supervisor" and profile["runtime"]["program"] == "cctelegram-mcp"
    assert profile["runtime"]["unit"] == "cctelegram-mcp"  # the rest of runtime stays
    assert profile["metrics"] is None
    assert load("cctelegram-mcp")["api"]["default_url"] == "http://127.0.0.1:8080"  # nothing cached or changed


def test_a_bad_override_names_the_field():
    with pytest.raises(ProfileError) as info:
        load("loyalty-api", overrides={"runtime": {"compose_service": None}})
    assert str(info.value) == ("service profile loyalty-api: runtime.compose_service: missing: platform docker_compose "
                               "finds the service by it")
    with pytest.raises(ProfileError, match=r"health\.chekcs: unknown key"):
        load("lego-mcp", overrides={"health": {"chekcs": []}})


@pytest.mark.parametrize("overrides", [["a"], "api: {}"])
def test_overrides_must_be_a_mapping(overrides):
    with pytest.raises(ProfileError, match="service profile onec-gateway: overrides must be a mapping"):
        load("onec-gateway", overrides=overrides)


def test_a_custom_profile_is_used_instead_of_the_name():
    profile = load("onec-gateway", profile=custom())
    assert profile["name"] == "billing-api"
    assert profile["secret_vars"] == ["billing_ops_token"]
    assert profile["runtime"]["program"] == "billing-api" and profile["logs"]["fields"] == {"level": "severity"}
    assert load(None, profile=custom()) == profile
    assert load("no-such-service", profile=custom()) == profile  # the name is not used at all
    with_override = load(None, overrides={"runtime": {"program": "billing-api-2"}}, profile=custom())
    assert with_override["runtime"]["program"] == "billing-api-2"


def test_an_empty_custom_profile_means_the_builtin():
    assert load("lego-mcp", profile={}) == load("lego-mcp")
    assert load("lego-mcp", overrides={}, profile=None) == load("lego-mcp")


def test_a_bad_custom_profile_names_the_field_or_its_source():
    bad = custom()
    bad["health"]["checks"][1]["auth"] = "admin"
    with pytest.raises(ProfileError) as info:
        load(None, profile=bad)
    assert str(info.value) == ("service profile billing-api: health.checks[1].auth: 'admin' is not an auth of this "
                               "profile (ops) or none")
    nameless = custom()
    del nameless["name"]
    with pytest.raises(ProfileError, match=r"^service profile \(custom profile\): name: missing"):
        load(None, profile=nameless)
    with pytest.raises(ProfileError, match="must be a mapping of fields, not a list"):
        load(None, profile=["name", "x"])


def test_an_unknown_name_lists_the_builtin_profiles():
    with pytest.raises(ProfileError) as info:
        load("cctelegram")
    assert str(info.value) == ("service profile cctelegram: no such builtin profile (builtin: %s); a service of your "
                               "own gives its whole profile instead" % ", ".join(NAMES))


@pytest.mark.parametrize("name", ["../etc/passwd", "/etc/passwd", "onec-gateway/../../x", "onec-gateway.yml",
                                  "Onec-Gateway", "", "onec-gateway\n", None, 3])
def test_a_bad_name_is_refused_without_touching_the_filesystem(monkeypatch, name):
    def no_filesystem(*args, **kwargs):
        raise AssertionError("the filesystem was touched: %r" % (args,))

    for module, attr in [(builtins, "open"), (io, "open"), (os, "open"), (os, "listdir"), (os, "scandir"),
                         (os, "stat"), (os.path, "exists"), (os.path, "isfile")]:
        monkeypatch.setattr(module, attr, no_filesystem)
    with pytest.raises(ProfileError, match="not a profile name"):
        load(name)


def test_an_unreadable_or_odd_builtin_is_a_profile_error(monkeypatch, tmp_path):
    (tmp_path / "broken.yml").write_text("name: [unclosed\n")
    (tmp_path / "listy.yml").write_text("- a\n- b\n")
    monkeypatch.setattr(service_profiles, "builtin_dir", lambda: str(tmp_path))
    assert builtin_names() == ["broken", "listy"]
    with pytest.raises(ProfileError, match=r"^service profile broken: cannot read .*broken\.yml"):
        load("broken")
    with pytest.raises(ProfileError, match=r"^service profile listy: .*listy\.yml does not hold a mapping"):
        load("listy")
