"""Selectors as PromQL writes them: the name, the four matchers, anchored regexes, escapes, and clear errors."""

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._metrics.selector import parse_selector


def test_a_bare_name_matches_every_series():
    sel = parse_selector("http_slow_requests_total")
    assert sel.name == "http_slow_requests_total" and sel.matchers == []
    assert sel.matches({"method": "GET"}) and sel.matches({})
    assert str(sel) == "http_slow_requests_total"


def test_the_four_matchers():
    sel = parse_selector('external_requests_total{provider="webhook", result!="ok", status=~"5..|429", method!~"HEAD"}')
    assert sel.matchers == [("provider", "=", "webhook"), ("result", "!=", "ok"), ("status", "=~", "5..|429"),
                            ("method", "!~", "HEAD")]
    base = {"provider": "webhook", "result": "error", "status": "500", "method": "POST"}
    assert sel.matches(base)
    assert not sel.matches(dict(base, provider="telegram"))
    assert not sel.matches(dict(base, result="ok"))
    assert sel.matches(dict(base, status="429"))
    assert not sel.matches(dict(base, status="404"))
    assert not sel.matches(dict(base, method="HEAD"))


def test_regexes_are_anchored_as_in_promql():
    sel = parse_selector('http_requests_total{status=~"5.."}')
    assert sel.matches({"status": "503"})
    assert not sel.matches({"status": "5030"}) and not sel.matches({"status": "1503"})
    assert not sel.matches({})  # a missing label is "", which 5.. does not match


def test_an_escaped_quote_in_a_value():
    sel = parse_selector(r'm{path="/a\"b"}')
    assert sel.matchers == [("path", "=", '/a"b')]
    assert parse_selector("m{}").matchers == []


@pytest.mark.parametrize("text, words", [
    ("", "starts with a metric name"),
    ("5xx", "starts with a metric name"),
    ('m status="500"', "after the metric name"),
    ("m{status=500}", "cannot read the label matcher"),
    ('m{status="500"} x', "text after the closing brace"),
    ('m{status=~"5(.."}', "bad regex"),
])
def test_bad_selectors_say_what_is_wrong(text, words):
    with pytest.raises(ValueError) as err:
        parse_selector(text)
    assert words in str(err.value)
