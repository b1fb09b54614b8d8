"""check_state: the deprecation path of state=info in the changing modules (pg_connections, redis_keys, ...)."""

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.info_state import check_state


class Failed(Exception):
    pass


class FakeModule:
    """Records deprecate() calls; fail_json ends the module, as AnsibleModule's does."""

    def __init__(self, params):
        self.params = params
        self.deprecations = []
        self.failed = None

    def deprecate(self, msg, version=None, collection_name=None):
        self.deprecations.append(dict(msg=msg, version=version, collection_name=collection_name))

    def fail_json(self, **kwargs):
        self.failed = kwargs
        raise Failed()


@pytest.mark.parametrize("given", ["info", None])
def test_info_or_no_state_still_reads_and_is_deprecated_for_2_0_0_naming_the_info_module(given):
    module = FakeModule({"state": given})
    assert check_state(module, ["terminated", "cancelled"], "pg_connections_info") == "info"
    [dep] = module.deprecations
    assert dep["version"] == "2.0.0" and dep["collection_name"] == "mcpops.runbooks"
    assert "mcpops.runbooks.pg_connections_info" in dep["msg"]
    assert ("state=info is deprecated" if given else "leaving state out") in dep["msg"]


def test_a_changing_state_passes_without_a_deprecation():
    module = FakeModule({"state": "cancelled"})
    assert check_state(module, ["terminated", "cancelled"], "pg_connections_info") == "cancelled"
    assert module.deprecations == [] and module.failed is None


@pytest.mark.parametrize("bad", ["list", "get", "absent", "Info"])
def test_any_other_state_fails_as_a_choices_check_would(bad):
    module = FakeModule({"state": bad})
    with pytest.raises(Failed):
        check_state(module, ["terminated", "cancelled"], "pg_connections_info")
    assert module.failed == {"msg": "value of state must be one of: terminated, cancelled, got: %s" % bad}
    assert module.deprecations == []
