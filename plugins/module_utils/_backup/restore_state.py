# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""gateway_backup's state restored for a BackupTask: the guards against a running gateway (refuse, or warn with
force or in check mode), then the store's restore, or its plan in check mode, with the diff.

BackupTask.restored calls it: a run that creates or prunes backups never compiles this file (the AnsiballZ payload
keeps no .pyc, issue 20's <= 30 ms of own imports).
"""

from __future__ import annotations


def refuse_or_warn(task, refusal, forced_warning, check_warning):
    """A guard against restoring under a running gateway: refuse, or warn with force or in check mode."""
    if task.params["force"]:
        task.warn(forced_warning)
    elif task.check_mode:
        # INC-003 stops the gateway in step 1, which check mode skips: report the plan anyway.
        task.warn(check_warning)
    else:
        task.fail(refusal)


def restored(task):
    """The state restored of task (a gateway_backup_run.BackupTask): its result updated, or task.fail()."""
    params, store, result = task.params, task.store, task.result
    backup_id = params["backup_id"]
    if task.client is not None and task.client.answers():
        url = task.client.base_url
        refuse_or_warn(
            task,
            "the gateway answers at %s/healthz: stop it before restoring (runbook INC-003 step 1, "
            "role mcpops.runbooks.gateway_service) or set force: true" % url,
            "restoring while the gateway answers at %s (force: true)" % url,
            "the gateway answers at %s: a real run must stop it first (INC-003 step 1)" % url,
        )
    require_lock = True
    if store.lock_is_held():
        refuse_or_warn(
            task,
            "the gateway (or another restore) holds %s/.gateway.lock: stop it before restoring "
            "(runbook INC-003 step 1) or set force: true" % store.data_dir,
            "restoring without the data dir lock, which another process holds (force: true); that process "
            "may overwrite the restored data",
            "the gateway (or another restore) holds %s/.gateway.lock: a real run must stop it first "
            "(INC-003 step 1)" % store.data_dir,
        )
        require_lock = False
    if task.check_mode:
        plan = store.plan_restore(backup_id, params["max_schema_version"], key=task.key)
        outcome = {
            "changed": plan["needed"],
            "backup_id": plan["backup_id"],
            "safety_backup_id": None,
            "safety_backup_sealed": (task.key is not None) if plan["needed"] else None,
            "schema_version": plan["schema_version"],
            "files_changed": {k: plan[k] for k in ("added", "changed", "removed")},
        }
    else:
        outcome = store.restore(backup_id, params["max_schema_version"], require_lock=require_lock, key=task.key)
        plan = outcome.pop("plan")
        if outcome.get("recovered"):
            result["recovered"] = outcome["recovered"]
        outcome.pop("recovered", None)
    result.update(outcome)
    if task.diff and plan["needed"]:
        result["diff"] = {
            "before_header": "%s (current data)" % store.data_dir,
            "after_header": "backup %s" % plan["backup_id"],
            "before": {"files": plan["before"]},
            "after": {"files": plan["after"]},
        }
