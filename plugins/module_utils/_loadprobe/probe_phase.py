# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One phase of a probe: `count` GETs over the URLs in turn, from `concurrency` threads (1: the seed's `time curl`
loop; 10: its `ab -c 10`), within the RequestBudget; each answer's status and latency tallied, and the phase summed
up (rps, percentiles, non-2xx, no answer, by URL)."""

from __future__ import annotations

import threading

from ansible_collections.mcpops.runbooks.plugins.module_utils._loadprobe.percentiles import latency_summary
from ansible_collections.mcpops.runbooks.plugins.module_utils._loadprobe.request_budget import RequestBudget

MAX_ERROR_SAMPLES = 5


class Tally:
    """What came back, from any number of threads: statuses, latencies of the answers, why there was no answer."""

    def __init__(self, urls):
        self._lock = threading.Lock()
        self.latencies_ms = []
        self.statuses = {}
        self.no_answer = 0
        self.errors = []
        self.by_url = {url: {"sent": 0, "ok": 0, "failures": 0} for url in urls}

    def add(self, url, status, error, elapsed_ms):
        with self._lock:
            counts = self.by_url[url]
            counts["sent"] += 1
            if status is None:
                self.no_answer += 1
                counts["failures"] += 1
                if len(self.errors) < MAX_ERROR_SAMPLES and error not in self.errors:
                    self.errors.append(error)
                return
            self.latencies_ms.append(elapsed_ms)
            self.statuses[str(status)] = self.statuses.get(str(status), 0) + 1
            if 200 <= status < 300:
                counts["ok"] += 1
            else:
                counts["failures"] += 1


def run_phase(send, urls, count, concurrency, time_limit, clock):
    """send(url) -> (status, None) or (None, why not); clock() -> seconds (monotonic). Returns the phase's result."""
    budget = RequestBudget(count, time_limit, clock)
    tally = Tally(urls)

    def worker():
        while True:
            index = budget.take()
            if index is None:
                return
            url = urls[index % len(urls)]
            began = clock()
            status, error = send(url)
            tally.add(url, status, error, (clock() - began) * 1000.0)

    threads = [threading.Thread(target=worker, name="probe-%d" % i, daemon=True)
               for i in range(max(1, min(concurrency, count)))]
    began = clock()
    budget.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = clock() - began
    return phase_result(tally, count, concurrency, time_limit, budget, elapsed)


def phase_result(tally, count, concurrency, time_limit, budget, elapsed):
    answered = len(tally.latencies_ms)
    ok = sum(n for status, n in tally.statuses.items() if status.startswith("2"))
    return {
        "requests": count,
        "concurrency": concurrency,
        "time_limit": time_limit,
        "sent": budget.started,
        "not_started": budget.not_started,
        "stopped_by_time_limit": budget.timed_out,
        "answered": answered,
        "ok": ok,
        "non_2xx": answered - ok,
        "no_answer": tally.no_answer,
        "failures": answered - ok + tally.no_answer,
        "status_counts": dict(sorted(tally.statuses.items())),
        "by_url": tally.by_url,
        "errors": list(tally.errors),
        "elapsed_seconds": round(elapsed, 3),
        "requests_per_second": round(answered / elapsed, 1) if elapsed > 0 else None,
        "latency_ms": latency_summary(tally.latencies_ms),
    }
