# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""JSON from a data dir someone else may write: size caps, nesting that cannot crash the run, messages with line and column.

The caps (docs/dev/conventions.md, "Hostile data dirs"):

- MAX_CONTROL_BYTES: a manifest, the restore journal, the parse cache, storage-meta.json read for
  its schemaVersion. Larger is refused before a byte is read.
- MAX_STORE_BYTES: a ``.json`` store that verification parses; larger is hashed (streamed) and
  reported ``too_large``, never loaded.
- MAX_JSONL_LINE_BYTES: a ``.jsonl`` line; a longer one is reported and skipped without being held.

Nesting: ``json.loads`` recurses once per ``[`` or ``{``; a text nested deeper than the interpreter's
recursion limit (about a thousand levels) makes it raise RecursionError. Here that is a JsonError
("nested too deeply") like any other parse error, so one bad file is one problem, never a crash.
"""

from __future__ import annotations

import json

MAX_CONTROL_BYTES = 64 * 1024 * 1024
MAX_STORE_BYTES = 256 * 1024 * 1024
MAX_JSONL_LINE_BYTES = 16 * 1024 * 1024
NESTED_TOO_DEEPLY = "nested too deeply to parse (deeper than the parser's recursion limit)"


class JsonError(ValueError):
    """Text that is not JSON: msg, and lineno/colno when the parser knows where (None otherwise);
    utf8_byte: the offset of the first byte that is not UTF-8, when that was the trouble."""

    def __init__(self, msg, lineno=None, colno=None, utf8_byte=None):
        super(JsonError, self).__init__(msg)
        self.msg = msg
        self.lineno = lineno
        self.colno = colno
        self.utf8_byte = utf8_byte

    def where(self):
        """'line L col C: msg', or msg alone when there is no position."""
        if self.lineno is None:
            return self.msg
        return "line %d col %d: %s" % (self.lineno, self.colno, self.msg)


def loads(text):
    """json.loads(text) for text (str, or UTF-8 bytes), every failure a JsonError: a syntax error with its
    line and column, bytes that are not UTF-8, nesting too deep (RecursionError), a number too long."""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JsonError("not UTF-8 at byte %d" % exc.start, utf8_byte=exc.start)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise JsonError(exc.msg, exc.lineno, exc.colno)
    except RecursionError:
        raise JsonError(NESTED_TOO_DEEPLY)
    except ValueError as exc:  # e.g. an integer longer than int's digit limit
        raise JsonError(str(exc)[:200])


def shown(value, limit=80):
    """A short, flat rendering of a JSON value for a message: never a dump of something deep or huge."""
    if isinstance(value, str):
        text = value if len(value) <= limit else value[:limit - 3] + "..."
        return json.dumps(text)
    if value is None or isinstance(value, (bool, int, float)):
        text = json.dumps(value) if not isinstance(value, int) or abs(value) < 10 ** 30 else "a very long number"
        return text
    if isinstance(value, dict):
        keys = sorted(str(key)[:20] for key in list(value)[:5])
        return "an object with %d keys (%s%s)" % (len(value), ", ".join(keys), ", ..." if len(value) > 5 else "")
    if isinstance(value, list):
        return "a list of %d items" % len(value)
    return "a %s" % type(value).__name__
