"""kubectl set env planned from the Deployment: what changes, what is already so, the patch, and no secret value in
anything but the patch."""

import json

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._service import k8s_env
from ansible_collections.mcpops.runbooks.plugins.plugin_utils import secret_mask

CANARY = "CANARYk8sUnit9Zp3Lw"


def deployment(*containers):
    return {"metadata": {"name": "dashboard"},
            "spec": {"template": {"spec": {"containers": [
                {"name": name, "image": "lego/dashboard:8.0", "env": env} for name, env in containers]}}}}


DASH = deployment(("dashboard", [{"name": "DB_POOL_SIZE", "value": "10"}, {"name": "OLD", "value": "x"},
                                 {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}}]))


def test_the_secret_names_are_the_house_credential_variables():
    # module_utils cannot import plugin_utils: the copy is kept equal here
    assert k8s_env.CREDENTIAL_ENV.pattern == secret_mask._CREDENTIAL_ENV.pattern
    assert k8s_env.ANY_KEY_ENV.pattern == secret_mask._ANY_KEY_ENV.pattern
    assert k8s_env.is_secret("API_TOKEN") and k8s_env.is_secret("DB_PASSWORD") and k8s_env.is_secret("HMAC_KEY")
    assert k8s_env.is_secret("DATABASE_URL", "postgresql://lego:%s@db/lego" % CANARY)
    assert not k8s_env.is_secret("DB_POOL_SIZE", "30") and not k8s_env.is_secret("HSM_FALLBACK_ENABLED", "true")


def test_normalize_writes_values_as_the_api_stores_them_and_refuses_bad_names():
    assert k8s_env.normalize({"A": True, "B": False, "C": 30, "D": "x", "E": None}) == {
        "A": "true", "B": "false", "C": "30", "D": "x", "E": None}
    with pytest.raises(ValueError) as bad:
        k8s_env.normalize({"1 BAD": "x", "OK": ["a"], "API_TOKEN": CANARY})
    assert "'1 BAD' is not a valid environment variable name" in str(bad.value)
    assert "OK: a list is not an environment value" in str(bad.value) and CANARY not in str(bad.value)
    for empty in ({}, None, ["A=1"]):
        with pytest.raises(ValueError):
            k8s_env.normalize(empty)


def test_a_change_a_new_secret_and_an_unset_make_one_patch_and_no_secret_in_the_plan():
    wanted = k8s_env.normalize({"DB_POOL_SIZE": 30, "API_TOKEN": CANARY, "OLD": None, "GONE": None})
    plan, patch = k8s_env.env_plan(DASH, wanted)
    assert plan["changed"] and plan["error"] is None
    assert plan["lines"] == ["dashboard: DB_POOL_SIZE 10 -> 30", "dashboard: API_TOKEN (unset) -> (secret, not shown)",
                             "dashboard: OLD x -> (unset)"]
    assert plan["unchanged"] == [{"container": "dashboard", "name": "GONE", "before": "(unset)", "after": "(unset)"}]
    assert plan["args"] == ["DB_POOL_SIZE=30", "API_TOKEN=********", "OLD-", "GONE-"]
    assert plan["secret_names"] == ["API_TOKEN"]
    assert CANARY not in json.dumps(plan)
    assert patch == {"spec": {"template": {"spec": {"containers": [{"name": "dashboard", "env": [
        {"name": "DB_POOL_SIZE", "value": "30"}, {"name": "API_TOKEN", "value": CANARY},
        {"name": "OLD", "$patch": "delete"}]}]}}}}


def test_values_already_set_are_no_change_and_no_patch():
    plan, patch = k8s_env.env_plan(DASH, k8s_env.normalize({"DB_POOL_SIZE": 10, "NEVER": None}))
    assert not plan["changed"] and patch is None and plan["lines"] == []
    assert [(u["name"], u["before"]) for u in plan["unchanged"]] == [("DB_POOL_SIZE", "10"), ("NEVER", "(unset)")]


def test_a_literal_value_replaces_a_value_from_reference():
    plan, patch = k8s_env.env_plan(DASH, k8s_env.normalize({"DB_PASSWORD": CANARY}))
    assert plan["lines"] == ["dashboard: DB_PASSWORD (from secretKeyRef) -> (secret, not shown)"]
    assert patch["spec"]["template"]["spec"]["containers"][0]["env"] == [
        {"name": "DB_PASSWORD", "value": CANARY, "valueFrom": None}]


def test_a_url_with_a_password_is_not_shown_whatever_its_name():
    plan, dummy = k8s_env.env_plan(DASH, {"DATABASE_URL": "postgresql://lego:%s@db/lego" % CANARY})
    assert plan["lines"] == ["dashboard: DATABASE_URL (unset) -> (secret, not shown)"]
    assert CANARY not in json.dumps(plan)


def test_only_the_named_containers_and_a_missing_one_is_an_error():
    two = deployment(("dashboard", []), ("sidecar", [{"name": "DB_POOL_SIZE", "value": "30"}]))
    plan, patch = k8s_env.env_plan(two, {"DB_POOL_SIZE": "30"}, ["dashboard"])
    assert [c["name"] for c in patch["spec"]["template"]["spec"]["containers"]] == ["dashboard"]
    plan, patch = k8s_env.env_plan(two, {"DB_POOL_SIZE": "30"})  # every container: the sidecar is already so
    assert [c["name"] for c in patch["spec"]["template"]["spec"]["containers"]] == ["dashboard"]
    plan, patch = k8s_env.env_plan(two, {"A": "1"}, ["worker"])
    assert patch is None
    assert plan["error"] == "deployment/dashboard has no container worker; its containers: dashboard, sidecar"
