"""Hold idle MySQL sessions open until told to stop (the lab's mysql-max-connections fault).

    python -m mcpops.lab.local.mysql_session_holder --port PORT --user filler --password-file FILE \
        --status-file FILE [--host 127.0.0.1] [--max N]

Opens sessions as the given user until the server refuses one ("Too many connections", 1040) or --max are held,
writes {"pid", "held", "refused", "error"} to the status file, then only holds them (leaked idle sessions: one
killed by the operator stays gone, its slot free), until SIGTERM or SIGINT: then it closes its sessions and exits 0. The password is read from a file
(0600) so it is never on a command line. The lab starts it in a session of its own and stops it by its PID.
"""

import argparse
import signal
import sys
import time

from mcpops.lab.holder_status import write_status

TOO_MANY_CONNECTIONS = 1040
RETRY_SECONDS = 1.0


def _connect(args, password):
    import pymysql

    return pymysql.connect(host=args.host, port=args.port, user=args.user, password=password, connect_timeout=5,
                           autocommit=True)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="mysql_session_holder")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password-file", required=True)
    parser.add_argument("--status-file", required=True)
    parser.add_argument("--max", type=int, default=300)
    args = parser.parse_args(argv)
    if not args.host.startswith("127."):
        parser.error("--host must be a loopback address")
    with open(args.password_file) as fh:
        password = fh.read().strip()

    import pymysql

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(1))
    held, refused, error = [], False, None
    try:
        filled = False
        while not stopping:
            if not filled and len(held) < args.max:
                try:
                    held.append(_connect(args, password))
                    continue
                except pymysql.MySQLError as exc:
                    code = exc.args[0] if exc.args else None
                    refused = code == TOO_MANY_CONNECTIONS
                    error = f"({code}, {exc.args[-1]!r})" if exc.args else type(exc).__name__
            filled = True
            write_status(args.status_file, held=len(held), refused=refused, error=error)
            deadline = time.monotonic() + RETRY_SECONDS
            while not stopping and time.monotonic() < deadline:
                time.sleep(0.1)
    finally:
        for conn in held:
            try:
                conn.close()
            except Exception:  # the server may be gone; nothing to do about one session
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
