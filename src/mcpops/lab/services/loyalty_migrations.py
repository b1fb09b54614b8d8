"""loyalty-api's schema history, kept as Prisma keeps it: the `_prisma_migrations` table (same columns, same
meaning), so that what an operator reads with `prisma migrate status` on the real service reads the same here.

    python3 -m mcpops.lab.services.loyalty_migrations status [--json]   # exit 0 up to date, 1 otherwise
    python3 -m mcpops.lab.services.loyalty_migrations deploy [--json]   # apply the pending ones, in order
    python3 -m mcpops.lab.services.loyalty_migrations resolve --rolled-back|--applied <name>

DATABASE_URL names the database (as for the service). In the compose lab: `docker compose --env-file .env.production
-f docker-compose.production.yml exec -T api python3 -m mcpops.lab.services.loyalty_migrations deploy`, where the seed
runs `pnpm prisma migrate deploy`.

A row's state, as Prisma reads it: applied (finished_at set, rolled_back_at null), failed (neither set: started and
never finished), rolled back (rolled_back_at set; the migration counts as pending again). `deploy` refuses while a
failed migration is unresolved (Prisma's P3009), takes Prisma's advisory lock, and runs each migration in its own
transaction: a failure leaves its row failed with the error in `logs`, and the schema as it was before it.
"""

import argparse
import hashlib
import json
import sys
import uuid

ADVISORY_LOCK = 72707369  # the key prisma migrate takes

PRISMA_TABLE = """CREATE TABLE IF NOT EXISTS _prisma_migrations (
    id VARCHAR(36) PRIMARY KEY NOT NULL,
    checksum VARCHAR(64) NOT NULL,
    finished_at TIMESTAMPTZ,
    migration_name VARCHAR(255) NOT NULL,
    logs TEXT,
    rolled_back_at TIMESTAMPTZ,
    started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_steps_count INTEGER NOT NULL DEFAULT 0)"""

# (name, migration.sql): the order is the names' order, as Prisma's migrations/ dir.
MIGRATIONS = (
    ("20240101000000_init", """
CREATE TABLE IF NOT EXISTS loyalty_accounts (
    customer_id text PRIMARY KEY,
    balance bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS loyalty_transactions (
    id bigserial PRIMARY KEY,
    customer_id text NOT NULL,
    kind text NOT NULL,
    points bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS outbox (
    id bigserial PRIMARY KEY,
    event_type text NOT NULL,
    payload jsonb NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dead')),
    attempts integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now());
"""),
    ("20240315000000_outbox_delivery", """
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS next_attempt_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS last_status text;
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS last_error text;
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS delivered_at timestamptz;
CREATE TABLE IF NOT EXISTS outbox_control (
    id integer PRIMARY KEY CHECK (id = 1),
    paused boolean NOT NULL DEFAULT false,
    changed_at timestamptz NOT NULL DEFAULT now(),
    reason text);
INSERT INTO outbox_control (id) VALUES (1) ON CONFLICT (id) DO NOTHING;
CREATE TABLE IF NOT EXISTS external_requests (
    provider text NOT NULL,
    result text NOT NULL,
    status text NOT NULL,
    count bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (provider, result, status));
"""),
    ("20240601000000_transactions_customer_index", """
CREATE INDEX IF NOT EXISTS loyalty_transactions_customer_idx ON loyalty_transactions (customer_id, created_at);
"""),
)


class MigrationError(Exception):
    """deploy could not finish; the message says which migration and why (no secret)."""


def checksum(sql):
    return hashlib.sha256(sql.encode("utf-8")).hexdigest()


def rows(conn):
    """The _prisma_migrations rows, oldest first: [{name, finished, rolled_back, logs}]; [] when there is no table."""
    exists = conn.execute("SELECT to_regclass('public._prisma_migrations') IS NOT NULL").fetchone()[0]
    if not exists:
        return []
    return [{"name": name, "finished": finished is not None, "rolled_back": rolled is not None, "logs": logs or ""}
            for name, finished, rolled, logs in conn.execute(
                "SELECT migration_name, finished_at, rolled_back_at, logs FROM _prisma_migrations "
                "ORDER BY started_at, migration_name")]


def classify(names, history):
    """Prisma's view of `names` (the local migrations, in order) against `history` (rows()):
    {"applied": [...], "pending": [...], "failed": [...], "rolled_back": [...], "unknown": [...]}; `unknown` are
    applied rows this code does not have (a newer release migrated the database)."""
    applied, failed, rolled_back = [], [], []
    for row in history:
        if row["rolled_back"]:
            rolled_back.append(row["name"])
        elif row["finished"]:
            applied.append(row["name"])
        else:
            failed.append(row["name"])
    done = set(applied) | set(failed)
    return {"applied": [n for n in names if n in applied],
            "pending": [n for n in names if n not in done],
            "failed": [n for n in names if n in failed and n not in applied],
            "rolled_back": sorted(set(rolled_back) - set(applied)),
            "unknown": sorted(set(applied) - set(names))}


def status(conn, migrations=MIGRATIONS):
    report = classify([name for name, _ in migrations], rows(conn))
    report["up_to_date"] = not (report["pending"] or report["failed"])
    return report


def deploy(conn, migrations=MIGRATIONS):
    """Apply the pending migrations in order under Prisma's advisory lock; returns the names applied. conn is an
    autocommit psycopg connection. MigrationError on an unresolved failed migration or a failing one."""
    conn.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK,))
    try:
        conn.execute(PRISMA_TABLE)
        state = status(conn, migrations)
        if state["failed"]:
            raise MigrationError("P3009: migrate found failed migrations in the target database, new migrations will "
                                 "not be applied: %s (resolve it first: resolve --rolled-back <name>)"
                                 % ", ".join(state["failed"]))
        applied = []
        for name, sql in migrations:
            if name not in state["pending"]:
                continue
            row_id = str(uuid.uuid4())
            conn.execute("INSERT INTO _prisma_migrations (id, checksum, migration_name) VALUES (%s, %s, %s)",
                         (row_id, checksum(sql), name))
            try:
                with conn.transaction():
                    conn.execute(sql)
            except Exception as exc:
                message = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
                conn.execute("UPDATE _prisma_migrations SET logs = %s WHERE id = %s", (message, row_id))
                raise MigrationError("migration %s failed: %s" % (name, message))
            conn.execute("UPDATE _prisma_migrations SET finished_at = now(), applied_steps_count = 1 WHERE id = %s",
                         (row_id,))
            applied.append(name)
        return applied
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK,))


def resolve(conn, name, rolled_back):
    """Prisma's `migrate resolve`: mark the failed migration `name` rolled back, or applied; returns True when a row
    changed."""
    column = "rolled_back_at" if rolled_back else "finished_at"
    changed = conn.execute("UPDATE _prisma_migrations SET %s = now() WHERE migration_name = %%s "
                           "AND finished_at IS NULL AND rolled_back_at IS NULL" % column, (name,)).rowcount
    return changed > 0


def _print_status(report):
    names = [name for name, _ in MIGRATIONS]
    print("%d migrations found in the code" % len(names))
    for key, title in (("applied", "applied"), ("pending", "not yet applied"), ("failed", "failed"),
                       ("rolled_back", "rolled back"), ("unknown", "applied but not in the code")):
        if report[key]:
            print("%s: %s" % (title, ", ".join(report[key])))
    print("Database schema is up to date!" if report["up_to_date"] else
          "Following migrations have not yet been applied: %s" % ", ".join(report["pending"] + report["failed"]))


def main(argv=None, environ=None):
    import os

    from .config import ConfigError, check_url, url_password
    from .datastores import POSTGRES_SCHEMES, pg_connect
    from .http_app import error_text

    parser = argparse.ArgumentParser(prog="python3 -m mcpops.lab.services.loyalty_migrations",
                                     description="loyalty-api migrations (Prisma's _prisma_migrations table)")
    parser.add_argument("command", choices=("status", "deploy", "resolve"))
    parser.add_argument("name", nargs="?", help="resolve: the migration's name")
    parser.add_argument("--rolled-back", action="store_true")
    parser.add_argument("--applied", action="store_true")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args(argv)
    environ = os.environ if environ is None else environ
    try:
        url = check_url(environ, "DATABASE_URL", POSTGRES_SCHEMES, need_path=True)
    except ConfigError as exc:
        sys.stderr.write("loyalty_migrations: %s\n" % exc)
        return 2
    try:
        with pg_connect(url, timeout=5) as conn:
            if args.command == "status":
                report = status(conn)
                print(json.dumps(report, sort_keys=True)) if args.json else _print_status(report)
                return 0 if report["up_to_date"] else 1
            if args.command == "deploy":
                try:
                    applied = deploy(conn)
                except MigrationError as exc:
                    if args.json:
                        print(json.dumps({"applied": [], "error": str(exc)}))
                    sys.stderr.write("Error: %s\n" % exc)
                    return 1
                if args.json:
                    print(json.dumps({"applied": applied}))
                else:
                    print("Applied: %s" % ", ".join(applied) if applied else "No pending migrations to apply.")
                return 0
            if not args.name or args.rolled_back == args.applied:
                sys.stderr.write("resolve needs a migration name and one of --rolled-back, --applied\n")
                return 2
            changed = resolve(conn, args.name, args.rolled_back)
            print(json.dumps({"changed": changed}) if args.json else
                  ("resolved %s" % args.name if changed else "%s is not a failed migration" % args.name))
            return 0 if changed else 1
    except Exception as exc:  # the database cannot be asked: one line, no URL
        sys.stderr.write("Error: the database cannot be reached: %s: %s\n"
                         % (exc.__class__.__name__, error_text(exc, [url_password(url), url])))
        return 1


if __name__ == "__main__":
    sys.exit(main())
