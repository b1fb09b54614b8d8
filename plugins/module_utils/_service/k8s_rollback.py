# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`kubectl rollout undo [--to-revision=N]` planned from the objects: which revision the deployment goes back to,
or why it cannot, and the JSON patch that puts that revision's pod template back.

kubectl's rules: revision 0 means the newest revision below the current one; a revision that no ReplicaSet holds is
refused; going to the revision the deployment already runs changes nothing. The patch replaces spec.template with the
ReplicaSet's template minus the pod-template-hash label the controller added, as kubectl does; the controller then
finds that ReplicaSet again and gives it the next revision number."""

from __future__ import annotations

import copy

from ansible_collections.mcpops.runbooks.plugins.module_utils._service.k8s_rollout import owned_replicasets, revision_of

HASH_LABEL = "pod-template-hash"


def _template_of(replicaset):
    template = copy.deepcopy(((replicaset.get("spec") or {}).get("template")) or {})
    labels = (template.get("metadata") or {}).get("labels") or {}
    labels.pop(HASH_LABEL, None)
    return template


def rollback_plan(deployment, replicasets, wanted):
    """(plan, patch): plan says from/to revision and images, skip (already there) or error; patch is the JSON patch
    (None when there is nothing to do). wanted: 0 for the previous revision, else the revision number."""
    name = (deployment.get("metadata") or {}).get("name")
    current = revision_of(deployment)
    owned = {revision_of(rs): rs for rs in owned_replicasets(deployment, replicasets)}
    plan = {"from_revision": current, "to_revision": None, "to_replicaset": None, "from_images": [],
            "to_images": [], "skip": False, "error": None, "revisions": sorted(owned)}
    if current in owned:
        plan["from_images"] = _images(owned[current])
    if wanted is not None and wanted < 0:
        plan["error"] = "rollback revision must be 0 (the previous one) or a revision number, got %d" % wanted
        return plan, None
    if wanted:
        target = wanted
    else:
        older = [rev for rev in owned if rev < current]
        target = max(older) if older else None
    if target is None or target not in owned:
        plan["error"] = ("deployment/%s has %s; it is at revision %d. %s" % (
            name, ("no revision %d" % target) if target else "no earlier revision to roll back to", current,
            "Its revisions: %s." % ", ".join(str(rev) for rev in sorted(owned)) if owned else "It has no ReplicaSets."))
        return plan, None
    rs = owned[target]
    plan.update(to_revision=target, to_replicaset=(rs.get("metadata") or {}).get("name"), to_images=_images(rs))
    template = _template_of(rs)
    if target == current or template == ((deployment.get("spec") or {}).get("template") or {}):
        plan["skip"] = True  # kubectl: "skipped rollback (current template already matches revision N)"
        return plan, None
    return plan, [{"op": "replace", "path": "/spec/template", "value": template}]


def _images(replicaset):
    containers = (((replicaset.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
    return [c.get("image") for c in containers]
