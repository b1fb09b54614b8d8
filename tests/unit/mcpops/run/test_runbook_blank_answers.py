"""An AWX survey question left blank reaches the playbook as "" (or null, depending on the AWX version)
instead of leaving the variable undefined. So every optional text extra var must treat blank as not given,
and a metadata default must be a value the playbook would take (the survey pre-fills it), never prose."""

import re

import pytest

from mcpops.run.runbooks import discover

RUNBOOKS = discover()


def playbook_body(path):
    """The playbook's text without its comments and without the mcpops_runbook metadata block."""
    out, skip = [], None
    for line in path.read_text().splitlines():
        indent = len(line) - len(line.lstrip())
        if skip is not None:
            if not line.strip() or indent > skip:
                continue
            skip = None
        if line.strip().startswith("mcpops_runbook:"):
            skip = indent
        elif not line.lstrip().startswith("#"):
            out.append(line)
    return "\n".join(out)


def default_calls(body, name):
    """The argument text of every `name | default(...)` in body (parentheses balanced)."""
    calls = []
    for match in re.finditer(r"\b%s\s*\|\s*default\(" % re.escape(name), body):
        depth, i = 1, match.end()
        while depth and i < len(body):
            depth += {"(": 1, ")": -1}.get(body[i], 0)
            i += 1
        calls.append(body[match.end():i - 1])
    return calls


def surveyed_text_vars():
    for rb in RUNBOOKS:
        for var in rb.extra_vars.values():
            if var.type == "str" and var.default is None and not var.required and not var.choices:
                yield pytest.param(rb, var.name, id="%s:%s" % (rb.id, var.name))


@pytest.mark.parametrize("runbook,name", list(surveyed_text_vars()))
def test_a_blank_optional_text_var_counts_as_not_given(runbook, name):
    body = playbook_body(runbook.path)
    assert not re.search(r"\b%s\s+is\s+(not\s+)?defined" % re.escape(name), body), (
        "%s tests `%s is defined`: a blank survey answer is defined; use `%s | default('', true)`" % (runbook.id, name, name))
    for args in default_calls(body, name):
        assert re.search(r",\s*true\s*$", args), (
            "%s: `%s | default(%s)` keeps a blank answer; add `, true`" % (runbook.id, name, args))


@pytest.mark.parametrize("runbook", RUNBOOKS, ids=[rb.id for rb in RUNBOOKS])
def test_text_defaults_are_values_not_prose(runbook):
    for var in runbook.extra_vars.values():
        if isinstance(var.default, str):
            assert not re.search(r"\s|<|>", var.default), (
                "%s: %s has the default %r, which the AWX survey would pass as the value; put it in the "
                "description and leave default out" % (runbook.id, var.name, var.default))
