# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a Deployment's rollout stands: complete as `kubectl rollout status` decides it, or failing because the new
revision's pods crash, and which revision each of its ReplicaSets holds.

Plain functions over the API objects as `kubectl get -o json` prints them; nothing here asks the API server."""

from __future__ import annotations

REVISION = "deployment.kubernetes.io/revision"
# A new pod in one of these states will not become available by waiting: the rollout wait stops and says so.
FAILING_STATES = ("CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "InvalidImageName",
                  "CreateContainerConfigError", "CreateContainerError", "RunContainerError", "Error", "OOMKilled")


def revision_of(obj):
    """The revision annotation of a Deployment or ReplicaSet as an int (0 when it has none)."""
    text = ((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION)
    try:
        return int(text)
    except (TypeError, ValueError):
        return 0


def owned_replicasets(deployment, replicasets):
    """The ReplicaSets the deployment owns (by its uid; by name when the objects carry no uid)."""
    meta = deployment.get("metadata") or {}
    uid, name = meta.get("uid"), meta.get("name")
    owned = []
    for rs in replicasets:
        for ref in (rs.get("metadata") or {}).get("ownerReferences") or []:
            mine = ref.get("uid") == uid if uid else ref.get("name") == name
            if ref.get("kind") == "Deployment" and mine:
                owned.append(rs)
                break
    return owned


def revisions(deployment, replicasets):
    """The deployment's revisions, oldest first: revision, replicaset, images, replicas, current."""
    current = revision_of(deployment)
    found = []
    for rs in owned_replicasets(deployment, replicasets):
        containers = (((rs.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
        found.append({
            "revision": revision_of(rs),
            "replicaset": (rs.get("metadata") or {}).get("name"),
            "images": [c.get("image") for c in containers],
            "replicas": (rs.get("status") or {}).get("replicas", 0),
            "current": revision_of(rs) == current,
        })
    return sorted(found, key=lambda item: item["revision"])


def _failing(replicas, current_rs):
    """One sentence a new pod that is failing: its name, state, last stop and restarts."""
    reasons = []
    for pod in replicas:
        if pod.get("owner") != current_rs or pod.get("terminating") or pod.get("running"):
            continue
        if pod.get("state") in FAILING_STATES or pod.get("last_reason") == "OOMKilled":
            last = ""
            if pod.get("last_exit_status") is not None or pod.get("last_reason"):
                last = ", last exit %s %s" % (pod.get("last_exit_status"), pod.get("last_reason") or "")
            reasons.append("%s: %s (image %s%s, %s restarts)" % (
                pod.get("id"), pod.get("state"), pod.get("image"), last.rstrip(), pod.get("restarts") or 0))
    return reasons


def rollout_state(deployment, revision_list, replicas):
    """kubectl rollout status' verdict, with the failing new pods.

    complete: the controller saw the latest spec (observedGeneration >= generation) and every desired replica is
    updated and available with no old one left; message: what is being waited for, in kubectl's words;
    failing: sentences for the pods of the current revision that crash or cannot start (only once the controller
    saw the spec: before that the current revision is still the old one)."""
    meta, spec, st = deployment.get("metadata") or {}, deployment.get("spec") or {}, deployment.get("status") or {}
    generation, observed = meta.get("generation", 0), st.get("observedGeneration", 0)
    desired = spec.get("replicas", 1)
    updated, total, available = st.get("updatedReplicas", 0), st.get("replicas", 0), st.get("availableReplicas", 0)
    state = {"generation": generation, "observed_generation": observed, "desired": desired, "updated": updated,
             "replicas": total, "available": available, "complete": False, "failing": []}
    if observed < generation:
        state["message"] = "Waiting for deployment spec update to be observed"
        return state
    progressing = [c for c in st.get("conditions") or [] if c.get("type") == "Progressing"]
    if progressing and progressing[0].get("reason") == "ProgressDeadlineExceeded":
        state["message"] = 'deployment "%s" exceeded its progress deadline' % meta.get("name")
    elif updated < desired:
        state["message"] = "%d out of %d new replicas have been updated" % (updated, desired)
    elif total > updated:
        state["message"] = "%d old replicas are pending termination" % (total - updated)
    elif available < updated:
        state["message"] = "%d of %d updated replicas are available" % (available, updated)
    else:
        state.update(complete=True, message="successfully rolled out")
    current_rs = [r["replicaset"] for r in revision_list if r["current"]]
    if not state["complete"] and current_rs:
        state["failing"] = _failing(replicas, current_rs[0])
    return state
