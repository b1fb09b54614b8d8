"""Every module's documented result survives AnsibleModule.exit_json: a result with a top-level `path` (or `dest`) gets
the file's facts added (add_path_info), and they overwrite keys of the same name. nginx_client_limit once returned `mode` beside
`path` and got the file's permissions back instead (its key is `limit` now)."""

import ast
from pathlib import Path

import pytest
import yaml

MODULES = sorted((Path(__file__).resolve().parents[3] / "plugins" / "modules").glob("*.py"))
# what ansible.module_utils.basic.AnsibleModule.add_path_info writes into a result that has `path`
FILE_FACTS = {"uid", "gid", "owner", "group", "mode", "state", "size", "secontext"}
PATH_KEYS = {"path", "dest"}


def documented_return(path):
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "RETURN":
            return yaml.safe_load(node.value.value) or {}
    return None


def test_the_walk_sees_the_modules():
    assert len(MODULES) >= 40 and all(documented_return(path) is not None for path in MODULES if path.stem != "__init__")


@pytest.mark.parametrize("module", [path for path in MODULES if path.stem != "__init__"], ids=lambda path: path.stem)
def test_no_result_key_that_the_file_facts_of_path_would_overwrite(module):
    keys = set(documented_return(module))
    assert not (keys & PATH_KEYS and keys & FILE_FACTS), (
        "%s returns %s with %s: AnsibleModule overwrites them with the file's facts"
        % (module.stem, sorted(keys & PATH_KEYS), sorted(keys & FILE_FACTS)))
