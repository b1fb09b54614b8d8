# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lines of a block whose key holds a value that matters (an error level), told by counting byte strings.

A log writes its level as one of a handful of texts (INFO, WARNING, ERROR). KeyTokens learns, for one quoted key
name, the exact bytes each of its occurrences is written as, its form: `"level": "INFO"` (the name, what separates
it from its value, the value as a JSON string, closing quote included). In a block, the occurrences of the quoted
name are counted, and so are those of each learned form; every occurrence of a form begins with an occurrence of
the name, and no form is the beginning of another (each ends at its value's closing quote), so two never begin at
the same place: when the forms' counts add up to the name's, every occurrence of the name is one of the learned
forms. Then the lines that hold a form
whose value matters are the lines the caller must read, and no other line holds the key with such a value.

When the counts do not add up (a form not seen before, a value that is not a string, the name as a value), the
block is read once more for its forms (a regex over the block) and what it finds is learned, at most LEARN times a
scan and up to MAX_FORMS forms; if even that does not account for every occurrence, lines() says None and the
caller finds the block's lines its other way (after GIVE_UP such blocks in a row with learning spent, at once). The
caller asks this only of blocks that are ASCII without a \\u escape (log_fast_scan), so a form's bytes are its text.
No Ansible here.
"""

from __future__ import annotations

import json
import re

from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_needles import lines_holding

MAX_FORMS = 32
LEARN = 8
GIVE_UP = 16  # blocks in a row that counting could not tell, once learning is spent: then no more counting at all


class KeyTokens:
    """lines(block, add, counts) -> True when add() was given the start of every line of block (lines joined by
    newlines) in which the key has a string value that matters(value) says True for, None when that cannot be told
    by counting. quoted: the key name with its quotes, as bytes."""

    def __init__(self, quoted, matters):
        self.quoted = quoted
        self.matters = matters
        self.forms = {}  # form bytes -> whether its value matters, in the order learned
        self.learning = LEARN
        self.failed = 0  # blocks in a row counting could not tell
        self.pattern = re.compile(re.escape(quoted) + rb'[ \t\r]*:[ \t\r]*("(?:[^"\\\n]|\\.)*")')

    def lines(self, block, add, counts):
        if self.failed >= GIVE_UP:
            return None  # a log this one cannot be counted in: its counts would only cost, every block
        total = block.count(self.quoted)
        if not total:
            return True
        seen = 0
        starts = []
        for form, matters in self.forms.items():
            if matters:
                seen += lines_holding(block, form, starts.append, counts, occurrences=True)
            else:
                seen += block.count(form)
            if seen > total:
                break
        if seen == total:
            self.failed = 0
            for start in starts:
                add(start)
            return True
        if self.learning <= 0:
            self.failed += 1
            return None
        self.learning -= 1
        return self._learn(block, add, total)

    def _learn(self, block, add, total):
        """Read block's forms with the regex: learn the new ones, give the lines of those that matter."""
        found = 0
        starts = []
        rfind = block.rfind
        forms = self.forms
        for match in self.pattern.finditer(block):
            found += 1
            form = match.group(0)
            matters = forms.get(form)
            if matters is None:
                matters = self._matters(match.group(1))
                if len(forms) < MAX_FORMS:
                    forms[form] = matters
            if matters:
                starts.append(rfind(b"\n", 0, match.start()) + 1)
        if found != total:
            return None
        for start in starts:
            add(start)
        return True

    def _matters(self, token):
        """Whether a form's value (a JSON string token) matters; one that does not decode does (its line is read)."""
        try:
            value = json.loads(token)
        except ValueError:
            return True
        return bool(self.matters(value))
