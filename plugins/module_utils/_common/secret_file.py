# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write a secret to a file atomically with mode 0600: a temp file in the same dir (created 0600, never wider),
fsync, rename over the destination, fsync the dir. The secret never appears in an error message."""

from __future__ import annotations

import os

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.atomic_file import fsync_path, replace_file


class SecretFileError(Exception):
    pass


def check_secret_dest(path):
    """Refuse a destination whose directory does not exist or is not writable, or that is a directory.

    Called before the secret exists (before a token is issued), so that a secret is never made that cannot be kept."""
    if not path:
        raise SecretFileError("secret_dest is required")
    path = os.path.abspath(os.path.expanduser(path))
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        raise SecretFileError("the directory of secret_dest %s does not exist: create it (mode 0700) first" % path)
    if os.path.isdir(path):
        raise SecretFileError("secret_dest %s is a directory; give a file path" % path)
    if not os.access(directory, os.W_OK | os.X_OK):
        raise SecretFileError("the directory of secret_dest %s is not writable by this user" % path)
    return path


def write_secret_file(path, secret, newline=True):
    """Atomically replace path with secret (+ newline), mode 0600. Returns the absolute path."""
    path = check_secret_dest(path)
    directory = os.path.dirname(path)
    data = (secret + ("\n" if newline else "")).encode("utf-8")
    try:
        replace_file(path, data, 0o600)
    except OSError as exc:
        raise SecretFileError("writing secret_dest %s failed: %s" % (path, exc.strerror or type(exc).__name__))
    try:
        fsync_path(directory)  # best effort: the secret is in place either way
    except OSError:
        pass
    return path
