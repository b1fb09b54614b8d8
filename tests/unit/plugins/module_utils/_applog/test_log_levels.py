"""_applog/log_levels.py: text levels in any case, pino's numbers (and numbers as text) by their names."""

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_levels import LevelNames, level_name


@pytest.mark.parametrize("raw, name", [
    ("ERROR", "error"), (" Warning ", "warning"), ("fatal", "fatal"),
    (50, "error"), (60, "fatal"), (40, "warn"), (30, "info"), (20, "debug"), (10, "trace"), (55, "error"),
    ("50", "error"), ("60", "fatal"), (50.0, "error"),
    (None, None), ("", None), (True, None), ({"name": "error"}, None),
])
def test_level_name(raw, name):
    assert level_name(raw) == name
    assert LevelNames()(raw) == name


def test_cache_is_bounded():
    names = LevelNames()
    for index in range(3000):
        names("level-%d" % index)
    assert len(names.cache) == 1000
