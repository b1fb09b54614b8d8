"""pg_connections' filters: refused before any connection, and values that only ever travel as parameters."""

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._pg.session_filter import (
    SELECT_AND_SIGNAL,
    FilterError,
    parse_duration,
    validate_filters,
)


@pytest.mark.parametrize("text,seconds", [("10m", 600), ("1h", 3600), ("1h30m", 5400), ("90s", 90), ("2d", 172800),
                                          ("45", 45), ("0.5", 0.5), (" 10M ", 600), ("1w", 604800)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "ten minutes", "10 x", "m10", "-5m", "1h-", "10m; DROP"])
def test_bad_durations(text):
    with pytest.raises(FilterError, match="idle_for"):
        parse_duration(text, "idle_for")


def test_no_narrowing_filter_is_refused_unless_all_matching():
    for params in ({}, {"exclude_users": ["x"]}, {"limit": 3}, {"include_superusers": True}, {"states": []}):
        with pytest.raises(FilterError, match="refused: no filter"):
            validate_filters(params)
    flt = validate_filters({"all_matching": True})
    assert flt.args("terminate")["states"] is None


def test_each_narrowing_filter_counts():
    for params in ({"states": ["idle"]}, {"idle_for": "10m"}, {"client_addrs": ["10.0.0.0/8"]},
                   {"application_names": ["a"]}, {"users": ["u"]}, {"databases": ["d"]}):
        validate_filters(params)


def test_values_are_normalised_and_passed_as_parameters():
    hostile = "x'; DROP TABLE t; --"
    flt = validate_filters({"states": ["idle"], "idle_for": "1h", "client_addrs": ["192.0.2.7", "10.1.2.3/8"],
                            "application_names": [hostile], "users": ["ünï"], "exclude_users": ["repl"], "limit": 5})
    sql, args = flt.statement("terminate")
    assert sql == SELECT_AND_SIGNAL  # constant text: nothing the operator typed is in it
    assert hostile not in sql
    assert args["client_addrs"] == ["192.0.2.7/32", "10.0.0.0/8"]
    assert args["idle_seconds"] == 3600.0 and args["limit"] == 5 and args["application_names"] == [hostile]
    assert args["include_superusers"] is False and args["action"] == "terminate"


def test_the_guards_are_in_the_statement():
    assert "a.backend_type = 'client backend'" in SELECT_AND_SIGNAL
    assert "a.pid <> pg_catalog.pg_backend_pid()" in SELECT_AND_SIGNAL
    assert "NOT coalesce(r.rolsuper, false)" in SELECT_AND_SIGNAL
    assert "pg_terminate_backend(t.pid)" in SELECT_AND_SIGNAL  # no timeout argument: no serialised waits


@pytest.mark.parametrize("params,needle", [
    ({"states": ["sleeping"]}, "states"),
    ({"client_addrs": ["10.0.0.0/33"]}, "10.0.0.0/33"),
    ({"client_addrs": ["db.example.com"]}, "db.example.com"),
    ({"users": [""]}, "empty names"),
    ({"users": ["a\x00b"]}, "NUL"),
    ({"users": ["u"], "limit": 0}, "limit"),
    ({"idle_for": "soon"}, "idle_for"),
])
def test_bad_values_are_refused(params, needle):
    with pytest.raises(FilterError, match=needle):
        validate_filters(params)


def test_unknown_action_is_refused():
    with pytest.raises(FilterError):
        validate_filters({"users": ["u"]}).statement("pg_reload_conf")
