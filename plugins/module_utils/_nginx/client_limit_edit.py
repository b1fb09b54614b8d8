# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rate limiting in nginx conf text: mark offending clients in the offenders include (a `geo` whose marked clients a
`map` gives their own key, counted by their own `limit_req_zone`), or set a zone's rate with a note of the rate it
had, so that state=absent can put it back."""

from __future__ import annotations

import re

from ansible_collections.mcpops.runbooks.plugins.module_utils._nginx import conf_text, conf_values
from ansible_collections.mcpops.runbooks.plugins.module_utils._nginx.conf_text import ConfError

MARKED = "1"
NOTE = "# mcpops nginx_client_limit: was rate="
_NOTE_RE = re.compile(r"[ \t]*# mcpops nginx_client_limit: was rate=([0-9]+r/[sm])[ \t]*")
_GEO_SPECIAL = ("default", "proxy", "proxy_recursive", "ranges", "include", "delete")


def scaffold(variable, zone, rate):
    """The offenders include as nginx_client_limit first writes it: no client marked yet."""
    return ("# Clients rate-limited on their own (mcpops.runbooks.nginx_client_limit): the geo marks them, the map gives\n"
            "# each marked client its own key, the zone counts by that key; every other client has an empty key and\n"
            "# is not counted. A `limit_req zone=%(zone)s ...;` in the server or location applies it.\n"
            "geo $%(var)s {\n"
            "    default 0;\n"
            "}\n"
            "map $%(var)s $%(var)s_key {\n"
            "    default \"\";\n"
            "    %(marked)s $binary_remote_addr;\n"
            "}\n"
            "limit_req_zone $%(var)s_key zone=%(zone)s:10m rate=%(rate)s;\n"
            % dict(var=variable, zone=zone, rate=rate, marked=MARKED))


def _geo(root, variable):
    found = [d for d in root.find("geo") if d.children is not None and d.args and d.args[-1] == "$" + variable]
    if len(found) > 1:
        raise ConfError("geo $%s is defined %d times in this file; fix that by hand first" % (variable, len(found)))
    return found[0] if found else None


def _zone_directive(root, zone):
    found = [d for d in root.find("limit_req_zone") if any(a.startswith("zone=%s:" % zone) for a in d.args)]
    if len(found) > 1:
        raise ConfError("limit_req_zone zone=%s is defined %d times in this file" % (zone, len(found)))
    return found[0] if found else None


def _rate_of(directive):
    return next((a[len("rate="):] for a in directive.args if a.startswith("rate=")), None)


def marked_clients(text, variable):
    """The clients the geo marks (its entries with value 1), in file order."""
    geo = _geo(conf_text.parse(text), variable)
    if geo is None:
        return []
    return [d.name for d in geo.children if d.name not in _GEO_SPECIAL and d.args == [MARKED]]


def _set_rate(text, directive, rate, note):
    """The directive's rate set to rate; the note (`was rate=...`) after it on its line, or none."""
    if directive.commented:
        raise ConfError("limit_req_zone has a comment inside the directive; edit it by hand")
    args = [("rate=" + rate) if a.startswith("rate=") else a for a in directive.args]
    if not any(a.startswith("rate=") for a in args):
        args.append("rate=" + rate)
    tail = text.find("\n", directive.end)
    tail = len(text) if tail < 0 else tail
    rest = text[directive.end:tail]
    rest = _NOTE_RE.sub("", rest)
    statement = " ".join([directive.name] + args) + ";" + ((" " + NOTE + note) if note else "")
    return text[:directive.start] + statement + rest + text[tail:]


def plan_clients(text, clients, state, variable, zone, rate=None):
    """(new_text, marked_before, marked_after): clients marked (present) or unmarked (absent) in the geo; a file
    without the geo gets the scaffold first (present only). rate, when given, becomes the offenders zone's rate."""
    root = conf_text.parse(text)
    before = marked_clients(text, variable)
    if _geo(root, variable) is None:
        if state == "absent":
            return text, before, before
        sep = "" if not text or text.endswith("\n") else "\n"
        text = text + sep + scaffold(variable, zone, rate or "5r/s")
    for client in clients:
        geo = _geo(conf_text.parse(text), variable)
        entries = [d for d in geo.children if d.name not in _GEO_SPECIAL and conf_values.same_client(d.name, client)]
        if state == "absent":
            for entry in reversed(entries):
                text = conf_text.remove_statement(text, entry)
        elif not entries:
            text = conf_text.insert_in_block(text, geo, "%s %s;" % (client, MARKED))
        else:
            for entry in reversed(entries):
                if entry.args != [MARKED]:
                    text = conf_text.replace_span(text, entry.start, entry.end, "%s %s;" % (entry.name, MARKED))
    if rate and state == "present":
        directive = _zone_directive(conf_text.parse(text), zone)
        if directive is None:
            raise ConfError("no limit_req_zone zone=%s in this file, so its rate cannot be set" % zone)
        if _rate_of(directive) != rate:
            text = _set_rate(text, directive, rate, None)
    return text, before, marked_clients(text, variable)


def plan_zone_rate(text, zone, state, rate=None):
    """(new_text, rate_before, rate_after, original): the zone's rate set (present; the first rate it had is noted
    beside it) or put back to the noted one (absent)."""
    directive = _zone_directive(conf_text.parse(text), zone)
    if directive is None:
        found = [a.split(":")[0][len("zone="):] for d in conf_text.parse(text).find("limit_req_zone")
                 for a in d.args if a.startswith("zone=")]
        raise ConfError("no limit_req_zone zone=%s in this file (zones here: %s)" % (zone, ", ".join(found) or "none"))
    current = _rate_of(directive)
    tail = text.find("\n", directive.end)
    noted = _NOTE_RE.match(text[directive.end:len(text) if tail < 0 else tail])
    original = noted.group(1) if noted else None
    if state == "absent":
        if original is None:
            return text, current, current, None
        return _set_rate(text, directive, original, None), current, original, original
    if rate == current:
        return text, current, current, original
    keep = original or current
    new_text = _set_rate(text, directive, rate, None if rate == keep else keep)
    return new_text, current, rate, keep


# -- limit_conn: the concurrent connections a client may hold ("temporarily reduce concurrent connections") --------

CONN_NOTE = "# mcpops nginx_client_limit: was connections="
_CONN_NOTE_RE = re.compile(r"[ \t]*# mcpops nginx_client_limit: was connections=([0-9]+)")


def _conn_directives(root, zone):
    """Every `limit_conn <zone> N;` in the file (a server and several locations may each have one), in text order."""
    found = [d for d in root.find("limit_conn") if d.children is None and d.args and d.args[0] == zone]
    for directive in found:
        if len(directive.args) != 2 or not directive.args[1].isdigit():
            raise ConfError("limit_conn %s is not `limit_conn %s <number>;`; edit it by hand" % (zone, zone))
        if directive.commented:
            raise ConfError("limit_conn %s has a comment inside the directive; edit it by hand" % zone)
    return found


def _conn_note(text, directive):
    tail = text.find("\n", directive.end)
    noted = _CONN_NOTE_RE.match(text[directive.end:len(text) if tail < 0 else tail])
    return int(noted.group(1)) if noted else None


def _set_connections(text, directive, number, note):
    """The directive's number set; the note (`was connections=N`) after it on its line, or none."""
    tail = text.find("\n", directive.end)
    tail = len(text) if tail < 0 else tail
    rest = _CONN_NOTE_RE.sub("", text[directive.end:tail])
    if note and rest.strip() and not rest.strip().startswith("#"):
        # a note is a comment to the end of the line: it would swallow what follows (a `}`)
        raise ConfError("limit_conn %s shares its line with %r: put it on a line of its own first"
                        % (directive.args[0], rest.strip()[:40]))
    statement = "limit_conn %s %d;" % (directive.args[0], number) + ((" " + CONN_NOTE + str(note)) if note else "")
    return text[:directive.start] + statement + rest + text[tail:]


def zone_kind(text, zone):
    """"rate" when the file has `limit_req_zone ... zone=<zone>:...`, "connections" when it has `limit_conn <zone> N`
    (nginx refuses one shared zone name for both), else ConfError naming the zones the file has."""
    root = conf_text.parse(text)
    if _zone_directive(root, zone) is not None:
        return "rate"
    if _conn_directives(root, zone):
        return "connections"
    req = [a.split(":")[0][len("zone="):] for d in root.find("limit_req_zone") for a in d.args if a.startswith("zone=")]
    conn = sorted({d.args[0] for d in root.find("limit_conn") if d.args})
    raise ConfError("no limit_req_zone zone=%s and no limit_conn %s in this file (limit_req zones here: %s; limit_conn "
                    "zones here: %s)" % (zone, zone, ", ".join(req) or "none", ", ".join(conn) or "none"))


def plan_connections(text, zone, state, connections=None):
    """(new_text, before, after, original): every `limit_conn <zone> N;` set to connections (present; the number it
    had first noted beside it) or put back to the noted one (absent). before/after/original are the first
    directive's (they all are set alike)."""
    directives = _conn_directives(conf_text.parse(text), zone)
    if not directives:
        zone_kind(text, zone)  # raises, naming the zones the file has
        raise ConfError("no limit_conn %s in this file" % zone)
    first = directives[0]
    before, original = int(first.args[1]), _conn_note(text, first)
    # from the last to the first: an edit moves only the text after it
    for directive in reversed(directives):
        current, noted = int(directive.args[1]), _conn_note(text, directive)
        if state == "absent":
            if noted is not None:
                text = _set_connections(text, directive, noted, None)
        elif current != connections:
            keep = noted if noted is not None else current
            text = _set_connections(text, directive, connections, None if connections == keep else keep)
    if state == "absent":
        return text, before, original if original is not None else before, original
    keep = original if original is not None else before
    return text, before, connections, keep if keep != connections else None
