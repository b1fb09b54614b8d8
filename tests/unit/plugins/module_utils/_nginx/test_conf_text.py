"""The nginx conf reader: directives with their spans, comments, quotes and ${var}, unbalanced text refused, and the
span edits (remove a line, insert in a block) that keep every other byte."""

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._nginx import conf_text
from ansible_collections.mcpops.runbooks.plugins.module_utils._nginx.conf_text import ConfError

TEXT = """# top comment { not a block
http {
    log_format x '{"a":"$remote_addr"}';  # quoted braces
    upstream app {
        server 127.0.0.1:81 weight=2;
        server 127.0.0.1:82;   # second
    }
    map ${host}x $y { default ""; }
}
"""


def test_directives_know_their_spans_and_quotes_and_comments_do_not_open_blocks():
    root = conf_text.parse(TEXT)
    [http] = root.children
    assert http.name == "http" and TEXT[http.start:http.end].endswith("}") and TEXT[http.close] == "}"
    [upstream] = root.find("upstream", ["app"])
    servers = upstream.find("server")
    assert [s.args for s in servers] == [["127.0.0.1:81", "weight=2"], ["127.0.0.1:82"]]
    assert TEXT[servers[0].start:servers[0].end] == "server 127.0.0.1:81 weight=2;"
    assert root.find("log_format")[0].args == ["x", "'{\"a\":\"$remote_addr\"}'"]
    assert root.find("map")[0].args == ["${host}x", "$y"]


@pytest.mark.parametrize("text, words", [
    ("http {\n server a;\n", "`http {` is never closed"),
    ("server a;\n}\n", "closes no block"),
    ("server a\n", "`server` has no `;`"),
    ("x 'open;\n", "quote is never closed"),
    ("; x;", "a `;` with no directive"),
])
def test_unbalanced_text_is_refused_naming_the_line(text, words):
    with pytest.raises(ConfError) as err:
        conf_text.parse(text)
    assert words in err.value.msg and "line " in err.value.msg


def test_a_comment_inside_a_directive_is_noticed():
    [d] = conf_text.parse("server a # why\n  down;\n").children
    assert d.commented and d.args == ["a", "down"]


def test_remove_takes_the_whole_line_with_its_comment_and_insert_matches_the_indent():
    root = conf_text.parse(TEXT)
    second = root.find("server")[1]
    removed = conf_text.remove_statement(TEXT, second)
    assert removed == TEXT.replace("        server 127.0.0.1:82;   # second\n", "")
    upstream = root.find("upstream")[0]
    added = conf_text.insert_in_block(TEXT, upstream, "server 127.0.0.1:83;")
    assert added == TEXT.replace("# second\n", "# second\n        server 127.0.0.1:83;\n")
    one_line = "upstream u { server a:1; }"
    block = conf_text.parse(one_line).children[0]
    assert conf_text.insert_in_block(one_line, block, "server b:2;") == "upstream u { server a:1;  server b:2; }"
    mid = "a 1; b 2; c 3;\n"
    assert conf_text.remove_statement(mid, conf_text.parse(mid).children[1]) == "a 1;  c 3;\n"
