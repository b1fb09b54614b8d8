# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which JSON key of an application log line holds its time, level, message, ...: the profile's logs.fields, and getters.

A field is named by a key or a dotted path into nested objects (``context.client_ip``, ``res.statusCode``); a key
that itself holds a dot (``log.level``) is tried first, whole. A field the caller does not name is looked up under
the names the reference services (and common loggers) use, in order: DEFAULTS. No Ansible here.
"""

from __future__ import annotations

FIELDS = ("time", "level", "message", "latency", "event", "client_ip", "error_type", "status", "path")

# What each field is called when the profile does not say: cctelegram-mcp (ts, timestamp, context.client_ip),
# connector-mcp (timestamp, client_ip, error_type), loyalty-api as pino writes it (time in epoch ms, msg,
# responseTime, req.remoteAddress, res.statusCode, req.url).
DEFAULTS = {
    "time": ("ts", "timestamp", "time", "@timestamp"),
    "level": ("level", "severity", "levelname"),
    "message": ("message", "msg"),
    "latency": ("duration_ms", "responseTime", "latency_ms"),
    "event": ("event",),
    "client_ip": ("client_ip", "context.client_ip", "req.remoteAddress", "remote_addr", "ip"),
    "error_type": ("error_type",),
    "status": ("status", "res.statusCode", "status_code"),
    "path": ("path", "req.url", "url"),
}
MAX_NAME = 256


class FieldsError(ValueError):
    """A bad fields option: msg names the key and what is wrong."""

    def __init__(self, msg):
        super(FieldsError, self).__init__(msg)
        self.msg = msg


def check_fields(fields):
    """The fields option ({field: key or dotted path}, None or {} for the defaults) -> {field: (path, ...)} for
    every field in FIELDS: the given name alone, or the defaults."""
    fields = fields or {}
    if not isinstance(fields, dict):
        raise FieldsError("fields must be a mapping of %s to the JSON key that holds each, not %s"
                          % (", ".join(FIELDS), type(fields).__name__))
    unknown = sorted(str(key) for key in fields if key not in FIELDS)
    if unknown:
        raise FieldsError("fields: unknown key%s %s (allowed: %s)" % (
            "s" if len(unknown) > 1 else "", ", ".join(unknown), ", ".join(FIELDS)))
    out = {}
    for field in FIELDS:
        name = fields.get(field)
        if name is None:
            out[field] = DEFAULTS[field]
            continue
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
            raise FieldsError("fields.%s must be the name of a JSON key (a dotted path for a nested one, at most %d "
                              "characters), not %r" % (field, MAX_NAME, name if not isinstance(name, str) else name[:80]))
        if "." in name and "" in name.split("."):
            raise FieldsError("fields.%s: %r has an empty part; write a dotted path like context.client_ip" % (field, name))
        out[field] = (name,)
    return out


def getter(paths):
    """A function record (dict) -> the first value found, not None, under paths (keys or dotted paths); None when
    there is none."""
    specs = tuple((path, tuple(path.split(".")) if "." in path else None) for path in paths)
    if len(specs) == 1 and specs[0][1] is None:
        key = specs[0][0]
        return lambda record: record.get(key)

    def get(record):
        for key, parts in specs:
            value = record.get(key)
            if value is None and parts is not None:
                value = record
                for part in parts:
                    if not isinstance(value, dict):
                        value = None
                        break
                    value = value.get(part)
            if value is not None:
                return value
        return None

    return get
