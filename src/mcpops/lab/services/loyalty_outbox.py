"""loyalty-api's outbox, as the worker and an operator see it: counts by status, the delivery pause (the seed's
"Outbox pause" in the admin), requeueing dead events once their cause is fixed, and the external request counters
the worker keeps (`external_requests_total{provider, result, status}` on the API's /metrics). All of it lives in
PostgreSQL (tables of the migration 20240315000000_outbox_delivery), so the api and the worker containers agree.

    python3 -m mcpops.lab.services.loyalty_outbox status|pause|resume|requeue [--reason TEXT] [--json]

(run in the compose lab as `docker compose ... exec -T worker python3 -m mcpops.lab.services.loyalty_outbox pause`).
"""

import argparse
import json
import sys

# result label values, as the seed names them
OK = "ok"
RATE_LIMITED = "rate_limited"
HTTP_ERROR = "http_error"
ERROR = "error"


def result_of(status):
    """The `result` label of an answer's HTTP status (None: nothing answered)."""
    if status is None:
        return ERROR
    if 200 <= status < 300:
        return OK
    if status == 429:
        return RATE_LIMITED
    return HTTP_ERROR


def counts(conn):
    """{"pending", "sent", "dead", "dead_by_status" ({last HTTP status or "none": count}), "paused", "paused_since",
    "reason"}."""
    pending, sent, dead = conn.execute(
        "SELECT count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'sent'), "
        "count(*) FILTER (WHERE status = 'dead') FROM outbox").fetchone()
    paused, changed_at, reason = conn.execute(
        "SELECT paused, changed_at, reason FROM outbox_control WHERE id = 1").fetchone() or (False, None, None)
    dead_by_status = {status: n for status, n in conn.execute(
        "SELECT coalesce(last_status, 'none'), count(*) FROM outbox WHERE status = 'dead' GROUP BY 1 ORDER BY 1")}
    return {"pending": pending, "sent": sent, "dead": dead, "dead_by_status": dead_by_status, "paused": paused,
            "paused_since": changed_at.isoformat() if paused and changed_at else None, "reason": reason}


def set_paused(conn, paused, reason=None):
    """Pause or resume delivery; True when that changed something (idempotent)."""
    return conn.execute(
        "UPDATE outbox_control SET paused = %s, changed_at = now(), reason = %s WHERE id = 1 AND paused <> %s",
        (paused, reason if paused else None, paused)).rowcount > 0


def is_paused(conn):
    row = conn.execute("SELECT paused FROM outbox_control WHERE id = 1").fetchone()
    return bool(row and row[0])


def requeue_dead(conn):
    """Dead events back to pending with their attempts reset; the number requeued."""
    return conn.execute("UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = now(), "
                        "last_error = NULL WHERE status = 'dead'").rowcount


def count_request(conn, provider, status):
    """One external request of provider answered with status (None: no answer) into the counters."""
    conn.execute("INSERT INTO external_requests (provider, result, status, count) VALUES (%s, %s, %s, 1) "
                 "ON CONFLICT (provider, result, status) DO UPDATE SET count = external_requests.count + 1",
                 (provider, result_of(status), "none" if status is None else str(status)))


def request_counters(conn):
    """[(provider, result, status, count)] sorted."""
    return [tuple(row) for row in conn.execute(
        "SELECT provider, result, status, count FROM external_requests ORDER BY provider, result, status")]


def main(argv=None, environ=None):
    import os

    from .config import ConfigError, check_url, url_password
    from .datastores import POSTGRES_SCHEMES, pg_connect
    from .http_app import error_text

    parser = argparse.ArgumentParser(prog="python3 -m mcpops.lab.services.loyalty_outbox",
                                     description="loyalty-api's outbox: status, pause, resume, requeue dead events")
    parser.add_argument("command", choices=("status", "pause", "resume", "requeue"))
    parser.add_argument("--reason", default="paused by an operator")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    environ = os.environ if environ is None else environ
    try:
        url = check_url(environ, "DATABASE_URL", POSTGRES_SCHEMES, need_path=True)
    except ConfigError as exc:
        sys.stderr.write("loyalty_outbox: %s\n" % exc)
        return 2
    try:
        with pg_connect(url, timeout=5) as conn:
            result = {}
            if args.command == "pause":
                result["changed"] = set_paused(conn, True, args.reason)
            elif args.command == "resume":
                result["changed"] = set_paused(conn, False)
            elif args.command == "requeue":
                result["requeued"] = requeue_dead(conn)
                result["changed"] = result["requeued"] > 0
            result.update(counts(conn))
    except Exception as exc:
        sys.stderr.write("Error: the database cannot be reached: %s: %s\n"
                         % (exc.__class__.__name__, error_text(exc, [url_password(url), url])))
        return 1
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        print(" ".join("%s=%s" % (k, v) for k, v in sorted(result.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
