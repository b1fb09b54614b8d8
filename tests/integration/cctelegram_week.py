"""A week of CCTelegram MCP metrics, synthetic and exact, as OpenMetrics text for `promtool tsdb create-blocks-from
openmetrics`: two instances in the reference service's shapes (http_requests_total{method,path,status},
http_request_duration_seconds histogram with its buckets, process_cpu_seconds_total, process_memory_bytes) with a known
growth and one known incident, so that the tests' expected numbers are derived here, not read back.

Each sample reports the minute (or five minutes) that ended at its timestamp, so a `rate(...[5m])` point at t is the
traffic of (t-5m, t] exactly. Samples are a minute apart on the incident's day (the incident window is queried with a
60 s step) and five minutes apart on the other days (the week is queried with a 5 m step).
"""

import calendar
import contextlib
from datetime import datetime, timezone

from loopback import free_port
from mcpops.lab.fixtures.prometheus_backfill import BackfilledPrometheus

WEEK_START = calendar.timegm((2026, 11, 23, 0, 0, 0))  # a Monday, 00:00 UTC
DAY = 86400
DAYS = 7
WEEK_END = WEEK_START + DAYS * DAY
INSTANCES = ("cct-1", "cct-2")
JOB = "cctelegram-mcp"
ROUTE = {"method": "POST", "path": "/tools/send_telegram_message"}
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
MIB = 1024 * 1024

# The incident: on cct-2, on Friday from 10:00 to 11:00 UTC, 5 errors a second more, every request between 0.5 s and
# 1 s, and its CPU at 0.9 of a core.
INCIDENT_HOST = "cct-2"
INCIDENT_DAY = 4
INCIDENT_START = WEEK_START + INCIDENT_DAY * DAY + 10 * 3600
INCIDENT_END = INCIDENT_START + 3600
INCIDENT_ERRORS_PER_SECOND = 5
INCIDENT_CPU = 0.9
FINE_FROM = WEEK_START + INCIDENT_DAY * DAY - 3600  # minute samples from here ...
FINE_UNTIL = WEEK_START + (INCIDENT_DAY + 1) * DAY + 3600  # ... to here
DATA_FROM = WEEK_START - 3600  # an hour before the week: its first rate point has data behind it


def day_of(minute_end):
    """The day (0..6) of the minute ending at minute_end (the hour before the week counts as day 0)."""
    return min(max((minute_end - 60 - WEEK_START) // DAY, 0), DAYS - 1)


def ok_per_second(day):
    """Answered (200) requests a second on each instance: 10 on Monday, one more each day."""
    return 10 + day


def cpu_share(day):
    """CPU of each instance, in cores: 0.2 on Monday, 0.05 more each day."""
    return 0.2 + 0.05 * day


def memory_bytes(day):
    """Resident memory of each instance: 100 MiB on Monday, 10 MiB more each day."""
    return (100 + 10 * day) * MIB


def in_incident(host, minute_end):
    return host == INCIDENT_HOST and INCIDENT_START < minute_end <= INCIDENT_END


def minute(host, minute_end):
    """What happened on host in the minute ending at minute_end: ok and error requests, slow or not, CPU seconds."""
    day = day_of(minute_end)
    incident = in_incident(host, minute_end)
    ok = 60 * ok_per_second(day)
    errors = 60 * INCIDENT_ERRORS_PER_SECOND if incident else 0
    cpu = round(60 * (INCIDENT_CPU if incident else cpu_share(day)), 6)
    return dict(day=day, ok=ok, errors=errors, slow=incident, cpu=cpu)


def bucket_counts(total, slow):
    """Cumulative counts of the histogram's buckets for `total` requests: a normal minute has half of them under
    50 ms and the rest under 100 ms (p95 0.095 s); an incident minute has every one between 0.5 s and 1 s (p95
    0.975 s)."""
    if slow:
        return [0 if bound < 1.0 else total for bound in BUCKETS] + [total]
    return [0 if bound < 0.05 else total // 2 if bound < 0.1 else total for bound in BUCKETS] + [total]


def sample_times():
    """Every sample's timestamp: five minutes apart, a minute apart around the incident's day."""
    t = DATA_FROM
    while t <= WEEK_END:
        yield t
        t += 60 if FINE_FROM <= t < FINE_UNTIL else 300


def labels(host, **extra):
    pairs = dict(job=JOB, instance=host, **extra)
    return "{" + ",".join('%s="%s"' % item for item in pairs.items()) + "}"


def fmt(value):
    return ("%d" % value) if float(value).is_integer() else repr(float(value))


def series_of(host):
    """{sample name with labels: [(t, value)]}: the counters accumulated minute by minute, read at each sample."""
    times = list(sample_times())
    keep = set(times)
    le_names = [fmt(b) if b < 1 else repr(float(b)) for b in BUCKETS] + ["+Inf"]
    ok_key = "http_requests_total" + labels(host, status="200", **ROUTE)
    err_key = "http_requests_total" + labels(host, status="500", **ROUTE)
    bucket_keys = ["http_request_duration_seconds_bucket" + labels(host, le=le, **ROUTE) for le in le_names]
    sum_key = "http_request_duration_seconds_sum" + labels(host, **ROUTE)
    count_key = "http_request_duration_seconds_count" + labels(host, **ROUTE)
    cpu_key = "process_cpu_seconds_total" + labels(host)
    mem_key = "process_memory_bytes" + labels(host)
    out = {key: [] for key in [ok_key, err_key] + bucket_keys + [sum_key, count_key, cpu_key, mem_key]}
    ok = err = cpu = duration_sum = 0
    buckets = [0] * len(le_names)
    t = times[0]
    while t <= times[-1]:
        m = minute(host, t)
        ok += m["ok"]
        err += m["errors"]
        cpu = round(cpu + m["cpu"], 6)
        total = m["ok"] + m["errors"]
        buckets = [a + b for a, b in zip(buckets, bucket_counts(total, m["slow"]))]
        duration_sum = round(duration_sum + total * (0.75 if m["slow"] else 0.05), 6)
        if t in keep:
            out[ok_key].append((t, ok))
            out[err_key].append((t, err))
            for key, value in zip(bucket_keys, buckets):
                out[key].append((t, value))
            out[sum_key].append((t, duration_sum))
            out[count_key].append((t, buckets[-1]))
            out[cpu_key].append((t, cpu))
            out[mem_key].append((t, memory_bytes(m["day"])))
        t += 60
    return out


FAMILIES = (
    ("http_requests", "counter", "http_requests_total"),
    ("http_request_duration_seconds", "histogram", "http_request_duration_seconds_"),
    ("process_cpu_seconds", "counter", "process_cpu_seconds_total"),
    ("process_memory_bytes", "gauge", "process_memory_bytes{"),
)


def write_openmetrics(path):
    """The week as one OpenMetrics file (families grouped, each series in time order, `# EOF` last)."""
    every = {}
    for host in INSTANCES:
        every.update(series_of(host))
    with open(path, "w") as out:
        for family, kind, prefix in FAMILIES:
            out.write("# TYPE %s %s\n" % (family, kind))
            for key in sorted(k for k in every if k.startswith(prefix)):
                out.write("".join("%s %s %d\n" % (key, fmt(v), t) for t, v in every[key]))
        out.write("# EOF\n")
    return path


def utc(epoch):
    """epoch seconds as RFC 3339 UTC, the way the tests give a window."""
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@contextlib.contextmanager
def backfilled_prometheus(root):
    """A private Prometheus on a free loopback port over a TSDB backfilled with this week, under root; stopped after."""
    server = BackfilledPrometheus(free_port(), write_openmetrics(root / "week.om"), base=str(root))
    server.start()
    try:
        yield server
    finally:
        server.stop()
