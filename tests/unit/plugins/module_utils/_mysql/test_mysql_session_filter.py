"""The filters of mysql_connections: refused before connecting when bad, and values only ever bound."""

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.session_filter import (
    FilterError,
    validate_filters,
)

HOSTILE = ["' OR 1=1 --", "x'; DROP TABLE t; --", "/* */", "%s", "ünï 🚀"]


def test_no_narrowing_filter_is_refused_unless_all_matching():
    with pytest.raises(FilterError) as err:
        validate_filters(dict(exclude_users=["root"], limit=5))
    assert "refused: no filter" in str(err.value) and "all_matching" in str(err.value)
    assert validate_filters(dict(all_matching=True)).describe() == {}


@pytest.mark.parametrize("params,words", [
    (dict(idle_for="ten minutes"), "idle_for"),
    (dict(users=["app"], limit=0), "limit must be 1 or more"),
    (dict(commands=["Daemon"]), "not among"),
    (dict(hosts=["10.0.0.7:51234"]), "without its port"),
    (dict(users=["app", ""]), "empty names"),
])
def test_bad_filters_are_named(params, words):
    with pytest.raises(FilterError) as err:
        validate_filters(params)
    assert words in str(err.value)


def test_durations():
    assert validate_filters(dict(idle_for="1h30m")).idle_seconds == 5400
    assert validate_filters(dict(idle_for="90s")).idle_seconds == 90
    assert validate_filters(dict(idle_for="45")).idle_seconds == 45


def test_values_travel_as_parameters_never_as_text():
    flt = validate_filters(dict(users=HOSTILE, hosts=HOSTILE, databases=HOSTILE, exclude_users=HOSTILE,
                                commands=["Sleep"], idle_for="10m", limit=7))
    sql, args = flt.statement("killed")
    benign = ["a", "b", "c", "d", "e"]
    same, _ = validate_filters(dict(users=benign, hosts=benign, databases=benign, exclude_users=benign,
                                    commands=["Sleep"], idle_for="10m", limit=7)).statement("killed")
    assert sql == same  # the text depends on how many values, never on what they are
    for value in HOSTILE[:3] + HOSTILE[4:]:
        assert value not in sql
    assert list(args) == HOSTILE * 3 + ["Sleep", 600.0] + HOSTILE + [7]
    assert sql.count("%s") == len(args)
    assert "p.ID <> CONNECTION_ID()" in sql and "'event_scheduler'" in sql and "'Binlog Dump'" in sql
    assert sql.rstrip().endswith("ORDER BY p.TIME DESC, p.ID LIMIT %s")


def test_query_killed_never_selects_idle_sessions():
    sql, _ = validate_filters(dict(users=["app"])).statement("query_killed")
    assert "p.COMMAND <> 'Sleep'" in sql
    sql, _ = validate_filters(dict(users=["app"])).statement("killed")
    assert "p.COMMAND <> 'Sleep'" not in sql
