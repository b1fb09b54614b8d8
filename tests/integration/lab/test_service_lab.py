"""The service lab end to end, for each of the four reference services beside the 1C gateway: a real supervisord,
the real service (mcpops.lab.services), its real private datastores, a tmp state dir and free loopback ports.

One lab per service for the whole module (starting PostgreSQL or MariaDB is the slow part); its tests run in the
order written and the last one takes it down and checks that no PID it ever recorded is alive."""

import json
import os
import stat
import time

import pytest

from local_lab_helpers import write_inventory
from loopback import free_port
from mcpops_command import mcpops
from mcpops.lab.local import supervisor as sup
from mcpops.lab.local.errors import LabError, UnknownFault
from mcpops.lab.local.service_catalog import MYSQL, POSTGRES, REDIS, SERVICES
from mcpops.lab.local.service_lab import ServiceLab, http_get
from mcpops.lab.pids import pid_alive
from service_lab_helpers import make_service_lab, service_host_vars

WAIT = 30

# What the deep check says when one dependency is down: the named part fails, the others stand.
NAMED_IN_DEEP = {
    ("cctelegram-mcp", "bridge-down"): lambda b: b["bridge"]["running"] is False and "error" in b["bridge"],
    ("lego-mcp", "db-down"): lambda b: b["error"] == "database_unavailable",
    ("loyalty-api", "db-down"): lambda b: (b["checks"]["database"].startswith("error")
                                           and b["checks"]["redis"] == "ok"),
    ("loyalty-api", "redis-down"): lambda b: (b["checks"]["redis"].startswith("error")
                                              and b["checks"]["database"] == "ok"),
    ("connector-mcp", "db-down"): lambda b: (b["database"]["status"] == "unhealthy"
                                             and b["redis"]["status"] == "healthy"),
    ("connector-mcp", "redis-down"): lambda b: (b["redis"]["status"] == "unhealthy"
                                                and b["database"]["status"] == "healthy"),
}
# How each dependency fault is undone.
UNDO = {"bridge-down": "healthy", "db-down": "datastores-up", "redis-down": "datastores-up"}


def poll(fn, done, timeout=WAIT):
    """fn() until done(result); the last result at the deadline (the caller's assert says what was wanted)."""
    deadline = time.monotonic() + timeout
    while True:
        result = fn()
        if done(result) or time.monotonic() >= deadline:
            return result
        time.sleep(0.2)


class Recorder:
    """Every PID the lab records while a test module uses it (supervisord, programs, datastores)."""

    def __init__(self, lab):
        self.lab = lab
        self.pids = set()

    def note(self):
        info = self.lab.read_info()
        found = [info.get("supervisord_pid")]
        found += [rec.get("pid") for rec in (info.get("programs") or {}).values()]
        found += [rec.get("pid") for rec in (info.get("datastores") or {}).values()]
        found += [self.lab.program_pid(name) for name in self.lab.program_names]
        found.append(((info.get("connector") or {}).get("nginx") or {}).get("pid"))  # connector-mcp's nginx
        self.pids |= {int(p) for p in found if p}

    def alive(self):
        return sorted(p for p in self.pids if pid_alive(p))


@pytest.fixture(scope="module", params=list(SERVICES))
def slab(request, tmp_path_factory):
    lab = make_service_lab(tmp_path_factory.mktemp(request.param) / "lab", request.param)
    lab.recorder = Recorder(lab)
    lab.recorder.note()
    try:
        yield lab
    finally:
        lab.recorder.note()
        lab.down(purge=True)
        assert lab.recorder.alive() == [], "PIDs still alive after down"


def break_(lab, fault):
    line = lab.break_(fault)
    lab.recorder.note()
    assert line.startswith(fault + ":") and "\n" not in line, line
    return line


def test_up_is_healthy_behind_its_auth_and_keeps_its_secrets_in_0600_files(slab):
    info = slab.read_info()
    assert info["service"] == slab.service and info["service_name"] == slab.main_program
    assert info["supervisord_pid"] and pid_alive(info["supervisord_pid"])
    for name in slab.program_names:
        state, pid = slab.program(name)
        assert state == sup.RUNNING and pid and slab.is_our_program(pid), (name, state, pid)
    for kind in (d.kind for d in slab.spec.datastores):
        assert slab.datastore_pid(kind) and pid_alive(slab.datastore_pid(kind)), kind

    # liveness and readiness pass, each with the header its profile names
    for role in ("liveness", "readiness", "deep"):
        status, body = slab.check(role)
        assert slab.spec.checks[role].passes(status, body), (role, status, body)
    if slab.service == "cctelegram-mcp":
        assert http_get(slab.api_url + "/health")[0] == 401
        assert http_get(slab.api_url + "/health", {"X-API-Key": "wrong"})[0] == 401
        status, _ = http_get(info["metrics_url"] + "/metrics", {"X-API-Key": slab.secret("api_key")})
        assert status == 200
    if slab.service == "loyalty-api":
        assert slab.get("/metrics", secret="metrics_token")[0] == 200
        assert http_get(slab.api_url + "/metrics")[0] == 401
        assert slab.get("/health")[1]["maintenance"] is False

    # secrets: 0700 dir, 0600 files; the values are in neither supervisord.conf nor lab.json
    assert stat.S_IMODE(os.stat(slab.secrets_dir).st_mode) == 0o700
    secrets = []
    for path in slab.secrets_dir.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        if not path.name.endswith(".env"):
            secrets.append(path.read_text().strip())
    assert secrets
    public = slab.config_path.read_text() + slab.info_path.read_text()
    assert not [s for s in secrets if s in public]

    # the host vars carry the secret under the profile's secret_var and the datastores' logins
    host_vars = service_host_vars(slab)
    assert host_vars["mcp_service"] == slab.service and host_vars["gateway_service_name"] == slab.main_program
    assert host_vars["mcp_service_overrides"]["api"]["default_url"] == slab.api_url
    for s in slab.spec.secrets:
        assert host_vars[s.var] == slab.secret(s.name)
    if slab.spec.datastore(POSTGRES):
        import psycopg

        with psycopg.connect(host=host_vars["pg_login_host"], port=host_vars["pg_login_port"],
                             user=host_vars["pg_login_user"], password=host_vars["pg_login_password"],
                             dbname=host_vars["pg_login_db"], connect_timeout=10) as conn:
            assert conn.execute("SELECT current_database()").fetchone()[0] == slab.spec.datastore(POSTGRES).database
    if slab.spec.datastore(MYSQL):
        import pymysql

        conn = pymysql.connect(host=host_vars["mysql_login_host"], port=host_vars["mysql_login_port"],
                               user=host_vars["mysql_login_user"], password=host_vars["mysql_login_password"],
                               database=host_vars["mysql_login_db"], connect_timeout=10)
        conn.close()
    if slab.spec.datastore(REDIS):
        assert host_vars["redis_login_port"] == slab.datastore_records()[REDIS]["port"]


def test_up_again_is_a_no_op(slab):
    before = slab.read_info()
    again = slab.up()
    slab.recorder.note()
    assert again["started"] is False and again["datastores_started"] == []
    assert again["supervisord_pid"] == before["supervisord_pid"]
    assert again["programs"] == {name: rec["pid"] for name, rec in before["programs"].items()}


def test_unhealthy_then_healthy_on_demand(slab):
    line = break_(slab, "unhealthy")
    assert json.loads(slab.faults_path().read_text())["unhealthy"] is True
    # the health answer the profile gates on says 503 (loyalty-api's /live stays up: a fault does not kill it)
    status, body = slab.check("readiness")
    assert status == 503, (line, status, body)
    assert not slab.status()["healthy"]
    assert slab.up()["started"] is False  # up leaves a lab broken on purpose as it is (no wait for its health)
    assert slab.check("readiness")[0] == 503

    line = break_(slab, "healthy")
    assert not slab.faults_path().exists()
    for role in ("liveness", "readiness"):
        status, body = slab.check(role)
        assert slab.spec.checks[role].passes(status, body), (line, role, status, body)
    assert slab.status()["healthy"]


def test_slow_answers_after_its_delay(slab):
    break_(slab, "slow")
    assert json.loads(slab.faults_path().read_text())["slow_ms"] == 3000
    status, _ = slab.check("liveness", timeout=1)
    assert status is None  # no answer within 1 s
    break_(slab, "healthy")
    assert slab.check("liveness", timeout=2)[0] == 200


def test_a_dependency_fault_is_named_by_the_deep_check(slab):
    faults = [f for (service, f) in NAMED_IN_DEEP if service == slab.service]
    assert faults and set(faults) <= set(slab.faults)
    for fault in faults:
        line = break_(slab, fault)
        status, body = slab.check("deep")
        assert not slab.spec.deep.passes(status, body), (fault, status, body)
        assert NAMED_IN_DEEP[(slab.service, fault)](body), (fault, line, body)

        break_(slab, UNDO[fault])
        status, body = poll(lambda: slab.check("deep"), lambda r: slab.spec.deep.passes(*r))
        assert slab.spec.deep.passes(status, body), (fault, status, body)
        for kind in (d.kind for d in slab.spec.datastores):
            assert slab.datastore_pid(kind), kind
    assert slab.status()["healthy"]


def test_stop_and_crash_loop_then_healthy(slab):
    break_(slab, "stop")
    assert slab.program_state() == sup.STOPPED
    assert slab.check("liveness")[0] is None

    line = break_(slab, "crash-loop")
    assert slab.program_state() in (sup.BACKOFF, sup.FATAL), line
    assert slab.env_overrides(slab.main_program)["MCPOPS_SERVICE_LISTEN"] == "127.0.0.1:70000"
    assert "exits 2" in line

    break_(slab, "healthy")
    assert slab.env_overrides(slab.main_program) == {}
    assert slab.program_state() == sup.RUNNING and slab.status()["healthy"]


def test_service_only_faults(slab):
    if slab.service == "loyalty-api":
        line = break_(slab, "maintenance")
        assert slab.get("/health")[1]["maintenance"] is True, line
        status, body = http_get(slab.api_url + "/api/v1/loyalty/balance/c1")
        assert status == 503 and body["error"] == "maintenance"
        break_(slab, "healthy")
        assert slab.get("/health")[1]["maintenance"] is False
    with pytest.raises(UnknownFault) as err:
        slab.break_("maintenance" if slab.service != "loyalty-api" else "bridge-down")
    assert str(err.value).endswith("faults: " + ", ".join(slab.faults))


def test_the_command_finds_the_service_from_the_state_dir(slab):
    proc = mcpops("lab", "--dir", str(slab.state_dir), "status")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"service:     {slab.service} {slab.api_url}" in proc.stdout
    for name in slab.program_names:
        assert f"{name}: RUNNING" in proc.stdout
    proc = mcpops("lab", "--dir", str(slab.state_dir), "break", "no-such-fault")
    assert proc.returncode == 4 and ", ".join(slab.faults) in proc.stderr
    proc = mcpops("lab", "--dir", str(slab.state_dir), "up", "--service", "onec-gateway")
    assert proc.returncode == 1 and f"runs {slab.service}" in proc.stderr


def test_down_stops_every_recorded_pid(slab):
    slab.recorder.note()
    assert len(slab.recorder.pids) >= 1 + len(slab.program_names) + len(slab.spec.datastores)
    first = slab.down()
    assert first["stopped"]
    assert slab.recorder.alive() == []
    assert slab.down()["stopped"] == []
    info = slab.read_info()
    assert info["supervisord_pid"] is None
    assert all(rec["pid"] is None for rec in info["programs"].values())
    assert all(rec["pid"] is None for rec in info["datastores"].values())
    assert not slab.status()["healthy"]


# ---------------------------------------------------------------------- without a module lab


def test_up_refuses_another_service_in_the_same_dir_and_unknown_names(tmp_path):
    lab_dir = tmp_path / "lab"
    lab_dir.mkdir()
    (lab_dir / "lab.json").write_text(json.dumps({"service": "lego-mcp", "listen": "127.0.0.1:1"}))
    with pytest.raises(LabError, match="runs lego-mcp, not loyalty-api"):
        ServiceLab(lab_dir, "loyalty-api")
    with pytest.raises(LabError, match="unknown service 'nope'"):
        ServiceLab(tmp_path / "other", "nope")
    with pytest.raises(LabError, match="no service lab in"):
        ServiceLab(tmp_path / "empty")
    assert ServiceLab(lab_dir).service == "lego-mcp"  # the recorded one
    (tmp_path / "gw").mkdir()
    (tmp_path / "gw" / "lab.json").write_text(json.dumps({"listen": "127.0.0.1:1", "data_dir": "x"}))
    with pytest.raises(LabError, match="runs onec-gateway"):
        ServiceLab(tmp_path / "gw", "lego-mcp")


def test_the_command_runs_a_service_lab_from_up_to_down_purge(tmp_path):
    lab_dir = tmp_path / "cli-lab"
    port = free_port()
    recorder = None
    proc = mcpops("lab", "--dir", str(lab_dir), "up", "--service", "loyalty-api", "--listen", f"127.0.0.1:{port}")
    try:
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert f"lab up: loyalty-api http://127.0.0.1:{port} loyalty-api pid" in proc.stdout
        lab = ServiceLab(lab_dir)
        recorder = Recorder(lab)
        recorder.note()
        proc = mcpops("lab", "--dir", str(lab_dir), "break", "redis-down")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert proc.stdout.startswith("redis-down: stopped redis pid"), proc.stdout
        proc = mcpops("lab", "--dir", str(lab_dir), "status")
        assert proc.returncode == 1 and "redis: not running" in proc.stdout and "healthy:     no" in proc.stdout
        proc = mcpops("lab", "--dir", str(lab_dir), "up")  # no --service: the recorded one; starts Redis again
        assert proc.returncode == 0 and "(already running)" in proc.stdout, proc.stdout + proc.stderr
        recorder.note()
        assert mcpops("lab", "--dir", str(lab_dir), "status").returncode == 0
        write_inventory(tmp_path / "inventory.json", {"lab": service_host_vars(lab)})
    finally:
        proc = mcpops("lab", "--dir", str(lab_dir), "down", "--purge")
    assert proc.returncode == 0 and "state dir removed" in proc.stdout, proc.stdout + proc.stderr
    assert not lab_dir.exists()
    assert recorder and recorder.alive() == []
