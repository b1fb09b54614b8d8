# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""gateway_backup_info's entry point run(): the backups of a data dir (over the API or the files), each optionally verified.

run() returns the module's result dict or raises TaskError. No Ansible here: unit tests call it directly.
The gateway client is imported only with api_url (the AnsiballZ payload compiles every file a run imports).
"""

from __future__ import annotations

import os

from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.backup_id import (
    BackupIdError,
    is_safety_backup_id,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.errors import SwapError
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.safe_fs import (
    FileTooLargeError,
    UnsafeFileError,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.store import BackupError, BackupStore
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.errors import GatewayError

FIELDS = ("id", "createdAt", "schemaVersion", "sizeBytes", "files")


def _ignore(message):
    pass


def backup_entry(raw, store, verify):
    """One listed backup (a store entry or an API record) as the module returns it."""
    entry = {key: raw.get(key) for key in FIELDS}
    if isinstance(entry["files"], list):
        entry["files"] = len(entry["files"])
    backup_id = entry["id"] if isinstance(entry["id"], str) else ""
    entry["safety"] = is_safety_backup_id(backup_id)
    if verify:
        try:
            local = store.has_backup(backup_id)  # a link there too: verification names it, never follows it
        except BackupIdError:
            local = False
        if local:
            entry["problems"] = store.verify(backup_id)
            entry["valid"] = not entry["problems"]
        else:
            entry["valid"] = None
            entry["problems"] = ["not verified: %s is not on this host" % os.path.join(store.backups_dir, backup_id)]
    return entry


def run(params, check_mode=False, *, warn=None, client=None):
    """gateway_backup_info's whole run for params (the module's options). client: a GatewayClient
    stand-in for tests; by default one is built from api_url. Raises TaskError.

    check_mode: nothing is written then, not even the parse cache.
    """
    warn = warn or _ignore
    store = BackupStore(params["data_dir"])
    transport = params["transport"]
    if client is None and params.get("api_url"):
        from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.client import GatewayClient
        client = GatewayClient.from_params(params)
    if transport == "api" and client is None:
        raise TaskError("transport: api needs api_url (and api_token)")
    if transport == "auto":
        transport = "api" if client is not None and client.answers() else "files"
    try:
        if transport == "api":
            raw = [item for item in client.list_backups() if isinstance(item, dict)]
        else:
            if not os.path.isdir(params["data_dir"]):
                raise TaskError(
                    "data dir %s does not exist; set data_dir to the gateway's ONEC_MCP_DATA_DIR" % params["data_dir"]
                )
            raw = store.list()
        backups = [backup_entry(item, store, params["verify"]) for item in raw]
        # each backup is verified once: latest_valid reuses what backup_entry verified
        latest_valid = store.latest_valid(params["max_schema_version"], raw if transport == "files" else None)
        if not check_mode:
            store.save_parse_cache()  # what this run verified parses: the next verify only hashes
    except (GatewayError, SwapError, BackupError, UnsafeFileError, FileTooLargeError, OSError) as exc:
        raise TaskError(str(exc))
    try:
        sealed = store.sealed_backups() if os.path.isdir(params["data_dir"]) else []
    except (BackupError, UnsafeFileError, OSError) as exc:
        warn("the sealed safety backups in %s/backups/.sealed cannot be listed: %s" % (params["data_dir"], exc))
        sealed = []
    interrupted = store.interrupted_restore()
    if interrupted:
        warn(
            "an interrupted restore is waiting in %s (.restore-journal.json): the gateway will not start until "
            "mcpops.runbooks.gateway_backup runs (any state) and recovers it" % params["data_dir"]
        )
    return dict(
        changed=False,
        backups=backups,
        latest_valid=latest_valid,
        sealed_backups=sealed,
        transport=transport,
        interrupted_restore=interrupted,
    )
