"""meta/runtime.yml's action groups: every module that takes a group's shared connection options is in that group,
so that one module_defaults entry reaches all of them (pg_password_rotate was left out of postgres once)."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
# the group whose options a module takes, by the argspec it imports
GROUP_OF_ARGSPEC = {
    r"module_utils\._pg\.connect import CONNECTION_ARGSPEC": "postgres",
    r"module_utils\._mysql\.(connect|connection_options) import CONNECTION_ARGSPEC": "mysql",
    r"module_utils\._redis\.connection import CONNECTION_ARGSPEC": "redis",
}


def test_every_module_taking_a_group_s_connection_options_is_in_that_group():
    groups = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())["action_groups"]
    expected = {}
    for module in sorted((ROOT / "plugins" / "modules").glob("*.py")):
        source = module.read_text()
        for pattern, group in GROUP_OF_ARGSPEC.items():
            if re.search(pattern, source):
                expected.setdefault(group, set()).add(module.stem)
    assert set(expected) == {"postgres", "mysql", "redis"}  # the patterns still find the modules
    for group, modules in expected.items():
        assert modules <= set(groups[group]), f"{group}: missing {sorted(modules - set(groups[group]))}"


def test_every_group_member_is_a_module_of_the_collection():
    groups = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())["action_groups"]
    modules = {p.stem for p in (ROOT / "plugins" / "modules").glob("*.py")}
    for group, members in groups.items():
        assert set(members) <= modules, f"{group}: {sorted(set(members) - modules)} are not modules"
