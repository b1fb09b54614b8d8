"""The budget of a phase: never more than its count, none started at or after its deadline, from any number of
threads; its clock starts with start()."""

import threading

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._loadprobe.request_budget import RequestBudget


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_the_count_bounds_it_and_indexes_run_from_zero():
    budget = RequestBudget(3, 60, FakeClock())
    budget.start()
    assert [budget.take() for _ in range(5)] == [0, 1, 2, None, None]
    assert budget.started == 3 and budget.not_started == 0 and not budget.timed_out


def test_nothing_starts_at_or_after_the_deadline():
    clock = FakeClock()
    budget = RequestBudget(10, 2, clock)
    budget.start()
    assert budget.take() == 0
    clock.now += 1.999
    assert budget.take() == 1
    clock.now += 0.001  # exactly the deadline
    assert budget.take() is None
    assert budget.take() is None
    assert budget.started == 2 and budget.not_started == 8 and budget.timed_out


def test_the_time_limit_counts_from_start_not_from_construction():
    clock = FakeClock()
    budget = RequestBudget(2, 5, clock)
    clock.now += 100
    budget.start()
    assert budget.take() == 0


def test_take_before_start_is_a_bug():
    with pytest.raises(RuntimeError):
        RequestBudget(1, 1, FakeClock()).take()


def test_many_threads_never_take_more_than_the_count():
    budget = RequestBudget(1000, 60, FakeClock())
    budget.start()
    taken = []
    lock = threading.Lock()

    def worker():
        mine = []
        while (index := budget.take()) is not None:
            mine.append(index)
        with lock:
            taken.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(taken) == list(range(1000))
