"""run_module: how every module ends (exit with the result, or fail with the TaskError's message and result)."""

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.module_tail import run_module


class Exited(Exception):
    pass


class FakeModule:
    """Records what AnsibleModule.exit_json / fail_json were given; both end the module, as the real ones do."""

    def __init__(self, params, check_mode=False):
        self.params = params
        self.check_mode = check_mode
        self.exited = None
        self.failed = None

    def exit_json(self, **kwargs):
        self.exited = kwargs
        raise Exited()

    def fail_json(self, **kwargs):
        self.failed = kwargs
        raise Exited()


def test_the_result_of_run_is_the_modules_result_and_run_gets_params_check_mode_and_deps():
    seen = {}

    def run(params, check_mode, *, warn):
        seen.update(params=params, check_mode=check_mode, warn=warn)
        return {"changed": True, "removed": ["a"]}

    module = FakeModule({"state": "absent"}, check_mode=True)
    with pytest.raises(Exited):
        run_module(module, run, warn=print)
    assert module.exited == {"changed": True, "removed": ["a"]} and module.failed is None
    assert seen == {"params": {"state": "absent"}, "check_mode": True, "warn": print}


def test_a_task_error_fails_with_its_message_and_the_facts_found_before_it():
    def run(params, check_mode):
        raise TaskError("POST /api/system/backups -> HTTP 507", {"answered": True})

    module = FakeModule({})
    with pytest.raises(Exited):
        run_module(module, run)
    assert module.failed == {"msg": "POST /api/system/backups -> HTTP 507", "answered": True}
    assert module.exited is None


def test_a_missing_library_fails_with_ansibles_missing_library_message_and_the_traceback():
    def run(params, check_mode):
        raise TaskError("psycopg is missing", library="psycopg", reason="to talk to PostgreSQL", exception="TB")

    module = FakeModule({})
    with pytest.raises(Exited):
        run_module(module, run)
    assert "Failed to import the required Python library (psycopg)" in module.failed["msg"]
    assert "to talk to PostgreSQL" in module.failed["msg"]
    assert module.failed["exception"] == "TB"


def test_any_other_exception_is_not_swallowed():
    def run(params, check_mode):
        raise KeyError("bug")

    module = FakeModule({})
    with pytest.raises(KeyError):
        run_module(module, run)
    assert module.failed is None and module.exited is None
