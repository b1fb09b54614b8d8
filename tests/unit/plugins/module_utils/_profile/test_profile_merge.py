"""_profile/merge.py: overrides over a profile; dicts merge key by key, lists and scalars replace whole."""

import copy

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._profile.merge import merge

BASE = {
    "name": "cctelegram-mcp",
    "api": {"default_url": "http://127.0.0.1:8080"},
    "runtime": {"platform": "systemd", "unit": "cctelegram-mcp", "depends_on": ["cctelegram-bridge"]},
    "health": {"checks": [{"name": "health", "path": "/health"}, {"name": "bridge", "path": "/b"}], "deep": "bridge"},
    "metrics": {"url": "http://127.0.0.1:9090", "path": "/metrics"},
    "datastores": {},
}


def test_nested_dicts_merge_key_by_key():
    merged = merge(BASE, {"runtime": {"unit": "cctelegram-mcp-prod"}, "api": {"default_url": "https://lb"}})
    assert merged["runtime"] == {"platform": "systemd", "unit": "cctelegram-mcp-prod", "depends_on": ["cctelegram-bridge"]}
    assert merged["api"] == {"default_url": "https://lb"}
    assert merged["health"] == BASE["health"]


def test_lists_are_replaced_whole():
    merged = merge(BASE, {"health": {"checks": [{"name": "only"}]}, "runtime": {"depends_on": []}})
    assert merged["health"] == {"checks": [{"name": "only"}], "deep": "bridge"}
    assert merged["runtime"]["depends_on"] == []


def test_scalars_and_null_replace_and_new_keys_are_added():
    merged = merge(BASE, {"metrics": None, "name": "other", "data_dir": "/srv/x"})
    assert merged["metrics"] is None and merged["name"] == "other" and merged["data_dir"] == "/srv/x"


def test_a_dict_over_a_non_dict_replaces_it_and_a_scalar_replaces_a_dict():
    merged = merge({"metrics": None, "api": {"default_url": "x"}}, {"metrics": {"path": "/m"}, "api": "flat"})
    assert merged == {"metrics": {"path": "/m"}, "api": "flat"}


def test_a_dict_merges_into_an_empty_dict():
    merged = merge(BASE, {"datastores": {"redis": {"kind": "redis", "port": 6379}}})
    assert merged["datastores"] == {"redis": {"kind": "redis", "port": 6379}}


@pytest.mark.parametrize("overrides", [None, {}])
def test_no_overrides_gives_an_equal_copy(overrides):
    merged = merge(BASE, overrides)
    assert merged == BASE and merged is not BASE
    merged["runtime"]["depends_on"].append("x")
    assert BASE["runtime"]["depends_on"] == ["cctelegram-bridge"]


def test_neither_input_is_changed_nor_shared_with_the_result():
    base, overrides = copy.deepcopy(BASE), {"runtime": {"unit": "u"}, "health": {"checks": [{"name": "n"}]}}
    before = copy.deepcopy(overrides)
    merged = merge(base, overrides)
    merged["runtime"]["platform"] = "kubernetes"
    merged["health"]["checks"][0]["name"] = "changed"
    merged["api"]["default_url"] = "changed"
    assert base == BASE and overrides == before


def test_tuples_become_lists():
    assert merge({"a": (1, 2)}, {"b": ({"c": 1},)}) == {"a": [1, 2], "b": [{"c": 1}]}


@pytest.mark.parametrize("base, overrides", [([], {}), (BASE, ["runtime"]), (BASE, "runtime: {}")])
def test_only_mappings_merge(base, overrides):
    with pytest.raises(TypeError, match="must be a mapping"):
        merge(base, overrides)
