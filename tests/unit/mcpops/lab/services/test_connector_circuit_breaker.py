"""circuit_breaker.CircuitBreaker on a fake clock."""

import pytest

from mcpops.lab.services.circuit_breaker import CircuitBreaker


class Clock:
    def __init__(self):
        self.now = 1_700_000_000.0

    def __call__(self):
        return self.now


def test_failures_open_it_at_the_threshold_then_it_half_opens_and_closes():
    clock = Clock()
    breaker = CircuitBreaker("slack", threshold=3, reset_seconds=60, clock=clock)
    assert breaker.snapshot() == {"circuit": "closed", "failures": 0, "opened_at": None}
    assert [breaker.record_failure() for _ in range(3)] == [False, False, True]
    assert breaker.snapshot() == {"circuit": "open", "failures": 3, "opened_at": "2023-11-14T22:13:20Z"}
    assert not breaker.allow()
    clock.now += 59.9
    assert breaker.state == "open"
    clock.now += 0.1
    assert breaker.state == "half_open" and breaker.allow()
    breaker.record_success()
    assert breaker.snapshot() == {"circuit": "closed", "failures": 0, "opened_at": None}


def test_a_failed_trial_opens_it_again_from_then():
    clock = Clock()
    breaker = CircuitBreaker("github", threshold=1, reset_seconds=10, clock=clock)
    assert breaker.record_failure() is True
    clock.now += 10
    assert breaker.state == "half_open"
    assert breaker.record_failure() is True
    assert breaker.state == "open" and breaker.snapshot()["failures"] == 2
    clock.now += 9
    assert not breaker.allow()
    clock.now += 1
    assert breaker.allow()


def test_a_success_resets_the_count_while_closed():
    breaker = CircuitBreaker("jira", threshold=2, clock=Clock())
    breaker.record_failure()
    breaker.record_success()
    assert breaker.record_failure() is False and breaker.state == "closed"


def test_a_threshold_below_one_is_refused():
    with pytest.raises(ValueError):
        CircuitBreaker("slack", threshold=0)
