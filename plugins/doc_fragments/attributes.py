# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The attributes every module of the collection declares. DOCUMENTATION describes them; a module then
    # adds, by fragment or by hand, its support: CHANGES (check mode in full, diff where it says so) or
    # INFO (read-only). GATEWAY_GROUP / POSTGRES_GROUP say the module is in meta/runtime.yml's action group,
    # so that module_defaults: group/mcpops.runbooks.gateway (or .postgres) sets its connection options once.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check mode and report what would change without changing anything.
  diff_mode:
    description: Reports what changed (or would change in check mode) when run with C(--diff).
  action_group:
    description: Use C(group/mcpops.runbooks.<group>) in C(module_defaults) to set options of every module of the group once.
"""

    CHANGES = r"""
options: {}
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
"""

    INFO = r"""
options: {}
attributes:
  check_mode:
    support: full
    details: Read-only; the module changes nothing, in check mode or not.
  diff_mode:
    support: N/A
    details: Read-only; there is nothing to diff.
"""

    NO_GROUP = r"""
options: {}
attributes:
  action_group:
    support: none
"""

    GATEWAY_GROUP = r"""
options: {}
attributes:
  action_group:
    support: full
    membership:
      - mcpops.runbooks.gateway
"""

    POSTGRES_GROUP = r"""
options: {}
attributes:
  action_group:
    support: full
    membership:
      - mcpops.runbooks.postgres
"""
