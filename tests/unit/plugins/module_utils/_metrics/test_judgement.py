"""Judging one threshold on two snapshots: per-minute rate, delta over the window, gauge value; counter resets; the
comparison (at the threshold is fine, above is not); a metric nobody declares."""

from ansible_collections.mcpops.runbooks.plugins.module_utils._metrics.exposition import Snapshot
from ansible_collections.mcpops.runbooks.plugins.module_utils._metrics.judgement import increase, judge
from ansible_collections.mcpops.runbooks.plugins.module_utils._metrics.selector import parse_selector


def snap(*samples):
    return Snapshot(list(samples), {name for name, _, _ in samples} | {"declared_total"})


def check(selector, kind, limit):
    return dict(name="c", selector=parse_selector(selector), kind=kind, max=limit)


def five(status, value):
    return ("http_requests_total", {"status": status}, value)


def test_rate_per_minute_over_the_elapsed_seconds():
    first, second = snap(five("500", 10), five("200", 100)), snap(five("500", 16), five("200", 500))
    got = judge(check('http_requests_total{status=~"5.."}', "rate_per_min", 5), first, second, 30.0)
    assert got["value"] == 12.0  # 6 in 30 s
    assert got["ok"] is False and got["series"] == 1 and got["found"] is True
    assert judge(check('http_requests_total{status=~"5.."}', "rate_per_min", 12), first, second, 30.0)["ok"] is True


def test_a_new_series_counts_from_zero_and_a_reset_counts_its_new_value():
    assert increase({("a",): 5.0}, {("a",): 7.0, ("b",): 3.0}) == 5.0
    assert increase({("a",): 50.0}, {("a",): 4.0}) == 4.0  # the process restarted


def test_delta_and_value():
    first = snap(("loyalty_outbox_dead_total", {}, 2), ("loyalty_outbox_pending", {}, 9))
    second = snap(("loyalty_outbox_dead_total", {}, 5), ("loyalty_outbox_pending", {}, 1))
    assert judge(check("loyalty_outbox_dead_total", "delta", 2), first, second, 60.0)["value"] == 3.0
    assert judge(check("loyalty_outbox_pending", "value", 0), first, second, 60.0)["value"] == 1.0


def test_a_metric_not_declared_is_zero_and_not_found():
    got = judge(check("loyalty_outbox_dead_total", "delta", 0), snap(), snap(), 60.0)
    assert got["value"] == 0 and got["ok"] is True and got["found"] is False and got["series"] == 0
    assert judge(check("declared_total", "delta", 0), snap(), snap(), 60.0)["found"] is True
