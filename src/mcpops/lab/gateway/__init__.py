"""The reference 1C MCP gateway (standard library only).

Implements /work/shared/gateway-contract.md and docs/dev/conventions.md:
``python3 -m mcpops.lab.gateway`` serves the admin API, the health probes and
``POST /mcp`` (MCP over Streamable HTTP) from a data dir of JSON files.
"""

try:  # the package version when installed; the gateway must also run from a bare checkout
    from mcpops import __version__ as VERSION
except Exception:  # pragma: no cover
    VERSION = "0.1.0"

SCHEMA_VERSION = 3
KNOWN_MIGRATIONS = ("001_init", "002_tokens_org", "003_rate_limits")
JSON_STORES = ("tokens.json", "profiles.json", "clients.json")
JSONL_STORES = ("audit.jsonl", "usage.jsonl")
LOCK_NAME = ".gateway.lock"
JOURNAL_NAME = ".restore-journal.json"
BACKUPS_DIR = "backups"

__all__ = [
    "VERSION", "SCHEMA_VERSION", "KNOWN_MIGRATIONS", "JSON_STORES", "JSONL_STORES",
    "LOCK_NAME", "JOURNAL_NAME", "BACKUPS_DIR",
]
