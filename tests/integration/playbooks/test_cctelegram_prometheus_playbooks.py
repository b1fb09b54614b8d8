"""cctelegram-performance-analysis.yml and cctelegram-capacity-report.yml against a real Prometheus (Debian's, private)
over a TSDB backfilled with a known week of CCTelegram metrics (cctelegram_week: growth day by day, one incident on
cct-2 on Friday 10:00-11:00 UTC), so every number asserted is derived from the week, not read back.

One Prometheus for the module. Each run gets its own report dir (MCPOPS_REPORT_DIR): the playbook's files land beside
the incident report, as under `mcpops run`."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import cctelegram_week as week
from loopback import free_port

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
TOKEN = "prom-CANARY-bearer-7c1e55d0a9"  # the proxy's bearer token: sent, never written

pytestmark = [
    pytest.mark.skipif(not (BIN / "ansible-playbook").exists(), reason="ansible-playbook not in the venv"),
    pytest.mark.skipif(not (shutil.which("prometheus") and shutil.which("promtool")),
                       reason="prometheus and promtool not found: install the Debian package prometheus"),
]


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    with week.backfilled_prometheus(tmp_path_factory.mktemp("cct-prometheus")) as server:
        yield server


def inventory(root, prometheus_url):
    path = root / "inventory.yml"
    path.write_text("all:\n  vars:\n    prometheus_url: %s\n    prometheus_bearer_token: %s\n"
                    % (json.dumps(prometheus_url), TOKEN))
    return path


def playbook(tmp_path, prometheus_url, name, *args):
    """Run playbooks/<name>.yml; (proc, report dir)."""
    report_dir = tmp_path / "report"
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=str(REPO / "collections"),
               ANSIBLE_NOCOLOR="1", PATH="%s:%s" % (BIN, os.environ.get("PATH", "")), no_proxy="127.0.0.1,localhost",
               MCPOPS_RUNS_DIR=str(tmp_path / "runs"), MCPOPS_REPORT_DIR=str(report_dir),
               ANSIBLE_LOCALHOST_WARNING="0")
    proc = subprocess.run([str(BIN / "ansible-playbook"), "playbooks/%s.yml" % name, "-i",
                           str(inventory(tmp_path, prometheus_url)), *args], cwd=REPO, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    assert TOKEN not in proc.stdout + proc.stderr
    if report_dir.exists():
        assert not [p for p in report_dir.rglob("*") if p.is_file() and TOKEN in p.read_text(errors="replace")]
    return proc, report_dir


def summary_lines(report_dir):
    report = json.loads((report_dir / "report.json").read_text())
    return [line for item in report["summary"] for line in item["lines"]]


def test_performance_analysis_finds_the_incident_in_its_window(prometheus, tmp_path):
    proc, report_dir = playbook(tmp_path, prometheus.url, "cctelegram-performance-analysis",
                                "-e", "incident_start=%s" % week.utc(week.INCIDENT_START - 3600),
                                "-e", "incident_end=%s" % week.utc(week.INCIDENT_END + 3600))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    found = json.loads((report_dir / "performance-analysis.json").read_text())
    assert found["window"]["points"] == 181 and found["no_data"] == []
    by_host = {name: {s["labels"]["instance"]: s for s in result["series"]} for name, result in found["by_query"].items()}
    assert set(by_host["error_rate"]) == set(by_host["p95_latency"]) == set(by_host["cpu"]) == set(week.INSTANCES)
    peak_from, peak_until = week.utc(week.INCIDENT_START + 300), week.utc(week.INCIDENT_END)  # every 5 m window inside it
    errors = by_host["error_rate"][week.INCIDENT_HOST]
    assert (errors["max"], errors["max_at"], errors["max_last_at"]) == (5.0, peak_from, peak_until)
    # 4 ramp points a side (1..4 req/s) and 56 at 5 req/s over 181 points
    assert errors["avg"] == pytest.approx((2 * 10 + 56 * 5) / 181)
    assert by_host["error_rate"]["cct-1"]["max"] == 0.0
    p95 = by_host["p95_latency"][week.INCIDENT_HOST]
    assert (p95["max"], p95["max_at"], p95["max_last_at"]) == (pytest.approx(0.975), peak_from, peak_until)
    assert p95["min"] == pytest.approx(0.095) and by_host["p95_latency"]["cct-1"]["max"] == pytest.approx(0.095)
    cpu = by_host["cpu"][week.INCIDENT_HOST]
    assert (cpu["max"], cpu["max_at"]) == (pytest.approx(week.INCIDENT_CPU), peak_from)
    assert by_host["cpu"]["cct-1"]["max"] == pytest.approx(week.cpu_share(week.INCIDENT_DAY))
    # the findings are the run's summary in the incident report
    lines = summary_lines(report_dir)
    assert any(line.startswith("  error_rate {instance=\"cct-2\"}: max 5 req/s at %s (until %s)"
                               % (peak_from, peak_until)) for line in lines), lines
    assert any("p95_latency {instance=\"cct-2\"}: max 0.975 s" in line for line in lines), lines
    assert "performance-analysis.json" in (report_dir / "report.md").read_text()


def test_performance_analysis_without_data_says_so(prometheus, tmp_path):
    proc, report_dir = playbook(tmp_path, prometheus.url, "cctelegram-performance-analysis",
                                "-e", "incident_start=%s" % week.utc(week.INCIDENT_START),
                                "-e", "incident_end=%s" % week.utc(week.INCIDENT_END), "-e", "prometheus_job=other-job")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    found = json.loads((report_dir / "performance-analysis.json").read_text())
    assert found["no_data"] == ["error_rate", "p95_latency", "cpu"]
    assert "No data for error_rate, p95_latency, cpu: is the job label right, was it scraped then?" in \
        summary_lines(report_dir)


def test_capacity_report_in_check_mode_gives_the_week_trends(prometheus, tmp_path):
    proc, report_dir = playbook(tmp_path, prometheus.url, "cctelegram-capacity-report", "--check",
                                "-e", "report_end=%s" % week.utc(week.WEEK_END))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    report = json.loads((report_dir / "capacity-report.json").read_text())
    assert (report["week_ending"], report["window"]["start"]) == (week.utc(week.WEEK_END), week.utc(week.WEEK_START))
    cpu, memory, requests = (report["metrics"][name] for name in ("cpu", "memory", "requests"))
    first, last = 0, week.DAYS - 1
    assert (cpu["first_day_avg"], cpu["last_day_avg"]) == (pytest.approx(week.cpu_share(first)),
                                                           pytest.approx(week.cpu_share(last)))
    assert cpu["growth_percent"] == pytest.approx(150.0)
    # the incident is the week's CPU and request peak: cct-2 at 0.9 beside cct-1's Friday 0.4; 5 errors/s more
    assert (cpu["peak"], cpu["peak_at"]) == (pytest.approx((week.INCIDENT_CPU + week.cpu_share(4)) / 2),
                                             week.utc(week.INCIDENT_START + 300))
    assert (memory["first_day_avg"], memory["last_day_avg"]) == (week.memory_bytes(first), week.memory_bytes(last))
    assert memory["growth_percent"] == pytest.approx(60.0)
    assert (memory["peak"], memory["peak_at"]) == (week.memory_bytes(last), week.utc(week.WEEK_START + last * week.DAY + 300))
    assert (requests["first_day_avg"], requests["last_day_avg"]) == (pytest.approx(2 * week.ok_per_second(first)),
                                                                     pytest.approx(2 * week.ok_per_second(last)))
    assert requests["growth_percent"] == pytest.approx(60.0)
    assert requests["peak"] == pytest.approx(2 * week.ok_per_second(4) + week.INCIDENT_ERRORS_PER_SECOND)
    assert [day["points"] for day in requests["days"]] == [288] * week.DAYS
    assert [day["avg"] for day in requests["days"][:4]] == pytest.approx([20, 22, 24, 26])
    markdown = (report_dir / "capacity-report.md").read_text()
    assert "Week ending: %s" % week.utc(week.WEEK_END) in markdown
    peak_at = week.utc(week.INCIDENT_START + 300)
    assert "| CPU utilization | 0.2 cores | 0.5 cores | +150.0 % | 0.65 cores | " + peak_at + " |" in markdown, markdown
    assert "| Memory utilization | 100.0 MiB | 160.0 MiB | +60.0 % | 160.0 MiB |" in markdown, markdown
    assert "| Request volume | 20 req/s | 32 req/s | +60.0 % | 33 req/s |" in markdown, markdown
    assert any("Report: %s/capacity-report.md" % report_dir in line for line in summary_lines(report_dir))


def test_bad_input_and_an_unreachable_prometheus_are_clear_errors(prometheus, tmp_path):
    proc, _ = playbook(tmp_path, prometheus.url, "cctelegram-capacity-report", "-e", "report_end=yesterday")
    assert proc.returncode != 0 and "Bad input: report_end now or an RFC 3339 UTC time" in proc.stdout
    assert "Generate weekly capacity report" not in proc.stdout  # refused before any query
    down = "http://127.0.0.1:%d" % free_port()
    proc, _ = playbook(tmp_path, down, "cctelegram-performance-analysis")
    assert proc.returncode != 0
    assert "Prometheus at %s did not answer" % down in proc.stdout, proc.stdout[-3000:]
