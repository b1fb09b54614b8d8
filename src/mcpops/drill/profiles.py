"""The service profiles as a drill reads them: profiles/<name>.yml through the collection's own loader
(plugins/plugin_utils/service_profiles.py, the one the runbooks' service_profile role uses) and its condition
grammar (`status == healthy`: plugins/module_utils/_health/conditions.py).

Both import the collection as ansible_collections.mcpops.runbooks, which the checkout provides through its link
collections/ansible_collections/mcpops/runbooks -> the checkout; that dir is put on sys.path (appended: nothing
installed is shadowed) the first time a profile is read. The 1C gateway's drills never read a profile.
"""

import importlib
import sys

from mcpops.drill.scenarios import DrillError
from mcpops.run.plugin_utils import PLUGIN_UTILS, load

# <checkout>/collections (PLUGIN_UTILS is <checkout>/plugins/plugin_utils)
COLLECTIONS = PLUGIN_UTILS.parents[1] / "collections"
CONDITIONS = "ansible_collections.mcpops.runbooks.plugins.module_utils._health.conditions"


def _collection_importable():
    path = str(COLLECTIONS)
    if path not in sys.path:
        sys.path.append(path)


def load_profile(name):
    """The validated builtin profile `name`; DrillError (one line) when it cannot be read."""
    _collection_importable()
    try:
        module = load("service_profiles")
        return module.load(name)
    except ImportError as exc:
        raise DrillError(f"service profile {name}: the collection's profile loader cannot be imported ({exc}); "
                         f"is {COLLECTIONS}/ansible_collections/mcpops/runbooks the checkout?") from None
    except Exception as exc:  # ProfileError: names the profile and the field
        raise DrillError(f"service profile {name}: {' '.join(str(exc).split())}") from None


def evaluate(text, body):
    """None when the profile's condition `text` holds for body (decoded JSON), else why not."""
    _collection_importable()
    conditions = importlib.import_module(CONDITIONS)
    try:
        condition = conditions.parse(text)
    except ValueError as exc:
        return str(exc)
    return conditions.evaluate(condition, body)
