"""The collection's controller-side helpers (`plugins/plugin_utils/`), loaded by file path.

They import only the standard library and Jinja2 (report_markdown's templates; ansible-core brings it), never each
other through `ansible_collections`, so the `mcpops` command uses the very code the incident_report callback runs,
without setting up Ansible's collection loader.
"""

import importlib.util
import sys
from pathlib import Path

PLUGIN_UTILS = Path(__file__).resolve().parents[3] / "plugins" / "plugin_utils"  # from src/mcpops/run/


def load(name):
    """plugins/plugin_utils/<name>.py as a module (loaded once)."""
    key = "mcpops._plugin_utils." + name
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, PLUGIN_UTILS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]
