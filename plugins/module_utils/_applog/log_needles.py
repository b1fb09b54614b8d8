# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lines of a block of log lines that hold a given byte string (a needle), found by the quickest byte search.

bytes.find of a needle made of common letters reads about 1.5 GB/s (CPython's search skips ahead only past bytes
the needle lacks), while one byte alone is found with memchr, several times faster. So a needle that holds a byte
which is rare in the block (the x of rate_limit_exceeded, the M of MCP, the y of memory: a few hundred lines a block)
is searched by that byte, and each place the byte occurs is checked for the whole needle around it. Which byte is
the rarest is told by a sample, the block's first SAMPLE bytes (ByteCounts); a wrong guess (the byte common further
on) costs at most the block's size / RARE checks, then the rest of the block is searched for the whole needle. Either
way the same lines are found: every line that holds the needle. No Ansible here.
"""

from __future__ import annotations

SAMPLE = 16 * 1024
# a byte is searched by itself when the sample says it occurs at most once in RARE bytes: each occurrence costs a
# check (about 0.6 us), the whole-needle search of a needle of common letters 0.4 to 0.7 ms a MiB (measured, 8 MiB
# blocks: memory 5.4 ms whole, 1.2 ms by its y; rate_limit_exceeded 1.6 ms whole, 0.7 ms by its x)
RARE = 2000


class ByteCounts:
    """How often each byte occurs in a block's sample (counted when first asked), and the block's size."""

    def __init__(self, block):
        self.size = len(block)
        self.sample = block[:SAMPLE]
        self.counts = {}

    def __call__(self, byte):
        found = self.counts.get(byte)
        if found is None:
            found = self.counts[byte] = self.sample.count(byte)
        return found


def rare_byte(needle, counts):
    """The index in needle of its byte least often in the sample, when that one is rare enough (see RARE), else
    None."""
    if len(needle) < 2 or counts.size < 4 * SAMPLE:
        return None
    best, best_count = None, None
    for index in range(len(needle)):
        count = counts(needle[index:index + 1])
        if best_count is None or count < best_count:
            best, best_count = index, count
    if best_count * RARE > len(counts.sample):
        return None
    return best


def lines_holding(haystack, needle, add, counts, occurrences=False):
    """Call add(start) with the start offset of each line of haystack (lines joined by newlines) that holds needle
    (bytes without a newline), in order. counts: a ByteCounts of haystack. Returns how many times needle occurs in
    those lines when occurrences is true (a count of each line found), else how many lines."""
    find = haystack.find
    rfind = haystack.rfind
    found = 0
    at = 0
    index = rare_byte(needle, counts)
    if index is not None:
        byte = needle[index:index + 1]
        startswith = haystack.startswith
        budget = counts.size // RARE + 16
        hit = find(byte, index)
        while hit >= 0:
            budget -= 1
            if budget < 0:
                at = hit - index  # no match starts before here that was not seen: search the rest whole
                break
            start = hit - index
            if startswith(needle, start):
                add(rfind(b"\n", 0, start) + 1)
                end = find(b"\n", start)
                found += haystack.count(needle, start, len(haystack) if end < 0 else end) if occurrences else 1
                if end < 0:
                    return found
                hit = find(byte, end + 1 + index)
            else:
                hit = find(byte, hit + 1)
        else:
            return found
    hit = find(needle, at)
    while hit >= 0:
        add(rfind(b"\n", 0, hit) + 1)
        end = find(b"\n", hit)
        found += haystack.count(needle, hit, len(haystack) if end < 0 else end) if occurrences else 1
        if end < 0:
            break
        hit = find(needle, end)
    return found
