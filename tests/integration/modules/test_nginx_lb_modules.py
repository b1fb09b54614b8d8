"""nginx_upstream_server, nginx_client_limit and the load_balancer role through ansible-playbook against a real private
nginx (Debian's binary, loopback only) in front of three loopback HTTP backends, with the site conf laid out as the
cctelegram fleet's load balancer (upstream cctelegram_mcp, zone cctelegram, the offenders include): a drained server
gets no request after the reload, a restored one gets traffic again, an offending client (its own source address
127.0.0.66) is limited while 127.0.0.1 is not, a lowered limit_conn turns away a client's connection over it (held
open by a backend that answers /slow only when the test lets it), absent reverts byte for byte, a change nginx -t
rejects leaves the file as it was, check mode and a second run touch neither the file nor nginx."""

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._nginx.nginx_upstream_server_run import run as run_upstream_server
from mcpops.lab.loopback import free_port

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
NGINX = "/usr/sbin/nginx"
OFFENDER = "127.0.0.66"
DEADLINE = 20.0

pytestmark = [
    pytest.mark.skipif(not (BIN / "ansible-playbook").exists(), reason="ansible-playbook not in the venv"),
    pytest.mark.skipif(not os.access(NGINX, os.X_OK), reason="Debian's nginx is not installed (/usr/sbin/nginx)"),
]


class Backends:
    """Three loopback HTTP servers that count the requests each gets."""

    def __init__(self):
        self.hits = {}
        self.servers = []
        self.release = threading.Event()  # /slow answers once it is set (or after DEADLINE)
        hits, release = self.hits, self.release

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                name = self.server.name
                if self.path == "/slow":
                    release.wait(DEADLINE)
                hits[name] = hits.get(name, 0) + 1
                body = name.encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        for i in range(3):
            server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
            server.daemon_threads = True
            server.name = "b%d" % (i + 1)
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
            self.servers.append(server)

    def address(self, i):
        return "127.0.0.1:%d" % self.servers[i].server_address[1]

    def close(self):
        for server in self.servers:
            server.shutdown()
            server.server_close()


class LoadBalancer:
    """A private nginx under prefix, started by this test and stopped by its PID."""

    def __init__(self, prefix, backends):
        self.prefix = prefix
        self.port = free_port()
        self.conf = prefix / "conf" / "nginx.conf"
        self.site = prefix / "conf" / "cctelegram.conf"
        self.offenders = prefix / "conf" / "cctelegram_offenders.conf"
        for d in ("conf", "logs", "tmp"):
            (prefix / d).mkdir(parents=True, exist_ok=True)
        temp = "".join("    %s_temp_path %s;\n" % (n, prefix / "tmp" / n) for n in ("client_body", "proxy", "fastcgi",
                                                                                       "uwsgi", "scgi"))
        self.conf.write_text(
            "user root;\nworker_processes 1;\npid %s;\nerror_log %s warn;\nevents { worker_connections 256; }\n"
            "http {\n%s    access_log off;\n    include %s;\n}\n"
            % (prefix / "logs" / "nginx.pid", prefix / "logs" / "error.log", temp, self.site))
        servers = "".join("    server %s max_fails=2 fail_timeout=5s;\n" % backends.address(i) for i in range(3))
        self.site_text = (
            "# the cctelegram load balancer, laid out as the fleet lab lays it (mcpops.lab.fleet.load_balancer)\n"
            "limit_req_zone $binary_remote_addr zone=cctelegram:10m rate=30r/s;\n"
            "include %s;\n"
            "map $cctelegram_offender $cctelegram_offender_key {\n    default \"\";\n    1 $binary_remote_addr;\n}\n"
            "limit_req_zone $cctelegram_offender_key zone=cctelegram_offenders:10m rate=2r/s;\n"
            "limit_conn_zone $binary_remote_addr zone=cctelegram_conn:10m;\n"
            "upstream cctelegram_mcp {\n%s}\n"
            "server {\n"
            "    listen 127.0.0.1:%d;\n"
            "    limit_req_status 429;\n"
            "    location = /nginx_status { stub_status; }\n"
            "    location / {\n"
            "        limit_req zone=cctelegram burst=500 nodelay;\n"
            "        limit_req zone=cctelegram_offenders nodelay;\n"
            "        limit_conn cctelegram_conn 64;\n"
            "        limit_conn_status 429;\n"
            "        proxy_pass http://cctelegram_mcp;\n"
            "        proxy_next_upstream error timeout;\n"
            "    }\n"
            "}\n" % (self.offenders, servers, self.port))
        self.site.write_text(self.site_text)
        self.offenders_text = "# the offending clients\ngeo $cctelegram_offender {\n    default 0;\n}\n"
        self.offenders.write_text(self.offenders_text)
        self.proc = None
        self.master = None

    def start(self):
        self.proc = subprocess.Popen([NGINX, "-p", str(self.prefix) + "/", "-c", str(self.conf), "-g", "daemon off;"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        self.master = self.proc.pid
        until(lambda: self.get("/nginx_status")[0] == 200 or self.proc.poll() is not None, "nginx listens")
        assert self.proc.poll() is None, (self.prefix / "logs" / "error.log").read_text()

    def get(self, path="/", source="127.0.0.1"):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10, source_address=(source, 0))
            conn.request("GET", path)
            answer = conn.getresponse()
            body = answer.read().decode()
            conn.close()
            return answer.status, body
        except OSError as exc:
            return None, str(exc)

    def workers(self):
        found = set()
        for entry in os.listdir("/proc"):
            try:
                with open("/proc/%s/stat" % entry, "rb") as fh:
                    rest = fh.read().decode("ascii", "replace").rsplit(")", 1)[-1].split()
            except OSError:
                continue
            if entry.isdigit() and len(rest) > 1 and rest[1] == str(self.master):
                found.add(int(entry))
        return found

    def wait_reloaded(self, old_workers):
        """A reload has taken effect when every worker of the old generation is gone and a new one runs."""
        until(lambda: self.workers() and not self.workers() & old_workers, "nginx reloaded (old workers gone)")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.master, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(self.master, signal.SIGKILL)
                self.proc.wait(timeout=5)


def until(condition, what):
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError("not within %.0fs: %s" % (DEADLINE, what))
        time.sleep(0.05)


@pytest.fixture(scope="module")
def lb(tmp_path_factory):
    backends = Backends()
    balancer = LoadBalancer(tmp_path_factory.mktemp("lb"), backends)
    balancer.backends = backends
    try:
        balancer.start()
        yield balancer
    finally:
        balancer.stop()
        backends.close()


def play(lb, tasks, check=False, diff=False):
    """Run tasks in one play on localhost; {task name: its result}."""
    lb_vars = dict(ansible_python_interpreter=sys.executable, cctelegram_lb_nginx_binary=NGINX,
                   cctelegram_lb_nginx_prefix=str(lb.prefix), cctelegram_lb_nginx_conf=str(lb.conf),
                   cctelegram_lb_site_conf=str(lb.site), cctelegram_lb_offenders_conf=str(lb.offenders),
                   cctelegram_lb_upstream="cctelegram_mcp")
    doc = [{"hosts": "localhost", "gather_facts": False, "vars": lb_vars,
            "tasks": [dict(task, ignore_errors=True) for task in tasks]}]
    playbook = lb.prefix / "play.yml"
    playbook.write_text(json.dumps(doc))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(REPO / "collections"),
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
               PATH="%s:%s" % (BIN, os.environ.get("PATH", "")))
    cmd = [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook)]
    cmd += (["--check"] if check else []) + (["--diff"] if diff else [])
    proc = subprocess.run(cmd, cwd=str(lb.prefix), env=env, capture_output=True, text=True, timeout=300)
    try:
        out = json.loads(proc.stdout[proc.stdout.index("{"):])
        return {t["task"]["name"]: t["hosts"]["localhost"] for t in out["plays"][0]["tasks"]}
    except (ValueError, KeyError, IndexError):
        raise AssertionError("no result (rc %d): %s" % (proc.returncode, (proc.stdout + proc.stderr)[-4000:]))


def upstream_task(name, lb, server, state, **more):
    args = dict(path=str(lb.site), upstream="cctelegram_mcp", server=server, state=state, nginx_binary=NGINX,
                nginx_prefix=str(lb.prefix), nginx_conf=str(lb.conf), **more)
    return {"name": name, "mcpops.runbooks.nginx_upstream_server": args}


def limit_task(name, lb, path, **more):
    args = dict(path=str(path), nginx_binary=NGINX, nginx_prefix=str(lb.prefix), nginx_conf=str(lb.conf), **more)
    return {"name": name, "mcpops.runbooks.nginx_client_limit": args}


def role_task(name, entry, **role_vars):
    return {"name": name, "ansible.builtin.include_role": {"name": "mcpops.runbooks.load_balancer", "tasks_from": entry},
            "vars": role_vars}


def spread(lb, count, source="127.0.0.1"):
    """count requests; {backend name or status: how many}."""
    before = dict(lb.backends.hits)
    statuses = [lb.get(source=source)[0] for _ in range(count)]
    hits = {name: lb.backends.hits.get(name, 0) - before.get(name, 0) for name in ("b1", "b2", "b3")}
    return hits, statuses


def test_drain_and_restore_an_instance_with_check_mode_idempotence_and_hostile_input(lb):
    b2 = lb.backends.address(1)
    hits, _ = spread(lb, 30)
    assert hits["b2"] > 0, hits
    workers = lb.workers()

    dry = play(lb, [upstream_task("drain", lb, b2, "drained", reload=True)], check=True, diff=True)["drain"]
    assert not dry.get("failed") and dry["changed"] is True and dry["reloaded"] is False, dry
    assert "%s max_fails=2 fail_timeout=5s down;" % b2 in dry["diff"]["after"]
    assert lb.site.read_text() == lb.site_text and lb.workers() == workers and lb.proc.poll() is None

    done = play(lb, [
        upstream_task("drain", lb, b2, "drained", reload=True),
        upstream_task("again", lb, b2, "drained", reload=True),
        upstream_task("hostile", lb, "127.0.0.1:1;} server evil:80", "present"),
        upstream_task("unknown", lb, "127.0.0.1:1", "drained"),
    ])
    assert done["drain"]["changed"] is True and done["drain"]["reloaded"] is True, done["drain"]
    assert done["drain"]["reload_confirmed"] is True
    assert done["drain"]["active"] == [lb.backends.address(0), lb.backends.address(2)]
    assert done["again"]["changed"] is False and done["again"]["reloaded"] is False, done["again"]
    assert done["hostile"]["failed"] is True and "want host:port" in done["hostile"]["msg"]
    assert done["unknown"]["failed"] is True and "not a server of upstream cctelegram_mcp" in done["unknown"]["msg"]
    drained_text = lb.site_text.replace("%s max_fails=2 fail_timeout=5s;" % b2, "%s max_fails=2 fail_timeout=5s down;" % b2)
    assert lb.site.read_text() == drained_text
    lb.wait_reloaded(workers)
    hits, statuses = spread(lb, 30)
    assert hits["b2"] == 0 and hits["b1"] + hits["b3"] == 30 and set(statuses) == {200}, (hits, statuses)

    workers = lb.workers()
    back = play(lb, [
        role_task("restore", "restore", load_balancer_servers=[b2]),
        role_task("health", "health_check", load_balancer_servers=[lb.backends.address(0)], load_balancer_max_fails=3,
                  load_balancer_fail_timeout="10s", load_balancer_reload=False),
        # without reload: the file only, nginx keeps serving what the restore reloaded
        upstream_task("one", lb, lb.backends.address(0), "drained"),
        upstream_task("two", lb, lb.backends.address(1), "drained"),
        upstream_task("three", lb, lb.backends.address(2), "drained"),
        upstream_task("undo1", lb, lb.backends.address(0), "active"),
        upstream_task("undo2", lb, lb.backends.address(1), "active"),
    ])
    assert back["three"]["failed"] is True and "no active server" in back["three"]["msg"], back["three"]
    assert not any(r.get("failed") for name, r in back.items() if name != "three"), back
    assert "server %s max_fails=3 fail_timeout=10s;" % lb.backends.address(0) in lb.site.read_text()
    assert "server %s max_fails=2 fail_timeout=5s;" % b2 in lb.site.read_text() and " down;" not in lb.site.read_text()
    lb.wait_reloaded(workers)
    hits, _ = spread(lb, 30)
    assert hits["b2"] > 0, hits


def test_rate_limit_one_client_then_revert_and_a_rejected_change_leaves_the_file(lb):
    workers = lb.workers()
    site_before = lb.site.read_bytes()
    limited = play(lb, [role_task("limit", "rate_limit", load_balancer_clients=[OFFENDER],
                                  load_balancer_client_rate="1r/s")])
    assert not any(r.get("failed") for r in limited.values()), limited
    assert lb.offenders.read_text() == lb.offenders_text.replace("default 0;\n", "default 0;\n    %s 1;\n" % OFFENDER)
    assert "zone=cctelegram_offenders:10m rate=1r/s; # mcpops nginx_client_limit: was rate=2r/s\n" in lb.site.read_text()
    lb.wait_reloaded(workers)
    _, statuses = spread(lb, 10, source=OFFENDER)
    assert statuses[0] == 200 and statuses.count(429) >= 5, statuses
    _, statuses = spread(lb, 10)
    assert set(statuses) == {200}, statuses

    workers = lb.workers()
    marked = lb.offenders.read_bytes()
    reverted = play(lb, [
        role_task("revert", "rate_limit", load_balancer_clients=[OFFENDER], load_balancer_limit_state="absent"),
        limit_task("clash", lb, lb.offenders, zone="cctelegram", clients=["203.0.113.9"], variable="clash"),
        limit_task("spike", lb, lb.site, zone="cctelegram", rate="10r/s"),
        limit_task("bad client", lb, lb.offenders, zone="cctelegram_offenders", clients=["10.0.0.1/8"]),
    ])
    assert not any(r.get("failed") for name, r in reverted.items() if name not in ("clash", "bad client")), reverted
    assert lb.offenders.read_text() == lb.offenders_text and lb.offenders.read_bytes() != marked
    assert "zone=cctelegram_offenders:10m rate=2r/s;\n" in lb.site.read_text()
    clash = reverted["clash"]
    assert clash["failed"] is True and "nginx -t rejected" in clash["msg"] and "cctelegram" in clash["msg"], clash
    assert "old text is back" in clash["msg"]
    assert reverted["spike"]["changed"] is True and reverted["spike"]["original_rate"] == "30r/s"
    assert "rate=10r/s; # mcpops nginx_client_limit: was rate=30r/s" in lb.site.read_text()
    assert reverted["bad client"]["failed"] is True and "host bits zero" in reverted["bad client"]["msg"]
    lb.wait_reloaded(workers)
    _, statuses = spread(lb, 10, source=OFFENDER)
    assert set(statuses) == {200}, statuses

    workers = lb.workers()
    back = play(lb, [limit_task("back", lb, lb.site, zone="cctelegram", state="absent"),
                     limit_task("again", lb, lb.site, zone="cctelegram", state="absent")])
    assert back["back"]["changed"] is True and back["again"]["changed"] is False, back
    assert lb.site.read_bytes() == site_before and lb.workers() == workers


def test_a_conf_that_already_fails_nginx_t_is_not_touched(lb):
    # run() straight, with the real nginx: the refusal is nginx's own words, no playbook needed
    main = lb.conf.read_bytes()
    site = lb.site.read_bytes()
    lb.conf.write_bytes(main.replace(b"worker_processes 1;", b"worker_processes one;"))
    try:
        with pytest.raises(TaskError) as err:
            run_upstream_server(dict(path=str(lb.site), upstream="cctelegram_mcp", server=lb.backends.address(0),
                                     state="drained", nginx_conf=str(lb.conf), nginx_prefix=str(lb.prefix),
                                     nginx_binary=NGINX, reload=True))
    finally:
        lb.conf.write_bytes(main)
    assert "fails nginx -t before any change" in err.value.msg and "worker_processes" in err.value.msg, err.value.msg
    assert lb.site.read_bytes() == site


def held_open(lb, count, source):
    """count GET /slow from source at once (the backend holds each until release); their threads and statuses."""
    statuses = []
    threads = [threading.Thread(target=lambda: statuses.append(lb.get("/slow", source=source)[0])) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads, statuses


def test_lower_concurrent_connections_then_revert_with_check_mode_and_idempotence(lb):
    site_before = lb.site.read_bytes()
    workers = lb.workers()
    dry = play(lb, [limit_task("lower", lb, lb.site, zone="cctelegram_conn", connections=2, reload=True)],
               check=True, diff=True)["lower"]
    assert not dry.get("failed") and dry["changed"] is True and dry["reloaded"] is False, dry
    assert "limit_conn cctelegram_conn 2; # mcpops nginx_client_limit: was connections=64" in dry["diff"]["after"]
    assert lb.site.read_bytes() == site_before and lb.workers() == workers

    done = play(lb, [limit_task("lower", lb, lb.site, zone="cctelegram_conn", connections=2, reload=True),
                     limit_task("again", lb, lb.site, zone="cctelegram_conn", connections=2, reload=True),
                     limit_task("hostile", lb, lb.site, zone="cctelegram_conn", connections=-1)])
    assert done["lower"]["changed"] is True and done["lower"]["reload_confirmed"] is True, done["lower"]
    assert (done["lower"]["connections_before"], done["lower"]["connections"]) == (64, 2)
    assert done["again"]["changed"] is False and done["again"]["reloaded"] is False, done["again"]
    assert done["hostile"]["failed"] is True and "from 1 to 1000000" in done["hostile"]["msg"]
    lb.wait_reloaded(workers)

    # nginx enforces it: two held connections of one client are served, the third is turned away at once (429);
    # another client is not counted with it
    lb.backends.release.clear()
    try:
        threads, statuses = held_open(lb, 2, OFFENDER)
        until(lambda: lb.get("/nginx_status")[1].count("Writing") and
              int(lb.get("/nginx_status")[1].split("Writing: ")[1].split()[0]) >= 3, "two /slow requests in flight")
        assert lb.get("/slow", source=OFFENDER)[0] == 429
        other, other_statuses = held_open(lb, 1, "127.0.0.1")
    finally:
        lb.backends.release.set()
    for thread in threads + other:
        thread.join(DEADLINE)
    assert statuses == [200, 200] and other_statuses == [200], (statuses, other_statuses)

    workers = lb.workers()
    back = play(lb, [limit_task("back", lb, lb.site, zone="cctelegram_conn", state="absent", reload=True),
                     limit_task("again", lb, lb.site, zone="cctelegram_conn", state="absent", reload=True)])
    assert back["back"]["changed"] is True and back["back"]["connections"] == 64, back["back"]
    assert back["again"]["changed"] is False
    assert lb.site.read_bytes() == site_before
    lb.wait_reloaded(workers)
    lb.backends.release.clear()
    try:
        threads, statuses = held_open(lb, 3, OFFENDER)
        until(lambda: int(lb.get("/nginx_status")[1].split("Writing: ")[1].split()[0]) >= 4, "three /slow in flight")
    finally:
        lb.backends.release.set()
    for thread in threads:
        thread.join(DEADLINE)
    assert statuses == [200, 200, 200], statuses
