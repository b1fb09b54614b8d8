"""bench/growth.py (sizes, slopes, the growth table) and fleet_triage_figures.tree_cpu_seconds (the hosts' CPU)."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "bench"))

import fleet_triage_figures as figures  # noqa: E402
import growth  # noqa: E402


def test_parse_sizes_sorts_and_drops_repeats():
    assert growth.parse_sizes("5000,1000,20000,1000") == [1000, 5000, 20000]


@pytest.mark.parametrize("text", ["", "0,10", "-5"])
def test_parse_sizes_refuses_what_is_not_a_positive_size(text):
    with pytest.raises(ValueError):
        growth.parse_sizes(text)


def test_slope_and_fixed_cost_of_a_straight_line():
    points = {2: 3.0, 4: 4.0, 8: 6.0, 16: 10.0}  # 2 s fixed, 0.5 s a host
    assert growth.slope(points) == pytest.approx(0.5)
    assert growth.intercept(points) == pytest.approx(2.0)


def test_slope_is_least_squares_not_the_two_ends():
    assert growth.slope({1: 1.0, 2: 5.0, 3: 3.0}) == pytest.approx(1.0)


def test_one_size_has_no_slope():
    assert growth.slope({1000: 2.5}) is None
    assert growth.growth({"module": {1000: 2.5}})["module"]["slope"] is None


def test_growth_table_puts_the_sides_side_by_side_with_their_slope_per_unit():
    lines = growth.growth_table("tokens", {"module": {1000: 2.0, 5000: 6.0}, "curl loop": {1000: 12.0, 5000: 60.0}},
                                per=1000)
    assert lines[0].split() == ["tokens", "module", "curl", "loop"]
    assert lines[1].split() == ["1000", "2.000", "s", "12.000", "s"]
    assert "module: 1.0000 s per 1,000 tokens more" in lines[3]
    assert "curl loop: 12.0000 s per 1,000 tokens more" in lines[4]


def test_machine_reports_load_and_cpus():
    m = growth.machine()
    assert m["cpus"] == os.cpu_count() and len(m["loadavg"]) == 3


def _stat(proc, pid, ppid, comm, utime, stime, cutime, cstime):
    os.makedirs(os.path.join(proc, str(pid)))
    fields = ["S", ppid] + [0] * 9 + [utime, stime, cutime, cstime] + [0] * 5
    with open(os.path.join(proc, str(pid), "stat"), "w") as handle:
        handle.write("%d (%s) %s\n" % (pid, comm, " ".join(map(str, fields))))


def test_tree_cpu_seconds_sums_the_trees_under_the_roots_with_reaped_children(tmp_path):
    proc = str(tmp_path)
    _stat(proc, 100, 1, "systemd-nspawn", 1, 1, 0, 0)
    _stat(proc, 101, 100, "systemd", 10, 5, 200, 100)        # reaped a module's python: 300 ticks in cutime+cstime
    _stat(proc, 102, 101, "sshd: root (x) y", 20, 10, 0, 0)  # spaces and parentheses in the name
    _stat(proc, 200, 1, "systemd-nspawn", 1000, 1000, 0, 0)  # another fleet's host: not ours
    os.makedirs(os.path.join(proc, "self"))
    assert figures.tree_cpu_seconds([100], proc=proc, ticks=100) == pytest.approx((2 + 315 + 30) / 100.0)
    assert figures.tree_cpu_seconds([100, 200], proc=proc, ticks=100) == pytest.approx((2 + 315 + 30 + 2000) / 100.0)
    assert figures.tree_cpu_seconds([None], proc=proc, ticks=100) == 0
