"""The drill's verdict (mcpops.drill.verdict): PASSED only with the expected exit and every check passing."""

import json

from mcpops.drill.checks import Check, check_runbook_exit
from mcpops.drill.verdict import Verdict, write_verdict


def test_verdict_passes_only_with_the_expected_exit_and_every_check():
    v = Verdict(runbook="inc-003-restore", fault="corrupt-store", lab="local", targets=["lab-gateway"],
                runbook_exit=0, expected_exit=0, run_dir="/tmp/x",
                checks=[check_runbook_exit(0, 0), Check("healthy", True, "/healthz 200, /readyz 200", "lab-gateway")])
    assert v.passed and "PASSED" in v.summary()
    v.checks.append(Check("storage-meta", False, "schemaVersion 3 (expected 4)", "lab-gateway"))
    assert not v.passed and "FAILED (storage-meta)" in v.summary()
    md = v.markdown()
    assert "**Verdict: FAILED**" in md and "- FAIL storage-meta [lab-gateway]: schemaVersion 3 (expected 4)" in md
    doc = json.loads(json.dumps(v.as_dict()))
    assert doc["passed"] is False and doc["checks"][2]["name"] == "storage-meta"
    # A runbook that ended otherwise than the drill expects fails it, whatever the checks say.
    assert not Verdict(runbook="r", fault="f", lab="local", targets=[], runbook_exit=2, expected_exit=0,
                       checks=[Check("healthy", True, "")]).passed
    assert not Verdict(runbook="r", fault="f", lab="local", targets=[], runbook_exit=0, expected_exit=0).passed
    assert not check_runbook_exit(0, 2).ok and check_runbook_exit(2, 2).ok


def test_the_verdict_is_written_into_its_run_dir(tmp_path):
    v = Verdict(runbook="inc-003-restore", fault="corrupt-store", lab="local", targets=["lab-gateway"],
                runbook_exit=0, expected_exit=0, run_dir=str(tmp_path), checks=[check_runbook_exit(0, 0)])
    write_verdict(v)
    written = json.loads((tmp_path / "drill.json").read_text())
    assert written["passed"] is True and written["checks"] == [{"name": "runbook", "ok": True, "target": "",
                                                                "detail": "exit 0 (ok), expected 0 (ok)"}]
    assert (tmp_path / "drill.md").read_text() == v.markdown()


def test_the_verdict_names_the_service(tmp_path):
    v = Verdict(runbook="service-outage", fault="bridge-down", lab="fleet", targets=["fleet1", "fleet2", "fleet3"],
                runbook_exit=0, expected_exit=0, run_dir=str(tmp_path), service="cctelegram-mcp",
                checks=[check_runbook_exit(0, 0)], recover_seconds=12.3)
    assert v.summary() == ("drill service-outage (bridge-down, cctelegram-mcp on the fleet lab): PASSED, "
                           "recovered in 12.3s")
    md = v.markdown()
    assert md.startswith("# Drill: service-outage with fault bridge-down (cctelegram-mcp on the fleet lab)\n")
    assert "| service | cctelegram-mcp |" in md
    write_verdict(v)
    assert json.loads((tmp_path / "drill.json").read_text())["service"] == "cctelegram-mcp"
    # The 1C gateway's lines read as they always did; its drill.md and drill.json name it too.
    onec = Verdict(runbook="inc-003-restore", fault="corrupt-store", lab="local", targets=["lab-gateway"],
                   runbook_exit=0, expected_exit=0, checks=[check_runbook_exit(0, 0)])
    assert onec.summary() == "drill inc-003-restore (corrupt-store, local lab): PASSED, recovered"
    assert onec.markdown().startswith("# Drill: inc-003-restore with fault corrupt-store (local lab)\n")
    assert "| service | onec-gateway |" in onec.markdown() and onec.as_dict()["service"] == "onec-gateway"
