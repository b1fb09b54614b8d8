# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The deprecation path of state=info: a changing module still reads until 2.0.0, and says to use its _info module.

A module's O(state) may not offer info, list or get as a choice (validate-modules, parameter-state-invalid-choice):
reading is its *_info module's job. Until 2.0.0 the changing module keeps answering state=info (and a missing
state, which meant info) with a deprecation, so its argument_spec lists no choices and this checks the value.
"""

from __future__ import annotations

COLLECTION = "mcpops.runbooks"
REMOVED_IN = "2.0.0"


def check_state(module, states, info_module):
    """Fail on a state outside `states` and info; on info or no state, deprecate it. Returns the state (info for none)."""
    state = module.params.get("state")
    if state is not None and state != "info" and state not in states:
        module.fail_json(msg="value of state must be one of: %s, got: %s" % (", ".join(states), state))
    if state is None or state == "info":
        given = "state=info" if state else "leaving state out (it means state=info)"
        module.deprecate(
            "%s is deprecated: read with %s.%s instead, which takes the same options and returns the same keys; "
            "state will be required and info refused" % (given, COLLECTION, info_module),
            version=REMOVED_IN, collection_name=COLLECTION)
        return "info"
    return state
