"""roles/auto_recovery/files/mcpops_auto_recovery.py, the program the auto-recovery timer runs on each host: its
decision (healthy, recovered, not recovered, flap guard tripped, then holding), its state file (atomic, a corrupt
one read as an empty history and said so), its textfile metrics and its config checks. The host (clock, systemctl,
HTTP, journal) is a fake; tests/fleet/test_cctelegram_auto_recovery.py runs it under a real systemd."""

import importlib.util
import json
import os
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

PROGRAM = Path(__file__).resolve().parents[3] / "roles" / "auto_recovery" / "files" / "mcpops_auto_recovery.py"
_spec = importlib.util.spec_from_file_location("mcpops_auto_recovery", PROGRAM)
ar = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ar)

KEY = "cctg_secret-key-never-printed-0123456789"


class FakeHost:
    """health answers from a script (one value per check, the last one repeated); restart succeeds or not."""

    def __init__(self, config, health=(False, True), restart_ok=True, now=1_000_000.0):
        self.config = config
        self.answers = list(health)
        self.restart_ok = restart_ok
        self.clock = now
        self.lines, self.posts, self.restarts, self.checks = [], [], 0, 0

    def now(self):
        return self.clock

    def sleep(self, seconds):
        self.clock += seconds

    def say(self, line):
        self.lines.append(line)

    def health(self):
        self.checks += 1
        ok = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return ok, "HTTP 200" if ok else "HTTP 503"

    def restart(self):
        self.restarts += 1
        return self.restart_ok, "" if self.restart_ok else "Job for x.service failed"

    def post(self, url, body, api_key=False):
        self.posts.append((url, body, api_key))
        return True, 200


def config(tmp_path, **over):
    key_file = tmp_path / "api_key"
    key_file.write_text(KEY + "\n")
    base = dict(ar.DEFAULTS, unit="cctelegram-mcp", health_url="http://127.0.0.1:8080/health",
                api_key_file=str(key_file), notify_url="http://127.0.0.1:8080/tools/send_telegram_message",
                escalation_webhook="http://127.0.0.1:9999/hooks/escalate/tok3n", max_restarts=3, window_minutes=30,
                verify_seconds=5, state_file=str(tmp_path / "state" / "state.json"),
                metrics_file=str(tmp_path / "textfile" / "mcpops_auto_recovery.prom"), host="fleet1")
    base.update(over)
    return base


def samples(path):
    return {(s.name, s.labels.get("result", "")): s.value
            for family in text_string_to_metric_families(Path(path).read_text()) for s in family.samples}


# -- the decision ---------------------------------------------------------------------------------------------

def test_healthy_does_nothing(tmp_path):
    cfg = config(tmp_path)
    host = FakeHost(cfg, health=(True,))
    result, state = ar.run_once(cfg, ar.empty_state(), host)
    assert result == "healthy" and host.restarts == 0 and host.posts == []
    assert state["restarts"] == [] and state["restarts_total"] == 0 and state["last_result"] == "healthy"


def test_unhealthy_is_restarted_verified_and_notified(tmp_path):
    cfg = config(tmp_path)
    host = FakeHost(cfg, health=(False, False, True))  # the check, one failed poll, then back
    result, state = ar.run_once(cfg, ar.empty_state(), host)
    assert result == "recovered" and host.restarts == 1
    assert state["restarts_total"] == 1 and state["escalations_total"] == 0 and len(state["restarts"]) == 1
    # The seed's notification: the local service's send_telegram_message, with the API key; no escalation.
    [(url, body, with_key)] = host.posts
    assert url == cfg["notify_url"] and with_key is True
    assert body == {"message": "Auto-recovery successful: cctelegram-mcp on fleet1 restarted and healthy",
                    "source": "monitoring"}
    assert not any("ESCALATION" in line for line in host.lines)


def test_not_recovered_escalates_loudly(tmp_path):
    cfg = config(tmp_path, verify_seconds=3)
    host = FakeHost(cfg, health=(False,))
    result, state = ar.run_once(cfg, ar.empty_state(), host)
    assert result == "not_recovered" and host.restarts == 1 and host.checks == 5  # the check, polls at 0..3 s
    assert state["escalations_total"] == 1 and state["restarts_total"] == 1
    [(url, body, with_key)] = host.posts
    assert url == cfg["escalation_webhook"] and with_key is False  # the service's key goes to the service only
    assert body["event"] == "not_recovered" and "still unhealthy 3 s after a restart (HTTP 503)" in body["text"]
    assert any(line.startswith("ESCALATION: Auto-recovery failed: cctelegram-mcp on fleet1") for line in host.lines)


def test_a_restart_that_fails_is_escalated_without_waiting(tmp_path):
    cfg = config(tmp_path, verify_seconds=30)
    host = FakeHost(cfg, health=(False,), restart_ok=False)
    result, _state = ar.run_once(cfg, ar.empty_state(), host)
    assert result == "not_recovered" and host.checks == 1
    assert "restart failed: Job for x.service failed" in host.posts[0][1]["text"]


def test_flap_guard_trips_after_n_restarts_in_the_window_then_holds(tmp_path):
    cfg = config(tmp_path, max_restarts=3, window_minutes=30)
    state = ar.empty_state()
    host = FakeHost(cfg, health=(False, True))
    for _ in range(3):  # three breaks, each cured by a restart, a few minutes apart
        host.answers = [False, True]
        assert ar.run_once(cfg, state, host)[0] == "recovered"
        host.clock += 300
    host.answers = [False]
    host.posts.clear()
    result, state = ar.run_once(cfg, state, host)
    assert result == "flap_guard" and host.restarts == 3  # no fourth restart
    assert state["escalations_total"] == 1 and state["flap_escalated_at"] == host.clock
    [(url, body, _)] = host.posts
    assert url == cfg["escalation_webhook"] and body["event"] == "flap_guard"
    assert "flap guard: already 3 restarts in 30 minutes, not restarting it" in body["text"]
    # The next runs in the same window: no restart, no second escalation, and they say so.
    host.clock += 300
    result, state = ar.run_once(cfg, state, host)
    assert result == "flap_guard" and host.restarts == 3 and state["escalations_total"] == 1 and len(host.posts) == 1
    assert "flap guard holds (3 restarts in 30 minutes), escalated already at" in host.lines[-1]


def test_flap_guard_counts_only_the_window(tmp_path):
    cfg = config(tmp_path, max_restarts=2, window_minutes=10)
    state = ar.empty_state()
    state["restarts"] = [1_000_000.0 - 700, 1_000_000.0 - 100]  # one outside the 10 minutes, one inside
    host = FakeHost(cfg, health=(False, True))
    assert ar.run_once(cfg, state, host)[0] == "recovered"
    assert state["restarts"] == [1_000_000.0 - 100, 1_000_000.0]  # the old one forgotten
    assert ar.decide(state, False, 1_000_000.0, 2, 600) == "escalate_flap"
    assert ar.decide(state, False, 1_000_000.0 + 600, 2, 600) == "restart"  # both aged out
    assert ar.decide(state, True, 1_000_000.0, 2, 600) == "none"


def test_flap_guard_escalates_again_in_a_new_window(tmp_path):
    state = dict(ar.empty_state(), restarts=[100.0, 200.0, 300.0], flap_escalated_at=310.0)
    assert ar.decide(state, False, 400.0, 3, 600) == "hold"
    state["restarts"] = [700.0, 800.0, 900.0]
    assert ar.decide(state, False, 950.0, 3, 600) == "escalate_flap"


# -- state and metrics, through main() ------------------------------------------------------------------------

def run_main(tmp_path, cfg, host):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    return ar.main(["--config", str(path)], host_factory=lambda c: host)


def test_main_writes_state_and_metrics_atomically(tmp_path):
    cfg = config(tmp_path)
    host = FakeHost(cfg, health=(False, True))
    assert run_main(tmp_path, cfg, host) == 0
    state = json.loads(Path(cfg["state_file"]).read_text())
    assert state["restarts_total"] == 1 and state["last_result"] == "recovered"
    assert os.stat(cfg["state_file"]).st_mode & 0o777 == 0o600
    got = samples(cfg["metrics_file"])
    assert got[("mcpops_auto_recovery_restarts_total", "")] == 1
    assert got[("mcpops_auto_recovery_escalations_total", "")] == 0
    assert got[("mcpops_auto_recovery_last_run_timestamp_seconds", "")] == 1_000_000
    assert got[("mcpops_auto_recovery_last_result", "recovered")] == 1
    assert got[("mcpops_auto_recovery_last_result", "healthy")] == 0
    # No temp file left beside either file.
    for path in (cfg["state_file"], cfg["metrics_file"]):
        assert sorted(os.listdir(os.path.dirname(path))) == [os.path.basename(path)]
    # The next run (healthy) keeps the counters.
    host2 = FakeHost(cfg, health=(True,), now=1_000_060.0)
    assert run_main(tmp_path, cfg, host2) == 0
    got = samples(cfg["metrics_file"])
    assert got[("mcpops_auto_recovery_restarts_total", "")] == 1
    assert got[("mcpops_auto_recovery_last_result", "healthy")] == 1
    # Flap guard and failures exit 1: the oneshot unit shows failed.
    host3 = FakeHost(cfg, health=(False,), now=1_000_120.0)
    assert run_main(tmp_path, dict(cfg, verify_seconds=1), host3) == 1


@pytest.mark.parametrize("content", ["{\"version\": 1, \"restarts\": [1, 2", "[]", "{\"version\": 7, \"restarts\": []}",
                                     "{\"version\": 1, \"restarts\": [\"x\"]}"])
def test_corrupt_state_is_an_empty_history_said_out_loud(tmp_path, content):
    cfg = config(tmp_path)
    Path(cfg["state_file"]).parent.mkdir(parents=True)
    Path(cfg["state_file"]).write_text(content)
    host = FakeHost(cfg, health=(False, True))
    assert run_main(tmp_path, cfg, host) == 0
    assert host.restarts == 1
    assert host.lines[0].startswith("WARNING: state file %s" % cfg["state_file"]) and "empty history" in host.lines[0]
    state = json.loads(Path(cfg["state_file"]).read_text())  # rewritten whole
    assert state["version"] == 1 and state["restarts_total"] == 1


def test_a_crash_before_the_rename_leaves_the_old_state(tmp_path, monkeypatch):
    path = tmp_path / "state.json"
    ar.save_state(str(path), dict(ar.empty_state(), restarts_total=4))

    def boom(src, dst):
        raise OSError("disk gone")

    monkeypatch.setattr(ar.os, "replace", boom)
    with pytest.raises(OSError):
        ar.save_state(str(path), dict(ar.empty_state(), restarts_total=5))
    state, problem = ar.load_state(str(path))
    assert problem is None and state["restarts_total"] == 4
    assert os.listdir(tmp_path) == ["state.json"]  # the temp file removed


def test_the_key_is_read_from_its_file_and_never_said(tmp_path):
    cfg = config(tmp_path)
    real = ar.Host(cfg)
    assert real.api_headers() == {"X-API-Key": KEY}
    host = FakeHost(cfg, health=(False,))
    run_main(tmp_path, dict(cfg, verify_seconds=1), host)
    text = "\n".join(host.lines) + json.dumps(host.posts) + Path(cfg["state_file"]).read_text()
    assert KEY not in text and "tok3n" not in "\n".join(host.lines)  # a webhook's path is not logged


@pytest.mark.parametrize("change, said", [
    ({"unit": ""}, "unit is required"),
    ({"max_restarts": 0}, "max_restarts must be a whole number"),
    ({"window_minutes": "30"}, "window_minutes must be a whole number"),
    ({"escalation_webhook": "file:///etc/passwd"}, "escalation_webhook must be an http(s) URL"),
])
def test_bad_config_is_refused_naming_the_field(tmp_path, change, said):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(dict(config(tmp_path), **change)))
    with pytest.raises(ar.ConfigError, match=said.replace("(", r"\(").replace(")", r"\)")):
        ar.load_config(str(path))


def test_a_run_that_cannot_read_the_key_escalates_and_records_an_error(tmp_path):
    cfg = config(tmp_path, api_key_file=str(tmp_path / "no-such-key"))

    class NoKeyHost(FakeHost):
        api_headers = ar.Host.api_headers  # the real one: reads the key file

        def health(self):
            return ar.Host.health(self)  # the real check: headers first, so no request is made

    host = NoKeyHost(cfg)
    assert run_main(tmp_path, cfg, host) == 1
    assert host.restarts == 0
    [(url, body, _)] = host.posts
    assert url == cfg["escalation_webhook"] and body["event"] == "error" and "no-such-key" in body["text"]
    assert samples(cfg["metrics_file"])[("mcpops_auto_recovery_last_result", "error")] == 1
