# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Put a certificate and key pair in place with a backup of the old pair, and put a backup back.

A backup is a directory `<backup_dir>/<UTC stamp>-<old serial>/` holding `cert.pem` and `key.pem`
(0600) and `backup.json` (where they came from: paths, modes, serial; no key material). Each file is
replaced by a temp file in its own directory, fsynced and renamed, so a reader sees the old file or
the new one, never a half-written one; the key goes first, the certificate last.
"""

from __future__ import annotations

import datetime
import json
import os
import stat
import tempfile

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.atomic_file import fsync_path, replace_file


class CertSwapError(Exception):
    pass


def read_bytes(path):
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise CertSwapError("cannot read %s: %s" % (path, exc.strerror or exc))


def read_optional(path):
    return read_bytes(path) if os.path.exists(path) else None


def _mode_and_owner(path, default_mode):
    try:
        st = os.stat(path)
    except OSError:
        return default_mode, None
    return stat.S_IMODE(st.st_mode), (st.st_uid, st.st_gid)


def write_atomically(path, data, mode, owner=None):
    try:
        replace_file(path, data, mode, owner)
    except OSError as exc:
        raise CertSwapError("writing %s failed: %s" % (path, exc.strerror or exc))
    fsync_path(os.path.dirname(os.path.abspath(path)))


def install_pair(cert_path, key_path, cert_data, key_data):
    """Replace both files, keeping each one's mode and owner (new files: cert 0644, key 0600)."""
    key_mode, key_owner = _mode_and_owner(key_path, 0o600)
    cert_mode, cert_owner = _mode_and_owner(cert_path, 0o644)
    write_atomically(key_path, key_data, key_mode & 0o770, key_owner)  # a key is never world-readable
    write_atomically(cert_path, cert_data, cert_mode, cert_owner)


def backup_pair(cert_path, key_path, backup_dir, serial, now=None):
    """Copy the current pair into a new backup directory; returns its path."""
    cert_data, key_data = read_bytes(cert_path), read_bytes(key_path)
    stamp = (now or datetime.datetime.now(datetime.timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    try:
        os.makedirs(backup_dir, mode=0o700, exist_ok=True)
        path = tempfile.mkdtemp(prefix="%s-%s-" % (stamp, serial or "unknown"), dir=backup_dir)
    except OSError as exc:
        raise CertSwapError("cannot create a backup under %s: %s" % (backup_dir, exc.strerror or exc))
    write_atomically(os.path.join(path, "cert.pem"), cert_data, 0o600)
    write_atomically(os.path.join(path, "key.pem"), key_data, 0o600)
    meta = {"cert_path": cert_path, "key_path": key_path, "serial": serial, "created_at": stamp}
    write_atomically(os.path.join(path, "backup.json"), (json.dumps(meta, indent=2) + "\n").encode(), 0o600)
    return path


def read_backup(backup):
    """(cert_data, key_data, meta) of a backup made by backup_pair."""
    try:
        with open(os.path.join(backup, "backup.json")) as fh:
            meta = json.load(fh)
    except (OSError, ValueError) as exc:
        raise CertSwapError("%s is not a certificate backup made by cert_install (backup.json: %s)" % (backup, exc))
    return read_bytes(os.path.join(backup, "cert.pem")), read_bytes(os.path.join(backup, "key.pem")), meta
