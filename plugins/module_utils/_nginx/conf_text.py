# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nginx conf text read into directives that remember where they stand, so an edit replaces one span, not the file."""

from __future__ import annotations

_SPECIAL = "{};"


class ConfError(Exception):
    def __init__(self, msg):
        super().__init__(msg)
        self.msg = msg


class Directive:
    """One directive: its name and args (raw token texts), its span [start, end) in the text (through its `;` or
    its block's `}`), its block's children (None for a simple directive) and where its `}` stands."""

    def __init__(self, name, args, start):
        self.name = name
        self.args = args
        self.start = start
        self.end = None
        self.children = None
        self.close = None  # offset of the block's `}`
        self.commented = False  # a comment between its tokens: not rewritten by hand-made text

    def find(self, name, args=None):
        """The directives called name (with exactly these args, when given) anywhere below, in text order."""
        found = []
        for child in self.children or ():
            if child.name == name and (args is None or child.args == list(args)):
                found.append(child)
            found.extend(child.find(name, args))
        return found


def _line_of(text, offset):
    return text.count("\n", 0, offset) + 1


def tokenize(text):
    """(kind, text, start, end) tuples: kind is "word", "comment" or one of `{`, `}`, `;`. Quotes are kept in a
    word's text; `${var}` stays one word."""
    tokens = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c == "#":
            j = text.find("\n", i)
            j = n if j < 0 else j
            tokens.append(("comment", text[i:j], i, j))
            i = j
        elif c in _SPECIAL:
            tokens.append((c, c, i, i + 1))
            i += 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in _SPECIAL:
                if text[j] in "\"'":
                    quote, j = text[j], j + 1
                    while j < n and text[j] != quote:
                        j += 2 if text[j] == "\\" else 1
                    if j >= n:
                        raise ConfError("line %d: a quote is never closed" % _line_of(text, i))
                    j += 1
                elif text[j] == "$" and text[j + 1:j + 2] == "{":
                    end = text.find("}", j)
                    if end < 0:
                        raise ConfError("line %d: ${ is never closed" % _line_of(text, j))
                    j = end + 1
                else:
                    j += 1
            tokens.append(("word", text[i:j], i, j))
            i = j
    return tokens


def parse(text):
    """The conf's top level as a Directive named "" whose children are the file's directives. ConfError on
    unbalanced braces or a directive without its `;`."""
    root = Directive("", [], 0)
    root.children = []
    stack = [root]
    current = None
    for kind, word, start, end in tokenize(text):
        if kind == "comment":
            if current is not None:
                current.commented = True
        elif kind == "word":
            if current is None:
                current = Directive(word, [], start)
            else:
                current.args.append(word)
        elif kind == ";":
            if current is None:
                raise ConfError("line %d: a `;` with no directive" % _line_of(text, start))
            current.end = end
            stack[-1].children.append(current)
            current = None
        elif kind == "{":
            if current is None:
                raise ConfError("line %d: a `{` with no directive" % _line_of(text, start))
            current.children = []
            stack[-1].children.append(current)
            stack.append(current)
            current = None
        else:  # "}"
            if current is not None:
                raise ConfError("line %d: `%s` has no `;`" % (_line_of(text, current.start), current.name))
            if len(stack) == 1:
                raise ConfError("line %d: a `}` closes no block" % _line_of(text, start))
            block = stack.pop()
            block.close, block.end = start, end
    if current is not None:
        raise ConfError("line %d: `%s` has no `;`" % (_line_of(text, current.start), current.name))
    if len(stack) > 1:
        raise ConfError("line %d: `%s {` is never closed" % (_line_of(text, stack[-1].start), stack[-1].name))
    root.end = len(text)
    return root


def line_start(text, offset):
    return text.rfind("\n", 0, offset) + 1


def indent_of(text, offset):
    """The whitespace from the start of offset's line to the first non-blank character."""
    start = line_start(text, offset)
    end = start
    while end < len(text) and text[end] in " \t":
        end += 1
    return text[start:end]


def replace_span(text, start, end, new):
    return text[:start] + new + text[end:]


def remove_statement(text, directive):
    """The text without the directive; its whole line goes when nothing else but blanks (or a comment) is on it."""
    start, end = directive.start, directive.end
    head = line_start(text, start)
    tail = text.find("\n", end)
    tail = len(text) if tail < 0 else tail
    rest = text[end:tail].strip()
    if not text[head:start].strip() and (not rest or rest.startswith("#")):
        return text[:head] + text[tail + 1:]
    return text[:start] + text[end:]


def insert_in_block(text, block, statement):
    """The text with statement added as the block's last directive, on its own line, indented like its siblings."""
    close = block.close
    children = block.children or []
    if children:
        indent = indent_of(text, children[-1].start)
    else:
        indent = indent_of(text, block.start) + "    "
    head = line_start(text, close)
    if not text[head:close].strip():
        return text[:head] + indent + statement + "\n" + text[head:]
    return text[:close] + " " + statement + " " + text[close:]
