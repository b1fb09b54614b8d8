# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""gateway_backup's entry point run(): the states present, restored and absent over a BackupStore and a GatewayClient.

run() returns the module's result dict or raises TaskError carrying msg and the result as far as it got.
No Ansible here: unit tests call it directly. The gateway client (only with api_url) and the forensic key (only
for a restore with forensic_key_file) are imported where they are used, and the errors it catches come from the
small errors files: the AnsiballZ payload compiles every file a run imports.
"""

from __future__ import annotations

from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.backup_id import (
    BackupIdError,
    validate_backup_id,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.data_dir_lock import LockHeldError
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.errors import SealedBackupError, SwapError
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.manifest import ManifestError
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.safe_fs import (
    FileTooLargeError,
    UnsafeFileError,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.store import (
    LATEST_VALID,
    BackupError,
    BackupStore,
    refused,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._forensic.errors import ForensicError
from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.errors import GatewayError

TASK_ERRORS = (
    BackupError, LockHeldError, SwapError, GatewayError, ManifestError, BackupIdError, UnsafeFileError,
    FileTooLargeError, SealedBackupError, ForensicError,
)


def summary(backup):
    """id, createdAt, schemaVersion, files (count), sizeBytes of a manifest or of an API backup record."""
    files = backup.get("files")
    if isinstance(files, list):
        return {
            "id": backup.get("id"),
            "createdAt": backup.get("createdAt"),
            "schemaVersion": backup.get("schemaVersion"),
            "files": len(files),
            "sizeBytes": sum(item.get("size", 0) for item in files if isinstance(item, dict)),
        }
    return {key: backup.get(key) for key in ("id", "createdAt", "schemaVersion", "files", "sizeBytes")}


def gateway_client(params):
    """The GatewayClient for params' api_url, or None without one."""
    if not params.get("api_url"):
        return None
    from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.client import GatewayClient
    return GatewayClient.from_params(params)


def _ignore(message):
    pass


class BackupTask:
    """One run of gateway_backup: the store, the client (or None), params, check/diff mode and the result so far."""

    def __init__(self, store, client, params, check_mode=False, diff=False, warn=None, key=None):
        self.store = store
        self.client = client
        self.params = params
        self.check_mode = check_mode
        self.diff = diff
        self.warn = warn or _ignore
        self.key = key  # the operator's forensic key (sealed safety backups), or None
        self.result = dict(changed=False, recovered=None)

    def fail(self, msg):
        raise TaskError(msg, dict(self.result))

    def run(self):
        """Recover an interrupted restore, then the state's operation. Returns the result."""
        try:
            self.result["recovered"] = self.recover_first()
            if self.result["recovered"]:
                self.result["changed"] = True
            {"present": self.present, "restored": self.restored, "absent": self.absent}[self.params["state"]]()
            if not self.check_mode:
                self.store.save_parse_cache()  # what this run verified parses (never on a refusal)
        except UnsafeFileError as exc:  # met below the store's own checks (e.g. mid-swap): say it the same way
            self.fail(str(refused(exc, "the run")))
        except TASK_ERRORS as exc:
            self.fail(str(exc))
        if self.result["recovered"]:
            self.result["changed"] = True
        return self.result

    def recover_first(self):
        """Finish an interrupted restore before anything else (a half state must not outlive this run)."""
        if not self.store.interrupted_restore():
            return None
        if self.check_mode:
            return {"action": "would_recover", "backup_id": None, "phase": None}
        try:
            return self.store.recover()
        except LockHeldError as exc:
            self.fail("an interrupted restore is waiting in %s but %s" % (self.store.data_dir, exc))

    # -- state: present ----------------------------------------------------
    def present(self):
        params, store, result = self.params, self.store, self.result
        transport = params["transport"]
        if transport == "api" and self.client is None:
            self.fail("transport: api needs api_url (and api_token)")
        if transport == "auto":
            transport = "api" if self.client is not None and self.client.answers() else "files"
        result["transport"] = transport
        if transport == "api":
            result["changed"] = True
            if self.check_mode:
                result["backup_id"] = None
                return
            backup = self.client.create_backup()
            result["backup_id"] = backup.get("id")
            result["backup"] = summary(backup)
            return
        if not params["force"] and store.lock_is_held():
            self.fail(
                "the gateway holds %s/.gateway.lock: a backup on the files could copy a store half written; "
                "use transport: api with api_url/api_token while it runs, stop it, or set force: true" % store.data_dir
            )
        # Idempotent: when the newest backup already holds exactly the current data (and is
        # valid), take none. Cheapest check first: paths and sizes (stat), then the sha256s of
        # the current data, then the backup's verification. No backup: nothing is hashed twice.
        for entry in store.list()[:1]:
            if entry["files"] is None:
                continue
            try:
                manifest = store.manifest(entry["id"])
            except ManifestError:
                continue
            if [(f["path"], f["size"]) for f in manifest["files"]] != store.current_sizes():
                continue
            listed = [{"path": f["path"], "size": f["size"], "sha256": f["sha256"].lower()} for f in manifest["files"]]
            if listed == store.current_files() and not store.verify(entry["id"]):
                result.update(changed=False, backup_id=entry["id"], backup=summary(manifest))
                return
        result["changed"] = True
        if self.check_mode:
            result["backup_id"] = None
            return
        manifest = store.create(force=params["force"])
        result["backup_id"] = manifest["id"]
        result["backup"] = summary(manifest)

    # -- state: restored (restore_state.py) ----------------------------------
    def restored(self):
        from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.restore_state import restored
        restored(self)

    # -- state: absent -----------------------------------------------------
    def absent(self):
        params = self.params
        if params["keep_last"] is None and params["max_age_days"] is None:
            self.fail("state: absent needs keep_last and/or max_age_days")
        if self.check_mode:
            removed = self.store.plan_prune(params["keep_last"], params["max_age_days"])
        else:
            removed = self.store.prune(params["keep_last"], params["max_age_days"])
        self.result.update(changed=bool(removed), removed=removed)


def run(params, check_mode=False, *, diff=False, warn=None, client=None):
    """gateway_backup's whole run for params (the module's options). client: a GatewayClient
    stand-in for tests; by default one is built from api_url. Raises TaskError."""
    # Bad input is refused before any file is touched, the lock file included.
    if params.get("backup_id") is not None and params["backup_id"] != LATEST_VALID:
        try:
            validate_backup_id(params["backup_id"])
        except BackupIdError as exc:
            raise TaskError(str(exc), dict(changed=False, recovered=None))
    key = None
    if params.get("forensic_key_file") and params.get("state") == "restored":
        from ansible_collections.mcpops.runbooks.plugins.module_utils._forensic.forensic_key import read_key_file
        from ansible_collections.mcpops.runbooks.plugins.module_utils._forensic.sealed_stream import (
            LIBRARY,
            has_cryptography,
        )
        if not has_cryptography():
            raise TaskError("the python library cryptography is needed on this host",
                            dict(changed=False, recovered=None), library=LIBRARY,
                            reason="to seal the safety backup (Debian/Ubuntu: python3-cryptography)")
        try:
            key = read_key_file(params["forensic_key_file"])
        except ForensicError as exc:
            raise TaskError(str(exc), dict(changed=False, recovered=None))
    if client is None:
        client = gateway_client(params)
    task = BackupTask(BackupStore(params["data_dir"]), client, params, check_mode, diff, warn, key=key)
    return task.run()
