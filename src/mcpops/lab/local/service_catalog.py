"""What the service lab knows of each reference service it can run (`mcpops lab up --service <name>`).

For each of the four services beside the 1C gateway: its supervisord programs (the first is the main one,
named as its profile's `runtime.program`), the datastores it needs, the secrets the lab makes for it (each
named by the inventory variable its profile's `secret_var` names), its liveness, readiness and deep checks
(path and auth header, as in its profile), the faults it has beyond the common ones, and the environment of
each program (`python -m mcpops.lab.services <service>`, configured by env).

The lab does not read profiles/*.yml at run time (the collection may not be beside an installed package);
tests/unit/mcpops/lab/test_service_catalog.py checks that this catalog says what the profiles say.
"""

import json
from dataclasses import dataclass
from pathlib import Path

ONEC_GATEWAY = "onec-gateway"  # the 1C gateway: LocalLab, not this catalog

POSTGRES = "postgres"
REDIS = "redis"
MYSQL = "mysql"
DATASTORE_KINDS = (POSTGRES, REDIS, MYSQL)

# The faults every service has (mcpops.lab.local.service_faults implements them).
COMMON_FAULTS = ("unhealthy", "slow", "healthy", "stop", "crash-loop")
DATASTORE_FAULTS = {POSTGRES: "db-down", MYSQL: "db-down", REDIS: "redis-down"}


@dataclass(frozen=True)
class Secret:
    name: str  # file name under <state dir>/secrets/ (0600)
    var: str  # the inventory variable the profile's secret_var names
    header: str = None  # the HTTP header it goes in, when it authenticates checks


_MISSING = object()


def _lookup(body, path):
    node = body
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return _MISSING
        node = node[key]
    return node


def condition_holds(condition, body):
    """One of the profiles' simple conditions on a JSON body: `<dotted path> exists` or `<dotted path> == <value>`
    (a JSON literal, or a bare word taken as a string). The collection's full language is _health/conditions.py."""
    path, _, rest = condition.strip().partition(" ")
    rest = rest.strip()
    value = _lookup(body, path)
    if rest == "exists":
        return value is not _MISSING
    op, _, literal = rest.partition(" ")
    if op != "==":
        raise ValueError(f"condition {condition!r}: the lab knows `exists` and `==` only")
    try:
        expected = json.loads(literal)
    except ValueError:
        expected = literal
    return value is not _MISSING and value == expected


@dataclass(frozen=True)
class Check:
    name: str  # the profile's check name
    path: str
    auth: str = None  # the Secret.name whose value goes in its header, or None
    conditions: tuple = ()  # the profile's conditions on its JSON body

    def passes(self, status, body):
        """True when the answer is 200 and every condition holds."""
        return status == 200 and all(condition_holds(c, body) for c in self.conditions)


@dataclass(frozen=True)
class Program:
    name: str  # the supervisord program (for an instance: <its base name>-<n>)
    service: str  # `python -m mcpops.lab.services <service>`
    main: bool = False
    instance: int = None  # 1, 2, ... when the service runs several instances of this program
    standby: bool = False  # defined in supervisord with autostart=false: stopped until an operator starts it


def instance_programs(program, count, standby=0):
    """The supervisord programs of `count` instances of one program: itself when 1 (and no standby), else
    <name>-1 .. <name>-<count> (the first keeps `main`), then `standby` more, <name>-<count+1> .., marked standby."""
    if count <= 1 and not standby:
        return (program,)
    return tuple(Program(f"{program.name}-{n}", program.service, main=program.main and n == 1, instance=n,
                         standby=n > count)
                 for n in range(1, count + standby + 1))


@dataclass(frozen=True)
class Datastore:
    kind: str  # POSTGRES, REDIS, MYSQL
    database: str = None
    user: str = None
    secret: str = None  # the Secret.name of the user's password


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    programs: tuple
    datastores: tuple
    secrets: tuple
    liveness: Check
    readiness: Check
    deep: Check
    default_port: int  # the profile's api.default_url port (`up` without --listen)
    extra_faults: tuple = ()
    instances: int = 1  # instances of the main program the lab runs (each its own supervisord program)
    standby: int = 0  # further instances defined in supervisord but not started (a scale-out's spare capacity)

    @property
    def main_program(self):
        """The profile's program (runtime.program): with several instances, the base name of theirs."""
        return next(p for p in self.programs if p.main)

    @property
    def supervised(self):
        """Every supervisord program the lab defines: the main program's instances first (the standby ones last
        of them), then the others."""
        found = []
        for p in self.programs:
            found.extend(instance_programs(p, self.instances, self.standby) if p.main else (p,))
        return tuple(found)

    @property
    def kept_running(self):
        """The supervisord programs `up` starts and waits for, and `healthy` keeps running: all but the standby."""
        return tuple(p for p in self.supervised if not p.standby)

    @property
    def main_instance(self):
        """The supervisord program the lab's generic callers use (status, checks, the common faults): the first
        instance of the main program."""
        return next(p for p in self.supervised if p.main)

    @property
    def instance_programs(self):
        """The supervisord programs of the main program's instances that run (the standby ones not among them)."""
        return tuple(p for p in self.kept_running if p.service == self.main_program.service)

    @property
    def standby_programs(self):
        """The supervisord programs of the main program's standby instances (autostart=false)."""
        return tuple(p for p in self.supervised if p.standby)

    @property
    def faults(self):
        found = list(COMMON_FAULTS)
        for ds in self.datastores:
            fault = DATASTORE_FAULTS[ds.kind]
            if fault not in found:
                found.append(fault)
        if self.datastores:
            found.append("datastores-up")
        found.extend(f for f in self.extra_faults if f not in found)
        return tuple(found)

    def secret(self, name):
        return next(s for s in self.secrets if s.name == name)

    def datastore(self, kind):
        return next((d for d in self.datastores if d.kind == kind), None)

    @property
    def checks(self):
        """{role: Check} for liveness, readiness and deep."""
        return {"liveness": self.liveness, "readiness": self.readiness, "deep": self.deep}


CONNECTOR_MCP = "connector-mcp"
# ConnectorMCP's own faults (docs/dev/connector-contract.md, "Lab faults"; mcpops.lab.local.connector_faults)
CONNECTOR_FAULTS = ("mysql-down", "mysql-max-connections", "pool-exhausted", "datasource-failing",
                    "rate-limit-storm", "oauth-states-expired", "clock-skew", "memory-leak", "bad-deploy",
                    "rate-limit-memory")

# The environment every connector-mcp instance gets from the lab beside its datastores and paths.
CONNECTOR_LAB_ENV = {
    "TRUSTED_PROXIES": "127.0.0.1",  # the lab's nginx: the client ip is then its X-Forwarded-For
    "DB_POOL_SIZE": "5",
    "DB_POOL_TIMEOUT": "2",
    "CIRCUIT_FAILURE_THRESHOLD": "5",
    "CIRCUIT_RESET_SECONDS": "60",
    "MEMORY_WARN_MB": "128",
    "RATE_LIMIT_BACKEND": "redis",
    "RATE_LIMIT_PER_MINUTE": "60",
}

SERVICES = {
    spec.name: spec
    for spec in (
        ServiceSpec(
            name="cctelegram-mcp",
            programs=(Program("cctelegram-mcp", "cctelegram-mcp", main=True),
                      Program("cctelegram-bridge", "cctelegram-bridge")),
            datastores=(),
            secrets=(Secret("api_key", "cctelegram_api_key", "X-API-Key"),),
            liveness=Check("health", "/health", "api_key", ("status == healthy",)),
            readiness=Check("health", "/health", "api_key", ("status == healthy",)),
            deep=Check("bridge", "/tools/get_bridge_status", "api_key", ("bridge.running == true",)),
            default_port=8080,
            extra_faults=("bridge-down",),
        ),
        ServiceSpec(
            name="lego-mcp",
            programs=(Program("lego-mcp", "lego-mcp", main=True),),
            datastores=(Datastore(POSTGRES, "lego_mcp", "lego_mcp", "db_password"),),
            secrets=(Secret("db_password", "lego_db_password"),),
            liveness=Check("health", "/health", None, ("status == healthy",)),
            readiness=Check("health", "/health", None, ("status == healthy",)),
            deep=Check("equipment", "/api/v8/equipment", None, ("data exists",)),
            default_port=8000,
        ),
        ServiceSpec(
            name="loyalty-api",
            programs=(Program("loyalty-api", "loyalty-api", main=True),),
            datastores=(Datastore(POSTGRES, "loyalty", "loyalty", "db_password"), Datastore(REDIS)),
            secrets=(Secret("metrics_token", "loyalty_metrics_token", "X-Metrics-Token"),
                     Secret("db_password", "loyalty_db_password")),
            liveness=Check("live", "/live", None, ("status == ok",)),
            readiness=Check("ready", "/ready", None, ("status == ok",)),
            deep=Check("ready", "/ready", None, ("status == ok",)),
            default_port=3000,
            extra_faults=("maintenance", "read-only"),
        ),
        ServiceSpec(
            name=CONNECTOR_MCP,
            programs=(Program("connectormcp-backend", "connector-mcp", main=True),),
            instances=2,
            standby=1,  # connectormcp-backend-3: a scale-out's new instance (docs/dev/connector-contract.md)
            datastores=(Datastore(MYSQL, "connectorMCP", "connectormcp", "db_password"), Datastore(REDIS)),
            secrets=(Secret("db_password", "connector_mysql_password"),),
            liveness=Check("health", "/health", None, ("status == healthy",)),
            readiness=Check("deep", "/api/health", None,
                            ("database.status == healthy", "redis.status == healthy", "status == healthy")),
            deep=Check("deep", "/api/health", None,
                       ("database.status == healthy", "redis.status == healthy", "status == healthy")),
            default_port=8000,
            extra_faults=CONNECTOR_FAULTS,
        ),
    )
}

SERVICE_NAMES = (ONEC_GATEWAY,) + tuple(SERVICES)


def spec(name):
    """The ServiceSpec of a service the service lab runs; KeyError for another name."""
    return SERVICES[name]


def log_paths(spec_, logs_dir, program=None):
    """The profile's `logs` fields where the lab's programs write their own log files ({} when they log to stdout,
    which supervisord keeps in <logs_dir>/<program>.stdout.log). For a service of several instances, those of one
    instance (program; default the main one)."""
    if spec_.name == "cctelegram-mcp":
        return {"path": str(logs_dir / "cctelegram" / "application.log"),
                "security_path": str(logs_dir / "cctelegram" / "security.log")}
    if spec_.name == CONNECTOR_MCP:
        n = (program or spec_.main_instance).instance or 1
        return {"path": str(logs_dir / "connectormcp" / f"backend-{n}" / "app.log")}
    return {}


def instance_name(program):
    """What an instance calls itself (INSTANCE_NAME, the inventory's host name): backend-<n>."""
    return f"backend-{program.instance or 1}"


def program_env(spec_, program, ctx):
    """The environment of one program (KEY -> str), secrets included: the lab writes it to a 0600 env file.

    ctx holds what the lab decided: ctx.listen[program name] ("127.0.0.1:PORT"), ctx.state_dirs[program name],
    ctx.secret_files[secret name], ctx.urls[datastore kind] (with credentials), ctx.logs_dir, ctx.metrics_listen,
    and for connector-mcp ctx.connector_paths (CONNECTOR_RELEASE_DIR, CONNECTOR_CONFIG, API_TOKEN_FILE: KEY -> path).
    """
    env = {
        "MCPOPS_SERVICE_LISTEN": ctx.listen[program.name],
        "MCPOPS_SERVICE_STATE_DIR": str(ctx.state_dirs[program.name]),
        "PYTHONUNBUFFERED": "1",
    }
    name = spec_.name
    if program.service == "cctelegram-mcp":
        env.update({
            "CCTELEGRAM_API_KEY_FILE": str(ctx.secret_files["api_key"]),
            "CCTELEGRAM_BRIDGE_URL": "http://" + ctx.listen["cctelegram-bridge"],
            "CCTELEGRAM_LOG_DIR": str(Path(log_paths(spec_, ctx.logs_dir)["path"]).parent),
        })
        if ctx.metrics_listen:
            env["CCTELEGRAM_METRICS_LISTEN"] = ctx.metrics_listen
    elif name == "lego-mcp":
        env["DATABASE_URL"] = ctx.urls[POSTGRES]
    elif name == "loyalty-api":
        env.update({
            "DATABASE_URL": ctx.urls[POSTGRES],
            "REDIS_URL": ctx.urls[REDIS],
            "METRICS_TOKEN_FILE": str(ctx.secret_files["metrics_token"]),
            "MAINTENANCE_MODE": "0",
            "READ_ONLY_MODE": "0",
        })
    elif name == CONNECTOR_MCP:
        env.update({
            "DATABASE_URL": ctx.urls[MYSQL],
            "REDIS_URL": ctx.urls[REDIS],
            "CONNECTOR_LOG": log_paths(spec_, ctx.logs_dir, program)["path"],
            "INSTANCE_NAME": instance_name(program),
        })
        env.update(CONNECTOR_LAB_ENV)
        env.update({k: str(v) for k, v in (getattr(ctx, "connector_paths", None) or {}).items()})
    return env
