# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The attributes every module of the collection declares. DOCUMENTATION describes them; a module then
    # adds its support by fragment: CHANGES (check mode in full, no diff), CHANGES_WITH_DIFF or INFO
    # (read-only); and one of NO_GROUP, GATEWAY_GROUP, POSTGRES_GROUP, SERVICE_GROUP, MYSQL_GROUP, REDIS_GROUP. The
    # _GROUP ones say the module is in meta/runtime.yml's action group, so that module_defaults:
    # group/mcpops.runbooks.gateway (or .postgres, .service) sets its connection options once.
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

    CHANGES_WITH_DIFF = r"""
options: {}
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
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
    membership: []
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

    SERVICE_GROUP = r"""
options: {}
attributes:
  action_group:
    support: full
    membership:
      - mcpops.runbooks.service
"""

    MYSQL_GROUP = r"""
options: {}
attributes:
  action_group:
    support: full
    membership:
      - mcpops.runbooks.mysql
"""

    REDIS_GROUP = r"""
options: {}
attributes:
  action_group:
    support: full
    membership:
      - mcpops.runbooks.redis
"""
