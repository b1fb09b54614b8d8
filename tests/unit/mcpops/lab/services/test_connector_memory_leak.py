"""memory_leak: the ballast really grows the RSS; the warning is due when the RSS first passes the threshold and
then at most once per interval while above."""

from mcpops.lab.services.memory_leak import Ballast, HighMemory, rss_mb


def test_the_ballast_grows_the_resident_set():
    ballast = Ballast()
    before = rss_mb()
    ballast.grow(16)
    ballast.grow(0)
    assert ballast.held_mb == 16
    assert rss_mb() - before >= 12  # touched pages are resident (some may have been resident already)


def test_high_memory_warns_on_crossing_and_then_once_per_interval():
    now = [0.0]
    high = HighMemory(100, every=60, clock=lambda: now[0])
    assert high.check(99) is False and high.check(100) is False
    assert high.check(101) is True
    now[0] = 59
    assert high.check(120) is False
    now[0] = 60
    assert high.check(120) is True
    assert high.check(50) is False
    assert high.check(101) is True  # a new crossing
