"""The connector-mcp lab end to end (docs/dev/connector-contract.md, "Topology", "Lab faults", "Inventory of the
lab"): two real backend instances under a real supervisord behind a private nginx, a private MariaDB and Redis, the
releases dir and the CONNECTOR_CONFIG file; each of its faults and `healthy` after it; a rehearsed scale-out onto the
standby instance (backend-3) and `healthy` back to the `up` state; `down` leaves nothing.

The session's shared connector lab (connector_lab_helpers.shared_connector_lab), taken in its `up` state; its tests
run in the order written and each fault test ends healthy again; the last test takes it down (the next module that
uses it brings it up again) and checks that no PID recorded while this module used it is alive."""

import datetime
import http.client
import json
import os
import signal
import subprocess
import time

import pytest

from connector_lab_helpers import GROUP, STANDBY_GROUP, connector_inventory, lab_pids, ready, write_connector_inventory
from mcpops_command import mcpops
from mcpops.lab.http_client import http_json
from mcpops.lab.local import supervisor as sup
from mcpops.lab.local.service_catalog import CONNECTOR_LAB_ENV, MYSQL
from mcpops.lab.pids import pid_alive

WAIT = 60
STORM_SOURCE = "127.0.0.77"
STANDBY = "connectormcp-backend-3"

# docs/dev/connector-contract.md, "Inventory of the lab"
GROUP_VARS = {
    "gateway_platform", "gateway_supervisor_config", "gateway_supervisorctl_path", "connector_lb_url",
    "connector_nginx_binary", "connector_nginx_prefix", "connector_nginx_conf", "connector_nginx_blocklist",
    "connector_nginx_pid_file", "connector_nginx_upstreams", "connector_config_file", "connector_release_dir",
    "connector_backup_dir",
    "mysql_login_host", "mysql_login_port", "mysql_login_user", "mysql_login_password", "mysql_login_db",
    "redis_login_host", "redis_login_port", "redis_login_db", "redis_login_password", "connector_mysql_password",
}
HOST_VARS = {"ansible_connection", "ansible_python_interpreter", "gateway_api_url", "gateway_service_name",
             "mcp_service", "mcp_service_overrides"}


def poll(fn, done, timeout=WAIT):
    """fn() until done(result); the last result at the deadline (the caller's assert says what was wanted)."""
    deadline = time.monotonic() + timeout
    while True:
        result = fn()
        if done(result) or time.monotonic() >= deadline:
            return result
        time.sleep(0.2)


class Recorder:
    """Every PID the lab records while the module uses it (supervisord, instances, datastores, nginx and its
    workers, the filler holder)."""

    def __init__(self, lab):
        self.lab = lab
        self.pids = set()

    def note(self):
        self.pids |= lab_pids(self.lab)

    def alive(self):
        return sorted(p for p in self.pids if pid_alive(p))


@pytest.fixture(scope="module")
def clab(shared_connector_lab):
    lab = ready(shared_connector_lab)
    lab.recorder = Recorder(lab)
    lab.recorder.note()
    try:
        yield lab
    finally:
        lab.recorder.note()
        if lab.supervisord_pid() is None:  # the module took it down; else the session's teardown downs it
            assert lab.recorder.alive() == [], "PIDs still alive after down"


def break_(lab, fault):
    line = lab.break_(fault)
    lab.recorder.note()
    assert line.startswith(fault + ":") and "\n" not in line, line
    return line


def urls(lab):
    return lab.topology.instance_urls()


def deep(url):
    return http_json(url + "/api/health", timeout=10)


def mysql(lab, user="root", database=None):
    import pymysql

    inv = connector_inventory(lab)["all"]["vars"]
    password = inv["mysql_login_password"] if user == "root" else inv["connector_mysql_password"]
    return pymysql.connect(host=inv["mysql_login_host"], port=inv["mysql_login_port"], user=user, password=password,
                           database=database or inv["mysql_login_db"], connect_timeout=10, autocommit=True)


def scalar(lab, sql, args=None):
    conn = mysql(lab)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchone()[0]
    finally:
        conn.close()


def post_from(lb_url, source, path, payload):
    host, port = lb_url.rsplit("/", 1)[-1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10, source_address=(source, 0))
    try:
        conn.request("POST", path, body=json.dumps(payload), headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def heal(lab):
    """`break healthy`, then everything as `up` left it."""
    line = break_(lab, "healthy")
    for program, url in urls(lab).items():
        status, body = deep(url)
        assert lab.spec.deep.passes(status, body), (line, program, status, body)
        assert body["database"]["pool"]["available"] == int(CONNECTOR_LAB_ENV["DB_POOL_SIZE"]), body
        assert all(c["circuit"] == "closed" for c in body["mcp_connectors"].values()), body
        assert body["version"] == "1.0.0"
        assert not lab.read_faults(program) and lab.env_overrides(program) == {}
    topo = lab.topology
    assert topo.release_links() == {"current": "1.0.0", "previous": None}
    assert topo.filler_pid() is None
    assert topo.lb_get("/health")[0] == 200
    # the scale-out's standby back as `up` left it: stopped, in no upstream
    assert lab.program_state(STANDBY) in (sup.STOPPED, sup.EXITED) and topo.nginx().upstream_servers() == []
    assert not lab.read_faults(STANDBY) and lab.env_overrides(STANDBY) == {}
    assert lab.status()["healthy"], line
    return line


def through_nginx(lab, count):
    """The `instance` of count /health answers through nginx (None for a failed one)."""
    said = []
    for _ in range(count):
        status, body = http_json(lab.topology.lb_url + "/health", timeout=10)
        said.append(body.get("instance") if status == 200 else None)
    return said


# ---------------------------------------------------------------------- up and the inventory


def test_up_runs_two_instances_behind_nginx(clab):
    info = clab.read_info()
    assert info["service_name"] == "connectormcp-backend-1"
    for program in ("connectormcp-backend-1", "connectormcp-backend-2"):
        state, pid = clab.program(program)
        assert state == sup.RUNNING and clab.is_our_program(pid), (program, state)
    ports = {rec["listen"] for rec in info["programs"].values()}
    assert len(ports) == 3  # backend-1, backend-2 and the standby backend-3, each its own
    # the standby is defined in supervisord (autostart=false) and stopped; not in nginx's upstream
    assert clab.program(STANDBY) == (sup.STOPPED, None)
    assert "[program:connectormcp-backend-3]" in clab.config_path.read_text()
    nginx = clab.topology.nginx_pid()
    assert nginx and nginx == info["connector"]["nginx"]["pid"] and clab.topology.nginx().is_ours(nginx)
    # requests through nginx reach both instances; each says who it is and its log file is its own
    seen = [http_json(clab.topology.lb_url + "/api/health", timeout=10) for _ in range(6)]
    assert all(status == 200 for status, _ in seen), seen
    assert {body["instance"] for _, body in seen} == {"backend-1", "backend-2"}
    for n in (1, 2):
        log = clab.logs_dir / "connectormcp" / f"backend-{n}" / "app.log"
        line = poll(lambda p=log: p.read_text().splitlines()[-1:] if p.exists() else [], bool)
        assert line and json.loads(line[0])["instance"] == f"backend-{n}", log
    # nginx passes the client's own loopback address (X-Real-IP / X-Forwarded-For; the backends trust 127.0.0.1)
    status, _ = post_from(clab.topology.lb_url, "127.0.0.9", "/api/oauth/start", {"datasource": "github"})
    assert status == 201
    logs = [clab.logs_dir / "connectormcp" / f"backend-{n}" / "app.log" for n in (1, 2)]
    said = poll(lambda: [json.loads(x) for p in logs for x in p.read_text().splitlines()
                         if '"127.0.0.9"' in x], bool)
    assert said and said[0]["client_ip"] == "127.0.0.9" and said[0]["path"] == "/api/oauth/start"

    s = clab.status()
    assert s["healthy"] and s["topology"]["nginx"]["running"] and s["topology"]["lb_check"]["status"] == 200
    proc = mcpops("lab", "--dir", str(clab.state_dir), "status")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"nginx:       running pid {nginx} on {clab.topology.lb_url}" in proc.stdout
    assert "connectormcp-backend-2: RUNNING" in proc.stdout
    assert "connectormcp-backend-3: STOPPED" in proc.stdout
    assert s["programs"][STANDBY]["standby"] is True and "standby" not in s["programs"]["connectormcp-backend-1"]
    assert s["topology"]["standby"][STANDBY]["state"] == sup.STOPPED
    assert s["topology"]["upstreams"]["servers"] == []

    again = clab.up()
    clab.recorder.note()
    assert again["started"] is False and again["topology"]["nginx_pid"] == nginx
    assert clab.program_state(STANDBY) == sup.STOPPED  # `up` again does not start it either


def test_the_inventory_points_at_live_things(clab, tmp_path):
    inventory = connector_inventory(clab)
    group_vars = inventory["all"]["vars"]
    hosts = inventory["all"]["children"][GROUP]["hosts"]
    assert set(group_vars) == GROUP_VARS
    assert sorted(hosts) == ["backend-1", "backend-2"]
    standby = inventory["all"]["children"][STANDBY_GROUP]["hosts"]
    assert sorted(standby) == ["backend-3"]
    host = standby["backend-3"]
    assert set(host) == HOST_VARS and host["gateway_service_name"] == STANDBY
    assert host["ansible_connection"] == "local" and host["mcp_service"] == "connector-mcp"
    assert host["gateway_api_url"] not in {h["gateway_api_url"] for h in hosts.values()}
    assert host["mcp_service_overrides"]["api"]["default_url"] == host["gateway_api_url"]
    assert host["mcp_service_overrides"]["logs"]["path"] == str(clab.logs_dir / "connectormcp/backend-3/app.log")
    assert http_json(host["gateway_api_url"] + "/health", timeout=3)[0] is None  # stopped: nothing listens
    assert open(group_vars["connector_nginx_upstreams"]).read().strip().startswith("#")  # empty: comments only
    assert (f"include {group_vars['connector_nginx_upstreams']};"
            in open(group_vars["connector_nginx_conf"]).read().split("upstream ", 1)[1].split("}", 1)[0])
    for name, host in hosts.items():
        assert set(host) == HOST_VARS
        assert host["ansible_connection"] == "local" and host["mcp_service"] == "connector-mcp"
        assert host["gateway_service_name"] == "connectormcp-" + name
        status, body = deep(host["gateway_api_url"])
        assert status == 200 and body["instance"] == name
        overrides = host["mcp_service_overrides"]
        assert overrides["api"]["default_url"] == host["gateway_api_url"]
        assert overrides["logs"]["path"].endswith(f"/connectormcp/{name}/app.log")
        assert os.path.exists(overrides["logs"]["path"])
    assert group_vars["gateway_platform"] == "supervisor"
    assert os.access(group_vars["gateway_supervisorctl_path"], os.X_OK)
    assert http_json(group_vars["connector_lb_url"] + "/health", timeout=10)[0] == 200
    # nginx: its conf passes `nginx -t`, the blocklist is included, the pid file names the running master
    proc = subprocess.run([group_vars["connector_nginx_binary"], "-t", "-p", group_vars["connector_nginx_prefix"],
                           "-c", group_vars["connector_nginx_conf"]], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert os.path.isfile(group_vars["connector_nginx_blocklist"])
    assert f"include {group_vars['connector_nginx_blocklist']};" in open(group_vars["connector_nginx_conf"]).read()
    assert int(open(group_vars["connector_nginx_pid_file"]).read()) == clab.topology.nginx_pid()
    # releases, the config file, the backup dir
    release_dir = group_vars["connector_release_dir"]
    assert os.readlink(os.path.join(release_dir, "current")) == "1.0.0"
    assert json.load(open(os.path.join(release_dir, "current", "release.json"))) == {"version": "1.0.0",
                                                                                    "defect": None}
    assert json.load(open(group_vars["connector_config_file"])) == {"rate_limit_per_minute": 60}
    assert os.path.isdir(group_vars["connector_backup_dir"])
    # root logs in over TCP (KILL, replication client for mariadb-binlog); the backends' user with its password
    assert scalar(clab, "SELECT CURRENT_USER()") == "root@127.0.0.1"
    grants = scalar(clab, "SHOW GRANTS FOR CURRENT_USER()")
    assert grants.startswith("GRANT ALL PRIVILEGES ON *.* TO `root`@`127.0.0.1`") and "WITH GRANT OPTION" in grants
    conn = mysql(clab, user="connectormcp")
    conn.close()
    import redis

    client = redis.Redis(host=group_vars["redis_login_host"], port=group_vars["redis_login_port"],
                         db=int(group_vars["redis_login_db"]), password=group_vars["redis_login_password"] or None)
    assert client.ping()
    client.close()
    path = write_connector_inventory(tmp_path / "inventory.json", clab)
    assert json.loads(path.read_text()) == inventory
    # no secret in the public files of the lab
    public = clab.config_path.read_text() + clab.info_path.read_text() + open(group_vars["connector_nginx_conf"]).read()
    assert group_vars["mysql_login_password"] not in public and group_vars["connector_mysql_password"] not in public


# ---------------------------------------------------------------------- the faults, each followed by healthy


def test_mysql_down(clab):
    line = break_(clab, "mysql-down")
    assert clab.datastore_pid(MYSQL) is None
    for url in urls(clab).values():
        status, body = poll(lambda u=url: deep(u), lambda r: r[0] == 503)
        assert status == 503 and body["database"]["status"] == "unhealthy", (line, body)
    heal(clab)


def test_mysql_max_connections(clab):
    import pymysql

    line = break_(clab, "mysql-max-connections")
    holder = clab.topology.filler_pid()
    assert holder and pid_alive(holder), line
    assert "Too many connections" in line, line
    with pytest.raises(pymysql.MySQLError) as err:
        mysql(clab, user="connectormcp").close()
    assert err.value.args[0] == 1040
    assert scalar(clab, "SELECT @@GLOBAL.max_connections") < 50  # root keeps its one extra (SUPER) session
    assert scalar(clab, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'filler'") >= 1
    heal(clab)
    assert not pid_alive(holder)
    assert scalar(clab, "SELECT @@GLOBAL.max_connections") == 200
    mysql(clab, user="connectormcp").close()


def test_pool_exhausted(clab):
    line = break_(clab, "pool-exhausted")
    backend1, backend2 = urls(clab).values()
    status, body = deep(backend1)
    assert status == 503 and body["database"]["error"] == "connection pool exhausted", (line, body)
    assert body["database"]["pool"]["available"] == 0
    assert deep(backend2)[0] == 200  # the other instance is fine
    heal(clab)


def test_datasource_failing(clab):
    line = break_(clab, "datasource-failing")
    for url in urls(clab).values():
        status, body = deep(url)
        assert body["mcp_connectors"]["slack"]["circuit"] == "open", (line, body)
        assert body["mcp_connectors"]["github"]["circuit"] == "closed"
        status, answer = http_json(url + "/api/tools/call", method="POST", body={"datasource": "slack", "tool": "x"},
                                   timeout=10)
        assert status == 503 and answer["detail"] == "circuit open"
    heal(clab)


def test_rate_limit_storm(clab):
    line = break_(clab, "rate-limit-storm")
    assert "429x" in line and "429s seen" in line, line
    lb = clab.topology.lb_url
    assert post_from(lb, STORM_SOURCE, "/api/oauth/start", {"datasource": "slack"})[0] == 429
    assert post_from(lb, "127.0.0.78", "/api/oauth/start", {"datasource": "slack"})[0] == 201  # only that client
    keys = [k.decode() for k in clab.topology.redis().scan_iter(match=f"ratelimit:{STORM_SOURCE}*")]
    assert keys, "no ratelimit key of the storm's source in Redis"
    heal(clab)
    assert post_from(lb, STORM_SOURCE, "/api/oauth/start", {"datasource": "slack"})[0] == 201


def test_the_blocklist_is_the_operators(clab):
    """An operator's deny rule (reload) answers 403 to that client only; healthy leaves the blocklist alone."""
    topo = clab.topology
    server = topo.nginx()
    before = server.blocklist.read_text()
    lb = topo.lb_url
    try:
        server.blocklist.write_text(before + f"deny {STORM_SOURCE};\n")
        server.reload(topo.nginx_pid())
        status, _ = poll(lambda: post_from(lb, STORM_SOURCE, "/api/oauth/start", {"datasource": "jira"}),
                         lambda r: r[0] == 403)
        assert status == 403
        heal(clab)
        assert f"deny {STORM_SOURCE};" in server.blocklist.read_text()
        assert post_from(lb, STORM_SOURCE, "/api/oauth/start", {"datasource": "jira"})[0] == 403
        assert post_from(lb, "127.0.0.1", "/api/oauth/start", {"datasource": "jira"})[0] == 201
    finally:
        server.blocklist.write_text(before)
        server.reload(topo.nginx_pid())
    status, _ = poll(lambda: post_from(lb, STORM_SOURCE, "/api/oauth/start", {"datasource": "jira"}),
                     lambda r: r[0] != 403)
    assert status == 201


def test_oauth_states_expired(clab):
    line = break_(clab, "oauth-states-expired")
    expired = scalar(clab, "SELECT COUNT(*) FROM oauth_states WHERE expires_at < NOW()")
    assert expired >= 5000, line
    heal(clab)
    assert scalar(clab, "SELECT COUNT(*) FROM oauth_states WHERE expires_at < NOW()") == expired - 5000


def _skew(body):
    now = datetime.datetime.fromisoformat(body["clock"]["now"].replace("Z", "+00:00"))
    return (now - datetime.datetime.now(datetime.timezone.utc)).total_seconds()


def test_clock_skew(clab):
    line = break_(clab, "clock-skew")
    backend1, backend2 = urls(clab).values()
    assert clab.env_overrides("connectormcp-backend-2") == {"CLOCK_SKEW_SECONDS": "900"}
    assert 800 < _skew(deep(backend2)[1]) < 1000, line
    assert abs(_skew(deep(backend1)[1])) < 60
    heal(clab)
    assert abs(_skew(deep(backend2)[1])) < 60


def test_rate_limit_memory(clab):
    line = break_(clab, "rate-limit-memory")
    backend1, backend2 = urls(clab).values()
    assert clab.env_overrides("connectormcp-backend-2") == {"RATE_LIMIT_BACKEND": "memory"}
    status, body = deep(backend2)
    assert status == 200 and body["rate_limit"]["backend"] == "memory", (line, body)
    assert deep(backend1)[1]["rate_limit"]["backend"] == "redis"
    heal(clab)
    assert deep(backend2)[1]["rate_limit"]["backend"] == "redis"


def test_memory_leak(clab):
    line = break_(clab, "memory-leak")
    backend1 = urls(clab)["connectormcp-backend-1"]
    warn = int(CONNECTOR_LAB_ENV["MEMORY_WARN_MB"])
    assert deep(backend1)[1]["memory"]["rss_mb"] > warn, line
    log = clab.logs_dir / "connectormcp" / "backend-1" / "app.log"
    high = poll(lambda: [x for x in log.read_text().splitlines() if "memory usage high" in x], bool)
    assert high and json.loads(high[-1])["level"] == "WARNING"
    heal(clab)
    assert deep(backend1)[1]["memory"]["rss_mb"] < warn


def test_bad_deploy(clab):
    line = break_(clab, "bad-deploy")
    assert clab.topology.release_links() == {"current": "1.0.1", "previous": "1.0.0"}
    for url in urls(clab).values():
        status, body = deep(url)
        assert status == 503 and body["version"] == "1.0.1", (line, body)
    status, body = http_json(clab.topology.lb_url + "/api/oauth/start", method="POST", body={"datasource": "slack"},
                             timeout=10)
    assert status == 500, body
    heal(clab)
    assert not (clab.topology.releases_dir / "1.0.1").exists()


def test_a_scale_out_onto_the_standby_and_healthy_back(clab, tmp_path):
    """The standby is never routed to until the operator starts it (supervisorctl), writes its server line into
    upstreams.conf and reloads nginx; then requests reach it too (round-robin). healthy undoes the scale-out."""
    topo = clab.topology
    inv = connector_inventory(clab)
    group_vars = inv["all"]["vars"]
    standby = inv["all"]["children"][STANDBY_GROUP]["hosts"]["backend-3"]
    listen = standby["gateway_api_url"].split("//", 1)[1]
    access_log = os.path.join(group_vars["connector_nginx_prefix"], "logs", "access.log")
    logged_before = os.path.getsize(access_log)  # the shared lab: an earlier scale-out of another module is logged
    assert set(through_nginx(clab, 6)) == {"backend-1", "backend-2"}
    # the operator starts it through supervisorctl, with the lab's supervisord config
    ctl = [group_vars["gateway_supervisorctl_path"], "-c", group_vars["gateway_supervisor_config"]]
    proc = subprocess.run(ctl + ["start", STANDBY], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    clab.recorder.note()
    status, body = poll(lambda: http_json(standby["gateway_api_url"] + "/health", timeout=5), lambda r: r[0] == 200)
    assert status == 200 and body["instance"] == "backend-3", body
    status, body = poll(lambda: deep(standby["gateway_api_url"]), lambda r: r[0] == 200)
    assert status == 200 and body["rate_limit"]["backend"] == "redis" and body["version"] == "1.0.0", body
    log = standby["mcp_service_overrides"]["logs"]["path"]
    line = poll(lambda: open(log).read().splitlines()[-1:] if os.path.exists(log) else [], bool)
    assert line and json.loads(line[0])["instance"] == "backend-3"
    # running, but not in the upstream: nginx still routes to backend-1 and backend-2 only
    assert set(through_nginx(clab, 6)) == {"backend-1", "backend-2"}
    with open(access_log) as handle:
        handle.seek(logged_before)
        access = handle.read()
    assert f'"upstream_addr":"{listen}"' not in access
    s = clab.status()
    assert s["healthy"] and s["programs"][STANDBY]["state"] == sup.RUNNING and s["programs"][STANDBY]["standby"]
    # the scale-out: its server line in upstreams.conf, `nginx -t`, `nginx -s reload`
    upstreams = group_vars["connector_nginx_upstreams"]
    with open(upstreams, "a") as fh:
        fh.write(f"server {listen};\n")
    assert topo.upstream_line(STANDBY) == f"server {listen};"
    nginx = [group_vars["connector_nginx_binary"], "-p", group_vars["connector_nginx_prefix"], "-c",
             group_vars["connector_nginx_conf"], "-e", os.path.join(group_vars["connector_nginx_prefix"], "logs",
                                                                     "error.log")]
    proc = subprocess.run(nginx + ["-t"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    master = topo.nginx_pid()
    proc = subprocess.run(nginx + ["-s", "reload"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    seen = set()
    poll(lambda: seen.update(through_nginx(clab, 3)) or seen, lambda found: "backend-3" in found)
    assert "backend-3" in seen
    seen = set()
    poll(lambda: seen.update(through_nginx(clab, 3)) or seen,
         lambda found: {"backend-1", "backend-2", "backend-3"} <= found)
    assert seen == {"backend-1", "backend-2", "backend-3"}, seen
    s = clab.status()
    assert s["topology"]["upstreams"]["servers"] == [listen] and topo.nginx_pid() == master
    assert s["healthy"]
    # healthy: back to the `up` state (the standby stopped, upstreams.conf empty, nginx reloaded)
    pid = clab.program_pid(STANDBY)
    line = heal(clab)
    assert f"removed {listen} from {upstreams}" in line and f"stopped the standby {STANDBY}" in line, line
    assert not pid_alive(pid) and topo.nginx_pid() == master
    assert set(through_nginx(clab, 6)) == {"backend-1", "backend-2"}
    assert clab.status()["programs"][STANDBY]["state"] == sup.STOPPED


def test_an_nginx_crash_is_visible_and_healthy_starts_it(clab):
    topo = clab.topology
    pid = topo.nginx_pid()
    workers = topo.nginx().workers(pid)
    os.kill(pid, signal.SIGKILL)  # the master we started (recorded PID, checked ours above)
    assert poll(lambda: pid_alive(pid), lambda alive: not alive) is False
    s = clab.status()
    assert not s["healthy"] and not s["topology"]["nginx"]["running"] and s["topology"]["nginx"]["recorded_pid"] == pid
    line = heal(clab)
    assert "started nginx pid" in line
    assert topo.nginx_pid() != pid and not [w for w in workers if pid_alive(w)]


def test_down_stops_every_recorded_pid(clab):
    clab.start_program(STANDBY)  # a running standby is stopped by down too
    clab.wait_program((sup.RUNNING,), STANDBY, timeout=WAIT)
    standby = clab.program_pid(STANDBY)
    clab.recorder.note()
    assert standby in clab.recorder.pids
    nginx = clab.topology.nginx_pid()
    assert nginx in clab.recorder.pids and len(clab.recorder.pids) >= 6
    first = clab.down()
    assert nginx in first["stopped"] and standby in first["stopped"]
    assert clab.recorder.alive() == []
    assert clab.down()["stopped"] == []
    assert not clab.status()["healthy"]
    assert clab.read_info()["connector"]["nginx"]["pid"] is None
