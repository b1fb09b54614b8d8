"""oauth_states: names validated before connecting, batches and caps, check mode deletes nothing."""

import datetime

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.oauth_state_table import OAuthStateTable, TableNameError
from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.oauth_states_run import clean, run

NOW = datetime.datetime(2024, 1, 15, 10, 30)
CLOCK = dict(db_now=NOW, db_utc_now=NOW, db="connectorMCP")


@pytest.mark.parametrize("name", ["oauth_states; DROP TABLE t", "a`b", "", "x" * 65, "ünï", "a b", "a.b"])
def test_names_are_letters_digits_underscore(name):
    with pytest.raises(TableNameError):
        OAuthStateTable(name)
    with pytest.raises(TableNameError):
        OAuthStateTable("oauth_states", name)


@pytest.mark.parametrize("params,words", [
    (dict(table="t;x", login_db="db"), "use letters, digits and _"),
    (dict(batch_size=0, login_db="db"), "batch_size"),
    (dict(max_rows=0, login_db="db"), "max_rows"),
    (dict(), "login_db is required"),
])
def test_refused_before_connecting(params, words):
    def no_driver():
        raise AssertionError("connected")
    with pytest.raises(TaskError) as err:
        run(dict(params, state="cleaned"), False, driver=no_driver)
    assert words in err.value.msg and "Nothing was touched" in err.value.msg


class FakeTable(OAuthStateTable):
    def __init__(self, expired):
        super().__init__()
        self.expired, self.limits = expired, []

    def counts(self, session, cutoff):
        assert cutoff == NOW
        return dict(total=self.expired + 10, expired=self.expired, latest=None, oldest=None, oldest_expired=None)

    def delete_batch(self, session, cutoff, limit):
        assert cutoff == NOW
        self.limits.append(limit)
        gone = min(limit, self.expired)
        self.expired -= gone
        return gone


def test_batches_and_cap():
    table = FakeTable(2500)
    result = clean(None, table, CLOCK, 300, 1000, False, True)
    assert table.limits == [300, 300, 300, 100] and result["deleted"] == 1000 and result["batches"] == 4
    assert result["remaining_expired"] == 1500 and result["diff"]["after"] == "total: 1510\nexpired: 1500\n"
    table = FakeTable(600)
    result = clean(None, table, CLOCK, 300, None, False, False)
    assert table.limits == [300, 300, 300] and result["deleted"] == 600 and result["batches"] == 2


def test_check_mode_deletes_nothing():
    table = FakeTable(2500)
    result = clean(None, table, CLOCK, 1000, None, True, False)
    assert table.limits == [] and result["deleted"] == 2500 and result["batches"] == 3 and result["changed"] is True


def test_nothing_expired_is_no_change():
    table = FakeTable(0)
    result = clean(None, table, CLOCK, 1000, None, False, False)
    assert result["changed"] is False and result["deleted"] == 0 and table.limits == [1000]
