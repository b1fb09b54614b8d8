# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What was already sent under a dedupe key, so that a re-run of the same step posts to no receiver twice.

One JSON file a key in state_dir, <sha256 of the key>.json (0600, written atomically):
{"version": 1, "dedupe_key": "...", "sent": {"<receiver id>": {"name", "sent_at", "status"}}}. A receiver id is its
kind, shown URL (a webhook's token masked) and target: nothing secret is ever written."""

from __future__ import annotations

import hashlib
import json
import os

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.atomic_file import fsync_path, replace_file

VERSION = 1
MAX_RECORD_BYTES = 1024 * 1024


class RecordError(Exception):
    """The state dir or a record cannot be used; the text says which and what to do."""


def receiver_id(kind, shown_url, target):
    return "%s %s %s" % (kind, shown_url, target)


def record_path(state_dir, dedupe_key):
    return os.path.join(state_dir, hashlib.sha256(dedupe_key.encode("utf-8")).hexdigest() + ".json")


def prepare(state_dir):
    """Make state_dir (0700) when missing and check it can be written, before anything is sent."""
    try:
        os.makedirs(state_dir, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise RecordError("state_dir %s cannot be made: %s" % (state_dir, exc.strerror or exc))
    if not os.path.isdir(state_dir) or not os.access(state_dir, os.W_OK | os.X_OK):
        raise RecordError("state_dir %s is not a directory this user can write" % state_dir)


def load(state_dir, dedupe_key):
    """{receiver id: {name, sent_at, status}} sent under dedupe_key; {} when nothing was."""
    path = record_path(state_dir, dedupe_key)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_RECORD_BYTES + 1)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise RecordError("%s cannot be read: %s" % (path, exc.strerror or exc))
    try:
        if len(raw) > MAX_RECORD_BYTES:
            raise ValueError("over 1 MiB")
        doc = json.loads(raw.decode("utf-8"))
        if not isinstance(doc, dict) or doc.get("dedupe_key") != dedupe_key or not isinstance(doc.get("sent"), dict):
            raise ValueError("not a record of this dedupe key")
    except ValueError as exc:
        raise RecordError("%s is not a sent record (%s); remove it to send again" % (path, exc))
    return doc["sent"]


def save(state_dir, dedupe_key, sent):
    """Write the record of dedupe_key: every receiver id that has the update."""
    path = record_path(state_dir, dedupe_key)
    doc = {"version": VERSION, "dedupe_key": dedupe_key, "sent": sent}
    try:
        replace_file(path, (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode("utf-8"), 0o600)
        fsync_path(state_dir)
    except OSError as exc:
        raise RecordError("%s cannot be written: %s" % (path, exc.strerror or exc))
    return path
