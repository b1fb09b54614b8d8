"""instance_clock.InstanceClock: the host's clock plus a skew."""

from datetime import datetime

from mcpops.lab.services.instance_clock import InstanceClock

BASE = 1_700_000_000.25  # 2023-11-14T22:13:20.250Z


def test_the_skew_moves_every_reading():
    clock = InstanceClock(900, base=lambda: BASE)
    assert clock.now() == BASE + 900
    assert clock.iso() == "2023-11-14T22:28:20Z"
    assert clock.iso_ms() == "2023-11-14T22:28:20.250Z"
    assert InstanceClock(-60, base=lambda: BASE).iso() == "2023-11-14T22:12:20Z"


def test_local_naive_is_in_the_databases_zone():
    clock = InstanceClock(0, base=lambda: BASE)
    assert clock.local_naive(0) == datetime(2023, 11, 14, 22, 13, 20)
    assert clock.local_naive(3600, 600) == datetime(2023, 11, 14, 23, 23, 20)  # UTC+1, ten minutes on
    assert InstanceClock(900, base=lambda: BASE).local_naive(0, 600) == datetime(2023, 11, 14, 22, 38, 20)
