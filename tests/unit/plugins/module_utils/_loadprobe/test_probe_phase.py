"""One phase over a fake send: the URLs in turn, the answers tallied (2xx, non-2xx, no answer, by URL and status),
the latencies from the clock, and the count never exceeded at any concurrency."""

import threading

from ansible_collections.mcpops.runbooks.plugins.module_utils._loadprobe.probe_phase import run_phase


class StepClock:
    """Each call advances 1 ms: a request's latency is the number of clock reads inside it, here exactly 1 ms."""

    def __init__(self):
        self.now = 0.0
        self.lock = threading.Lock()

    def __call__(self):
        with self.lock:
            self.now += 0.001
            return self.now


def test_sequential_phase_goes_over_the_urls_in_turn_and_counts_every_outcome():
    sent = []
    answers = {"http://lb/health": (200, None), "http://lb/tools/get_bridge_status": (500, None)}

    def send(url):
        sent.append(url)
        return answers[url]

    urls = list(answers)
    phase = run_phase(send, urls, 5, 1, 60, StepClock())
    assert sent == [urls[0], urls[1], urls[0], urls[1], urls[0]]
    assert (phase["sent"], phase["answered"], phase["ok"], phase["non_2xx"], phase["no_answer"], phase["failures"]) \
        == (5, 5, 3, 2, 0, 2)
    assert phase["status_counts"] == {"200": 3, "500": 2}
    assert phase["by_url"] == {urls[0]: {"sent": 3, "ok": 3, "failures": 0},
                               urls[1]: {"sent": 2, "ok": 0, "failures": 2}}
    assert phase["not_started"] == 0 and not phase["stopped_by_time_limit"]
    assert phase["latency_ms"]["count"] == 5 and phase["latency_ms"]["p99"] == 1.0


def test_no_answer_is_a_failure_without_a_latency_and_its_reason_is_kept_once():
    def send(url):
        return None, "Connection refused"

    phase = run_phase(send, ["http://lb/health"], 4, 2, 60, StepClock())
    assert (phase["sent"], phase["answered"], phase["no_answer"], phase["failures"]) == (4, 0, 4, 4)
    assert phase["errors"] == ["Connection refused"]
    assert phase["latency_ms"]["p50"] is None and phase["requests_per_second"] == 0.0


def test_concurrency_is_honoured_and_the_count_is_never_exceeded():
    in_flight, peak, calls = [0], [0], [0]
    lock = threading.Lock()
    release = threading.Event()

    def send(url):
        with lock:
            in_flight[0] += 1
            calls[0] += 1
            peak[0] = max(peak[0], in_flight[0])
            if in_flight[0] == 4:
                release.set()  # every worker is inside at once: let them all go
        release.wait(10)
        with lock:
            in_flight[0] -= 1
        return 204, None

    phase = run_phase(send, ["http://lb/health"], 37, 4, 60, StepClock())
    assert calls[0] == 37 and phase["sent"] == 37 and phase["ok"] == 37
    assert peak[0] == 4


def test_the_time_limit_stops_new_requests_and_counts_those_not_sent():
    clock = StepClock()

    def send(url):
        clock.now += 0.4  # each request takes 400 ms of the 1 s limit
        return 200, None

    phase = run_phase(send, ["http://lb/health"], 100, 1, 1, clock)
    assert phase["stopped_by_time_limit"]
    assert phase["sent"] == 3 and phase["not_started"] == 97  # started at ~0, 0.4, 0.8; not at 1.2
    assert phase["answered"] == 3
