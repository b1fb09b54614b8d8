"""lego-mcp (seed 001): the LEGO MCP dashboard's health and equipment API, on PostgreSQL.

Environment (besides MCPOPS_SERVICE_LISTEN and MCPOPS_SERVICE_STATE_DIR):
- DATABASE_URL (required): postgresql://user:password@host:port/database (the seed's lego_mcp database).
- The signed audit chain (lego_audit_chain.py), off unless one of these is set: HSM_URL (https://host:port of the lab
  HSM service, mcpops.lab.hsm), HSM_CA_FILE (the CA that signed its certificate), HSM_TIMEOUT_SECONDS (default 2),
  HSM_FALLBACK_ENABLED (true: sign with a local software key when the HSM fails, and mark those records; its
  public key is <state_dir>/audit-fallback-key.pub.pem), HSM_FALLBACK_KEY_DIR (where that key lives instead of the
  state dir: one dir every replica shares, as a mounted Secret would be, so that a verifier has one public half and
  the key outlives the pods; made at first use).

At start the table `equipment` is created and seeded with a few rows when missing; when the database is down then,
the service starts anyway, says so in its log, and tries again on the next request. Every request opens its own
connection (2 s connect timeout), so a stopped database shows on the very next request.

Endpoints:
- GET /health -> 200 {"status": "healthy", "database": "ok", "version"}; 503 {"status": "unhealthy", "database":
  "<error>"} when `SELECT 1` fails, or {"status": "unhealthy", "database": "ok"|..., "reason"} while faults.json says
  unhealthy.
- GET /api/v8/equipment -> 200 {"data": [{"equipment_id", "name", "type", "status"}, ...], "count"}; 503
  {"error": "database_unavailable", "message"} when the database is down.
- POST /api/v8/equipment/<id>/status {"status", "actor"?} -> 200 {"equipment_id", "status", "audit_id"?,
  "signed_by"?}; 400 for an unknown status, 404 for an unknown id. With the audit chain on, the change and its
  signed audit record commit together: when the HSM cannot sign and fallback is off, nothing is written and the
  answer is 503 {"error": "hsm_unavailable"}.
- With the audit chain on, /health also says "hsm" ("ok" or the error) and "signing" ("hsm" or
  "software-fallback"); an HSM failure without fallback makes it 503.

Logs: text lines on stdout (the seed reads them with `kubectl logs ... | grep -i error`):
`<ts> INFO GET /health 200 3.1ms`, `<ts> ERROR GET /health 503 3.1ms database: ...`.
"""

import sys
from dataclasses import dataclass

from . import lego_audit_chain
from .config import check_url, common, parse_flag, parse_int, url_password
from .datastores import POSTGRES_SCHEMES, SchemaOnce, pg_connect, probe
from .http_app import App, HttpError, error_text, now_iso, run_service
from .lego_signers import HsmClient, SoftwareSigner

NAME = "lego-mcp"

SCHEMA = """
CREATE TABLE IF NOT EXISTS equipment (
    equipment_id text PRIMARY KEY,
    name text NOT NULL,
    type text NOT NULL,
    status text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
)
"""
SEED_ROWS = (
    ("PRN-001", "Bambu X1 Carbon #1", "3d_printer", "operational"),
    ("PRN-002", "Bambu X1 Carbon #2", "3d_printer", "maintenance"),
    ("CNC-001", "Shapeoko 5 Pro", "cnc", "operational"),
    ("LSR-001", "xTool P2 laser", "laser", "idle"),
    ("ARM-001", "UR5e assembly arm", "robot_arm", "operational"),
)
STATUSES = ("operational", "maintenance", "idle", "offline", "error")


@dataclass(frozen=True)
class LegoConfig:
    host: str
    port: int
    state_dir: str
    database_url: str
    hsm_url: str = ""
    hsm_ca_file: str = ""
    hsm_timeout: int = 2
    fallback_enabled: bool = False
    fallback_key_dir: str = ""

    @property
    def audit_enabled(self):
        return bool(self.hsm_url) or self.fallback_enabled

    def __repr__(self):  # never the URL (it holds the password)
        return "LegoConfig(listen=%s:%d)" % (self.host, self.port)


def load_config(environ):
    base = common(environ)
    url = check_url(environ, "DATABASE_URL", POSTGRES_SCHEMES, need_path=True)
    hsm_url = check_url(environ, "HSM_URL", ("https",)) if (environ.get("HSM_URL") or "").strip() else ""
    return LegoConfig(host=base.host, port=base.port, state_dir=base.state_dir, database_url=url, hsm_url=hsm_url,
                      hsm_ca_file=(environ.get("HSM_CA_FILE") or "").strip(),
                      hsm_timeout=parse_int(environ, "HSM_TIMEOUT_SECONDS", 2, minimum=1),
                      fallback_enabled=parse_flag(environ, "HSM_FALLBACK_ENABLED"),
                      fallback_key_dir=(environ.get("HSM_FALLBACK_KEY_DIR") or "").strip())


def ensure_schema(conn):
    """Create `equipment` and seed it when it is empty (idempotent)."""
    conn.execute(SCHEMA)
    if conn.execute("SELECT count(*) FROM equipment").fetchone()[0] == 0:
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO equipment (equipment_id, name, type, status) VALUES (%s, %s, %s, %s) "
                            "ON CONFLICT (equipment_id) DO NOTHING", SEED_ROWS)


class Lego(App):
    name = NAME

    def __init__(self, config):
        super().__init__(config.state_dir, secrets=[url_password(config.database_url), config.database_url])
        self.config = config
        self.schema = SchemaOnce(self.prepare_schema, self.schema_failed)
        self.add("/health", self.health, ("GET",))
        self.add("/api/v8/equipment", self.equipment, ("GET",))
        self.add("/api/v8/equipment/<equipment_id>/status", self.set_status, ("POST",))
        self.hsm = HsmClient(config.hsm_url, config.hsm_ca_file, config.hsm_timeout) if config.hsm_url else None
        self.signing = None
        if config.audit_enabled:
            fallback = SoftwareSigner(config.fallback_key_dir or config.state_dir) if config.fallback_enabled else None
            self.signing = lego_audit_chain.AuditSigning(self.hsm, fallback, config.fallback_enabled,
                                                         self.fallback_used)

    def connect(self):
        return pg_connect(self.config.database_url)

    def startup(self):
        self.ensure_schema()

    def ensure_schema(self):
        return self.schema.ensure()

    def prepare_schema(self):
        with self.connect() as conn:
            ensure_schema(conn)
            if self.signing is not None:
                conn.execute(lego_audit_chain.SCHEMA)

    def fallback_used(self, reason):
        self.log_event("WARN", "audit record signed by the SOFTWARE FALLBACK (HSM_FALLBACK_ENABLED=true; lower "
                               "security) because the HSM failed: %s" % reason)

    def hsm_state(self):
        """("ok" or the error, who signs now) with the audit chain on."""
        if self.hsm is None:
            return "not configured", "software-fallback"
        try:
            return self.hsm.health(), "hsm"
        except Exception as exc:
            return error_text(exc, self.secrets), ("software-fallback" if self.config.fallback_enabled else "none")

    def schema_failed(self, exc):
        self.log_event("ERROR", "database: cannot prepare the equipment table: %s" % error_text(exc, self.secrets))

    def health(self, req):
        check = probe(lambda: self.connect().close(), self.secrets)
        database = "ok" if check["status"] == "healthy" else check["error"]
        if req.faults.unhealthy:
            req.context["error"] = "unhealthy fault: %s" % req.faults.reason
            return 503, {"status": "unhealthy", "database": database, "reason": req.faults.reason,
                         "version": self.version}
        if check["status"] != "healthy":
            req.context["error"] = "database: %s" % database
            return 503, {"status": "unhealthy", "database": database, "version": self.version}
        if self.signing is not None:
            hsm, signing = self.hsm_state()
            if signing == "none":
                req.context["error"] = "hsm: %s" % hsm
                return 503, {"status": "unhealthy", "database": "ok", "hsm": hsm, "signing": signing,
                             "version": self.version}
            return 200, {"status": "healthy", "database": "ok", "hsm": hsm, "signing": signing,
                         "version": self.version}
        return 200, {"status": "healthy", "database": "ok", "version": self.version}

    def equipment(self, req):
        self.ensure_schema()
        try:
            with self.connect() as conn:
                rows = conn.execute("SELECT equipment_id, name, type, status FROM equipment "
                                    "ORDER BY equipment_id").fetchall()
        except Exception as exc:
            message = "%s: %s" % (exc.__class__.__name__, error_text(exc, self.secrets))
            req.context["error"] = "database: %s" % message
            raise HttpError(503, {"error": "database_unavailable", "message": message})
        data = [{"equipment_id": r[0], "name": r[1], "type": r[2], "status": r[3]} for r in rows]
        return 200, {"data": data, "count": len(data)}

    def set_status(self, req):
        body = req.json()
        status, actor = body.get("status"), body.get("actor") or "dashboard"
        if status not in STATUSES or not isinstance(actor, str) or len(actor) > 200:
            raise HttpError(400, {"error": "bad_request", "message": "status must be one of %s; actor a string"
                                                                     % ", ".join(STATUSES)})
        equipment_id = req.params["equipment_id"]
        self.ensure_schema()
        try:
            with self.connect() as conn, conn.transaction():
                row = conn.execute("SELECT status FROM equipment WHERE equipment_id = %s FOR UPDATE",
                                   (equipment_id,)).fetchone()
                if row is None:
                    raise HttpError(404, {"error": "not_found", "equipment_id": equipment_id})
                conn.execute("UPDATE equipment SET status = %s, updated_at = now() WHERE equipment_id = %s",
                             (status, equipment_id))
                answer = {"equipment_id": equipment_id, "status": status}
                if self.signing is not None:
                    record = lego_audit_chain.append(conn, self.signing, now_iso(), actor, "equipment.status",
                                                     {"equipment_id": equipment_id, "from": row[0], "to": status})
                    answer.update(audit_id=record["id"], signed_by=record["signed_by"])
        except lego_audit_chain.SigningFailed as exc:
            req.context["error"] = "audit: %s" % error_text(exc, self.secrets)
            raise HttpError(503, {"error": "hsm_unavailable", "message": error_text(exc, self.secrets)})
        except HttpError:
            raise
        except Exception as exc:
            message = "%s: %s" % (exc.__class__.__name__, error_text(exc, self.secrets))
            req.context["error"] = "database: %s" % message
            raise HttpError(503, {"error": "database_unavailable", "message": message})
        return 200, answer

    def log_request(self, req, resp, duration_ms):
        level = "ERROR" if resp.status >= 500 else ("WARN" if resp.status >= 400 else "INFO")
        line = "%s %s %s %s %d %.1fms" % (now_iso(), level, req.method, req.path, resp.status, duration_ms)
        if req.context.get("error"):
            line += " " + req.context["error"]
        self.log.write_line(line)

    def log_event(self, level, message, **fields):
        self.log.write_line("%s %s %s" % (now_iso(), level, message))


def build(config):
    return Lego(config)


def main(environ=None):
    return run_service(NAME, load_config, build, environ)


if __name__ == "__main__":
    sys.exit(main())
