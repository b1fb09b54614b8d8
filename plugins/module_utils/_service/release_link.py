# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A releases directory: `<version>/` dirs (each may hold release.json {"version", ...}) and two relative symlinks,
`current` and `previous`, naming one of them. A deploy or a rollback sets previous := current, current := target.

Hostile input is refused, nothing followed: the releases dir must be a real directory (not a symlink); a version
is one plain name of a real directory in it (no '/', no '..', not a symlink); a `current`/`previous` that is not a
symlink, or points anywhere but at a version dir of this releases dir, is refused. Each link is replaced
atomically (a symlink made under a temp name in the same dir, then os.replace), and the dir fsynced.
No Ansible here.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import stat

LINKS = ("current", "previous")
MAX_RELEASE_JSON = 64 * 1024


class ReleaseLinkError(Exception):
    """What is wrong and what to do; nothing was changed when it is raised before apply()."""

    def __init__(self, msg):
        super().__init__(msg)
        self.msg = msg


def releases_dir(path):
    """The absolute releases dir; refused unless it is a real directory (a symlink is refused, not followed)."""
    if not path:
        raise ReleaseLinkError("path (the releases dir) is required")
    path = os.path.abspath(path)
    try:
        mode = os.lstat(path).st_mode
    except OSError as exc:
        raise ReleaseLinkError("the releases dir %s cannot be read: %s" % (path, exc.strerror or exc))
    if stat.S_ISLNK(mode):
        raise ReleaseLinkError("the releases dir %s is a symlink: give the real directory (%s)" % (path, os.path.realpath(path)))
    if not stat.S_ISDIR(mode):
        raise ReleaseLinkError("the releases dir %s is not a directory" % path)
    return path


def check_version_name(name):
    """One plain directory name: no '/', not '.', '..', 'current' nor 'previous', no NUL, not hidden."""
    if not isinstance(name, str) or not name or name in (".", "..") or name in LINKS or "/" in name or "\x00" in name \
            or name.startswith(".") or len(name) > 255:
        raise ReleaseLinkError("version %r is not a release name: one plain directory name of the releases dir "
                               "(no '/', not '..', not hidden, not current/previous)" % (name,))
    return name


def version_dir(path, name):
    """path/name, which must be a real directory (a symlink is refused)."""
    check_version_name(name)
    full = os.path.join(path, name)
    try:
        mode = os.lstat(full).st_mode
    except FileNotFoundError:
        raise ReleaseLinkError("release %s does not exist in %s (available: %s)" % (
            name, path, ", ".join(versions(path)) or "none"))
    except OSError as exc:
        raise ReleaseLinkError("release %s in %s cannot be read: %s" % (name, path, exc.strerror or exc))
    if stat.S_ISLNK(mode):
        raise ReleaseLinkError("release %s in %s is a symlink, not a release directory: refused" % (name, path))
    if not stat.S_ISDIR(mode):
        raise ReleaseLinkError("release %s in %s is not a directory" % (name, path))
    return full


def _sort_key(name):
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name) if part]


def versions(path):
    """The release dirs of path (real dirs, not hidden), in version order (1.0.2 before 1.0.10)."""
    found = []
    for name in os.listdir(path):
        if name.startswith(".") or name in LINKS:
            continue
        try:
            if stat.S_ISDIR(os.lstat(os.path.join(path, name)).st_mode):
                found.append(name)
        except OSError:
            continue
    return sorted(found, key=_sort_key)


def read_link(path, link):
    """The version a link names, or None when the link does not exist; refused when it is not a symlink or points
    anywhere but at a version dir directly in path."""
    full = os.path.join(path, link)
    try:
        mode = os.lstat(full).st_mode
    except FileNotFoundError:
        return None
    if not stat.S_ISLNK(mode):
        raise ReleaseLinkError("%s is not a symlink: refusing to replace it (move it away by hand)" % full)
    target = os.readlink(full)
    if os.path.isabs(target):
        name = os.path.basename(target.rstrip("/")) if os.path.dirname(os.path.normpath(target)) == path else None
    else:
        normalized = os.path.normpath(target)
        name = normalized if "/" not in normalized and normalized not in (".", "..") else None
    if not name or name in LINKS or name.startswith("."):
        raise ReleaseLinkError("%s points to %r, outside the releases dir %s: refused, not followed; fix the link by "
                               "hand" % (full, target, path))
    try:
        version_dir(path, name)
    except ReleaseLinkError as exc:
        raise ReleaseLinkError("%s points to %r: %s" % (full, target, exc.msg))
    return name


def release_json_version(path, name):
    """release.json's "version" of a release dir (None when there is none or it does not parse)."""
    full = os.path.join(path, name, "release.json")
    try:
        if not stat.S_ISREG(os.lstat(full).st_mode):
            return None
        with open(full, "rb") as handle:
            raw = handle.read(MAX_RELEASE_JSON + 1)
        if len(raw) > MAX_RELEASE_JSON:
            return None
        doc = json.loads(raw.decode("utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    version = doc.get("version") if isinstance(doc, dict) else None
    return version if isinstance(version, str) else None


def state(path):
    """{current, previous, versions: [{name, version}]} of a releases dir (read-only)."""
    return dict(
        current=read_link(path, "current"),
        previous=read_link(path, "previous"),
        versions=[dict(name=n, version=release_json_version(path, n)) for n in versions(path)],
    )


def plan(path, action, version=None):
    """(before, after) {current, previous} of a deploy or rollback; after == before when nothing is to do.

    action 'deployed' needs version; 'rolled_back' defaults version to previous's target."""
    before = dict(current=read_link(path, "current"), previous=read_link(path, "previous"))
    if action == "rolled_back" and not version:
        if not before["previous"]:
            raise ReleaseLinkError("nothing to roll back to: %s has no 'previous' link; give version" % path)
        version = before["previous"]
    if not version:
        raise ReleaseLinkError("version is required for state=%s" % action)
    version_dir(path, version)
    if before["current"] == version:
        return before, dict(before)
    return before, dict(current=version, previous=before["current"] or before["previous"])


def _fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_link(path, link, target):
    """path/link -> target (relative), atomically: a symlink under a temp name in path, then os.replace."""
    tmp = os.path.join(path, ".%s.%s.tmp" % (link, secrets.token_hex(4)))
    os.symlink(target, tmp)
    try:
        os.replace(tmp, os.path.join(path, link))
    except OSError:
        os.unlink(tmp)
        raise


def apply(path, before, after):
    """previous first, then current (a crash between leaves both naming the old current: harmless)."""
    if after["previous"] != before["previous"] and after["previous"]:
        replace_link(path, "previous", after["previous"])
    if after["current"] != before["current"]:
        replace_link(path, "current", after["current"])
    _fsync_dir(path)
