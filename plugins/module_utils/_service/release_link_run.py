# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""release_link's work: read a releases dir's current/previous links (info), or deploy / roll back by replacing
them (previous := current, current := target), with check mode and a diff of the links.

run(params, check_mode) returns the result or raises TaskError. No Ansible here.
"""

from __future__ import annotations

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._service import release_link as rl


def _links_text(links):
    return "current -> %s\nprevious -> %s\n" % (links.get("current") or "(none)", links.get("previous") or "(none)")


def run(params, check_mode=False):
    action = params.get("state") or "info"
    try:
        path = rl.releases_dir(params.get("path"))
        if params.get("version"):
            rl.check_version_name(params["version"])
        if action == "info":
            return dict(changed=False, path=path, **rl.state(path))
        before, after = rl.plan(path, action, params.get("version"))
    except rl.ReleaseLinkError as exc:
        raise TaskError("release_link refused: %s. Nothing was changed." % exc.msg, dict(changed=False))
    changed = after != before
    result = dict(changed=changed, path=path, before=before, after=after,
                  diff=dict(before=_links_text(before), after=_links_text(after),
                            before_header="%s (links)" % path, after_header="%s (links)" % path))
    if changed and not check_mode:
        try:
            rl.apply(path, before, after)
        except OSError as exc:
            raise TaskError("release_link could not replace the links in %s: %s (each link is replaced atomically: "
                            "check current and previous)" % (path, exc.strerror or exc), result)
    try:
        now = rl.state(path)
    except rl.ReleaseLinkError as exc:
        raise TaskError("release_link: after the change: %s" % exc.msg, result)
    if check_mode:
        now.update(after)
    result.update(now)
    return result
