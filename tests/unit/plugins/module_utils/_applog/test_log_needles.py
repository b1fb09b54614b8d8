"""_applog/log_needles.py: the lines that hold a needle are the same whichever search finds them (by a rare byte of
the needle, by the whole needle, or by a rare byte that turns out common further on and hands over to the whole
needle), and so is the count of its occurrences."""

import random

from ansible_collections.mcpops.runbooks.plugins.module_utils._applog import log_needles
from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_needles import ByteCounts, lines_holding, rare_byte


def naive(block, needle):
    """(line starts holding needle, occurrences in them), line by line."""
    starts, found, offset = [], 0, 0
    for line in block.split(b"\n"):
        if needle in line:
            starts.append(offset)
            found += line.count(needle)
        offset += len(line) + 1
    return starts, found


def block_of(rng, lines, rare_every, tail_common=False):
    """JSON-ish lines; one in rare_every holds 'exceeded' (its x is rare), a few hold it twice; with tail_common, the
    second half is full of x (the sample at the start says rare, the rest says otherwise)."""
    out = []
    for index in range(lines):
        line = '{"ts": "2026-11-23T10:00:%02d.000Z", "message": "GET /api/me 200", "n": %d}' % (index % 60, index)
        if index % rare_every == 3:
            line = line.replace("GET /api/me 200", "rate_limit_exceeded" + (" exceeded" if index % 7 == 0 else ""))
        if tail_common and index > lines // 2:
            line += ' "xxx"'
        out.append(line)
    return "\n".join(out).encode()


def test_rare_byte_is_chosen_only_when_the_sample_says_rare():
    block = block_of(random.Random(1), 3000, 400)
    counts = ByteCounts(block)
    index = rare_byte(b"exceeded", counts)
    assert b"exceeded"[index:index + 1] == b"x"
    assert rare_byte(b"message", counts) is None  # every line holds it: no byte of it is rare
    assert rare_byte(b"x", counts) is None  # one byte: memchr already


def test_every_way_finds_the_same_lines(monkeypatch):
    rng = random.Random(2)
    for tail_common in (False, True):
        block = block_of(rng, 4000, 97, tail_common)
        for needle in (b"exceeded", b"rate_limit_exceeded", b"GET /api", b"xxx", b"absent", b'"n": 3999}'):
            expected = naive(block, needle)
            starts = []
            assert lines_holding(block, needle, starts.append, ByteCounts(block), occurrences=True) == expected[1]
            assert starts == expected[0], (needle, tail_common)
            starts = []
            assert lines_holding(block, needle, starts.append, ByteCounts(block)) == len(expected[0])
            assert starts == expected[0]
    # the whole needle alone (no byte rare) finds the same
    monkeypatch.setattr(log_needles, "RARE", 10 ** 9)
    block = block_of(rng, 4000, 97, True)
    starts = []
    lines_holding(block, b"exceeded", starts.append, ByteCounts(block))
    assert starts == naive(block, b"exceeded")[0]


def test_a_rare_guess_that_turns_out_common_hands_over(monkeypatch):
    """The x is rare in the sample, common after it: the byte's way stops after its budget and the whole-needle
    search finishes the block, finding every line."""
    block = block_of(random.Random(3), 6000, 1000, tail_common=True)
    counts = ByteCounts(block)
    assert rare_byte(b'"xxx', counts) is not None
    checks = []
    real_find = block.find

    class Spy(bytes):
        def find(self, sub, *args):
            checks.append(sub)
            return real_find(sub, *args)

    spied = Spy(block)
    starts = []
    lines_holding(spied, b'"xxx', starts.append, ByteCounts(spied))
    assert starts == naive(block, b'"xxx')[0]
    assert checks.count(b'"xxx') >= 1  # it did hand over to the whole needle
    assert checks.count(b"x") <= len(block) // log_needles.RARE + 20
