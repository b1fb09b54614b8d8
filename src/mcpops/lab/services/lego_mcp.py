"""lego-mcp (seed 001): the LEGO MCP dashboard's health and equipment API, on PostgreSQL.

Environment (besides MCPOPS_SERVICE_LISTEN and MCPOPS_SERVICE_STATE_DIR):
- DATABASE_URL (required): postgresql://user:password@host:port/database (the seed's lego_mcp database).

At start the table `equipment` is created and seeded with a few rows when missing; when the database is down then,
the service starts anyway, says so in its log, and tries again on the next request. Every request opens its own
connection (2 s connect timeout), so a stopped database shows on the very next request.

Endpoints:
- GET /health -> 200 {"status": "healthy", "database": "ok", "version"}; 503 {"status": "unhealthy", "database":
  "<error>"} when `SELECT 1` fails, or {"status": "unhealthy", "database": "ok"|..., "reason"} while faults.json says
  unhealthy.
- GET /api/v8/equipment -> 200 {"data": [{"equipment_id", "name", "type", "status"}, ...], "count"}; 503
  {"error": "database_unavailable", "message"} when the database is down.

Logs: text lines on stdout (the seed reads them with `kubectl logs ... | grep -i error`):
`<ts> INFO GET /health 200 3.1ms`, `<ts> ERROR GET /health 503 3.1ms database: ...`.
"""

import sys
from dataclasses import dataclass

from .config import check_url, common, url_password
from .datastores import POSTGRES_SCHEMES, SchemaOnce, pg_connect, probe
from .http_app import App, HttpError, error_text, now_iso, run_service

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


@dataclass(frozen=True)
class LegoConfig:
    host: str
    port: int
    state_dir: str
    database_url: str

    def __repr__(self):  # never the URL (it holds the password)
        return "LegoConfig(listen=%s:%d)" % (self.host, self.port)


def load_config(environ):
    base = common(environ)
    url = check_url(environ, "DATABASE_URL", POSTGRES_SCHEMES, need_path=True)
    return LegoConfig(host=base.host, port=base.port, state_dir=base.state_dir, database_url=url)


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

    def connect(self):
        return pg_connect(self.config.database_url)

    def startup(self):
        self.ensure_schema()

    def ensure_schema(self):
        return self.schema.ensure()

    def prepare_schema(self):
        with self.connect() as conn:
            ensure_schema(conn)

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
