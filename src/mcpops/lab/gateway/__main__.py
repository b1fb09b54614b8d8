"""`python3 -m mcpops.lab.gateway`: lock the data dir, run StoreMigrationRunner, serve until SIGTERM/SIGINT."""

import argparse
import fcntl
import os
import signal
import sys
import threading

from . import JOURNAL_NAME, LOCK_NAME, SCHEMA_VERSION, VERSION
from .config import Config, ConfigError
from .store import Store, StoreError, StoreMigrationRunner


def _fail(line):
    sys.stderr.write(line.rstrip("\n") + "\n")
    sys.stderr.flush()
    return 1


def acquire_lock(data_dir):
    """Hold fcntl.flock(LOCK_EX|LOCK_NB) on <data_dir>/.gateway.lock; return the fd, or None if held."""
    path = os.path.join(data_dir, LOCK_NAME)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    os.write(fd, ("%d\n" % os.getpid()).encode("ascii"))
    return fd


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python3 -m mcpops.lab.gateway",
                                     description="The reference 1C MCP gateway (configured from ONEC_MCP_* variables).")
    parser.add_argument("--version", action="store_true", help="print the gateway version and exit")
    parser.add_argument("--schema-version", action="store_true", help="print the supported data schemaVersion and exit")
    args = parser.parse_args(argv)
    if args.version:
        print(VERSION)
        return 0
    if args.schema_version:
        print(SCHEMA_VERSION)
        return 0

    try:
        config = Config.from_env()
    except ConfigError as exc:
        return _fail("onec-mcp-gateway: %s" % exc)
    data_dir = config.data_dir
    try:
        os.makedirs(data_dir, exist_ok=True)
        lock_fd = acquire_lock(data_dir)
    except OSError as exc:
        return _fail("onec-mcp-gateway: cannot open the lock %s: %s" % (os.path.join(data_dir, LOCK_NAME), exc.strerror or exc))
    if lock_fd is None:
        return _fail("onec-mcp-gateway: %s is held by another process (a running gateway or a restore); not starting"
                     % os.path.join(data_dir, LOCK_NAME))
    if os.path.exists(os.path.join(data_dir, JOURNAL_NAME)):
        return _fail("StoreMigrationRunner: interrupted restore in %s (%s exists); re-run the restore to finish "
                     "or roll it back before starting the gateway" % (data_dir, JOURNAL_NAME))
    try:
        loaded = StoreMigrationRunner(data_dir).run()
    except StoreError as exc:
        return _fail("StoreMigrationRunner: %s" % exc)
    except OSError as exc:
        return _fail("StoreMigrationRunner: cannot read %s: %s" % (data_dir, exc.strerror or exc))
    store = Store(data_dir, loaded)

    from .server import serve  # imported late: --version must not need the HTTP layer

    stop = threading.Event()
    try:
        server, thread = serve(config, store, stop)
    except OSError as exc:
        return _fail("onec-mcp-gateway: cannot listen on %s:%d: %s" % (config.host, config.port, exc.strerror or exc))

    def on_signal(signum, _frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if not config.admin_token:
        sys.stderr.write("onec-mcp-gateway: no admin token (ONEC_MCP_HTTP_TOKEN[_FILE]); /api/* will answer 401\n")
    host, port = server.server_address[:2]
    sys.stderr.write("onec-mcp-gateway %s listening on http://%s:%d data_dir=%s schemaVersion=%s\n"
                     % (VERSION, host, port, data_dir, loaded["meta"].get("schemaVersion")))
    sys.stderr.flush()
    thread.start()
    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    sys.stderr.write("onec-mcp-gateway: stopped\n")
    sys.stderr.flush()
    os.close(lock_fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
