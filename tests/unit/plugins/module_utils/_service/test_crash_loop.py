"""The crash-loop verdict: manager states, a rising restart count, StoreMigrationRunner in the logs."""

from ansible_collections.mcpops.runbooks.plugins.module_utils._service.crash_loop import assess, migration_errors
from ansible_collections.mcpops.runbooks.plugins.module_utils._service.status import new_status

CORRUPT = "StoreMigrationRunner: invalid JSON in tokens.json at line 2 column 1"


def status(platform="supervisor", **fields):
    base = new_status(platform, "onec-mcp-gateway")
    base.update(fields)
    return base


def test_a_healthy_service_is_not_a_crash_loop():
    verdict = assess(status(state="RUNNING", running=True, restarts=0, log_lines=["listening"]))
    assert verdict == {"crash_loop": False, "reasons": [], "restarts_rising": False, "migration_error": None,
                       "data_corrupt": False}


def test_backoff_with_the_migration_error_is_corrupt_data():
    verdict = assess(status(state="BACKOFF", restarts=2, log_lines=["onec-mcp-gateway: stopped", CORRUPT]))
    assert verdict["crash_loop"] and verdict["data_corrupt"] and verdict["migration_error"] == CORRUPT
    assert any("BACKOFF" in reason for reason in verdict["reasons"])


def test_restart_count_rising_between_two_samples():
    before = status("systemd", state="active", running=True, restarts=3)
    verdict = assess(status("systemd", state="active", running=True, restarts=5), previous=before)
    assert verdict["crash_loop"] and verdict["restarts_rising"]
    assert "rose from 3 to 5" in verdict["reasons"][0]


def test_systemd_auto_restart_substate():
    verdict = assess(status("systemd", state="activating", sub_state="auto-restart", restarts=1))
    assert verdict["crash_loop"] and "auto-restart" in verdict["reasons"][0]


def test_many_restarts_while_down_without_a_second_sample():
    assert assess(status("docker_compose", state="exited", restarts=4))["crash_loop"]
    assert not assess(status("docker_compose", state="exited", restarts=2))["crash_loop"]


def test_an_old_migration_error_in_the_logs_of_a_running_gateway_is_history():
    verdict = assess(status(state="RUNNING", running=True, restarts=0, log_lines=[CORRUPT, "listening"]))
    assert not verdict["crash_loop"] and not verdict["data_corrupt"]
    assert verdict["migration_error"] == CORRUPT


def test_a_held_lock_is_not_corrupt_data():
    line = "onec-mcp-gateway: /data/.gateway.lock is held by another process (a running gateway or a restore); not starting"
    verdict = assess(status(state="FATAL", log_lines=[line]))
    assert verdict["crash_loop"] and not verdict["data_corrupt"]


def test_migration_errors_picks_only_those_lines():
    assert migration_errors(["a", CORRUPT + "\n", "b"]) == [CORRUPT]
