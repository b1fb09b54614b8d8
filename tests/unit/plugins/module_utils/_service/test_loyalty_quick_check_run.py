"""_service/loyalty_quick_check_run.py called directly (no Ansible): the seed's quick check against a loopback stub of
the Loyalty API (real HTTP through _health's check), with the containers and log lines read either from a stub Docker
Engine API on a real unix socket or from a stand-in for the compose CLI (a function given as `command`, recording each
argv and environment). What is found and in which words, the steps running at once (a barrier every step must reach
before any may finish: run one after the other, it would break), bad input refused before any command or request,
mutations only when asked and never in check mode, the metrics token and the masked values nowhere in the result; and
the compose CLI runner for real (a missing CLI, a timeout)."""

import copy
import json
import socketserver
import struct
import threading
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._health.http_check import run_check
from ansible_collections.mcpops.runbooks.plugins.module_utils._service import (
    compose_cli,
    compose_containers,
    docker_engine_api,
    log_masking,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._service.loyalty_quick_check_run import run

TOKEN = "CANARY-metrics-token-5e1f0a"
DB_PASSWORD = "CANARY-db-password-77c2"
JSON = {"Content-Type": "application/json"}
# profiles/loyalty-api.yml's health and auth sections
HEALTH = {
    "checks": [
        {"name": "live", "path": "/live", "auth": "none", "expect_status": 200, "max_latency_ms": 2000,
         "conditions": ["status == ok"]},
        {"name": "health", "path": "/health", "auth": "none", "expect_status": 200, "max_latency_ms": 2000,
         "conditions": ["status == ok"]},
        {"name": "ready", "path": "/ready", "auth": "none", "expect_status": 200, "max_latency_ms": 3000,
         "conditions": ["status == ok"]},
        {"name": "metrics", "path": "/metrics", "auth": "metrics_token", "expect_status": 200, "max_latency_ms": 3000,
         "conditions": []},
    ],
    "liveness": "live", "readiness": "ready", "deep": "ready",
}
AUTH = {"metrics_token": {"style": "header", "header": "X-Metrics-Token", "secret_var": "loyalty_metrics_token"}}
SERVICES = ["api", "postgres", "redis", "worker"]
ABSENT = "/api/v1/loyalty/balance/mcpops-smoke-absent"


def ps_line(service, state):
    return json.dumps({"ID": "c0ffee" + service, "Name": "loyalty-%s-1" % service, "Service": service,
                       "State": state, "Status": state, "Health": "", "Image": "loyalty/%s:1" % service, "ExitCode": 0})


class Compose:
    """The compose CLI's stand-in: answers config --services, ps and logs; records (argv, env) of every call."""

    def __init__(self, states=None, logs="", ps_answer=None):
        self.states = dict((name, "running") for name in SERVICES) if states is None else states
        self.logs = logs
        self.ps_answer = ps_answer
        self.calls = []
        self.lock = threading.Lock()

    def __call__(self, argv, env, timeout):
        with self.lock:
            self.calls.append((list(argv), dict(env)))
        if "ps" in argv:
            if self.ps_answer:
                return self.ps_answer
            return 0, "".join(ps_line(name, state) + "\n" for name, state in self.states.items()), ""
        if "logs" in argv:
            return 0, self.logs, ""
        raise AssertionError("unexpected command %r" % argv)


class Refuse:
    """A compose CLI, transport and check that must never be used."""

    def __call__(self, *args):
        pytest.fail("a command or check ran")

    def exchange(self, *args):
        pytest.fail("a request was sent")


def healthy_api(stub):
    for path in ("/live", "/health", "/ready"):
        stub.routes[("GET", path)] = (200, JSON, {"status": "ok"})

    def metrics(handler, body):
        if handler.headers.get("X-Metrics-Token") != TOKEN:
            return 401, JSON, {"error": "unauthorized"}
        return 200, {"Content-Type": "text/plain"}, "http_requests_total 3\n# echo %s\n" % TOKEN

    stub.routes[("GET", "/metrics")] = metrics
    stub.routes[("GET", ABSENT)] = (404, JSON, {"error": "customer_not_found"})


def params(stub_url, tmp_path, **overrides):
    """The module's options with their argument_spec defaults, the project in tmp_path."""
    base = dict(base_url=stub_url, health=copy.deepcopy(HEALTH), auth=copy.deepcopy(AUTH),
                secrets={"loyalty_metrics_token": TOKEN}, validate_certs=True, timeout=10, project_src=str(tmp_path),
                files=["docker-compose.production.yml"], env_files=[".env.production"],
                docker_host="unix:///tmp/h17-test.sock", docker_cli="/usr/bin/docker", docker_config=None,
                read_via="cli", command_timeout=120, smoke_max_ms={}, smoke_customer_id="", allow_mutations=False,
                log_service="api", log_lines=1000, mask=[DB_PASSWORD])
    base.update(overrides)
    return base


def assert_no_secret(result):
    text = json.dumps(result)
    assert TOKEN not in text and DB_PASSWORD not in text


# -- what it finds ------------------------------------------------------------------------------------------------


def test_a_healthy_service_gives_no_finding_and_every_step_answered(stub, tmp_path):
    healthy_api(stub)
    logs = ("api-1  | listening\napi-1  | connect postgres://loyalty:%s@db:5432/loyalty\n"
            "api-1  | retry token=%s&x=1\n" % (DB_PASSWORD, TOKEN))
    compose = Compose(logs=logs)
    result = run(params(stub.url, tmp_path), command=compose)
    assert result["ok"] is True and result["findings"] == [] and result["changed"] is False
    assert result["containers"] == {"api": "running", "postgres": "running", "redis": "running", "worker": "running"}
    assert [c["name"] for c in result["smoke"]["checks"]] == ["live", "health", "ready", "metrics"]
    assert result["integration"]["checks"][0]["status"] == 404
    assert result["integration"]["mutations"] == "not run (read-only)"
    assert result["logs"]["lines"] == ["api-1  | listening", "api-1  | connect postgres://loyalty:***@db:5432/loyalty",
                                       "api-1  | retry token=***&x=1"]
    assert_no_secret(result)
    # the metrics check carried the token; the others none
    sent = dict((r["path"], r["headers"].get("X-Metrics-Token")) for r in stub.requests)
    assert sent["/metrics"] == TOKEN and sent["/ready"] is None
    # the seed's command line: --env-file and -f of the project dir, the daemon and the CLI given
    project = str(tmp_path)
    for argv, env in compose.calls:
        assert argv[:4] == ["/usr/bin/docker", "compose", "--project-directory", project]
        assert argv[4:6] == ["--env-file=%s/.env.production" % project, "--file=%s/docker-compose.production.yml" % project]
        assert env["DOCKER_HOST"] == "unix:///tmp/h17-test.sock"
    assert sorted(argv[6:] for argv, _ in compose.calls) == [
        ["logs", "--no-color", "--tail", "1000", "api"], ["ps", "--all", "--format", "json"]]
    assert result["read_via"] == "docker compose CLI"


def test_a_broken_service_is_named_in_the_playbooks_words_in_the_seeds_order(stub, tmp_path):
    healthy_api(stub)
    stub.routes[("GET", "/ready")] = (503, JSON, {"status": "degraded", "checks": {"database": "down"}})
    stub.routes[("GET", ABSENT)] = (500, JSON, {"error": "internal"})
    compose = Compose(states={"api": "running", "postgres": "exited", "redis": "running", "worker": "restarting"})
    result = run(params(stub.url, tmp_path), command=compose)
    url = stub.url
    assert result["findings"] == [
        "containers not running: postgres, worker",
        "check ready (GET %s/ready): HTTP 503, expected 200; condition 'status == ok' failed: status is \"degraded\"" % url,
        "check balance (GET %s%s): HTTP 500, expected 404; condition 'error == customer_not_found' failed: error is "
        "\"internal\"" % (url, ABSENT),
    ]
    assert result["ok"] is False and result["containers_down"] == ["postgres", "worker"]
    assert result["containers"]["worker"] == "restarting" and result["containers"]["postgres"] == "exited"
    assert result["smoke"]["failed_checks"] == ["ready"] and result["integration"]["ok"] is False


def test_no_answer_at_all_and_a_compose_that_cannot_be_asked_are_findings(tmp_path):
    compose = Compose(ps_answer=(1, "", "Cannot connect to the Docker daemon at unix:///tmp/h17-test.sock"))
    result = run(params("http://127.0.0.1:9", tmp_path, timeout=2), command=compose)
    assert result["findings"][0] == ("containers' status not read: `compose ps --all --format json` exited 1: Cannot "
                                     "connect to the Docker daemon at unix:///tmp/h17-test.sock")
    assert len(result["findings"]) == 1 + 4 + 1
    assert all("no answer" in line for line in result["findings"][1:])


def test_smoke_max_ms_replaces_the_profiles_limit_per_check(stub, tmp_path):
    limits = {}

    def check(spec, request, transport):
        limits[spec["name"]] = spec["max_latency_ms"]
        return run_check(spec, request, transport)

    healthy_api(stub)
    run(params(stub.url, tmp_path, smoke_max_ms={"health": 500, "balance": "1500"}), command=Compose(), check=check)
    assert limits == {"live": 2000, "health": 500, "ready": 3000, "metrics": 3000, "balance": 1500}


def test_a_smoke_customer_must_have_a_balance(stub, tmp_path):
    healthy_api(stub)
    stub.routes[("GET", "/api/v1/loyalty/balance/cust-42")] = (200, JSON, {"customerId": "cust-42", "balance": 7})
    result = run(params(stub.url, tmp_path, smoke_customer_id="cust-42"), command=Compose())
    assert result["findings"] == [] and result["integration"]["checks"][0]["status"] == 200


# -- the steps run at once ----------------------------------------------------------------------------------------


def test_every_command_and_check_is_under_way_before_any_finishes(stub, tmp_path):
    """2 compose commands and 5 HTTP checks: each waits at a barrier of 7 before answering. One after the other, the
    first would wait alone until the barrier's deadline and break it."""
    healthy_api(stub)
    barrier = threading.Barrier(7, timeout=120)
    compose = Compose()

    def command(argv, env, timeout):
        barrier.wait()
        return compose(argv, env, timeout)

    def check(spec, request, transport):
        barrier.wait()
        return run_check(spec, request, transport)

    result = run(params(stub.url, tmp_path), command=command, check=check)
    assert result["ok"] is True and not barrier.broken


# -- mutations ----------------------------------------------------------------------------------------------------


def posted(stub):
    return [(r["path"], json.loads(r["body"])) for r in stub.requests if r["method"] == "POST"]


def test_mutations_run_only_when_allowed_and_never_in_check_mode(stub, tmp_path):
    healthy_api(stub)
    stub.routes[("GET", "/api/v1/loyalty/balance/cust-42")] = (200, JSON, {"balance": 7})
    stub.routes[("POST", "/api/v1/loyalty/earn")] = (200, JSON, {"ok": True})
    stub.routes[("POST", "/api/v1/loyalty/redeem")] = (500, JSON, {"error": "x"})
    result = run(params(stub.url, tmp_path, smoke_customer_id="cust-42"), command=Compose())
    assert posted(stub) == []
    result = run(params(stub.url, tmp_path, smoke_customer_id="cust-42", allow_mutations=True), True, command=Compose())
    assert posted(stub) == [] and result["integration"]["mutations"] == "not run (check mode)"
    result = run(params(stub.url, tmp_path, smoke_customer_id="cust-42", allow_mutations=True), command=Compose())
    assert posted(stub) == [("/api/v1/loyalty/earn", {"customerId": "cust-42", "points": 1}),
                            ("/api/v1/loyalty/redeem", {"customerId": "cust-42", "points": 1})]
    assert result["integration"]["mutations"] == "ran"
    assert result["findings"] == ["check redeem (POST): no 200 within SMOKE_MAX_MS_MUTATION"]


# -- bad input: refused before any command or request --------------------------------------------------------------


@pytest.mark.parametrize("overrides,says", [
    ({"secrets": {}}, "takes its secret from variable loyalty_metrics_token, which is not set or empty"),
    ({"smoke_max_ms": {"heath": 100}}, "smoke_max_ms: unknown check 'heath'"),
    ({"smoke_max_ms": {"ready": "fast"}}, "smoke_max_ms.ready must be whole milliseconds"),
    ({"smoke_max_ms": {"ready": 0}}, "smoke_max_ms.ready must be whole milliseconds"),
    ({"smoke_customer_id": "../admin"}, "smoke_customer_id must be letters"),
    ({"log_service": "api;rm"}, "log_service must be a compose service name"),
    ({"log_lines": -1}, "log_lines must be a whole number from 0"),
    ({"project_src": "relative/dir"}, "project_src must be the compose project's directory"),
    ({"base_url": "http://user:%s@h" % TOKEN}, "must not carry a user or password"),
    ({"health": {"checks": []}}, "health.checks must be a non-empty list"),
])
def test_bad_input_is_refused_before_anything(tmp_path, overrides, says):
    with pytest.raises(TaskError) as caught:
        run(params("http://127.0.0.1:9", tmp_path, **overrides), command=Refuse(), transport=Refuse(),
            mutation_transport=Refuse(), check=Refuse())
    assert says in caught.value.msg
    assert TOKEN not in caught.value.msg and DB_PASSWORD not in caught.value.msg


def test_a_project_dir_that_does_not_exist_is_refused(tmp_path):
    with pytest.raises(TaskError) as caught:
        run(params("http://127.0.0.1:9", tmp_path, project_src=str(tmp_path / "gone")), command=Refuse(), check=Refuse())
    assert "an absolute path that exists" in caught.value.msg


# -- the parts ----------------------------------------------------------------------------------------------------


def test_ps_output_in_both_of_composes_formats():
    lines = ps_line("api", "running") + "\n" + ps_line("worker", "exited") + "\n"
    array = json.dumps([json.loads(ps_line("api", "running")), json.loads(ps_line("worker", "exited"))])
    for text in (lines, array):
        rows = compose_containers.parse_ps(text)
        assert [r["Service"] for r in rows] == ["api", "worker"] and set(rows[0]) == set(compose_containers.KEPT)
    states = compose_containers.states_by_service(compose_containers.parse_ps(lines))
    assert states == {"api": ["running"], "worker": ["exited"]}
    assert compose_containers.not_running(states) == ["worker"]
    # a service with one of two replicas running is up, as the playbook judged it before
    assert compose_containers.not_running({"api": ["exited", "running"]}) == []
    with pytest.raises(ValueError):
        compose_containers.parse_ps("not json")


def test_log_masking_takes_the_longest_secret_first():
    lines = log_masking.mask_lines(["a abc-long b", "https://u:p4ss@host/x password=hunter2 API_KEY=k"],
                                   ["abc", "abc-long", ""])
    assert lines == ["a *** b", "https://u:***@host/x password=*** API_KEY=***"]


def test_the_compose_runner_reports_a_missing_cli_and_a_timeout(tmp_path):
    assert compose_cli.run_command([str(tmp_path / "no-docker"), "compose", "ps"], {}, 5)[0] == 127
    rc, out, err = compose_cli.run_command(["sleep", "30"], {"PATH": "/usr/bin:/bin"}, 1)
    assert rc is None and err == "timed out after 1s"
    rc, out, err = compose_cli.run_command(["sh", "-c", "echo $DOCKER_HOST; echo oops >&2; exit 3"],
                                           compose_cli.command_env({"docker_host": "unix:///x.sock"}, {}), 5)
    assert (rc, out, err) == (3, "unix:///x.sock\n", "oops\n")


# -- through the Docker Engine API ----------------------------------------------------------------------------------


class EngineHandler(BaseHTTPRequestHandler):
    """The two Engine API calls the quick check makes: GET /containers/json (filtered by the project dir's label) and
    GET /containers/<id>/logs (multiplexed frames, stdout 1 and stderr 2)."""

    def do_GET(self):
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        self.server.seen.append((url.path, query))
        if url.path == "/containers/json":
            wanted = json.loads(query["filters"][0])["label"]  # ["<label>=<value>", ...]: every one must match
            body = json.dumps([c for c in self.server.containers
                               if all(c["Labels"].get(label.split("=", 1)[0]) == label.split("=", 1)[1]
                                      for label in wanted)]).encode()
            kind = "application/json"
        elif url.path.endswith("/logs"):
            cid = url.path.split("/")[2]
            tail = int(query["tail"][0])
            body = b"".join(struct.pack(">BxxxI", stream, len(text)) + text
                            for stream, text in self.server.logs.get(cid, [])[-tail:])
            kind = "application/vnd.docker.multiplexed-stream"
        else:
            body, kind = b'{"message": "page not found"}', "application/json"
            self.send_response(404)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self):
        request, dummy = super().get_request()
        return request, ("local", 0)  # BaseHTTPRequestHandler wants an address pair


@pytest.fixture
def engine(tmp_path):
    """A stub Docker Engine API on a real unix socket: .containers (as /containers/json gives them), .logs
    {id: [(stream, bytes)]}, .seen, .path."""
    path = str(tmp_path / "docker.sock")
    server = UnixHTTPServer(path, EngineHandler)
    server.containers, server.logs, server.seen, server.path = [], {}, [], path
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def container(project, service, state, number=1, oneoff=False):
    return {"Id": "%s%s%d" % (service, "0" * 10, number), "Names": ["/loyalty-%s-%d" % (service, number)],
            "Image": "loyalty/%s:1" % service, "State": state, "Status": "Up 3 minutes (healthy)",
            "Labels": {docker_engine_api.PROJECT_DIR_LABEL: project, docker_engine_api.SERVICE_LABEL: service,
                       docker_engine_api.NUMBER_LABEL: str(number), docker_engine_api.ONEOFF_LABEL: str(oneoff)}}


def test_the_engine_api_gives_the_same_findings_and_log_lines_with_no_cli_started(stub, engine, tmp_path):
    healthy_api(stub)
    project = str(tmp_path)
    engine.containers = [container(project, "api", "running"), container(project, "api", "running", 2),
                         container(project, "postgres", "exited"), container(project, "redis", "running"),
                         container(project, "worker", "running"),
                         container(project, "postgres", "exited", 7, oneoff=True),  # `compose run`: not the project's
                         container("/srv/other", "worker", "exited")]  # another project's
    engine.logs = {"api00000000001": [(1, b"listening\n"), (2, b"warn: token=%s\n" % TOKEN.encode())],
                   "api00000000002": [(1, b"db postgres://u:%s@db/x\n" % DB_PASSWORD.encode())]}
    result = run(params(stub.url, tmp_path, read_via="auto", docker_host="unix://" + engine.path, log_lines=50),
                 command=Refuse())
    assert result["read_via"] == "engine API (unix://%s)" % engine.path
    assert result["findings"] == ["containers not running: postgres"]
    assert result["containers"] == {"api": "running,running", "postgres": "exited", "redis": "running",
                                    "worker": "running"}
    assert result["logs"]["lines"] == ["api-1  | listening", "api-1  | warn: token=***", "api-2  | db postgres://u:***@db/x"]
    assert result["logs"]["error"] is None
    assert [q["tail"] for path, q in engine.seen if path.endswith("/logs")] == [["50"], ["50"]]
    assert_no_secret(result)


def test_a_project_with_no_container_and_an_engine_that_does_not_answer_are_findings(stub, engine, tmp_path):
    healthy_api(stub)
    result = run(params(stub.url, tmp_path, read_via="engine_api", docker_host="unix://" + engine.path),
                 command=Refuse())
    assert result["findings"] == ["containers' status not read: no container of the compose project in %s exists"
                                  % tmp_path]
    gone = str(tmp_path / "gone.sock")
    result = run(params(stub.url, tmp_path, read_via="engine_api", docker_host="unix://" + gone), command=Refuse())
    assert result["findings"][0].startswith("containers' status not read: GET /containers/json on unix://%s: " % gone)
    assert result["logs"]["lines"] == [] and result["logs"]["error"]


def test_which_socket_the_cli_would_use(tmp_path):
    assert docker_engine_api.socket_path("unix:///run/x.sock", {}) == "/run/x.sock"
    assert docker_engine_api.socket_path("", {"DOCKER_HOST": "unix:///run/y.sock"}) == "/run/y.sock"
    assert docker_engine_api.socket_path("tcp://10.0.0.1:2376", {}) is None
    assert docker_engine_api.socket_path("", {"DOCKER_HOST": "ssh://ops@host"}) is None
    config = tmp_path / "config"
    config.mkdir()
    assert docker_engine_api.socket_path("", {"DOCKER_CONFIG": str(config)}) == docker_engine_api.DEFAULT_SOCKET
    assert docker_engine_api.socket_path("", {"DOCKER_CONFIG": str(config), "DOCKER_CONTEXT": "prod"}) is None
    (config / "config.json").write_text(json.dumps({"currentContext": "prod"}))
    assert docker_engine_api.socket_path("", {"DOCKER_CONFIG": str(config)}) is None


def test_engine_api_asked_for_a_tcp_daemon_is_refused_before_anything(tmp_path):
    with pytest.raises(TaskError) as caught:
        run(params("http://127.0.0.1:9", tmp_path, read_via="engine_api", docker_host="tcp://10.0.0.1:2376"),
            command=Refuse(), check=Refuse(), transport=Refuse())
    assert "read_via engine_api needs a unix:// docker_host" in caught.value.msg


def test_a_tty_containers_logs_are_its_bytes_as_they_are():
    assert docker_engine_api.demux("application/vnd.docker.raw-stream", b"plain line\n") == "plain line\n"
    framed = struct.pack(">BxxxI", 1, 3) + b"ab\n" + struct.pack(">BxxxI", 2, 3) + b"cd\n"
    assert docker_engine_api.demux("", framed) == "ab\ncd\n"
