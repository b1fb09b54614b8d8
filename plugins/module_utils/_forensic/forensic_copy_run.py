# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""forensic_copy's entry point run(): seal a file or a text into a 0600 sealed file, or open a sealed file."""

from __future__ import annotations

import hashlib
import os

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._forensic.errors import ForensicError
from ansible_collections.mcpops.runbooks.plugins.module_utils._forensic.forensic_key import read_key_file
from ansible_collections.mcpops.runbooks.plugins.module_utils._forensic.sealed_file import (
    file_sha256,
    open_into,
    open_source,
    plaintext_sha256,
    seal_bytes,
    seal_into,
    write_private,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._forensic.sealed_stream import (
    FORMAT_NAME,
    LIBRARY,
    has_cryptography,
)


def _ignore(message):
    pass


def check_params(params):
    state = params["state"]
    if state == "sealed" and (params.get("src") is None) == (params.get("content") is None):
        raise TaskError("state: sealed needs exactly one of src and content", dict(changed=False))
    if state == "opened":
        if params.get("src") is None or params.get("content") is not None:
            raise TaskError("state: opened needs src (the sealed file) and no content", dict(changed=False))
        if not params.get("key_file"):
            raise TaskError("state: opened needs key_file (the key the copy was sealed with)", dict(changed=False))
    if not params.get("key_file") and not params.get("allow_unencrypted"):
        raise TaskError(
            "no forensic key: set key_file (inventory var mcpops_forensic_key_file, a 0600 file of 32 random bytes: "
            "umask 077; openssl rand -hex 32 > <file>), or allow_unencrypted: true to write the copy in clear "
            "(mode 0600)", dict(changed=False, dest=params["dest"]))


def run(params, check_mode=False, *, warn=None):
    """forensic_copy's whole run for params. Raises TaskError; a wrong key, a missing key file or library, a
    link: nothing is written."""
    warn = warn or _ignore
    check_params(params)
    dest = params["dest"]
    # no `state` or `size` in the result: AnsibleModule adds the file facts of `dest` under those names over ours
    result = dict(changed=False, dest=dest, sealed=bool(params.get("key_file")), format=None)
    key = None
    if params.get("key_file"):
        if not has_cryptography():
            raise TaskError("the python library cryptography is needed on this host", result, library=LIBRARY,
                            reason="to seal or open forensic copies (Debian/Ubuntu: python3-cryptography)")
        try:
            key = read_key_file(params["key_file"])
        except ForensicError as exc:
            raise TaskError(str(exc), result)
        result["format"] = FORMAT_NAME
    try:
        if params["state"] == "opened":
            return _opened(key, params, dest, result, check_mode)
        return _sealed(key, params, dest, result, check_mode, warn)
    except ForensicError as exc:
        raise TaskError(str(exc), result)
    except OSError as exc:
        raise TaskError("%s: %s" % (exc.filename or dest, exc.strerror or exc), result)


def _want_sha256(params):
    if params.get("content") is not None:
        return hashlib.sha256(params["content"].encode("utf-8")).hexdigest()
    return file_sha256(params["src"])


def _sealed(key, params, dest, result, check_mode, warn):
    want = _want_sha256(params)
    if os.path.lexists(dest) and not os.path.islink(dest):
        have = plaintext_sha256(key, dest) if key is not None else file_sha256(dest)
        if have == want and (os.lstat(dest).st_mode & 0o077) == 0:
            return result
    result["changed"] = True
    if check_mode:
        return result
    if key is None:
        warn("no forensic key configured: %s is written in clear (mode 0600) because allow_unencrypted is true" % dest)
        if params.get("content") is not None:
            data = params["content"].encode("utf-8")
            write_private(dest, lambda write: write(data))
        else:
            with open_source(params["src"]) as source:
                write_private(dest, lambda write: [write(b) for b in iter(lambda: source.read(1024 * 1024), b"")])
    elif params.get("content") is not None:
        seal_bytes(key, dest, params["content"].encode("utf-8"))
    else:
        with open_source(params["src"]) as source:
            seal_into(key, dest, source)
    result["bytes"] = os.lstat(dest).st_size
    return result


def _opened(key, params, dest, result, check_mode):
    want = plaintext_sha256(key, params["src"], quiet=False)  # a wrong key or a changed file: refused here
    if os.path.lexists(dest) and not os.path.islink(dest) and file_sha256(dest) == want:
        return result
    result["changed"] = True
    if not check_mode:
        result["bytes"] = open_into(key, params["src"], dest)
    return result
