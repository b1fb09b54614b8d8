# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading JSON-lines files of any size in bounded memory, and counting the lines that are not right.

iter_blocks(path) reads the file in binary, CHUNK_SIZE bytes at a time, and yields blocks of whole lines
(one bytes object each, for callers that look at many lines at once with a regex); iter_line_batches(path)
yields (first_line_number, [line bytes, ...]) batches: the cost of a Python call is paid per batch.
An unfinished line is carried into the next read only up to MAX_LINE bytes: past that it is never held
whole, it is yielded as None (the caller counts it malformed) and its bytes are skipped up to the next
newline. So no line is longer than CHUNK_SIZE + MAX_LINE, and memory stays a few times CHUNK_SIZE
whatever the file's size. No Ansible here.
"""

from __future__ import annotations

CHUNK_SIZE = 8 * 1024 * 1024
MAX_LINE = 1024 * 1024
FIRST_MALFORMED = 10


class MalformedLines:
    """How many lines were malformed, and the first few of their line numbers (1-based)."""

    def __init__(self, keep=FIRST_MALFORMED):
        self.count = 0
        self.first_lines = []
        self.keep = keep

    def add(self, lineno):
        self.count += 1
        if len(self.first_lines) < self.keep:
            self.first_lines.append(lineno)

    def as_dict(self):
        return {"count": self.count, "first_lines": list(self.first_lines)}


def iter_blocks(path, chunk_size=CHUNK_SIZE, max_line=MAX_LINE):
    """Yield (first_line_number, block, overlong): block is whole lines of the file (bytes, joined by
    newlines, no final newline; None when no line ended in this read), overlong says an overlong line (number first + lines in
    block) follows them and was skipped. A last line without a newline counts."""
    with open(path, "rb", buffering=0) as handle:
        yield from blocks_of(iter(lambda: handle.read(chunk_size), b""), max_line)


def blocks_of(chunks, max_line=MAX_LINE, counted=False):
    """iter_blocks over any run of byte chunks (a file's reads, or a byte range's preads: _applog/log_ranges), line
    numbers from 1 at the first chunk. counted: yield (first, block, overlong, lines), lines the block's line count
    (0 for None), the count this function makes anyway to number the lines (_applog would count them again)."""
    lineno = 1
    carry = b""
    skipping = False  # inside an overlong line: drop bytes until the next newline
    for chunk in chunks:
        if skipping:
            cut = chunk.find(b"\n")
            if cut < 0:
                continue
            chunk = chunk[cut + 1:]
            skipping = False
            lineno += 1
        if carry:
            chunk = carry + chunk
        cut = chunk.rfind(b"\n")
        if cut < 0:
            carry, block = chunk, None
        else:
            carry, block = chunk[cut + 1:], chunk[:cut]
        if len(carry) > max_line:
            # the unfinished line is already too long: report it now, skip the rest of it
            carry = b""
            skipping = True
        if block is not None or skipping:
            lines = block.count(b"\n") + 1 if block is not None else 0
            yield (lineno, block, skipping, lines) if counted else (lineno, block, skipping)
            lineno += lines
    if carry:
        yield (lineno, carry, False, 1) if counted else (lineno, carry, False)  # a carry holds no newline


def iter_line_batches(path, chunk_size=CHUNK_SIZE, max_line=MAX_LINE):
    """Yield (first_line_number, lines): the lines (bytes, without the newline and a trailing CR) of
    consecutive chunks of the file. An overlong line comes as None."""
    for first, block, overlong in iter_blocks(path, chunk_size, max_line):
        lines = block_lines(block) if block is not None else []
        if overlong:
            lines.append(None)
        if lines:
            yield first, lines


def block_lines(block):
    """A block's lines (bytes, trailing CR dropped)."""
    lines = block.split(b"\n")
    if b"\r" in block:
        lines = [line[:-1] if line.endswith(b"\r") else line for line in lines]
    return lines
