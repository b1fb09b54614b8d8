# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cert_install's work: install a provided pair, only check it, or put a backup back.

An installed pair is checked first and the old pair backed up. Each is idempotent and honours check mode.

run(params, check_mode, diff=False) picks the one of params["state"] and returns the result (with `diff` only
when diff is true) or raises TaskError. No Ansible here.
"""

from __future__ import annotations

import os

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._tls.cert_facts import load_pem_bundle, require_cryptography
from ansible_collections.mcpops.runbooks.plugins.module_utils._tls.cert_pair import CertPairError, check_pair
from ansible_collections.mcpops.runbooks.plugins.module_utils._tls.cert_swap import (
    CertSwapError,
    backup_pair,
    install_pair,
    read_backup,
    read_bytes,
    read_optional,
)


def _serial(cert_data):
    if not cert_data:
        return None
    try:
        return "%X" % load_pem_bundle(cert_data)[0].serial_number
    except ValueError:
        return None


def _check_dest(params):
    for name in ("cert_path", "key_path"):
        directory = os.path.dirname(os.path.abspath(params[name]))
        if not os.path.isdir(directory):
            raise TaskError("%s %s: its directory does not exist; nothing was changed" % (name, params[name]))
    if os.path.abspath(params["cert_path"]) == os.path.abspath(params["key_path"]):
        raise TaskError("cert_path and key_path are the same file; nothing was changed")


def _checked_pair(params, unchanged):
    try:
        new_cert, new_key = read_bytes(params["cert_src"]), read_bytes(params["key_src"])
        facts = check_pair(new_cert, params["cert_src"], new_key, params["key_src"], params["names"])
    except (CertPairError, CertSwapError) as exc:
        raise TaskError("%s. Refused before anything was touched: %s." % (exc, unchanged))
    return new_cert, new_key, facts


def check_only(params):
    """state=checked: the new pair's checks alone (for a method that puts it somewhere else, e.g. a k8s secret)."""
    facts = _checked_pair(params, "nothing was changed")[2]
    return {"changed": False, "backup": None, "old_serial": None, "new_serial": facts["serial"], "certificate": facts}


def install(params, check_mode):
    _check_dest(params)
    new_cert, new_key, facts = _checked_pair(params, "%s and %s are unchanged" % (params["cert_path"], params["key_path"]))
    old_cert, old_key = read_optional(params["cert_path"]), read_optional(params["key_path"])
    result = {"changed": False, "backup": None, "old_serial": _serial(old_cert), "new_serial": facts["serial"],
              "certificate": facts, "diff": {"before": {"serial": _serial(old_cert)}, "after": {"serial": facts["serial"]}}}
    if old_cert == new_cert and old_key == new_key:
        return result
    result["changed"] = True
    if check_mode:
        return result
    try:
        if old_cert is not None and old_key is not None:
            backup_dir = params["backup_dir"] or os.path.join(os.path.dirname(os.path.abspath(params["cert_path"])),
                                                              ".cert-backups")
            result["backup"] = backup_pair(params["cert_path"], params["key_path"], backup_dir, result["old_serial"])
        install_pair(params["cert_path"], params["key_path"], new_cert, new_key)
    except CertSwapError as exc:
        raise TaskError("%s. Backup of the old pair: %s" % (exc, result["backup"] or "none was made"))
    return result


def restore(params, check_mode):
    if not params.get("backup"):
        raise TaskError("state=restored needs backup (the path cert_install returned); nothing was changed")
    try:
        cert_data, key_data, meta = read_backup(params["backup"])
    except CertSwapError as exc:
        raise TaskError(str(exc))
    cert_path = params["cert_path"] or meta.get("cert_path")
    key_path = params["key_path"] or meta.get("key_path")
    current = _serial(read_optional(cert_path))
    result = {"changed": False, "backup": params["backup"], "old_serial": current, "new_serial": _serial(cert_data),
              "diff": {"before": {"serial": current}, "after": {"serial": _serial(cert_data)}}}
    if read_optional(cert_path) == cert_data and read_optional(key_path) == key_data:
        return result
    result["changed"] = True
    if not check_mode:
        try:
            install_pair(cert_path, key_path, cert_data, key_data)
        except CertSwapError as exc:
            raise TaskError("putting back %s failed: %s" % (params["backup"], exc))
    return result


def run(params, check_mode=False, *, diff=False):
    """state present -> install, checked -> check_only, restored -> restore; diff: the task runs with --diff."""
    require_cryptography()
    state = params.get("state") or "present"
    if state == "present":
        result = install(params, check_mode)
    elif state == "checked":
        result = check_only(params)
    else:
        result = restore(params, check_mode)
    if not diff:
        result.pop("diff", None)
    return result
