"""Seed a realistic, valid gateway data dir for the lab, the demo and the tests.

`seed_data_dir(data_dir)` writes storage-meta (schemaVersion 3), profiles, clients, ~50 tokens in three orgs
(some revoked, expired or blocked), a few thousand audit lines over the last 24 h, usage lines and an index/
dir, and issues one active ops token. Everything is deterministic for a given `rng_seed` except the secrets
(token secrets and the profiles' passwords come from the `secrets` module). Secrets are returned, never
written to the data dir (tokens.json keeps sha256 hashes only).
"""

import datetime as _dt
import hashlib
import json
import os
import random
import secrets

from mcpops.lab.gateway import KNOWN_MIGRATIONS, SCHEMA_VERSION
from mcpops.lab.gateway.fsutil import atomic_write

ORGS = ["org_acme", "org_globex", "org_initech"]
CLIENTS = ["cursor-ide", "ci-bot", "claude-desktop", "mcpops-oncall", "vscode-copilot", "n8n-automation"]
PROFILES = [
    {"name": "erp-prod", "environment": "production", "base": "erp", "passwordEnv": "ONEC_ERP_PROD_PASSWORD",
     "writeTools": False},
    {"name": "hr-prod", "environment": "production", "base": "zup", "passwordEnv": "ONEC_HR_PROD_PASSWORD",
     "writeTools": False},
    {"name": "erp-staging", "environment": "staging", "base": "erp_staging",
     "passwordEnv": "ONEC_ERP_STAGING_PASSWORD", "writeTools": True},
]
SCOPE_SETS = [["tools:read"], ["tools:read"], ["tools:read"], ["tools:read", "tools:write"], ["tools:read", "admin:read"]]
RATE_LIMITS = [30, 60, 60, 120, 300, 600]
READ_TOOLS = ["list_profiles", "get_active_profile", "check_profile_health", "check_connection_health"]
OPS = {"clientId": "mcpops-oncall", "orgId": "org_ops", "scopes": ["tools:read"], "profile": "erp-prod",
       "rateLimit": {"requestsPerMinute": 600}}
# Where the profiles' 1C OData publications live: the lab's INC-004 upstream listens there.
DEFAULT_ODATA_ADDRESS = "127.0.0.1:8443"
ODATA_URL = "https://{address}/{base}/odata/standard.odata"


def _iso_s(when):
    return when.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso_ms(when):
    when = when.astimezone(_dt.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (when.microsecond // 1000)


def _json(obj):
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _jsonl(rows):
    return "".join(json.dumps(r, separators=(",", ":"), ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


def _new_secret(prefix):
    return prefix + secrets.token_urlsafe(30)


def _hash(secret):
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _ip(rng):
    net = rng.choice(["203.0.113", "198.51.100"])
    return "%s.%d" % (net, rng.randint(1, 254))


def _has_data(data_dir):
    return os.path.isdir(data_dir) and any(not n.startswith(".") for n in os.listdir(data_dir))


def seed_data_dir(data_dir, *, rng_seed=1, tokens=50, audit_lines=3000, now=None, force=False,
                  odata_address=DEFAULT_ODATA_ADDRESS):
    """Write a seeded data dir; return {"ops_token_id", "ops_token_secret", "password_env"}.
    `odata_address` (host:port) is where every profile's odataUrl points.

    Raises ValueError when `data_dir` already holds data (any name not starting with `.`) unless force=True,
    in which case the store files are rewritten (backups/ is left alone)."""
    data_dir = os.path.abspath(str(data_dir))
    if _has_data(data_dir) and not force:
        raise ValueError("%s is not empty; pass force=True to reseed it" % data_dir)
    if tokens < 0 or audit_lines < 0:
        raise ValueError("tokens and audit_lines must be >= 0")
    os.makedirs(data_dir, exist_ok=True)
    os.makedirs(os.path.join(data_dir, "index"), exist_ok=True)
    rng = random.Random(rng_seed)
    now = (now or _dt.datetime.now(_dt.timezone.utc)).astimezone(_dt.timezone.utc).replace(microsecond=0)

    profiles = [{"name": p["name"], "environment": p["environment"], "odataUrl": ODATA_URL.format(address=odata_address, base=p["base"]),
                 "passwordEnv": p["passwordEnv"], "writeTools": p["writeTools"]} for p in PROFILES]
    password_env = {p["passwordEnv"]: secrets.token_urlsafe(24) for p in PROFILES}

    used_ids, used_prefixes = set(), set()

    def fresh(kind):
        while True:
            if kind == "id":
                value = "tok_%06x" % rng.getrandbits(24)
                pool = used_ids
            else:
                value = "mcp_%04x" % rng.getrandbits(16)
                pool = used_prefixes
            if value not in pool:
                pool.add(value)
                return value

    records = []
    for index in range(tokens):
        created = now - _dt.timedelta(days=rng.randint(1, 180), seconds=rng.randint(0, 86399))
        roll = rng.random()
        expires = revoked = None
        blocked = False
        if roll < 0.14:
            revoked = _iso_s(created + _dt.timedelta(days=rng.randint(0, 30), seconds=rng.randint(0, 86399)))
            if revoked > _iso_s(now):
                revoked = _iso_s(now - _dt.timedelta(hours=rng.randint(1, 48)))
        elif roll < 0.26:
            expires = _iso_s(now - _dt.timedelta(days=rng.randint(1, 20), seconds=rng.randint(0, 86399)))
        elif roll < 0.32:
            blocked = True
        if expires is None and rng.random() < 0.6:
            expires = _iso_s(now + _dt.timedelta(days=rng.randint(7, 365)))
        scopes = list(rng.choice(SCOPE_SETS))
        client = rng.choice(CLIENTS[:3] + CLIENTS[4:])
        record = {"id": fresh("id"), "prefix": fresh("prefix"), "clientId": client, "orgId": ORGS[index % 3],
                  "scopes": scopes, "createdAt": _iso_s(created), "expiresAt": expires, "revokedAt": revoked,
                  "blocked": blocked, "rateLimit": {"requestsPerMinute": rng.choice(RATE_LIMITS)}}
        profile = rng.choice(["erp-prod", "erp-prod", "hr-prod", "erp-staging", None])
        if profile:
            record["profile"] = profile
        record["secretHash"] = _hash(_new_secret(record["prefix"]))
        records.append(record)

    ops_id, ops_prefix = fresh("id"), fresh("prefix")
    ops_secret = _new_secret(ops_prefix)
    records.append({"id": ops_id, "prefix": ops_prefix, "clientId": OPS["clientId"], "orgId": OPS["orgId"],
                    "scopes": list(OPS["scopes"]), "createdAt": _iso_s(now - _dt.timedelta(minutes=5)),
                    "expiresAt": None, "revokedAt": None, "blocked": False, "rateLimit": dict(OPS["rateLimit"]),
                    "profile": OPS["profile"], "secretHash": _hash(ops_secret)})

    audit, usage = _activity(rng, records[:-1] or records, now, audit_lines)

    files = [
        ("profiles.json", _json({"profiles": profiles}), 0o644),
        ("clients.json", _json({"allowedClients": list(CLIENTS)}), 0o644),
        ("tokens.json", _json({"tokens": records}), 0o600),
        ("audit.jsonl", _jsonl(audit), 0o640),
        ("usage.jsonl", _jsonl(usage), 0o640),
        (os.path.join("index", "catalog.json"), _json({
            "generatedAt": _iso_s(now - _dt.timedelta(hours=6)), "jobId": "job_seed",
            "profiles": [{"name": p["name"], "entities": ["Catalog_Контрагенты", "Catalog_Номенклатура",
                                                          "Document_РеализацияТоваровУслуг"]} for p in profiles]}),
         0o644),
        # storage-meta last: a half-seeded dir never looks complete
        ("storage-meta.json", _json({"schemaVersion": SCHEMA_VERSION, "appliedMigrations": list(KNOWN_MIGRATIONS)}), 0o644),
    ]
    for name, data, mode in files:
        atomic_write(os.path.join(data_dir, name), data, mode)
    return {"ops_token_id": ops_id, "ops_token_secret": ops_secret, "password_env": password_env}


def _activity(rng, records, now, lines):
    """A realistic event mix over the last 24 h, sorted by time; usage lines for the tool calls."""
    events = (["tool.called"] * 55 + ["auth.ok"] * 18 + ["auth.failed"] * 12 + ["rate_limit.exceeded"] * 8
              + ["token.issued"] * 3 + ["token.revoked"] * 2 + ["token.updated"] * 1 + ["backup.created"] * 1)
    noisy = rng.sample(records, k=min(3, len(records))) if records else []
    stamps = sorted(now - _dt.timedelta(microseconds=rng.randint(0, 24 * 3600 * 10 ** 6 - 1)) for _ in range(lines))
    audit, usage = [], []
    for ts in stamps:
        event = rng.choice(events)
        token = (rng.choice(noisy) if noisy and event in ("auth.failed", "rate_limit.exceeded") and rng.random() < 0.6
                 else rng.choice(records)) if records else {}
        base = {"ts": _iso_ms(ts), "event": event}
        who = {"tokenId": token.get("id"), "tokenPrefix": token.get("prefix"), "clientId": token.get("clientId"),
               "orgId": token.get("orgId")}
        ip = _ip(rng)
        if event == "tool.called":
            tool = rng.choice(READ_TOOLS)
            status = "ok" if rng.random() < 0.94 else "error"
            row = dict(base, status=200, ip=ip, path="/mcp", tool=tool, result=status, **who)
            if tool == "list_profiles":
                row["rows"] = 3
            audit.append(row)
            usage.append({"ts": base["ts"], **who, "tool": tool, "status": status})
        elif event == "auth.ok":
            audit.append(dict(base, status=200, ip=ip, path="/mcp", method="initialize", **who))
        elif event == "auth.failed":
            reason = rng.choice(["revoked", "expired", "blocked", "unknown_token", "missing_token"])
            status = 401 if reason in ("unknown_token", "missing_token") else 403
            if status == 401:
                who = {"tokenId": None, "tokenPrefix": "mcp_%04x" % rng.getrandbits(16) if reason == "unknown_token"
                       else None, "clientId": None, "orgId": None}
            audit.append(dict(base, status=status, ip=ip, path="/mcp", reason=reason, **who))
        elif event == "rate_limit.exceeded":
            audit.append(dict(base, status=429, ip=ip, path="/mcp", reason="rate_limit", **who))
        elif event.startswith("token."):
            path = "/api/mcp-tokens" + ("" if event == "token.issued" else "/%s" % who["tokenId"])
            if event == "token.revoked":
                path += "/revoke"
            audit.append(dict(base, status=201 if event == "token.issued" else 200, ip="127.0.0.1", path=path, **who))
        else:
            audit.append(dict(base, status=201, ip="127.0.0.1", path="/api/system/backups",
                              backupId=ts.strftime("%Y%m%dT%H%M%SZ") + "-%06x" % rng.getrandbits(24)))
    return audit, usage
