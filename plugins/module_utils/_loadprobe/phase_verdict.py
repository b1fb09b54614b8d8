# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A phase judged against the thresholds: failures (non-2xx and no answer) at most max_failures, p99 at most
max_p99_ms, every request sent (a phase cut by its time limit did not measure what it was asked to)."""

from __future__ import annotations


def phase_problems(name, phase, max_failures, max_p99_ms):
    """The phase's broken thresholds, each a line naming the figure and the threshold; [] when it passed."""
    problems = []
    if phase["failures"] > max_failures:
        statuses = ", ".join("%s x%d" % (s, n) for s, n in phase["status_counts"].items() if not s.startswith("2"))
        detail = "; ".join(filter(None, [("HTTP " + statuses) if statuses else "",
                                         ("no answer x%d" % phase["no_answer"]) if phase["no_answer"] else ""]))
        where = ", ".join("%s x%d" % (url, c["failures"]) for url, c in phase.get("by_url", {}).items() if c["failures"])
        problems.append("%s: %d failed requests of %d (%s%s), at most %d allowed"
                        % (name, phase["failures"], phase["sent"], detail, (" on " + where) if where else "",
                           max_failures))
    p99 = phase["latency_ms"]["p99"]
    if p99 is None:
        problems.append("%s: no request was answered, no latency measured" % name)
    elif max_p99_ms is not None and p99 > max_p99_ms:
        problems.append("%s: p99 %.1f ms over the %.1f ms allowed" % (name, p99, max_p99_ms))
    if phase["not_started"]:
        problems.append("%s: stopped at its time limit (%ss): %d of %d requests not sent"
                        % (name, phase["time_limit"], phase["not_started"], phase["requests"]))
    return problems


def phase_line(name, phase):
    """One line a human reads: counts, rps, the percentiles."""
    lat = phase["latency_ms"]

    def ms(value):
        return "-" if value is None else "%.1f" % value

    return ("%s: %d of %d sent at concurrency %d in %.2fs (%s req/s): %d 2xx, %d non-2xx, %d no answer; latency ms "
            "p50 %s p90 %s p99 %s max %s" % (
                name, phase["sent"], phase["requests"], phase["concurrency"], phase["elapsed_seconds"],
                "-" if phase["requests_per_second"] is None else phase["requests_per_second"], phase["ok"],
                phase["non_2xx"], phase["no_answer"], ms(lat["p50"]), ms(lat["p90"]), ms(lat["p99"]), ms(lat["max"])))
