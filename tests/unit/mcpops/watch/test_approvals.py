"""approvals: pending approvals are decided once, and expire."""

import datetime

import pytest

from mcpops.watch.approvals import APPROVED, DENIED, ApprovalError, Approvals, ttl_seconds

T0 = datetime.datetime(2026, 1, 1, 3, 0, tzinfo=datetime.timezone.utc)


def at(seconds):
    return T0 + datetime.timedelta(seconds=seconds)


def pending(approvals, now=T0):
    return approvals.create(3600, now=now, runbook="inc-001-gateway-down", host="gw1", inventory="/inv",
                            extra_vars={"inc001_hosts": "gw1"}, fingerprint="aa", check_run="/runs/x", check_status=0)


def test_a_pending_approval_is_decided_once(tmp_path):
    approvals = Approvals(tmp_path)
    record = pending(approvals)
    assert record["status"] == "pending" and record["expires_at"] == "2026-01-01T04:00:00Z"
    assert approvals.decide(record["id"], APPROVED, "bob", now=at(60))["decided_by"] == "bob"
    with pytest.raises(ApprovalError, match="already approved .by bob"):
        approvals.decide(record["id"], DENIED, "alice", now=at(61))
    assert approvals.finish(record["id"], "/runs/y", 0)["run"] == "/runs/y"
    assert (tmp_path / "approvals" / ("%s.json" % record["id"])).stat().st_mode & 0o777 == 0o600


def test_an_approval_past_its_time_expires_and_is_never_run(tmp_path):
    approvals = Approvals(tmp_path)
    record = pending(approvals)
    with pytest.raises(ApprovalError, match="expired at 2026-01-01T04:00:00Z: nothing was run"):
        approvals.decide(record["id"], APPROVED, "bob", now=at(3600))
    assert approvals.get(record["id"])["status"] == "expired"


def test_the_sweep_lists_newest_first_and_expires_the_stale(tmp_path):
    approvals = Approvals(tmp_path)
    old = pending(approvals, now=at(0))
    new = pending(approvals, now=at(3000))
    found, expired = approvals.sweep(now=at(3700))
    assert [r["id"] for r in found] == [new["id"], old["id"]] and [r["id"] for r in expired] == [old["id"]]
    assert [r["status"] for r in found] == ["pending", "expired"]


@pytest.mark.parametrize("bad", ["../../etc/passwd", "ABCDEF12", "1234567", "", None])
def test_an_id_is_eight_hex_digits(tmp_path, bad):
    with pytest.raises(ApprovalError, match="not an approval id"):
        Approvals(tmp_path).get(bad)


def test_an_unknown_id_is_said_so(tmp_path):
    with pytest.raises(ApprovalError, match="no approval 0badf00d"):
        Approvals(tmp_path).decide("0badf00d", DENIED, "alice")


def test_the_time_to_live_comes_from_the_environment():
    assert ttl_seconds({}) == 3600 and ttl_seconds({"MCPOPS_APPROVAL_TTL_SECONDS": "900"}) == 900
    assert ttl_seconds({"MCPOPS_APPROVAL_TTL_SECONDS": "0"}) == 3600
