"""cctelegram-mcp's parts for issue 19, without a fleet: the release version it reports, the metrics listener's
Bearer key (Prometheus's way), the error storm and memory leak of faults.json, and the client side of the Telegram
Bot API stand-in (a loopback receiver here), which never writes the token anywhere."""

import io
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mcpops.lab.services import cctelegram_bridge, cctelegram_mcp
from mcpops.lab.services.cctelegram_faults import ShareCounter, error_storm, leak_step, memory_leak
from mcpops.lab.services.cctelegram_telegram import TelegramError, send_message
from mcpops.lab.services.config import ConfigError
from mcpops.lab.services.faults import write_faults
from mcpops.lab.services.http_app import JsonLines, Request, Server

KEY = "cctg_canary-key-Zq81"
TOKEN = "123456:canary-bot-token-Wx4"


def serve(app):
    server = Server(("127.0.0.1", 0), app)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


class Receiver:
    """The Bot API stand-in's surface: POST /bot<token>/sendMessage; answers what `answer` says."""

    def __init__(self):
        self.received = []
        self.answer = (200, {"ok": True, "result": {"message_id": 41}})
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                owner.received.append((self.path, json.loads(body)))
                status, answer = owner.answer
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def bridge(tmp_path):
    server = serve(cctelegram_bridge.Bridge(cctelegram_bridge.BridgeConfig("127.0.0.1", 0, str(tmp_path / "b"))))
    yield "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def receiver():
    rec = Receiver()
    yield rec
    rec.close()


@pytest.fixture
def env(tmp_path, bridge):
    (tmp_path / "api_key").write_text(KEY + "\n")
    (tmp_path / "bot_token").write_text(TOKEN + "\n")
    return {"MCPOPS_SERVICE_LISTEN": "127.0.0.1:0", "MCPOPS_SERVICE_STATE_DIR": str(tmp_path / "state"),
            "CCTELEGRAM_API_KEY_FILE": str(tmp_path / "api_key"), "CCTELEGRAM_BRIDGE_URL": bridge,
            "CCTELEGRAM_LOG_DIR": str(tmp_path / "logs")}


def make_app(env):
    app = cctelegram_mcp.build(cctelegram_mcp.load_config(env))
    app.log = JsonLines(stream=io.StringIO(), secrets=app.secrets)  # application.log, read back by logged()
    return app


def logged(app):
    return [json.loads(line) for line in app.log.stream.getvalue().splitlines()]


def call(app, method, path, headers=None, body=b""):
    req = Request(method, path, {"X-API-Key": KEY} if headers is None else headers, body)
    resp = app.dispatch(req)
    app.record(req, resp, 0.001)
    return resp


def test_the_release_version_is_in_health_and_metrics(env):
    env["CCTELEGRAM_VERSION"] = "2.4.0"
    app = make_app(env)
    resp = call(app, "GET", "/health")
    assert resp.status == 200 and resp.body["version"] == "2.4.0"
    text = call(app, "GET", "/metrics").body
    assert 'cctelegram_build_info{version="2.4.0"} 1' in text
    assert "process_memory_heap_used_bytes " in text  # the seed's MemoryLeakDetection metric
    env["CCTELEGRAM_VERSION"] = "2.4.0; rm -rf /"
    with pytest.raises(ConfigError, match="CCTELEGRAM_VERSION must be a version"):
        cctelegram_mcp.load_config(env)


def test_the_metrics_listener_takes_a_bearer_key_as_prometheus_sends_it(env):
    listener = cctelegram_mcp.MetricsListener(make_app(env))
    for headers, status in (({"Authorization": "Bearer " + KEY}, 200), ({"X-API-Key": KEY}, 200),
                            ({"authorization": "bearer " + KEY}, 200), ({"Authorization": "Bearer nope"}, 401),
                            ({"Authorization": "Basic " + KEY}, 401), ({}, 401)):
        assert listener.dispatch(Request("GET", "/metrics", headers)).status == status, headers
    # The API port itself still wants X-API-Key only.
    assert call(make_app(env), "GET", "/health", {"Authorization": "Bearer " + KEY}).status == 401


def test_an_error_storm_fails_its_share_of_tool_calls_with_an_error_type(env):
    app = make_app(env)
    write_faults(app.state_dir, error_rate=0.5, error_type="TelegramAPIError")
    statuses = [call(app, "POST", "/tools/get_bridge_status").status for _ in range(10)]
    assert statuses == [200, 500] * 5
    assert call(app, "GET", "/health").status == 200  # the health check is not part of the storm
    assert call(app, "GET", "/tools/get_bridge_status", {}).status == 401  # nor does it skip the key check
    errors = [line for line in logged(app) if line["level"] == "ERROR"]
    assert len(errors) == 5 and {line["error_type"] for line in errors} == {"TelegramAPIError"}
    assert all(line["status"] == 500 and "error storm" in line["message"] for line in errors)
    write_faults(app.state_dir)  # healed
    assert {call(app, "POST", "/tools/get_bridge_status").status for _ in range(4)} == {200}


def test_fault_values_of_the_wrong_shape_inject_nothing():
    assert error_storm({"error_rate": 1}) == (1.0, "TelegramAPIError")
    assert error_storm({"error_rate": 0.25, "error_type": "DatabaseError"}) == (0.25, "DatabaseError")
    assert error_storm({"error_rate": 0.5, "error_type": "bad type\n"}) == (0.5, "TelegramAPIError")
    for bad in ({}, {"error_rate": 0}, {"error_rate": 1.5}, {"error_rate": True}, {"error_rate": "0.5"}, None):
        assert error_storm(bad) is None, bad
    assert memory_leak({"leak_mb_per_second": 4}) == (4.0, 192.0)
    assert memory_leak({"leak_mb_per_second": 2, "leak_max_mb": 10}) == (2.0, 10.0)
    assert memory_leak({"leak_mb_per_second": 2, "leak_max_mb": 10 ** 6}) == (2.0, 192.0)
    for bad in ({}, {"leak_mb_per_second": 0}, {"leak_mb_per_second": 1000}, {"leak_mb_per_second": False}):
        assert memory_leak(bad) is None, bad
    assert leak_step(4, 10, 8) == 2 and leak_step(4, 10, 10) == 0 and leak_step(4, 10, 0) == 4


def test_share_counter_spreads_failures_evenly():
    counter = ShareCounter()
    assert [counter.fail(0.25) for _ in range(8)] == [False, False, False, True] * 2
    assert all(ShareCounter().fail(1.0) for _ in range(3))


def test_the_memory_leak_grows_to_its_cap_keeps_it_and_warns(env):
    env["CCTELEGRAM_MEMORY_WARN_MB"] = "1"  # any process is past 1 MB: the warning is due at the first step
    app = make_app(env)
    write_faults(app.state_dir, leak_mb_per_second=3, leak_max_mb=5)
    app.memory_tick()
    assert app.ballast.held_mb == 3
    app.memory_tick()
    app.memory_tick()
    assert app.ballast.held_mb == 5  # the cap
    write_faults(app.state_dir)  # the fault gone: no more growth, but nothing is given back
    app.memory_tick()
    assert app.ballast.held_mb == 5
    warnings = [line for line in logged(app) if line.get("event") == "memory_high"]
    assert len(warnings) == 1 and warnings[0]["level"] == "WARN"  # once, then at most once a minute
    assert warnings[0]["message"].startswith("memory usage high: rss ")


def test_send_telegram_message_posts_to_the_bot_api_stand_in(env, receiver, tmp_path):
    env.update(CCTELEGRAM_TELEGRAM_API_URL=receiver.url + "/", CCTELEGRAM_BOT_TOKEN_FILE=str(tmp_path / "bot_token"),
               CCTELEGRAM_TELEGRAM_CHAT_ID="@oncall")
    app = make_app(env)
    body = json.dumps({"message": "Auto-recovery successful", "source": "monitoring"}).encode()
    resp = call(app, "POST", "/tools/send_telegram_message", body=body)
    assert resp.status == 200 and resp.body == {"ok": True, "message_id": 41, "simulated": False}
    assert receiver.received == [("/bot%s/sendMessage" % TOKEN, {"chat_id": "@oncall",
                                                                 "text": "Auto-recovery successful"})]
    assert not os.path.exists(os.path.join(app.state_dir, cctelegram_mcp.OUTBOX))  # the stand-in got it
    receiver.answer = (401, {"ok": False, "description": "Unauthorized: bot%s" % TOKEN})
    resp = call(app, "POST", "/tools/send_telegram_message", body=body)
    assert resp.status == 502 and resp.body["error"] == "telegram_unavailable"
    assert resp.body["detail"].startswith("HTTP 401") and TOKEN not in json.dumps(resp.body)
    receiver.close()
    resp = call(app, "POST", "/tools/send_telegram_message", body=body)
    assert resp.status == 502 and resp.body["detail"].startswith("unreachable: ")
    assert "telegram_unavailable" in json.dumps(resp.body)
    lines = app.log.stream.getvalue()
    assert "send failed: Telegram Bot API HTTP 401" in lines and TOKEN not in lines
    assert TOKEN not in repr(app.config)


def test_send_message_errors_never_hold_the_token(receiver):
    receiver.answer = (200, {"ok": False, "description": "chat not found for bot%s" % TOKEN})
    with pytest.raises(TelegramError) as info:
        send_message(receiver.url, TOKEN, "@x", "hi", timeout=2)
    assert TOKEN not in str(info.value) and str(info.value).startswith("HTTP 200")


@pytest.mark.parametrize("url, token_file, word", [
    ("http://127.0.0.1:1", None, "set both or neither"),
    (None, "bot_token", "set both or neither"),
    ("http://api.telegram.org", "bot_token", "must name a loopback host"),
    ("http://u:pw@127.0.0.1:1", "bot_token", "must not carry credentials"),
    ("ftp://127.0.0.1:1", "bot_token", "must be a http URL"),
])
def test_bad_telegram_settings(env, tmp_path, url, token_file, word):
    if url:
        env["CCTELEGRAM_TELEGRAM_API_URL"] = url
    if token_file:
        env["CCTELEGRAM_BOT_TOKEN_FILE"] = str(tmp_path / token_file)
    with pytest.raises(ConfigError, match=word) as info:
        cctelegram_mcp.load_config(env)
    assert TOKEN not in str(info.value) and "pw" not in str(info.value)
