"""_health/selection.py: the health section read and checked for shape (each refusal names the field), which checks
`select` picks (names or liveness / readiness / deep), and each check's roles; over the five shipped profiles too."""

import glob
import os

import pytest
import yaml

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._health.selection import health_checks, roles_of, select

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", ".."))


def load_profiles():
    profiles = {}
    for path in sorted(glob.glob(os.path.join(ROOT, "profiles", "*.yml"))):
        with open(path) as handle:
            profile = yaml.safe_load(handle)
        profiles[profile["name"]] = profile
    return profiles


PROFILES = load_profiles()
CONNECTOR = PROFILES["connector-mcp"]["health"]
LOYALTY = PROFILES["loyalty-api"]["health"]


def test_the_five_profiles_are_read():
    assert sorted(PROFILES) == ["cctelegram-mcp", "connector-mcp", "lego-mcp", "loyalty-api", "onec-gateway"]
    for profile in PROFILES.values():
        checks = health_checks(profile["health"])
        assert checks and all(c["method"] == "GET" and c["path"].startswith("/") for c in checks)


def test_normalised_check():
    checks = health_checks(CONNECTOR)
    assert [c["name"] for c in checks] == ["health", "deep"]
    deep = checks[1]
    assert {k: v for k, v in deep.items() if k != "conditions"} == {
        "name": "deep", "path": "/api/health", "method": "GET", "auth": "none", "expect_status": 200,
        "max_latency_ms": 5000}
    assert [c.text for c in deep["conditions"]] == ["database.status == healthy", "redis.status == healthy", "status == healthy"]


def test_defaults_of_a_bare_check():
    check = health_checks({"checks": [{"name": "up", "path": "/"}]})[0]
    assert check == {"name": "up", "path": "/", "method": "GET", "auth": None, "expect_status": 200,
                     "max_latency_ms": None, "conditions": []}
    nulls = health_checks({"checks": [{"name": "up", "path": "/", "expect_status": None, "conditions": None}]})[0]
    assert nulls["expect_status"] == 200 and nulls["conditions"] == []


@pytest.mark.parametrize("health,says", [
    (None, "health must be a profile's health section"),
    ([], "health must be a profile's health section"),
    ({}, "health.checks must be a non-empty list"),
    ({"checks": []}, "health.checks must be a non-empty list"),
    ({"checks": {"name": "x"}}, "health.checks must be a non-empty list"),
    ({"checks": ["health"]}, "health.checks[0] must be a dict with name and path"),
    ({"checks": [{"path": "/health"}]}, "health.checks[0].name must be"),
    ({"checks": [{"name": "a b", "path": "/health"}]}, "health.checks[0].name must be"),
    ({"checks": [{"name": "health"}]}, "health.checks[0] (health): path must start with /"),
    ({"checks": [{"name": "health", "path": "health"}]}, "path must start with /"),
    ({"checks": [{"name": "health", "path": "/he alth"}]}, "path must start with /"),
    ({"checks": [{"name": "health", "path": "/health\n"}]}, "path must start with /"),
    ({"checks": [{"name": "health", "path": "/health#x"}]}, "path must start with /"),
    ({"checks": [{"name": "h", "path": "/", "method": "GET /x"}]}, "method must be an HTTP method"),
    ({"checks": [{"name": "h", "path": "/", "auth": ["a"]}]}, "auth must be the name of an entry"),
    ({"checks": [{"name": "h", "path": "/", "expect_status": "200"}]}, "health.checks[0] (h).expect_status must be an integer >= 100"),
    ({"checks": [{"name": "h", "path": "/", "expect_status": True}]}, "expect_status must be an integer"),
    ({"checks": [{"name": "h", "path": "/", "max_latency_ms": 0}]}, "max_latency_ms must be an integer >= 1, not 0"),
    ({"checks": [{"name": "h", "path": "/", "conditions": "status == ok"}]}, "conditions must be a list of strings"),
    ({"checks": [{"name": "h", "path": "/", "conditions": ["status is ok"]}]},
     "health.checks[0] (h): condition 'status is ok' is not '<path> <op> <value>'"),
    ({"checks": [{"name": "h", "path": "/", "conditions": ["n > big"]}]}, "health.checks[0] (h): condition 'n > big'"),
    ({"checks": [{"name": "h", "path": "/"}, {"name": "h", "path": "/x"}]}, "two checks are named h"),
    ({"checks": [{"name": "h", "path": "/"}], "deep": "d"}, "health.deep names check 'd', which is not in health.checks (h)"),
    ({"checks": [{"name": "h", "path": "/"}], "liveness": ["h"]}, "health.liveness names check ['h']"),
])
def test_bad_health_sections_are_refused_naming_the_field(health, says):
    with pytest.raises(TaskError) as caught:
        health_checks(health)
    assert says in caught.value.msg


def test_roles_of():
    assert roles_of(CONNECTOR, "health") == ["liveness"]
    assert roles_of(CONNECTOR, "deep") == ["readiness", "deep"]
    assert roles_of(PROFILES["cctelegram-mcp"]["health"], "health") == ["liveness", "readiness"]
    assert roles_of(LOYALTY, "metrics") == []


def test_select_everything_by_default():
    checks = health_checks(LOYALTY)
    assert select(LOYALTY, checks, []) == ["live", "health", "ready", "metrics"]
    assert select(LOYALTY, checks, None) == ["live", "health", "ready", "metrics"]


def test_select_by_role_and_name_in_profile_order_once_each():
    checks = health_checks(LOYALTY)
    assert select(LOYALTY, checks, ["deep"]) == ["ready"]
    assert select(LOYALTY, checks, ["metrics", "liveness"]) == ["live", "metrics"]
    assert select(LOYALTY, checks, ["readiness", "deep", "ready"]) == ["ready"]
    gateway = PROFILES["onec-gateway"]["health"]
    assert select(gateway, health_checks(gateway), ["deep", "readiness"]) == ["readyz", "storage_meta"]


def test_a_role_word_goes_through_the_section_even_when_a_check_has_that_name():
    health = {"checks": [{"name": "deep", "path": "/deep"}, {"name": "full", "path": "/full"}], "deep": "full"}
    assert select(health, health_checks(health), ["deep"]) == ["full"]
    no_role = {"checks": [{"name": "deep", "path": "/deep"}]}
    assert select(no_role, health_checks(no_role), ["deep"]) == ["deep"]


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(TaskError) as caught:
        select(CONNECTOR, health_checks(CONNECTOR), ["health", "redis"])
    assert caught.value.msg == ("select: unknown check 'redis'; known: health, deep and the roles liveness, readiness, "
                                "deep; nothing was checked")


def test_a_role_the_section_does_not_name():
    health = {"checks": [{"name": "up", "path": "/up"}], "liveness": "up"}
    with pytest.raises(TaskError) as caught:
        select(health, health_checks(health), ["readiness"])
    assert caught.value.msg == "select: the health section names no readiness check (checks: up); nothing was checked"
    with pytest.raises(TaskError) as caught:
        select({"checks": health["checks"]}, health_checks({"checks": health["checks"]}), ["nope"])
    assert caught.value.msg == "select: unknown check 'nope'; known: up; nothing was checked"
