# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""message_contains: the lines whose message holds a given text (the runbook's grep "MCP" app.log | tail -100 and
grep -i "memory" app.log), counted per text with the last few as samples.

A line matches a text when its message field is a string that holds the text (with ignore_case, both lowered
with str.lower()). Only lines that count (in the window) are looked at. No Ansible here.
"""

from __future__ import annotations

from collections import deque

MAX_TEXTS = 50
MAX_TEXT = 1000


class MessageMatches:
    """add(message, path, lineno, record) for every line that counts; result(sample) -> one entry a text."""

    def __init__(self, texts, ignore_case=False, samples=3):
        self.texts = list(texts)
        self.ignore_case = ignore_case
        self.wanted = [text.lower() if ignore_case else text for text in self.texts]
        self.counts = [0] * len(self.texts)
        self.samples = [deque(maxlen=samples) for dummy in self.texts]

    def add(self, message, path, lineno, record):
        if not isinstance(message, str):
            return
        if self.ignore_case:
            message = message.lower()
        for index, wanted in enumerate(self.wanted):
            if wanted in message:
                self.counts[index] += 1
                self.samples[index].append((path, lineno, record))

    def result(self, shown):
        """[{text, count, samples (the latest first)}] in the order the texts were given; shown turns a list of
        (path, lineno, record) into samples fit to show."""
        return [{"text": text, "count": count, "samples": shown(reversed(samples))}
                for text, count, samples in zip(self.texts, self.counts, self.samples)]
