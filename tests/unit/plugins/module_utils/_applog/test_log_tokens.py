"""_applog/log_tokens.py: the lines whose level names an error, told by counting the level's forms: learned from a
block, counted in the next, a new form learned, and None (the caller's other way) whenever counting cannot account
for every occurrence of the key: a number, the key's name as a value, too many forms."""

import json

from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_levels import level_name
from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_needles import ByteCounts
from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_tokens import GIVE_UP, KeyTokens

ERRORS = frozenset(["error", "critical", "fatal"])


def tokens():
    return KeyTokens(b'"level"', lambda value: level_name(value) in ERRORS)


def block(levels, extra=""):
    return "\n".join(json.dumps({"ts": "2026-11-23T10:00:00.000Z", "level": level, "message": "m %d" % index})
                     + extra for index, level in enumerate(levels)).encode()


def lines(keyed, data):
    starts = []
    told = keyed.lines(data, starts.append, ByteCounts(data))
    return told, sorted(set(starts))


def starts_of(data, indexes):
    offsets = [0]
    for line in data.split(b"\n"):
        offsets.append(offsets[-1] + len(line) + 1)
    return [offsets[index] for index in indexes]


def test_learned_then_counted():
    keyed = tokens()
    first = block(["INFO", "ERROR", "INFO", "WARNING", "error"])
    assert lines(keyed, first) == (True, starts_of(first, [1, 4]))
    assert keyed.learning == 7 and len(keyed.forms) == 4  # learned once
    second = block(["WARNING", "INFO", "ERROR"] * 50)
    assert lines(keyed, second) == (True, starts_of(second, range(2, 150, 3)))
    assert keyed.learning == 7  # counted: nothing new
    third = block(["INFO", " Fatal ", "INFO"])  # a new form, learned
    assert lines(keyed, third) == (True, starts_of(third, [1]))
    assert keyed.learning == 6


def test_what_counting_cannot_tell():
    for data in (
        block(["INFO", 50, "INFO"]),                                     # a number (pino)
        block(["INFO", "INFO"]) + b'\n{"ts": "x", "field": "level"}',    # the name as a value
        block(["INFO", None]),                                           # null
        b'{"ts": "x", "level" : "INFO"}\n{"ts": "x", "level":"ERROR"}\n{"ts": "x", "level": ["ERROR"]}',
    ):
        assert tokens().lines(data, lambda start: None, ByteCounts(data)) is None, data


def test_spacing_escapes_and_nested_levels_are_forms():
    data = b'{"ts": "x", "level" : "INFO"}\n{"ts": "x", "level":"ERROR"}\n{"ts": "x", "level": "\\tfatal"}\n' \
           b'{"ts": "x", "ctx": {"level": "critical"}, "level": "INFO"}'
    assert lines(tokens(), data) == (True, starts_of(data, [1, 2, 3]))


def test_a_duplicate_key_is_found_by_either_occurrence():
    data = block(["INFO"], ', "level": "ERROR"}').replace(b'"}, "level"', b'", "level"')
    assert data.count(b'"level"') == 2
    assert lines(tokens(), data) == (True, [0])


def test_too_many_forms_and_learning_runs_out():
    many = block(["level-%d" % index for index in range(40)] + ["ERROR"])
    keyed = tokens()
    assert lines(keyed, many) == (True, starts_of(many, [40]))  # this block is told by its own read
    assert len(keyed.forms) == 32
    for _ in range(keyed.learning):
        assert keyed.lines(many, lambda start: None, ByteCounts(many)) is True
    assert keyed.learning == 0
    assert keyed.lines(many, lambda start: None, ByteCounts(many)) is None  # no more reading to learn
    assert keyed.failed == 1
    good = block(["level-0", "level-1"])  # forms it learned (up to MAX_FORMS; ERROR, the 41st, was not)
    assert lines(keyed, good) == (True, []) and keyed.failed == 0  # a block it can count
    for _ in range(GIVE_UP):
        assert keyed.lines(many, lambda start: None, ByteCounts(many)) is None
    assert lines(keyed, good) == (None, [])  # given up: not even a block it could count is counted
