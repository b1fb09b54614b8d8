"""`mcpops drill loyalty-db-unavailable --lab compose` on the session's compose lab (conftest.py's loyalty_lab: the
drill uses that project and its engine, it starts no second dockerd): the fault (postgres stopped) injected, the
runbook run through mcpops.run.runner, postgres running and the API ready again, the verdict PASSED with its
"recovered in N s", drill.md and the incident report in the run dir, no secret of the lab in any file of it, and the
lab left running (the drill did not start it)."""

from mcpops.drill import command
from mcpops.drill.compose_drill_lab import ComposeDrillLab
from mcpops.drill.scenarios import COMPOSE, LOYALTY

READY_TIMEOUT = 60  # seconds for the session's lab to be ready on a loaded 2-core machine
SECRETS = ("metrics_token", "db_password", "pg_superuser_password", "telegram_bot_token")


def test_the_db_unavailable_drill_breaks_the_session_lab_and_the_runbook_recovers_it(loyalty_lab, tmp_path):
    loyalty_lab.wait_ready(timeout=READY_TIMEOUT)
    runbook, scenario = command.plan("loyalty-db-unavailable", None, COMPOSE, LOYALTY)
    assert scenario.fault == "postgres-down"
    lab = ComposeDrillLab(lab=loyalty_lab)
    said = []
    try:
        verdict = command.drill(lab, runbook, scenario, out=said.append, runs_dir=tmp_path / "runs")
    finally:
        if loyalty_lab.states().get("postgres", ("?",))[0] != "running":  # the session's lab: never left broken
            loyalty_lab.repair("postgres-down")
    output = "\n".join(str(line) for line in said)
    assert verdict.passed, output[-4000:]
    assert verdict.injected == ["loyalty-compose: postgres-down: injected"]
    assert verdict.runbook_exit == 0 and verdict.recover_seconds is not None
    assert verdict.summary() == ("drill loyalty-db-unavailable (postgres-down, loyalty-api on the compose lab): "
                                 f"PASSED, recovered in {verdict.recover_seconds:.1f}s")
    checks = {check.name: check for check in verdict.checks}
    assert checks["postgres_running"].ok and checks["postgres_running"].detail == "compose service postgres: running"
    assert checks["healthy"].ok and "/ready 200" in checks["healthy"].detail
    # between the fault and the run the drill saw it broken: the api's /ready names the database
    assert "loyalty-compose: service running; /live 200; /ready 503" in output
    assert "== 6/6 Lab left running (it was running before the drill)" in output
    assert loyalty_lab.states()["postgres"][0] == "running" and loyalty_lab.get("/ready")[0] == 200
    run_dir = tmp_path / "runs"
    (drill_md,) = run_dir.glob("*/drill.md")
    assert "**Verdict: PASSED**" in drill_md.read_text()
    assert (drill_md.parent / "report.md").is_file()
    for path in (p for p in run_dir.rglob("*") if p.is_file()):
        text = path.read_bytes()
        for name in SECRETS:
            assert loyalty_lab.secret(name).encode() not in text, f"{name} is in {path}"
