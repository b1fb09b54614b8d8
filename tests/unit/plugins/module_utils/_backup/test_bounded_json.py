"""_backup/bounded_json.py: every bad JSON text is a JsonError (never RecursionError), and messages stay short."""

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.bounded_json import (
    NESTED_TOO_DEEPLY,
    JsonError,
    loads,
    shown,
)


def test_plain_json_parses_from_text_and_bytes():
    assert loads('{"a": [1, 2]}') == {"a": [1, 2]}
    assert loads(b'{"a": "\xc3\xa4"}') == {"a": "\u00e4"}


@pytest.mark.parametrize("text", ["[" * 100000, "[" * 100000 + "]" * 100000, '{"a":' * 50000 + "1" + "}" * 50000])
def test_nesting_deeper_than_the_parser_goes_is_a_json_error(text):
    with pytest.raises(JsonError) as caught:
        loads(text)
    assert caught.value.msg == NESTED_TOO_DEEPLY and caught.value.where() == NESTED_TOO_DEEPLY


def test_a_syntax_error_has_line_and_column():
    with pytest.raises(JsonError) as caught:
        loads('{\n "files": [,]\n}')
    assert (caught.value.lineno, caught.value.colno) == (2, 12)
    assert caught.value.where().startswith("line 2 col 12: ")


def test_bytes_that_are_not_utf8_say_where():
    with pytest.raises(JsonError) as caught:
        loads(b'{"a": "\xff"}')
    assert caught.value.utf8_byte == 7 and caught.value.msg == "not UTF-8 at byte 7"


def test_a_number_longer_than_int_allows_is_a_json_error():
    with pytest.raises(JsonError):
        loads("1" * 100000)


def test_shown_never_dumps_something_deep_or_long():
    deep = []
    node = deep
    for _ in range(5000):
        node.append([])
        node = node[0]
    assert shown(deep) == "a list of 1 items"
    assert len(shown("x" * 10 ** 6)) <= 82
    assert shown({"k%d" % i: i for i in range(100)}).startswith("an object with 100 keys")
    assert shown(10 ** 4000) == "a very long number" and shown(None) == "null"
