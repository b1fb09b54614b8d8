# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who a run acted as (the operator_identity role's fact), for report.json (standard library only).

The role sets the fact `operator_identity_stated` before a runbook's first change; `RunIdentity.seen` picks it out
of each host's task results, `as_dict()` is report.json's `operator_identity` (report_markdown.identity_rows renders it in
report.md's run table). docs/dev/contract-operator-identity.md describes the whole chain.
"""

from __future__ import annotations

IDENTITY_FACT = "operator_identity_stated"
FIELDS = ("break_glass_account", "operator", "operator_source", "anonymous")


class RunIdentity:
    """The identity each host's changes carried, as the role stated it (the last statement of a host wins)."""

    def __init__(self):
        self.by_host = {}

    def seen(self, host, result):
        """Feed one host's task result (any task: only the role's set_fact carries the fact)."""
        facts = result.get("ansible_facts") if isinstance(result, dict) else None
        stated = facts.get(IDENTITY_FACT) if isinstance(facts, dict) else None
        if isinstance(stated, dict):
            self.by_host[host] = {key: stated.get(key) for key in FIELDS}
            self.by_host[host]["anonymous"] = bool(stated.get("anonymous"))

    def as_dict(self):
        """{"stated": bool, "identities": [{break_glass_account, operator, operator_source, anonymous, hosts}]},
        one entry per distinct identity (hosts of an inventory may carry different break-glass accounts)."""
        groups = []
        for host in sorted(self.by_host):
            identity = self.by_host[host]
            for group in groups:
                if all(group[key] == identity[key] for key in FIELDS):
                    group["hosts"].append(host)
                    break
            else:
                groups.append(dict(identity, hosts=[host]))
        return {"stated": bool(groups), "identities": groups}
