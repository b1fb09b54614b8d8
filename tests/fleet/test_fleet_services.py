"""`mcpops fleet up --service lego-mcp|loyalty-api|connector-mcp`: one Debian host running the reference service as a
systemd unit on its own loopback address, on datastores the fleet runs on this machine (127.0.0.1) and shares among
its hosts: lego-mcp on PostgreSQL, loyalty-api on PostgreSQL and Redis, connector-mcp on MariaDB and Redis.

For each service, one fleet of one host (CI time: booting costs most of it), the services one after the other (a
module-scoped parametrized fixture: pytest runs every test of one service, downs its fleet, then the next). In file
order: up answers as the profile says; secrets only in 0600 files; unhealthy / healthy; stop, crash-loop and an
unknown fault; a shared datastore's fault named by the deep check, then datastores-up; down leaves no process."""

import socket
import stat
from pathlib import Path

import pytest

from mcpops.lab import pids
from mcpops.lab.fleet import reference_services as reference
from mcpops.lab.fleet.errors import UnknownFault
from fleet_helpers import journal, nspawn_processes, process_tree, reference_fleet, service_check, wait_service_check

SERVICES = (reference.LEGO, reference.LOYALTY, reference.CONNECTOR)
# The datastore fault each service is broken with, and the word its deep check's answer names it by.
DATASTORE_FAULT = {reference.LEGO: ("db-down", "database"), reference.LOYALTY: ("redis-down", "redis"),
                   reference.CONNECTOR: ("db-down", "database")}
KINDS = {reference.LEGO: {"postgres"}, reference.LOYALTY: {"postgres", "redis"},
         reference.CONNECTOR: {"mysql", "redis"}}


@pytest.fixture(scope="module", params=SERVICES)
def fleet(request, tmp_path_factory):
    with reference_fleet(tmp_path_factory.mktemp(request.param), request.param, 1) as fleet:
        yield fleet


def host_of(fleet):
    [host] = fleet.hosts()
    return host


def active(fleet, host, unit):
    return fleet.run(host, ["systemctl", "is-active", unit], check=False).stdout.strip()


def secrets(fleet, host):
    """Every secret of the fleet's service: the database user's password, the admin logins, loyalty's token."""
    found = [fleet.secret("db_password")]
    found += [fleet.secret(name) for name in ("pg_superuser_password", "mysql_root_password")
              if fleet.secret_file(name).exists()]
    found += [reference.secret_file(host, s.name).read_text().strip() for s in reference.host_secrets(host.service)]
    assert all(len(s) >= 16 for s in found)
    return found


def test_up_serves_the_service_as_its_profile_says(fleet):
    host = host_of(fleet)
    lay = reference.layout(fleet.service)
    assert host.address == fleet.net + ".11" and host.api_url.endswith(":%d" % lay.port)
    assert active(fleet, host, lay.unit) == "active"
    assert fleet.run(host, ["systemctl", "is-enabled", lay.unit], check=False).stdout.strip() == "enabled"
    assert active(fleet, host, "onec-mcp-gateway") != "active"
    for role in ("liveness", "readiness", "deep"):
        answer = service_check(host, role)
        assert reference.passes(host, role, answer), (role, answer)  # 200 and the profile's conditions
    if fleet.service == reference.LOYALTY:
        assert service_check(host, "readiness") == (200, {"status": "ok", "checks": {"database": "ok", "redis": "ok"}})
    if fleet.service == reference.CONNECTOR:
        body = service_check(host, "deep")[1]
        assert body["status"] == "healthy" and body["database"]["status"] == body["redis"]["status"] == "healthy"
    # The shared datastores: recorded, running, ours, listening on 127.0.0.1 only.
    status = fleet.status()
    assert status["healthy"], status
    assert set(status["datastores"]) == KINDS[fleet.service]
    for kind, record in fleet.datastore_records().items():
        assert status["datastores"][kind]["running"] and fleet.datastore_pid(kind) == record["pid"], kind
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", record["port"])) == 0
        with socket.socket() as s:
            assert s.connect_ex((host.address, record["port"])) != 0, kind  # bound to 127.0.0.1, not 0.0.0.0
    # The log, where the profile (or the inventory's override) says.
    log = fleet.run(host, ["cat", lay.log_path]).stdout
    assert "/health" in log or "listening" in log, log[-500:]
    # The inventory: the unit, the port, the secret vars by file lookup, the overrides, the datastores' logins.
    group_vars = (fleet.inventory_dir / "group_vars" / "gateways.yml").read_text()
    for line in ("mcp_service: %s" % fleet.service, "gateway_platform: systemd",
                 "gateway_service_name: %s" % lay.unit, 'gateway_api_url: "http://{{ ansible_host }}:%d"' % lay.port,
                 '  api: {default_url: "http://{{ ansible_host }}:%d"}' % lay.port):
        assert line in group_vars, line
    for kind, record in fleet.datastore_records().items():
        assert "    %s: {host: 127.0.0.1, port: %d}" % (kind, record["port"]) in group_vars
    if fleet.service == reference.LOYALTY:
        assert ("loyalty_metrics_token: \"{{ lookup('ansible.builtin.file', mcpops_fleet_dir ~ '/hosts/' ~ "
                "inventory_hostname ~ '/etc-loyalty-api/metrics_token') }}\"") in group_vars
    if "postgres" in KINDS[fleet.service]:
        assert "pg_login_port: %d" % fleet.datastore_records()["postgres"]["port"] in group_vars
        assert "pg_login_password: \"{{ lookup('ansible.builtin.file', mcpops_fleet_dir ~ " \
               "'/secrets/pg_superuser_password') }}\"" in group_vars


def test_secrets_are_only_in_0600_files(fleet):
    host = host_of(fleet)
    lay = reference.layout(fleet.service)
    known = secrets(fleet, host)
    # A datastore's own files are the server's (MariaDB's binary log holds its CREATE USER): its dir is 0700.
    servers = [Path(record["dir"]) for record in fleet.datastore_records().values()]
    for server in servers:
        assert stat.S_IMODE(server.stat().st_mode) == 0o700, server
    holders = []
    for root in (fleet.state_dir, fleet.inventory_dir):
        for path in root.rglob("*"):
            if path.is_file() and not path.is_symlink() and "hosts/%s/data" % host.name not in str(path) \
                    and not any(path.is_relative_to(server) for server in servers):
                text = path.read_bytes().decode("utf-8", "replace")
                if any(secret in text for secret in known):
                    holders.append(path)
                    assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
                    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700, path.parent
    assert reference.env_file(host) in holders and fleet.secret_file("db_password") in holders
    env = reference.env_file(host).read_text()
    assert env.startswith("DATABASE_URL=") and fleet.secret("db_password") in env
    # The unit names the env file and the token file, never a secret; nor does the host's journal or ps.
    unit_file = (host.fleet_etc / "units" / ("%s.service" % lay.unit)).read_text()
    assert "EnvironmentFile=%s" % lay.env_file in unit_file
    shown = fleet.run(host, ["systemctl", "show", lay.unit, "--property=Environment,EnvironmentFiles"]).stdout
    seen = fleet.run(host, ["ps", "-eo", "args"]).stdout + journal(fleet, host)
    for secret in known:
        assert secret not in unit_file and secret not in shown and secret not in seen
    if fleet.service == reference.LOYALTY:
        assert "METRICS_TOKEN_FILE=/etc/loyalty-api/metrics_token" in shown


def test_unhealthy_then_healthy(fleet):
    host = host_of(fleet)
    said = fleet.break_(host.name, "unhealthy")
    assert "faults.json" in said and "503" in said, said
    assert service_check(host, "readiness")[0] == 503
    # loyalty-api's /live says the process serves, whatever the faults; the others' liveness is their /health.
    assert service_check(host, "liveness")[0] == (200 if fleet.service == reference.LOYALTY else 503)
    said = fleet.break_(host.name, "healthy")
    assert said.startswith("healthy: removed") and "503" not in said, said
    for role in ("liveness", "readiness"):
        assert service_check(host, role)[0] == 200


def test_stop_crash_loop_and_an_unknown_fault(fleet):
    host = host_of(fleet)
    unit = reference.layout(fleet.service).unit
    said = fleet.break_(host.name, "stop")
    assert said.startswith("stop: systemctl stop %s" % unit) and active(fleet, host, unit) == "inactive", said
    assert service_check(host, "liveness")[0] is None
    said = fleet.break_(host.name, "crash-loop")
    state = host.unit_state(fleet.pid(host))
    assert state["ActiveState"] == "failed", (state, said)
    assert "DATABASE_URL is not set" in journal(fleet, host, unit)  # the variable named, no value
    said = fleet.break_(host.name, "healthy")
    assert "crash-loop" in said and "started %s" % unit in said, said
    assert service_check(host, "readiness")[0] == 200
    with pytest.raises(UnknownFault, match="faults of a %s fleet: .*datastores-up" % fleet.service):
        fleet.break_(host.name, "bridge-down")


def test_a_shared_datastore_fault_is_named_by_the_deep_check(fleet):
    host = host_of(fleet)
    fault, word = DATASTORE_FAULT[fleet.service]
    kind = "redis" if fault == "redis-down" else next(k for k in KINDS[fleet.service] if k != "redis")
    pid = fleet.datastore_pid(kind)
    said = fleet.break_(host.name, fault)
    assert "the fleet's shared %s (pid %d" % (kind, pid) in said and "every host of the fleet" in said, said
    assert fleet.datastore_pid(kind) is None and not pids.pid_alive(pid)  # a zombie until init reaps it: gone
    status, body = service_check(host, "deep")
    assert status == 503 and not reference.passes(host, "deep", (status, body)), body
    if fleet.service == reference.LOYALTY:
        assert body["checks"]["redis"].startswith("error: ") and body["checks"]["database"] == "ok", body
    elif fleet.service == reference.CONNECTOR:
        assert body["database"]["status"] == "unhealthy" and body["redis"]["status"] == "healthy", body
    else:
        assert body["error"] == "database_unavailable", body
    assert word in str(body)
    said = fleet.break_(host.name, "datastores-up")
    assert "started the fleet's shared %s again" % kind in said, said
    wait_service_check(host, "deep", 200)
    assert fleet.status()["healthy"]


def test_down_leaves_no_process_of_ours(fleet):
    host = host_of(fleet)
    nspawns, inside = nspawn_processes(fleet)
    stores = {kind: record["pid"] for kind, record in fleet.datastore_records().items()}
    assert set(stores) == KINDS[fleet.service] and all(stores.values())
    ours = nspawns | inside | process_tree(stores.values())
    assert len(ours) > len(nspawns) + len(stores)
    result = fleet.down()
    assert set(result["stopped"]) == nspawns | set(stores.values())
    assert [pid for pid in ours if pids.pid_alive(pid)] == []  # zombies (reaped by init soon) count as gone
    info = fleet.read_info()
    assert all(rec["pid"] is None for rec in info["datastores"].values())
    assert all(rec["pid"] is None for rec in info["hosts"].values())
    for kind, record in info["datastores"].items():
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", record["port"])) != 0, kind
    with socket.socket() as s:
        assert s.connect_ex((host.address, reference.layout(fleet.service).port)) != 0
    assert fleet.down()["stopped"] == []  # idempotent
