"""An instance's own clock: the host's clock plus a skew (CLOCK_SKEW_SECONDS), as a backend whose NTP drifted sees
time. Everything the instance stamps or checks against "now" (its timestamps, the expiry it writes and the expiry it
checks) goes through it, so two instances with different skews disagree exactly as the runbook describes."""

import time
from datetime import datetime, timedelta, timezone


class InstanceClock:
    def __init__(self, skew_seconds=0.0, base=time.time):
        self.skew = float(skew_seconds)
        self._base = base

    def now(self):
        """Seconds since the epoch, by this instance."""
        return self._base() + self.skew

    def utc(self):
        """An aware UTC datetime, by this instance."""
        return datetime.fromtimestamp(self.now(), timezone.utc)

    def iso(self):
        """2025-01-15T10:30:00Z (seconds)."""
        return self.utc().strftime("%Y-%m-%dT%H:%M:%SZ")

    def iso_ms(self):
        """2025-01-15T10:30:00.123Z (milliseconds)."""
        moment = self.utc()
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (moment.microsecond // 1000)

    def local_naive(self, offset_seconds, plus_seconds=0.0):
        """A naive datetime in a zone `offset_seconds` east of UTC (a database's NOW() zone), `plus_seconds` from now,
        whole seconds: what goes into a DATETIME column compared with that database's NOW()."""
        moment = self.utc() + timedelta(seconds=offset_seconds + plus_seconds)
        return moment.replace(tzinfo=None, microsecond=0)
