"""A steady client of a CCTelegram host, for the faults whose symptom only shows under traffic (services.py:
server-errors, wedged, auth-failures): an error storm answers 500 only to the requests that come, and a security event
is a refused request. It runs inside the host as a transient systemd unit (UNIT, started by `systemd-run`, bounded by
RuntimeMaxSec, stopped by the fault's repair and by `mcpops fleet up`), with the host's python3 and the standard
library only:

    python3 -m mcpops.lab.fleet.client_traffic --url http://A:8080/tools/get_bridge_status --method POST --rate 1 \\
        (--key-file /etc/cctelegram/api_key | --wrong-key) [--source 127.0.0.66]

--key-file sends the host's own key (read from its file inside the host: never on a command line); --wrong-key sends
a key made up at start (a client with a stale key: a SECURITY event per request); --source binds the client's address
(the offender the security log names). It stops on SIGTERM.
"""

import argparse
import http.client
import secrets
import signal
import sys
import threading
import urllib.parse

UNIT = "mcpops-lab-client"  # the transient unit inside the host
LIFETIME_SECONDS = 600      # RuntimeMaxSec: a fault nobody repaired stops calling after this
TIMEOUT = 3.0


def argv(url, rate, method="GET", key_file=None, wrong_key=False, source=None, python="/usr/bin/python3"):
    """The command that runs the client (inside the host, PYTHONPATH naming the mcpops source)."""
    if bool(key_file) == bool(wrong_key):
        raise ValueError("the client sends either the host's key (key_file) or a wrong one (wrong_key)")
    args = [python, "-m", "mcpops.lab.fleet.client_traffic", "--url", url, "--rate", "%g" % rate, "--method", method]
    args += ["--key-file", key_file] if key_file else ["--wrong-key"]
    return args + (["--source", source] if source else [])


def systemd_run(client_argv, pythonpath, lifetime=LIFETIME_SECONDS):
    """`systemd-run` of the client as UNIT (collected once it stops, failed or not)."""
    return ["systemd-run", f"--unit={UNIT}", "--collect", "--quiet", f"--property=RuntimeMaxSec={lifetime}",
            f"--setenv=PYTHONPATH={pythonpath}", *client_argv]


def request(url, method, key, source=None):
    """The status of one request with X-API-Key: key (None when nothing answered)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=TIMEOUT,
                                      source_address=(source, 0) if source else None)
    try:
        body = b"{}" if method == "POST" else None
        headers = {"X-API-Key": key, "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        conn.request(method, parts.path or "/", body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def main(args=None):
    parser = argparse.ArgumentParser(prog="client_traffic", description="a steady client of a CCTelegram host")
    parser.add_argument("--url", required=True)
    parser.add_argument("--method", choices=("GET", "POST"), default="GET")
    parser.add_argument("--rate", type=float, required=True, help="requests a second")
    parser.add_argument("--key-file")
    parser.add_argument("--wrong-key", action="store_true")
    parser.add_argument("--source", help="the client's own address (bound before connecting)")
    options = parser.parse_args(args)
    if bool(options.key_file) == bool(options.wrong_key) or not 0 < options.rate <= 50:
        parser.error("give --key-file or --wrong-key, and a --rate above 0 and at most 50")
    if options.key_file:
        with open(options.key_file, encoding="utf-8") as handle:
            key = handle.read().strip()
    else:
        key = "cctg_wrong_" + secrets.token_hex(16)  # made up here: a stale key, never a real one
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    interval = 1.0 / options.rate
    while not stop.wait(interval):
        request(options.url, options.method, key, options.source)
    return 0


if __name__ == "__main__":
    sys.exit(main())
