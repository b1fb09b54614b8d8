"""Hold the "DB connections exhausted" fault's idle lego_mcp sessions in a process of their own, for the recorded
Kubernetes lab (`mcpops lab break db-connections-exhausted --platform kubernetes`), whose command exits at once: the
sessions must outlive it until `repair` or `down` stops this process by its PID.

    python -m mcpops.lab.lego.session_holder --status-file FILE  < {"host", "port", "user", "dbname", "password",
                                                                     "max_connections"} (JSON on stdin)

The connection parameters come on stdin, so the password is never on a command line. The sessions are opened by
mcpops.lab.lego.faults.db_connections_exhausted itself (the in-process path the tests use), on a stand-in for the
stack that knows only PostgreSQL; then {"pid", "held"} (or {"pid", "error"}) goes into the status file and the process
only holds them, until SIGTERM or SIGINT: then it closes them and exits 0. A session a runbook terminates stays gone.
"""

import argparse
import json
import signal
import sys
import time
from types import SimpleNamespace

from mcpops.lab.holder_status import write_status


def postgres_only(params):
    """What faults.db_connections_exhausted reads of a LegoStack, from the connection parameters."""
    def dsn(user, dbname, password, tcp=True):
        return {"host": params["host"], "port": int(params["port"]), "user": user, "dbname": dbname,
                "password": password}

    return SimpleNamespace(pg=SimpleNamespace(dsn=dsn, max_connections=int(params["max_connections"])),
                           db_password=params["password"], held_connections=[])


def main(argv=None):
    parser = argparse.ArgumentParser(prog="session_holder")
    parser.add_argument("--status-file", required=True)
    args = parser.parse_args(argv)
    params = json.loads(sys.stdin.read())
    if not str(params.get("host", "")).startswith("127."):
        parser.error("the host must be a loopback address")

    from mcpops.lab.lego import faults

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(1))
    stack = postgres_only(params)
    try:
        try:
            held = faults.db_connections_exhausted(stack)
        except Exception as exc:  # LegoError, a psycopg error: said in the status file, never with the password
            write_status(args.status_file, held=len(stack.held_connections), error=str(exc))
            return 1
        write_status(args.status_file, held=held)
        while not stopping:
            time.sleep(0.2)
    finally:
        for conn in stack.held_connections:
            try:
                conn.close()
            except Exception:  # terminated by a runbook already: nothing to release
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
