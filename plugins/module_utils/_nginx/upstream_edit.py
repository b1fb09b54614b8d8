# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One server of an `upstream` block, drained (`down`), active, added, removed or given passive health-check
settings (max_fails, fail_timeout): the new conf text, every other byte as it was."""

from __future__ import annotations

from ansible_collections.mcpops.runbooks.plugins.module_utils._nginx import conf_text
from ansible_collections.mcpops.runbooks.plugins.module_utils._nginx.conf_text import ConfError

STATES = ("drained", "active", "present", "absent")


def server_facts(directive):
    """{address, down, backup, params} of a `server` directive (params: its other words, e.g. weight=2)."""
    words = directive.args[1:]
    return dict(address=directive.args[0] if directive.args else None, down="down" in words, backup="backup" in words,
                params=[w for w in words if w not in ("down", "backup")])


def find_upstream(root, upstream):
    found = [d for d in root.find("upstream") if d.args == [upstream] and d.children is not None]
    if not found:
        names = sorted({" ".join(d.args) for d in root.find("upstream")})
        raise ConfError("no upstream %r in this file (upstreams here: %s)" % (upstream, ", ".join(names) or "none"))
    if len(found) > 1:
        raise ConfError("upstream %r is defined %d times in this file; fix that by hand first" % (upstream, len(found)))
    return found[0]


def servers_of(block):
    return [d for d in block.children if d.name == "server"]


def _active(facts):
    return [f for f in facts if not f["down"] and not f["backup"]]


def _server_words(args, down, max_fails, fail_timeout):
    words = [w for w in args[1:] if w != "down"]
    for key, value in (("max_fails", max_fails), ("fail_timeout", fail_timeout)):
        if value is None:
            continue
        setting = "%s=%s" % (key, value)
        at = [i for i, w in enumerate(words) if w.startswith(key + "=")]
        if at:
            words[at[0]] = setting
            words = [w for i, w in enumerate(words) if i not in at[1:]]
        else:
            words.append(setting)
    if down:
        words.append("down")
    return words


def plan(text, upstream, server, state, max_fails=None, fail_timeout=None, force=False):
    """(new_text, before, after, servers_after): before/after are the server's facts (None when absent).
    ConfError when the upstream or server is unknown (for drained and active), the edit would leave no active
    server (unless force), or the directive cannot be rewritten safely."""
    if state not in STATES:
        raise ConfError("state %r: want one of %s" % (state, ", ".join(STATES)))
    block = find_upstream(conf_text.parse(text), upstream)
    servers = servers_of(block)
    mine = [d for d in servers if d.args and d.args[0].lower() == server.lower()]
    if len(mine) > 1:
        raise ConfError("server %s appears %d times in upstream %s; fix that by hand first" % (server, len(mine), upstream))
    directive = mine[0] if mine else None
    before = server_facts(directive) if directive else None
    listed = ", ".join(d.args[0] for d in servers if d.args) or "none"
    if directive is None and state in ("drained", "active"):
        raise ConfError("%s is not a server of upstream %s (its servers: %s); state=present adds it"
                        % (server, upstream, listed))
    if state == "absent":
        if directive is None:
            return text, None, None, [server_facts(d) for d in servers]
        new_text = conf_text.remove_statement(text, directive)
    else:
        down = state == "drained" or (state == "present" and before is not None and before["down"])
        args = directive.args if directive else [server]
        words = _server_words(args, down, max_fails, fail_timeout)
        statement = " ".join(["server", args[0]] + words) + ";"
        if directive is None:
            new_text = conf_text.insert_in_block(text, block, statement)
        elif server_facts(directive) == server_facts(_reparsed(statement)):
            new_text = text
        else:
            if directive.commented:
                raise ConfError("the server %s line has a comment inside the directive; edit it by hand" % server)
            new_text = conf_text.replace_span(text, directive.start, directive.end, statement)
    after_servers = [server_facts(d) for d in servers_of(find_upstream(conf_text.parse(new_text), upstream))]
    after = next((f for f in after_servers if f["address"].lower() == server.lower()), None)
    if not _active(after_servers) and _active([server_facts(d) for d in servers]) and not force:
        others = ", ".join("%s (%s)" % (f["address"], "down" if f["down"] else "backup")
                           for f in after_servers if f["address"].lower() != server.lower()) or "none"
        raise ConfError("%s %s would leave upstream %s with no active server (the others: %s); force=true to do it "
                        "anyway" % ("removing" if state == "absent" else "draining", server, upstream, others))
    return new_text, before, after, after_servers


def _reparsed(statement):
    return conf_text.parse(statement).children[0]
