import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._tls import cert_status as st


def row(days, **extra):
    r = st.new_row(target="h:443", not_after="2026-12-01T00:00:00Z", days_left=days, expired=days < 0)
    r.update(extra)
    return r


@pytest.mark.parametrize("days, status", [(90, "ok"), (30, "ok"), (29, "warn"), (7, "warn"), (6, "critical"),
                                          (0, "critical"), (-1, "expired")])
def test_thresholds(days, status):
    assert st.classify(row(days), 30, 7)["status"] == status


def test_reasons_and_precedence():
    assert st.classify(row(90, reason=st.WRONG_HOST), 30, 7)["status"] == "error"
    expired_and_untrusted = st.classify(row(-3, reason=st.UNTRUSTED), 30, 7)
    assert (expired_and_untrusted["status"], expired_and_untrusted["reason"]) == ("expired", "expired")
    unreachable = st.classify(st.new_row(target="h:1", reason=st.REFUSED, message="refused"), 30, 7)
    assert unreachable["status"] == "error"


def test_summary_and_fail_on():
    rows = [st.classify(row(d), 30, 7) for d in (90, 20, 3, -1)] + [
        st.classify(st.new_row(target="x:1", reason=st.TIMEOUT), 30, 7)]
    assert st.summarize(rows) == {"ok": 1, "warn": 1, "critical": 1, "expired": 1, "error": 1, "total": 5}
    assert len(st.failing_rows(rows, "critical")) == 3
    assert len(st.failing_rows(rows, "warn")) == 4
    assert st.failing_rows(rows, "never") == []
    assert st.describe(rows[2]) == "h:443: critical, 3 days left"


def test_thresholds_are_checked():
    with pytest.raises(ValueError):
        st.check_thresholds(7, 30)
    with pytest.raises(ValueError):
        st.check_thresholds(-1, 0)
    st.check_thresholds(30, 30)
