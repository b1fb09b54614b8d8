"""The morning health check's certificate and PostgreSQL steps against real components: the local lab's
gateway, real TLS endpoints (mcpops.lab.fixtures.tls_server) serving certificates of the test CA that expire in a
known number of days, and the tests' private PostgreSQL cluster with client sessions the test opens.
Run through `mcpops run` as cron runs it; the pg password is the canary and must never come back."""

import json
import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

from mcpops.lab.fixtures.ca import TestCA
from mcpops.lab.fixtures.tls_server import TlsServerProcess
from pg_testbed import CANARY, PASSWORDS, cluster, sessions  # noqa: F401 (fixtures)
from local_lab_helpers import make_lab
from mcpops_command import files_containing, mcpops, only_run_dir

DAYS = {"fresh": 40, "warn": 20, "failing": 3}


def metric_samples(path):
    """[(name, labels, value)] of a .prom file, read by Prometheus' own parser."""
    return [(s.name, s.labels, s.value) for family in text_string_to_metric_families(path.read_text())
            for s in family.samples]


def one(samples, name, **labels):
    found = [v for n, lab, v in samples if n == name and all(lab.get(k) == w for k, w in labels.items())]
    assert len(found) == 1, (name, labels, samples)
    return found[0]


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    """One TLS listener per DAYS entry, each serving a test-CA leaf for 127.0.0.1 valid that many days."""
    directory = tmp_path_factory.mktemp("tls")
    ca = TestCA()
    endpoints = []
    for name, days in DAYS.items():
        cert, key = ca.issue(["127.0.0.1"], days=days).write(directory / (name + ".crt"), directory / (name + ".key"))
        endpoints.append({"name": name, "host": "127.0.0.1", "port": 0, "cert": cert, "key": key})
    server = TlsServerProcess(directory, endpoints)
    ports = server.start()
    yield {"ca": ca.write_root(directory / "root.crt"),
           "target": {name: "127.0.0.1:%d" % port for name, port in ports.items()}}
    server.stop()


@pytest.fixture
def lab(tmp_path):
    lab = make_lab(tmp_path / "lab")
    yield lab
    lab.down()


def health_check(lab, runs_dir, metrics, tls, cluster, endpoints, *extra):
    args = ["run", "health-check", "-i", "inventories/lab", "-e", "metrics_dir=%s" % metrics,
            "-e", "cert_endpoints=%s" % json.dumps([tls["target"][e] for e in endpoints]),
            "-e", "cert_ca_path=%s" % tls["ca"],
            "-e", "pg_login_host=127.0.0.1", "-e", "pg_login_port=%d" % cluster.port,
            "-e", "pg_login_user=dba", "-e", "pg_login_password=%s" % PASSWORDS["dba"]] + list(extra)
    proc = mcpops(*args, lab_dir=lab.state_dir, runs_dir=runs_dir)
    assert CANARY not in proc.stdout + proc.stderr
    assert files_containing(runs_dir, [CANARY]) == [] and files_containing(metrics, [CANARY]) == []
    return proc


def test_certificates_and_connections_measured_warned_and_failed(lab, tls, cluster, sessions, tmp_path):
    for n in range(5):
        sessions.open("idle%d" % n)
    metrics = tmp_path / "textfile"
    metrics.mkdir()

    # Within the thresholds but for warnings: a cert under 30 days, connections over a 1% warning.
    proc = health_check(lab, tmp_path / "warned", metrics, tls, cluster, ["fresh", "warn"],
                        "-e", "pg_conn_warn_percent=1")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    # The warnings are in the summary of the report (report.md, report.json), the run is ok.
    report = json.loads((only_run_dir(tmp_path / "warned") / "report.json").read_text())
    assert report["status"] == "ok"
    summary = "\n".join(line for entry in report["summary"] for line in entry["lines"])
    warned = re.search(r"certificate of %s expires in (\d+) days" % re.escape(tls["target"]["warn"]), summary)
    assert warned and abs(int(warned.group(1)) - DAYS["warn"]) <= 1, summary
    assert "at or over pg_conn_warn_percent 1" in summary and tls["target"]["fresh"] + " ok" in summary, summary
    samples = metric_samples(metrics / "mcpops_health_check.prom")
    for name in ("fresh", "warn"):
        days = one(samples, "mcpops_cert_days_left", endpoint=tls["target"][name])
        assert abs(days - DAYS[name]) <= 1, (name, days)
        assert one(samples, "mcpops_cert_ok", endpoint=tls["target"][name]) == 1
    server = "127.0.0.1:%d" % cluster.port
    by_state = {lab_["state"]: v for n, lab_, v in samples if n == "mcpops_pg_connections"}
    assert by_state.get("idle", 0) >= 5 and by_state.get("active", 0) >= 1, by_state  # ours, and the module's own
    assert one(samples, "mcpops_pg_max_connections", server=server) == cluster.max_connections == 200
    ratio = one(samples, "mcpops_pg_connections_used_ratio", server=server)
    assert ratio == pytest.approx(sum(by_state.values()) / 200)
    assert one(samples, "mcpops_runbook_last_run_ok") == 1 and one(samples, "mcpops_gateway_healthy") == 1
    certs = [e["facts"] for e in report["evidence"] if e["module"].endswith("cert_check")]
    days = {c["target"]: c["days_left"] for c in certs[0]["certificates"]}
    assert days.keys() == {tls["target"]["fresh"], tls["target"]["warn"]}
    assert all(abs(days[tls["target"][n]] - DAYS[n]) <= 1 for n in ("fresh", "warn")), days
    assert report["extra_vars"]["pg_login_password"] == "********"

    # Over the thresholds: a cert with 3 days left (under cert_fail_days 7), connections at or over 2%.
    proc = health_check(lab, tmp_path / "failed", metrics, tls, cluster, ["failing", "fresh"],
                        "-e", "pg_conn_warn_percent=1", "-e", "pg_conn_fail_percent=2")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out[-4000:]
    assert "Health check of lab-gateway found" in out
    assert "certificate of %s: critical" % tls["target"]["failing"] in out
    assert "at or over 2.0%" in out or "at or over 2%" in out, out[-4000:]
    samples = metric_samples(metrics / "mcpops_health_check.prom")
    assert abs(one(samples, "mcpops_cert_days_left", endpoint=tls["target"]["failing"]) - DAYS["failing"]) <= 1
    assert one(samples, "mcpops_cert_ok", endpoint=tls["target"]["failing"]) == 0
    assert one(samples, "mcpops_cert_ok", endpoint=tls["target"]["fresh"]) == 1
    assert one(samples, "mcpops_runbook_last_run_ok") == 0
    assert one(samples, "mcpops_gateway_healthy") == 1  # the other steps' metrics are still written

    # --check: the same checks and findings, no metrics written.
    written = (metrics / "mcpops_health_check.prom").read_bytes()
    proc = health_check(lab, tmp_path / "checked", metrics, tls, cluster, ["failing"], "--check",
                        "-e", "pg_conn_warn_percent=1", "-e", "pg_conn_fail_percent=2")
    assert proc.returncode == 2 and "certificate of %s: critical" % tls["target"]["failing"] in proc.stdout + proc.stderr
    assert (metrics / "mcpops_health_check.prom").read_bytes() == written

    # Thresholds out of order are refused before anything is checked.
    proc = health_check(lab, tmp_path / "refused", metrics, tls, cluster, ["fresh"], "-e", "pg_conn_fail_percent=2")
    assert proc.returncode == 2 and "Bad input" in proc.stdout + proc.stderr
    timeline = json.loads((only_run_dir(tmp_path / "refused") / "report.json").read_text())["timeline"]
    assert [e["status"] for e in timeline] == ["failed"], timeline


def test_unreachable_database_is_a_finding_and_the_password_stays_hidden(lab, tls, cluster, tmp_path):
    """A wrong password: the step reports what came back without the password, the run fails, and the
    metrics of every other step are written."""
    metrics = tmp_path / "textfile"
    metrics.mkdir()
    args = ["run", "health-check", "-i", "inventories/lab", "-e", "metrics_dir=%s" % metrics,
            "-e", "pg_login_host=127.0.0.1", "-e", "pg_login_port=%d" % cluster.port,
            "-e", "pg_login_user=dba", "-e", "pg_login_password=%s-wrong" % CANARY]
    proc = mcpops(*args, lab_dir=lab.state_dir, runs_dir=tmp_path / "runs")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out[-4000:]
    assert "PostgreSQL 127.0.0.1:%d not checked" % cluster.port in out
    timeline = {e["step"]: e["status"] for e in
                json.loads((only_run_dir(tmp_path / "runs") / "report.json").read_text())["timeline"]}
    assert timeline["Certificate days left: not configured, so not checked"] == "ok", timeline
    assert timeline["Step 5: Verify database health: not configured, so not checked"] == "skipped", timeline
    assert CANARY not in out
    assert files_containing(tmp_path / "runs", [CANARY]) == [] and files_containing(metrics, [CANARY]) == []
    samples = metric_samples(metrics / "mcpops_health_check.prom")
    names = {n for n, _, _ in samples}
    assert not any(n.startswith(("mcpops_cert_", "mcpops_pg_")) for n in names), names
    assert one(samples, "mcpops_gateway_healthy") == 1 and one(samples, "mcpops_runbook_last_run_ok") == 0
