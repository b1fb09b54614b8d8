"""playbooks/lego-full-recovery.yml on the LEGO stack (seed 001, "Runbook: Full System Recovery"): a pg_dump of the
stack's database, the `namespace-wiped` fault, then the playbook brings the namespace back from the inventory and the
shipped manifests, restores the dump (a change written after it is gone again) and proves the data: pods healthy,
the equipment rows and the HSM-signed audit chain as dumped. Check mode on the wiped namespace changes nothing; a
missing or unverified dump is refused with nothing touched.

The project has no backup path for a plain PostgreSQL server (loyalty-backup dumps inside its compose container,
gateway_backup is the 1C gateway's), so the dump is taken here as an operator's cron would: pg_dump -Fc as the
database's owner, its password in PGPASSWORD."""

import json
import os
import subprocess
import urllib.request

from lego_playbook_runs import lego_inventory, report, run_lego_playbook
from mcpops.lab.lego import dashboard, faults
from mcpops.lab.lego.stack import DB_NAME, DB_USER, NAMESPACE

PLAYBOOK = "lego-full-recovery"


def summary_of(report_dir):
    """The run's summary lines (runbook_summary), one text."""
    return "\n".join(line for entry in report(report_dir)["summary"] for line in entry["lines"])


def db_state(stack):
    """The equipment rows and the audit chain (id, hash, signed_by), as the database holds them."""
    with stack.pg.admin(dbname=DB_NAME) as conn:
        equipment = conn.execute("SELECT equipment_id, status FROM equipment ORDER BY 1").fetchall()
        chain = conn.execute("SELECT id, hash, signed_by FROM audit_log ORDER BY id").fetchall()
    return {"equipment": [list(r) for r in equipment], "audit": [list(r) for r in chain]}


def objects(stack):
    """{kind/name: resourceVersion} of the namespace's objects, the namespace itself included (absent: {})."""
    proc = stack.plane.kubectl("get", "namespace", NAMESPACE, "-o", "json", check=False)
    if proc.returncode != 0:
        return {}
    found = {"namespace": json.loads(proc.stdout)["metadata"]["resourceVersion"]}
    listed = stack.get_json("deployments,statefulsets,replicasets,pods,services,networkpolicies,secrets,configmaps")
    for item in listed["items"]:
        found["%s/%s" % (item["kind"], item["metadata"]["name"])] = item["metadata"]["resourceVersion"]
    return found


def set_status(stack, equipment_id, status):
    """POST a status change to a Ready dashboard pod: the change and its HSM-signed audit record."""
    url = sorted(stack.dashboard_urls().values())[0] + "/api/v8/equipment/%s/status" % equipment_id
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, data=json.dumps({"status": status, "actor": "recovery-test"}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with opener.open(request, timeout=10) as answer:
        body = json.loads(answer.read().decode())
    assert body["signed_by"] == "hsm", body
    return body


def take_dump(stack, directory, name="lego_mcp.dump"):
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    env = dict(os.environ, PGPASSWORD=stack.db_password)
    subprocess.run([os.path.join(stack.pg.bindir, "pg_dump"), "-Fc", "-h", "127.0.0.1", "-p", str(stack.pg.port),
                    "-U", DB_USER, "-f", str(path), DB_NAME], env=env, check=True, capture_output=True, timeout=120)
    return path


def test_a_wiped_namespace_is_recovered_from_the_latest_verified_dump(lego_stack, tmp_path):
    stack = lego_stack
    inventory = lego_inventory(stack, tmp_path / "inventory")
    set_status(stack, "PRN-002", "operational")
    set_status(stack, "LSR-001", "maintenance")
    dumps = tmp_path / "dumps"
    take_dump(stack, dumps, "lego_mcp_older.dump")
    os.utime(dumps / "lego_mcp_older.dump", (1, 1))  # an old one: the newest is chosen
    set_status(stack, "CNC-001", "idle")
    dumped = db_state(stack)
    take_dump(stack, dumps)
    assert len(dumped["audit"]) >= 3
    # written after the dump: the restore must take the database back to the dump
    set_status(stack, "ARM-001", "offline")
    assert db_state(stack) != dumped

    faults.inject(stack, "namespace-wiped")
    try:
        before = db_state(stack)
        checked = run_lego_playbook(inventory, tmp_path / "report-check", PLAYBOOK, {"dump_dir": str(dumps)},
                                    flags=["--check"])
        assert checked.returncode == 0, checked.stdout[-5000:] + checked.stderr[-2000:]
        assert objects(stack) == {}, "check mode created objects"
        assert db_state(stack) == before, "check mode changed the database"
        assert "would create the namespace lego-mcp" in checked.stdout

        proc = run_lego_playbook(inventory, tmp_path / "report", PLAYBOOK, {"dump_dir": str(dumps)})
        assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
        # the namespace is back, every dashboard pod healthy with the HSM, celery-worker available
        assert stack.healthy() is True
        secret = stack.get_json("secret", "lego-mcp-secrets")
        assert set(secret["data"]) == {"database-url", "db-password", "api-key"}
        # the database is the dump's: the change written after it is gone, the chain as dumped
        assert db_state(stack) == dumped
        answers = [dashboard.get_json(url + "/api/v8/equipment") for url in stack.dashboard_urls().values()]
        served = {(r["equipment_id"], r["status"]) for r in answers[0][1]["data"]}
        assert served == {tuple(r) for r in dumped["equipment"]}
        summary = summary_of(tmp_path / "report")
        assert "RTO 4.0 h: within" in summary and "the RPO of 1.0 h" in summary, summary
        assert "%d records verified end to end" % len(dumped["audit"]) in summary, summary
        # the smoke test is the shared role's (lego_smoke_test), without its write by default
        assert "Dashboard 2 pods healthy, equipment API %d rows;" % len(dumped["equipment"]) in summary, summary
        assert "audit-signed write" not in summary, summary
        assert "lego_mcp.dump" in summary and "lego_mcp_older" not in summary
        for text in (proc.stdout, proc.stderr, checked.stdout, json.dumps(report(tmp_path / "report"))):
            assert stack.db_password not in text and stack.api_key not in text
    finally:
        faults.repair(stack, "namespace-wiped")


def test_a_missing_or_unverified_dump_is_refused_with_nothing_touched(lego_stack, tmp_path):
    stack = lego_stack
    inventory = lego_inventory(stack, tmp_path / "inventory")
    empty = tmp_path / "empty"
    empty.mkdir()
    broken = tmp_path / "broken"
    broken.mkdir()
    good = take_dump(stack, tmp_path / "good")
    (broken / "lego_mcp.dump").write_bytes(good.read_bytes()[:200])  # truncated: its table of contents is cut
    before_objects, before_db = objects(stack), db_state(stack)

    missing = run_lego_playbook(inventory, tmp_path / "report-missing", PLAYBOOK, {"dump_dir": str(empty)})
    assert missing.returncode != 0
    assert "No dump at all in %s" % empty in missing.stdout and "Nothing was changed" in missing.stdout

    unverified = run_lego_playbook(inventory, tmp_path / "report-broken", PLAYBOOK, {"dump_dir": str(broken)})
    assert unverified.returncode != 0
    assert "is not verified" in unverified.stdout and "Nothing was changed" in unverified.stdout

    bad = run_lego_playbook(inventory, tmp_path / "report-bad", PLAYBOOK, {"dump_dir": "relative/dir"})
    assert bad.returncode != 0 and "Bad input" in bad.stdout

    # check mode on the standing namespace: the applies are the API server's dry run, the restore is skipped
    checked = run_lego_playbook(inventory, tmp_path / "report-check", PLAYBOOK, {"dump_dir": str(good.parent)},
                                flags=["--check"])
    assert checked.returncode == 0, checked.stdout[-5000:] + checked.stderr[-2000:]
    assert "Check mode: would replace the contents of database lego_mcp" in checked.stdout
    assert stack.db_password not in checked.stdout and stack.api_key not in checked.stdout

    assert objects(stack) == before_objects and db_state(stack) == before_db
    assert stack.healthy() is True
