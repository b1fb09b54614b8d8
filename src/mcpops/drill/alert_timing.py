"""The clock of an alert drill: from the fault to a verified healthy service, split where the alert chain hands on.

    detection   the fault -> the alert firing (Alertmanager's startsAt, which is Prometheus' firing time): the
                scrape interval and rule evaluation until the expression is true (Prometheus' activeAt: pending),
                then the rule's `for:`
    dispatch    firing -> the runbook's run started (its first ansible-runner event): Alertmanager's group_wait,
                the webhook, the rulebook, `mcpops alert`, ansible-runner's start
    runbook     the run's own duration (report.json's duration_seconds)
    verify      the run's end -> the drill's checks passed
    resolved    the fault -> the alert resolved (Alertmanager's endsAt, as the report records it)

A read-only runbook (triage, a health check, INC-004's diagnosis) repairs nothing: its clock ends at its verified
diagnosis (fault_to_named, the run's output naming the fault) instead of a healthy service, and the alert resolves
after the drill repaired its own fault.

Plain functions on the timestamps the drill collected (tests/unit/mcpops/drill/test_alert_timing.py).
"""

import datetime
import re

# RFC 3339 as Prometheus and Alertmanager write it: nanoseconds (more digits than Python reads), Z or an offset.
# ansible-runner's event `created` has no zone: it is UTC.
_STAMP = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?$")


def parse_time(text):
    """An aware UTC datetime from an RFC 3339 stamp ("2026-12-05T11:20:01.123456789Z"; no zone: UTC); None for
    anything else (Alertmanager's zero time "0001-01-01T00:00:00Z" included: it means "not yet")."""
    match = _STAMP.match(text.strip()) if isinstance(text, str) else None
    if not match:
        return None
    whole, fraction, zone = match.groups()
    fraction = ((fraction or "") + "000000")[:6]
    moment = datetime.datetime.fromisoformat("%s.%s%s" % (whole, fraction, "+00:00" if zone in (None, "Z") else zone))
    if moment.year < 1970:
        return None
    return moment.astimezone(datetime.timezone.utc)


def seconds(start, end):
    """end - start in seconds (one decimal), or None when either is unknown."""
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 1)


def _end(started_at, took):
    if started_at is None or took is None:
        return None
    return started_at + datetime.timedelta(seconds=took)


def split(fault_at, pending_at, firing_at, run, healthy_at, resolved_at, approved_run=None, denied=False,
          read_only=False):
    """{part: seconds or None} of the drill's clock: the parts of the module's docstring, detection also split into
    pending (fault -> activeAt) and for (activeAt -> firing). run: (started_at, seconds) of the run the alert
    started. When that was a check run waiting for approval: approved_run, the same of the real run `mcpops approve`
    started (then check_run and approval, the check run's end -> the real run's start, are parts too), or denied
    (check_run is a part; nothing ran for real, so there is no runbook, verify or fault-to-healthy part). A read-only
    run (read_only): healthy_at is when its diagnosis was verified, the part fault_to_named."""
    first_started, first_seconds = run
    real_started, real_seconds = approved_run or run
    parts = {
        "detection": seconds(fault_at, firing_at),
        "pending": seconds(fault_at, pending_at),
        "for": seconds(pending_at, firing_at),
        "dispatch": seconds(firing_at, first_started),
        "runbook": None if real_seconds is None else round(float(real_seconds), 1),
        "verify": seconds(_end(real_started, real_seconds), healthy_at),
        "fault_to_healthy": seconds(fault_at, healthy_at),
        "resolved": seconds(fault_at, resolved_at),
    }
    if approved_run is not None or denied:
        parts["check_run"] = None if first_seconds is None else round(float(first_seconds), 1)
    if approved_run is not None:
        parts["approval"] = seconds(_end(first_started, first_seconds), real_started)
    if denied:
        for part in ("runbook", "verify", "fault_to_healthy"):
            del parts[part]
    if read_only:
        parts["fault_to_named"] = parts.pop("fault_to_healthy")
    return parts


def _shown(value):
    return "-" if value is None else "%.1fs" % value


def lines(parts):
    """The split as the drill prints it and drill.md shows it: one line a part it has."""
    checked = "check_run" in parts
    named = "fault_to_named" in parts
    shown = [
        "fault to verified healthy %s" % _shown(parts.get("fault_to_healthy")),
        "fault to the read-only runbook's verified diagnosis %s (it names the fault; the drill repairs it)"
        % _shown(parts.get("fault_to_named")),
        "  detection %s: fault -> alert pending %s (scrape + evaluation), -> firing %s (the rule's for:)"
        % (_shown(parts.get("detection")), _shown(parts.get("pending")), _shown(parts.get("for"))),
        "  dispatch  %s: firing -> the %s started (Alertmanager group_wait, webhook, rulebook, mcpops alert)"
        % (_shown(parts.get("dispatch")), "check run" if checked else "runbook's run"),
        "  check run %s: the check-mode run's duration (its report.json)" % _shown(parts.get("check_run")),
        "  approval  %s: the check run's end -> the approved run started (mcpops approve)"
        % _shown(parts.get("approval")),
        "  runbook   %s: the run's duration (report.json)" % _shown(parts.get("runbook")),
        "  verify    %s: the run's end -> the drill's checks passed%s"
        % (_shown(parts.get("verify")), " (the fault named)" if named else ""),
        "resolution %s after the fault: the alert resolved (Alertmanager's endsAt, recorded in the report)"
        % _shown(parts.get("resolved")),
    ]
    keys = ["fault_to_healthy", "fault_to_named", "detection", "dispatch", "check_run", "approval", "runbook", "verify", "resolved"]
    return [line for key, line in zip(keys, shown) if key in parts]
