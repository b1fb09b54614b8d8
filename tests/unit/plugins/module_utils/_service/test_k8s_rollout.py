"""A Deployment's rollout as kubectl rollout status decides it, its revisions, the failing new pods, and
kubectl rollout undo's choice of revision."""

from ansible_collections.mcpops.runbooks.plugins.module_utils._service import k8s_rollback, k8s_rollout

UID = "d-1"


def rs(name, revision, image, replicas=0, hash_label="abc"):
    return {"metadata": {"name": name, "annotations": {k8s_rollout.REVISION: str(revision)},
                         "ownerReferences": [{"kind": "Deployment", "name": "api", "uid": UID}]},
            "spec": {"template": {"metadata": {"labels": {"app": "api", "pod-template-hash": hash_label}},
                                  "spec": {"containers": [{"name": "api", "image": image}]}}},
            "status": {"replicas": replicas}}


def deployment(revision, image, generation=5, observed=5, replicas=2, updated=2, total=2, available=2, conditions=()):
    return {"metadata": {"name": "api", "uid": UID, "generation": generation,
                         "annotations": {k8s_rollout.REVISION: str(revision)}},
            "spec": {"replicas": replicas, "template": {"metadata": {"labels": {"app": "api"}},
                                                        "spec": {"containers": [{"name": "api", "image": image}]}}},
            "status": {"observedGeneration": observed, "updatedReplicas": updated, "replicas": total,
                       "availableReplicas": available, "conditions": list(conditions)}}


SETS = [rs("api-1", 1, "api:1.0"), rs("api-3", 3, "api:1.2-broken", 2, "ccc"), rs("api-2", 2, "api:1.1", 0, "bbb"),
        {"metadata": {"name": "other", "annotations": {k8s_rollout.REVISION: "9"},
                      "ownerReferences": [{"kind": "Deployment", "name": "api", "uid": "someone-else"}]}}]


def test_revisions_are_the_deployments_own_oldest_first():
    found = k8s_rollout.revisions(deployment(3, "api:1.2-broken"), SETS)
    assert [(r["revision"], r["replicaset"], r["images"], r["current"]) for r in found] == [
        (1, "api-1", ["api:1.0"], False), (2, "api-2", ["api:1.1"], False), (3, "api-3", ["api:1.2-broken"], True)]


def test_complete_only_when_observed_updated_available_and_no_old_replica():
    revs = k8s_rollout.revisions(deployment(3, "x"), SETS)
    assert k8s_rollout.rollout_state(deployment(3, "x"), revs, [])["complete"]
    cases = [
        (dict(observed=4), "Waiting for deployment spec update to be observed"),
        (dict(updated=1), "1 out of 2 new replicas have been updated"),
        (dict(total=3), "1 old replicas are pending termination"),
        (dict(available=1), "1 of 2 updated replicas are available"),
        (dict(conditions=[{"type": "Progressing", "reason": "ProgressDeadlineExceeded"}]),
         'deployment "api" exceeded its progress deadline'),
    ]
    for change, message in cases:
        state = k8s_rollout.rollout_state(deployment(3, "x", **change), revs, [])
        assert not state["complete"] and state["message"] == message, change
    scaled_to_zero = deployment(3, "x", replicas=0, updated=0, total=0, available=0)
    assert k8s_rollout.rollout_state(scaled_to_zero, revs, [])["complete"]


def pod(name, owner, state, running=False, terminating=False, last_reason=None, last_exit=None):
    return {"id": name, "owner": owner, "state": state, "running": running, "terminating": terminating,
            "image": "api:1.2-broken", "last_reason": last_reason, "last_exit_status": last_exit, "restarts": 3}


def test_failing_names_the_new_revisions_crashing_pods_only():
    revs = k8s_rollout.revisions(deployment(3, "x"), SETS)
    replicas = [pod("api-3-a", "api-3", "CrashLoopBackOff", last_reason="Error", last_exit=1),
                pod("api-3-b", "api-3", "Running"),  # not ready yet: waiting, not failing
                pod("api-2-a", "api-2", "CrashLoopBackOff"),  # an old revision's
                pod("api-3-c", "api-3", "Running", last_reason="OOMKilled", last_exit=137)]
    state = k8s_rollout.rollout_state(deployment(3, "x", available=1), revs, replicas)
    assert state["failing"] == [
        "api-3-a: CrashLoopBackOff (image api:1.2-broken, last exit 1 Error, 3 restarts)",
        "api-3-c: Running (image api:1.2-broken, last exit 137 OOMKilled, 3 restarts)"]
    # before the controller saw the new spec, the "current" revision is the old one: nothing is judged yet
    assert k8s_rollout.rollout_state(deployment(3, "x", observed=4), revs, replicas)["failing"] == []


def test_undo_goes_to_the_newest_revision_below_the_current_one_without_the_hash_label():
    plan, patch = k8s_rollback.rollback_plan(deployment(3, "api:1.2-broken"), SETS, 0)
    assert (plan["from_revision"], plan["to_revision"], plan["to_replicaset"]) == (3, 2, "api-2")
    assert plan["from_images"] == ["api:1.2-broken"] and plan["to_images"] == ["api:1.1"] and not plan["skip"]
    assert patch == [{"op": "replace", "path": "/spec/template", "value": {
        "metadata": {"labels": {"app": "api"}}, "spec": {"containers": [{"name": "api", "image": "api:1.1"}]}}}]
    assert SETS[2]["spec"]["template"]["metadata"]["labels"]["pod-template-hash"] == "bbb"  # the input is untouched


def test_to_a_revision_a_missing_one_and_the_current_template():
    plan, patch = k8s_rollback.rollback_plan(deployment(3, "api:1.2-broken"), SETS, 1)
    assert plan["to_images"] == ["api:1.0"] and patch[0]["value"]["spec"]["containers"][0]["image"] == "api:1.0"
    plan, patch = k8s_rollback.rollback_plan(deployment(3, "api:1.2-broken"), SETS, 7)
    assert patch is None and plan["error"] == ("deployment/api has no revision 7; it is at revision 3. "
                                               "Its revisions: 1, 2, 3.")
    plan, patch = k8s_rollback.rollback_plan(deployment(1, "api:1.0"), SETS[:1], 0)
    assert patch is None and "no earlier revision to roll back to" in plan["error"]
    plan, patch = k8s_rollback.rollback_plan(deployment(3, "api:1.2-broken"), SETS, 3)
    assert plan["skip"] and patch is None and plan["error"] is None
