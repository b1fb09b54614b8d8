"""Hold a leaking client's idle sessions to the compose lab's PostgreSQL in a process of their own (the drill's
db-connections-exhausted fault, mcpops.drill.compose_drill_lab): the sessions outlive the fault's step until the repair
stops this process by its PID. (The LEGO lab's mcpops.lab.lego.session_holder opens lego_mcp sessions until refused;
this one opens a given number as a given role, so the API keeps the connections of its own pool.)

    python -m mcpops.lab.compose.pg_session_holder --status-file FILE  < {"host", "port", "user", "dbname",
                                                                           "password", "count", "application"}

The parameters come on stdin, so the password is never on a command line. Once `count` sessions are open (each ran
SELECT 1, then idle, as a leaked pool's are) {"pid", "held"} (or {"pid", "held", "error"}) goes into the status file;
then the process only holds them until SIGTERM or SIGINT, closes them and exits 0; or until a runbook terminated every
one of them (the leak is over, nothing is left to hold): then it exits 0 by itself. A terminated session stays gone.
"""

import argparse
import json
import select
import signal
import sys

from mcpops.lab.holder_status import write_status


def terminated(held, timeout):
    """The held sessions the server ended within timeout seconds: a server that terminates a backend sends its FATAL
    and closes the socket, which makes it readable; an idle session's is not otherwise (and polling it with a query
    would make it active, which the runbook's idle_for must not see)."""
    readable, _, _ = select.select([conn.fileno() for conn in held], [], [], timeout)
    return [conn for conn in held if conn.fileno() in readable]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="pg_session_holder")
    parser.add_argument("--status-file", required=True)
    args = parser.parse_args(argv)
    params = json.loads(sys.stdin.read())
    if not str(params.get("host", "")).startswith("127."):
        parser.error("the host must be a loopback address")

    import psycopg

    stopping, held = [], []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(1))
    try:
        try:
            for _ in range(int(params["count"])):
                conn = psycopg.connect(host=params["host"], port=int(params["port"]), user=params["user"],
                                       dbname=params["dbname"], password=params["password"], connect_timeout=5,
                                       autocommit=True, application_name=params["application"])
                conn.execute("SELECT 1")
                held.append(conn)
        except psycopg.Error as exc:  # said in the status file (psycopg's message names no password)
            write_status(args.status_file, held=len(held), error=str(exc).strip())
            return 1
        write_status(args.status_file, held=len(held))
        alive = list(held)
        while not stopping and alive:
            try:
                gone = terminated(alive, 0.2)
            except InterruptedError:  # a signal: the loop's test says whether to stop
                continue
            alive = [conn for conn in alive if conn not in gone]
    finally:
        for conn in held:
            try:
                conn.close()
            except Exception:  # terminated by a runbook already: nothing to release
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
