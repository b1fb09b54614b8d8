# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Log lines made fit for a report: a password in a URL, the value of token= / password= / secret= / api_key=, and
every secret value the caller knows, each replaced by ***. The incident report masks again over it."""

from __future__ import annotations

import re

_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")
_KEY_VALUE = re.compile(r"(?i)((token|password|secret|api_?key)=)[^\s&]+")


def mask_line(line, values):
    """line with the URL password, key=value secrets and each of values (longest first) masked."""
    line = _URL_PASSWORD.sub(r"\1***@", line)
    line = _KEY_VALUE.sub(r"\1***", line)
    for value in values:
        line = line.replace(value, "***")
    return line


def mask_lines(lines, values):
    """Each line masked; values are taken longest first, so that no secret is left half-masked."""
    ordered = sorted(set(v for v in values if v), key=lambda v: (-len(v), v))
    return [mask_line(line, ordered) for line in lines]
