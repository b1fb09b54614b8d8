"""bench/loyalty_quick_check.py's pure parts: the seed's commands it times (one after the other, the metrics token on
no command line) and how each side's findings are read, so that the two can be compared."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "bench"))

import loyalty_quick_check as bench  # noqa: E402

SERVICES = ["api", "postgres", "redis", "worker"]


def test_the_seed_script_runs_each_command_once_and_the_token_comes_from_stdin():
    script = bench.seed_script()
    assert script.count("docker compose --env-file .env.production -f docker-compose.production.yml") == 2
    assert script.count("curl -sS") == len(bench.SMOKE)
    assert "logs api --tail=1000" in script
    assert "printf 'X-Metrics-Token: %s\\n' \"$METRICS_TOKEN\" | curl -sS -o \"$OUT/check_metrics\".body" in script
    assert "$METRICS_TOKEN" not in script.replace("\"$METRICS_TOKEN\" | curl", "")  # only ever printf's argument
    assert subprocess.run(["bash", "-n", "-c", script]).returncode == 0


def write_seed_outputs(out, ps, codes):
    (out / "ps.out").write_text(ps)
    for name, (_, expected, _) in bench.SMOKE.items():
        (out / ("%s.code" % name.replace(" ", "_"))).write_text(str(codes.get(name, expected)))


def test_the_seed_side_finds_what_is_not_running_and_what_does_not_answer_as_expected(tmp_path):
    write_seed_outputs(tmp_path, "api running\npostgres running\nredis running\nworker running\n", {})
    assert bench.seed_findings(tmp_path, SERVICES) == set()
    write_seed_outputs(tmp_path, "api running\npostgres exited\nredis running\nworker running\n",
                       {"check ready": 503, "check balance": 503})
    assert bench.seed_findings(tmp_path, SERVICES) == {"not running: postgres", "check ready", "check balance"}
    write_seed_outputs(tmp_path, "api running\n", {"check live": "000"})  # no container at all, nothing answered
    assert bench.seed_findings(tmp_path, SERVICES) == {"not running: postgres", "not running: redis",
                                                       "not running: worker", "check live"}


def test_the_playbook_side_reads_its_summary_and_keeps_the_metrics_breaches_apart():
    lines = ["containers not running: postgres, redis",
             "check ready (GET http://127.0.0.1:34725/ready): HTTP 503, expected 200; condition 'status == ok' failed",
             "check balance (GET http://127.0.0.1:34725/api/v1/loyalty/balance/mcpops-smoke-absent): HTTP 503, "
             "expected 404",
             "http_5xx_per_min: 12.0 over the threshold 5.0"]
    compared, breaches = bench.playbook_findings(lines)
    assert compared == {"not running: postgres", "not running: redis", "check ready", "check balance"}
    assert breaches == ["http_5xx_per_min: 12.0 over the threshold 5.0"]
    assert bench.playbook_findings(["Quick check: nothing wrong found"]) == (set(), [])


def test_the_in_process_side_gives_the_entry_point_what_the_playbook_gives_the_module(tmp_path):
    """entry_point_params of a lab pass the entry point's input checks (profile checks, the metrics check's secret,
    the project's files): every request is planned, none sent."""
    import types

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "src"))
    from ansible_collections.mcpops.runbooks.plugins.module_utils._service import loyalty_quick_check_run

    secrets = {"metrics_token": "CANARY-bench-metrics", "db_password": "CANARY-bench-db"}
    lab = types.SimpleNamespace(url="http://127.0.0.1:9", dir=tmp_path, secret=secrets.get,
                                docker=types.SimpleNamespace(host="unix:///x.sock", cli="/usr/bin/docker",
                                                             config_dir="/x/config"))
    params = bench.entry_point_params(lab)
    plan = loyalty_quick_check_run._plan(params)
    assert [spec["name"] for spec, _ in plan["smoke_planned"]] == ["live", "health", "ready", "metrics"]
    assert plan["smoke_planned"][3][1]["headers"]["X-Metrics-Token"] == "CANARY-bench-metrics"
    assert params["mask"] == ["CANARY-bench-db"] and params["log_lines"] == 1000
    assert plan["argv"][-2:] == ["--env-file=%s/.env.production" % tmp_path,
                                 "--file=%s/docker-compose.production.yml" % tmp_path]
