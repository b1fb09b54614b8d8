"""A CCTelegram host's releases: what a rollback goes back to, and the bad release the `bad-release` fault deploys.

    <fleet state dir>/hosts/<name>/opt-cctelegram/  -> /opt/cctelegram (read-write bind mount)
      releases/2.3.0/   release.json {"version": "2.3.0"}, bin/cctelegram-mcp (a sh launcher)
      releases/2.4.0/   likewise: the release a fleet boots with
      releases/2.5.0/   release.json {"version": "2.5.0", "defect": ...}: its launcher logs an error and exits 1
      releases/current  -> 2.4.0   (relative symlinks, as plugins/modules/release_link.py writes them)
      releases/previous -> 2.3.0

The unit runs releases/current/bin/cctelegram-mcp, which execs the reference service with CCTELEGRAM_VERSION set,
so /health and cctelegram_build_info say which release answers. The directory is a bind mount from the fleet's
state dir, not the host's volatile overlay: a rollback survives a reboot, as it does on a real host. Everything here
runs on the controller, on that directory (root, no nsenter).
"""

import json
import os
from pathlib import Path

from mcpops.lab.gateway.fsutil import atomic_write

OPT = "/opt/cctelegram"                     # inside the host
RELEASES = OPT + "/releases"
LAUNCHER = "bin/cctelegram-mcp"
PREVIOUS_VERSION = "2.3.0"
CURRENT_VERSION = "2.4.0"
BAD_VERSION = "2.5.0"
VERSIONS = (PREVIOUS_VERSION, CURRENT_VERSION, BAD_VERSION)
BAD_DEFECT = "configuration schema 7 required, the host has schema 6"

_GOOD_LAUNCHER = """#!/bin/sh
# cctelegram-mcp {version}: the mcpops lab's release {version} (written by `mcpops fleet up`): the reference
# cctelegram-mcp, reporting this version in /health and /metrics.
CCTELEGRAM_VERSION={version}
export CCTELEGRAM_VERSION
exec /usr/bin/python3 -m mcpops.lab.services cctelegram-mcp "$@"
"""

# A bad release fails the way one does: an ERROR line in the application log (the log scan's error_type), one line
# on stderr (the journal), exit 1 (systemd restarts it until its start limit, then "failed").
_BAD_LAUNCHER = """#!/bin/sh
# cctelegram-mcp {version}: the mcpops lab's bad release (the `bad-release` fault deploys it): it fails at
# start ({defect}).
log_dir="${{CCTELEGRAM_LOG_DIR:-/var/log/cctelegram}}"
ts=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
printf '{{"ts": "%s", "timestamp": "%s", "level": "ERROR", "message": "cctelegram-mcp {version} failed to start: %s", \
"event": "startup_failed", "error_type": "ReleaseStartupError", "version": "{version}"}}\\n' \
    "$ts" "$ts" "{defect}" >> "$log_dir/application.log" 2>/dev/null
echo "cctelegram-mcp {version}: failed to start: {defect}" >&2
exit 1
"""


def write_if_changed(path, text, mode):
    """Write text (atomically) only when the file holds something else: systemd takes a unit file's new mtime for a
    change (NeedDaemonReload), and `up` restarts a unit whose file changed."""
    path = Path(path)
    try:
        same = path.read_text() == text
    except (OSError, UnicodeDecodeError):
        same = False
    if same:
        os.chmod(path, mode)
        return False
    atomic_write(path, text, mode)
    return True


def release_files(version):
    """{relative path: (content, mode)} of one release directory."""
    bad = version == BAD_VERSION
    meta = {"version": version, "defect": BAD_DEFECT if bad else None}
    launcher = (_BAD_LAUNCHER if bad else _GOOD_LAUNCHER).format(version=version, defect=BAD_DEFECT)
    return {"release.json": (json.dumps(meta) + "\n", 0o644), LAUNCHER: (launcher, 0o755)}


def link_target(releases_dir, name):
    """The version a link names ("2.4.0"), or None when it is missing or not a link."""
    path = Path(releases_dir) / name
    return os.path.basename(os.readlink(path)) if path.is_symlink() else None


def set_link(releases_dir, name, version):
    """name -> version, relative, replaced atomically (a temp link renamed over it)."""
    releases_dir = Path(releases_dir)
    tmp = releases_dir / f".{name}.tmp-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    os.symlink(version, tmp)
    os.replace(tmp, releases_dir / name)


def ensure(releases_dir):
    """Create what is missing: the three release directories (their files rewritten, so they follow the code) and
    the `current` and `previous` links. An existing link is never moved: a rollback survives `up`."""
    releases_dir = Path(releases_dir)
    for d in (releases_dir.parent, releases_dir):
        d.mkdir(mode=0o755, parents=True, exist_ok=True)
    for version in VERSIONS:
        for rel, (text, mode) in release_files(version).items():
            path = releases_dir / version / rel
            for d in (releases_dir / version, path.parent):
                d.mkdir(mode=0o755, exist_ok=True)
            write_if_changed(path, text, mode)
    for name, version in (("previous", PREVIOUS_VERSION), ("current", CURRENT_VERSION)):
        if not os.path.lexists(releases_dir / name):
            set_link(releases_dir, name, version)


def deploy(releases_dir, version):
    """release_link's state=deployed: previous -> the old current, current -> version. Returns (before, after),
    each {"current", "previous"}."""
    before = {"current": link_target(releases_dir, "current"), "previous": link_target(releases_dir, "previous")}
    if before["current"] == version:
        return before, before
    if before["current"]:
        set_link(releases_dir, "previous", before["current"])
    set_link(releases_dir, "current", version)
    return before, {"current": version, "previous": before["current"] or before["previous"]}


def clear_bad(releases_dir):
    """`up` clears the bad-release fault: when either link names the bad release, current -> 2.4.0 and
    previous -> 2.3.0 again (the layout a fleet boots with). True when current moved (the unit must restart)."""
    links = {name: link_target(releases_dir, name) for name in ("current", "previous")}
    if BAD_VERSION not in links.values():
        return False
    set_link(releases_dir, "previous", PREVIOUS_VERSION)
    set_link(releases_dir, "current", CURRENT_VERSION)
    return links["current"] == BAD_VERSION
