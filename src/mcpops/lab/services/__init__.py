"""Reference services for four of the seed services (standard library plus their datastore clients), as
`mcpops.lab.gateway` is for the 1C gateway: each serves the API surface its seed's runbook touches, with the same
auth styles, talks to its real datastores, and is made unhealthy or slow on demand through
`<state_dir>/faults.json` (faults.py).

    python -m mcpops.lab.services <service>

| service | seed | module | datastores |
| --- | --- | --- | --- |
| cctelegram-mcp | 002 | cctelegram_mcp.py | the bridge (HTTP) |
| cctelegram-bridge | 002 | cctelegram_bridge.py | - |
| lego-mcp | 001 | lego_mcp.py | PostgreSQL |
| loyalty-api | 003 | loyalty_api.py | PostgreSQL, Redis |
| connector-mcp | 004 | connector_mcp.py | MySQL/MariaDB, Redis |
| telegram-api | 002 | telegram_api.py | - (the Telegram Bot API stand-in) |

Common environment: MCPOPS_SERVICE_LISTEN (host:port; port 0 picks a free one, the start line says which) and
MCPOPS_SERVICE_STATE_DIR (faults.json and a service's own state). Each service's own variables are in its module's
docstring. A bad or missing variable exits 2 with one line; SIGTERM stops a service cleanly (exit 0). No secret
(API key, token, database password) ever appears in a log line or an answer.
"""

try:  # the package version when installed; the services must also run from a bare checkout
    from mcpops import __version__ as VERSION
except Exception:  # pragma: no cover
    VERSION = "0.1.0"

# service name -> module (under this package) that has main(environ=None)
SERVICES = {
    "cctelegram-mcp": "cctelegram_mcp",
    "cctelegram-bridge": "cctelegram_bridge",
    "lego-mcp": "lego_mcp",
    "loyalty-api": "loyalty_api",
    "connector-mcp": "connector_mcp",
    "telegram-api": "telegram_api",
}

__all__ = ["VERSION", "SERVICES"]
