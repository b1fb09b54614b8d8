"""A container's env as the node agent hands it to a served pod's process: literal values, secretKeyRef and
configMapKeyRef read from the API, envFrom; an unresolvable reference is named (never its value) and left out."""

import base64

import pytest

from mcpops.lab.kube.node_api import ApiError
from mcpops.lab.kube.node_env import resolved_env

SECRET_VALUE = "postgresql://lego:canary-not-for-output@127.0.0.1:5432/lego_mcp"


class Api:
    def __init__(self):
        self.objects = {
            "/api/v1/namespaces/ns/secrets/db": {"data": {"url": base64.b64encode(SECRET_VALUE.encode()).decode()}},
            "/api/v1/namespaces/ns/configmaps/hsm": {"data": {"HSM_URL": "https://127.0.0.1:9999"}},
        }
        self.gets = []

    def get(self, path):
        self.gets.append(path)
        if path not in self.objects:
            raise ApiError(f"GET {path}: 404 not found", status=404)
        return self.objects[path]


def test_literal_secret_and_configmap_values_are_resolved_once_each():
    api = Api()
    container = {"env": [
        {"name": "A", "value": "1"},
        {"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "db", "key": "url"}}},
        {"name": "HSM_URL", "valueFrom": {"configMapKeyRef": {"name": "hsm", "key": "HSM_URL"}}},
        {"name": "AGAIN", "valueFrom": {"secretKeyRef": {"name": "db", "key": "url"}}}]}
    env, unresolved = resolved_env(api, "ns", container)
    assert env == {"A": "1", "DATABASE_URL": SECRET_VALUE, "HSM_URL": "https://127.0.0.1:9999", "AGAIN": SECRET_VALUE}
    assert unresolved == []
    assert api.gets.count("/api/v1/namespaces/ns/secrets/db") == 1


def test_env_from_with_a_prefix_and_env_after_it_wins():
    container = {"envFrom": [{"configMapRef": {"name": "hsm"}, "prefix": "X_"}],
                 "env": [{"name": "X_HSM_URL", "value": "override"}]}
    assert resolved_env(Api(), "ns", container) == ({"X_HSM_URL": "override"}, [])


def test_a_missing_object_or_key_is_named_and_left_out_unless_optional():
    container = {"env": [
        {"name": "GONE", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "url"}}},
        {"name": "NOKEY", "valueFrom": {"secretKeyRef": {"name": "db", "key": "other"}}},
        {"name": "MAYBE", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "url", "optional": True}}}],
        "envFrom": [{"secretRef": {"name": "absent"}}]}
    env, unresolved = resolved_env(Api(), "ns", container)
    assert env == {}
    assert unresolved == ["envFrom secret absent", "GONE (secret nope key url)", "NOKEY (secret db key other)"]
    assert SECRET_VALUE not in repr(unresolved)


def test_a_forbidden_object_is_unresolved_and_another_api_error_is_raised():
    def failing(status):
        class Failing(Api):
            def get(self, path):
                raise ApiError(f"GET {path}: {status}", status=status)
        return Failing()

    container = {"env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "a", "key": "b"}}}]}
    assert resolved_env(failing(403), "ns", container) == ({}, ["X (secret a key b)"])
    with pytest.raises(ApiError, match="500"):
        resolved_env(failing(500), "ns", container)
