"""_applog/log_time.py: ISO times with Z, offsets or none, epoch seconds / ms / us / ns, the window's ends."""

import datetime

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_time import (
    AFTER,
    BEFORE,
    INSIDE,
    epoch_seconds,
    last_window,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._audit.window import AuditWindowError

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)
SINCE = NOW - datetime.timedelta(hours=12)  # 2026-11-23T00:00:00Z


@pytest.mark.parametrize("raw, where", [
    ("2026-11-23T10:00:00.123Z", INSIDE),          # the reference services' now_iso
    ("2026-11-23T10:00:00Z", INSIDE),
    ("2026-11-23T13:00:00+03:00", INSIDE),         # 10:00 UTC
    ("2026-11-23T02:30:00+0300", BEFORE),          # 2026-11-22T23:30 UTC
    ("2026-11-22T23:59:59.999Z", BEFORE),
    ("2026-11-23T00:00:00.000Z", INSIDE),          # since is included
    ("2026-11-23T12:00:00.000Z", INSIDE),          # until (now) is included
    ("2026-11-23T12:00:00.001Z", AFTER),           # a clock running ahead
    ("2026-11-23T09:00:00.123456-05:00", AFTER),   # 14:00 UTC
    ("2026-11-23 10:00:00,123", INSIDE),           # Python logging's asctime, no offset: UTC
    (1795428000, INSIDE),                          # 2026-11-23T10:00:00Z in epoch seconds
    (1795428000.5, INSIDE),
    (1795428000123, INSIDE),                       # pino: epoch ms
    ("1795428000123", INSIDE),
    (1795428000123456, INSIDE),                    # microseconds
    (1795428000123456789, INSIDE),                 # nanoseconds
    (1795300000000, BEFORE),
    (1795500000, AFTER),
    ("yesterday", None), ("", None), (None, None), (True, None), ({"t": 1}, None), (-5, None), (float("nan"), None),
    ("2026-13-40T10:00:00Z", None),
])
def test_place_in_a_12h_window(raw, where):
    window = last_window("12h", now=NOW)
    assert window.as_dict() == {"from": "2026-11-23T00:00:00.000Z", "to": "2026-11-23T12:00:00.000Z"}
    assert window.place(raw) == where


def test_open_window_takes_every_dated_line():
    window = last_window(None)
    assert window.open and window.as_dict() == {"from": None, "to": None}
    assert window.place("1999-01-01T00:00:00Z") == INSIDE and window.place(1) == INSIDE
    assert window.place("not a time") is None


@pytest.mark.parametrize("last, seconds", [("30m", 1800), ("1d", 86400), ("90s", 90), ("2w", 14 * 86400)])
def test_durations(last, seconds):
    window = last_window(last, now=NOW)
    assert (window.until - window.since).total_seconds() == seconds


@pytest.mark.parametrize("last", ["12", "1y", "-1h", "0h", "soon"])
def test_bad_durations(last):
    with pytest.raises(AuditWindowError) as caught:
        last_window(last, now=NOW)
    assert caught.value.msg.startswith("last: %r is not a duration" % last)


def test_epoch_sizes():
    assert epoch_seconds(1700000000) == 1700000000.0
    assert epoch_seconds(1700000000000) == 1700000000.0
    assert epoch_seconds("12") is None  # too short to be a time
