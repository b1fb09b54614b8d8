# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backup ids: the one check every entry point runs before touching a file, and new ids."""

from __future__ import annotations

import datetime
import os
import re

# The contract's pattern. \Z instead of $ so that a trailing newline is not accepted.
BACKUP_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z", re.ASCII)
SAFETY_MARKER = "-pre-restore-"


class BackupIdError(ValueError):
    """A backup id that must not be used as a path component."""


def validate_backup_id(value):
    """Return value unchanged when it is a valid backup id, raise BackupIdError otherwise.

    The id becomes a directory name under backups/, so anything that could
    escape it (``..``, ``/``, a leading dot, non-ASCII) is refused here.
    """
    if not isinstance(value, str):
        raise BackupIdError("backup id must be a string, got %s" % type(value).__name__)
    if value == "":
        raise BackupIdError("backup id is empty; give an id from gateway_backup_info or 'latest_valid'")
    if not BACKUP_ID_PATTERN.match(value):
        shown = value if len(value) <= 64 else value[:61] + "..."
        raise BackupIdError(
            "invalid backup id %r (%d chars): an id is 1-128 ASCII letters, digits, '.', '_' or '-' "
            "and starts with a letter or digit (pattern ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$); "
            "list the existing ids with mcpops.runbooks.gateway_backup_info" % (shown, len(value))
        )
    return value


def is_safety_backup_id(backup_id):
    """A safety backup is the copy a restore took of the data it replaced."""
    return SAFETY_MARKER in backup_id


def _stamp(now):
    if now is None:
        now = datetime.datetime.now(datetime.timezone.utc)
    return now.astimezone(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def _random_hex(nbytes):
    """What secrets.token_hex(nbytes) returns (os.urandom's bytes in hex), without importing secrets, which
    brings base64 and hmac: the AnsiballZ start of every backup module imports this file."""
    return os.urandom(nbytes).hex()


def new_backup_id(now=None):
    """YYYYMMDDTHHMMSSZ-<6 hex>, the same shape as the gateway's own backups."""
    return "%s-%s" % (_stamp(now), _random_hex(3))


def new_safety_backup_id(now=None):
    """YYYYMMDDTHHMMSSZ-pre-restore-<6 hex>, taken before a restore replaces the data."""
    return "%s%s%s" % (_stamp(now), SAFETY_MARKER, _random_hex(3))
