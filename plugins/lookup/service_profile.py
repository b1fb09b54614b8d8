# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The service_profile lookup: one service's validated profile (builtin or given), with the inventory's overrides."""

from __future__ import annotations

DOCUMENTATION = r"""
name: service_profile
author: mcpops-runbooks engineers (@mcpops-runbooks)
version_added: "0.1.0"
short_description: A service's profile, validated, with overrides
description:
  - >-
    Returns the profile of one service: how its health is judged (checks, auth, conditions), how it runs (platform
    and the unit, program, compose service or deployment), its datastores, its logs, its data dir and backup kind.
    C(docs/services.md) describes every field.
  - >-
    The term names a builtin profile, one of the files in the collection's C(profiles/): C(onec-gateway),
    C(lego-mcp), C(cctelegram-mcp), C(loyalty-api), C(connector-mcp). A service of your own gives its whole profile
    with O(profile) instead; the term is then not used.
  - >-
    O(overrides) is laid over the profile: dicts merge key by key, lists and scalars are replaced whole (to change
    one health check, give the whole C(health.checks) list).
  - >-
    The result is validated: every field checked, unknown keys refused (so that a typo is caught), defaults filled,
    and C(secret_vars) (the variables the health checks' auth needs) and C(health_check_names) added. A bad field
    fails the lookup with a message naming the profile and the field's path, for example "service profile
    cctelegram-mcp: health.checks[0].auth: 'token' is not an auth of this profile (api_key) or none".
  - >-
    A profile never holds a secret: an auth or a datastore names the Ansible variable that holds it (C(secret_var)),
    for example a vaulted inventory variable.
  - >-
    The role C(mcpops.runbooks.service_profile) sets the fact C(mcp_profile) from this lookup with the inventory's
    C(mcp_service), C(mcp_service_overrides) and C(mcp_service_profile).
options:
  _terms:
    description: The name of a builtin profile; at most one, and none only with O(profile).
    type: list
    elements: str
    required: false
  overrides:
    description: Fields to change, laid over the profile (nested dicts merge, lists and scalars replace).
    type: dict
    default: {}
  profile:
    description: A whole profile for a service that has no builtin one; when not empty it is used instead of the term's.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: The CCTelegram profile, its API behind the inventory's load balancer
  ansible.builtin.set_fact:
    mcp_profile: >-
      {{ lookup('mcpops.runbooks.service_profile', 'cctelegram-mcp',
                overrides={'api': {'default_url': 'https://cctelegram.internal:8443'}}) }}

- name: The health checks a profile runs
  ansible.builtin.debug:
    msg: "{{ lookup('mcpops.runbooks.service_profile', 'loyalty-api').health_check_names }}"

- name: A service of our own
  ansible.builtin.set_fact:
    mcp_profile: "{{ lookup('mcpops.runbooks.service_profile', profile=my_service_profile) }}"
"""

RETURN = r"""
_raw:
  description:
    - One profile, every field present and validated (C(docs/services.md) lists them), plus C(secret_vars) (sorted
      names of the variables holding the auth secrets) and C(health_check_names) (the checks' names in order).
  type: list
  elements: dict
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.mcpops.runbooks.plugins.module_utils._profile.schema import ProfileError
from ansible_collections.mcpops.runbooks.plugins.plugin_utils.service_profiles import load


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        profile = self.get_option("profile")
        if len(terms) > 1:
            raise AnsibleLookupError("service_profile takes one service name, got %d terms" % len(terms))
        if not terms and not profile:
            raise AnsibleLookupError("service_profile needs a service name (e.g. 'cctelegram-mcp') or profile=")
        try:
            return [load(terms[0] if terms else None, self.get_option("overrides"), profile)]
        except ProfileError as exc:
            raise AnsibleLookupError(str(exc)) from None
