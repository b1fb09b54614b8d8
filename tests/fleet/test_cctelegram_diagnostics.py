"""cctelegram-diagnostics.yml and cctelegram-log-analysis.yml on three real cctelegram-mcp hosts under systemd
(`mcpops fleet up --service cctelegram-mcp`, ansible-playbook over SSH).

What the hosts are made to log first (each from a loopback source address of its own, so that the counts by client
IP are exactly ours whatever else talks to the hosts: the fleet's Prometheus scrapes them):
- fleet1: WRONG requests with a wrong X-API-Key (401, a SECURITY line each in security.log);
- fleet2: `fleet break fleet2 unhealthy`, then ERRORS requests with its key (503, an ERROR line each), then healed;
- fleet3: a burst with its key until its rate limit answers 429 (a RATE_LIMIT_EXCEEDED line each).

Then: the log analysis's counts per host and fleet-wide are those numbers (and the average request duration is that
of the lines it counted, read back from the host's log); the diagnostics archive's manifest checksums match its
files, every host has every section, and no host's API key is in any file of it nor in any output; the network
section's getMe, run on each host with the bot token read from its file there (/etc/cctelegram/bot_token), says the
Telegram stand-in took it and names the bot, and that token (the lab's, random: a canary) is in no file of the archive
or the runs dir nor in any output; check mode writes nothing; with fleet3 unreachable (sshd stopped) the bundle names it and holds the other two.

One fleet for the module, on 127.0.22.x (NET), downed at the end.
"""

import hashlib
import http.client
import json
import re
import tarfile

import pytest

from mcpops.lab.fleet import services
from fleet_helpers import cctelegram_fleet, out, run_playbook, wait_cctelegram_health

NET = "127.0.22"
HOSTS = ["fleet1", "fleet2", "fleet3"]
WRONG_KEY_FROM, ERRORS_FROM, FLOOD_FROM = NET + ".201", NET + ".202", NET + ".200"
WRONG, ERRORS = 7, 5
SECTIONS = ["01-system-information.txt", "02-service-status.txt", "03-network-connectivity.txt",
            "04-resource-usage.txt", "05-process-information.txt", "06-network-connections.txt",
            "07-recent-errors.txt", "08-security-events.txt", "09-performance-metrics.txt"]
OUTPUTS = []  # every ansible-playbook output of the module, for the secrets checks


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    root = tmp_path_factory.mktemp("cctelegram-diagnostics")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MCPOPS_FLEET_NET", NET)
        mp.setenv("MCPOPS_RUNS_DIR", str(root / "runs"))
        with cctelegram_fleet(root, 3, net=NET) as fleet:
            assert fleet.net == NET and [h.name for h in fleet.hosts()] == HOSTS
            fleet.root = root
            fleet.runs_dir = root / "runs"
            yield fleet


def get_health(host, key, source):
    """The status of GET /health on host's cctelegram-mcp with X-API-Key key, sent from loopback address source."""
    conn = http.client.HTTPConnection(host.address, services.API_PORT, timeout=10, source_address=(source, 0))
    try:
        conn.request("GET", "/health", headers={"X-API-Key": key})
        return conn.getresponse().status
    finally:
        conn.close()


def log_records(fleet, host, name):
    proc = fleet.run(host, ["cat", "%s/%s" % (services.LOG_DIR, name)], check=False)
    assert proc.returncode == 0 or name == "security.log", (host.name, name, proc.stderr)  # written at the 1st event
    text = proc.stdout if proc.returncode == 0 else ""
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def error_lines(fleet, host):
    return sum(1 for r in log_records(fleet, host, "application.log") if r.get("level") == "ERROR")


@pytest.fixture(scope="module")
def caused(fleet):
    """What the module made the hosts log: {"fleet2_errors": ERROR lines fleet2's log holds, "flooded": 429s}."""
    h1, h2, h3 = fleet.hosts()
    for host in (h1, h2, h3):
        wait_cctelegram_health(host, 200)
    assert [get_health(h1, "wrong-key-not-this-one", WRONG_KEY_FROM) for _ in range(WRONG)] == [401] * WRONG
    fleet.break_("fleet2", "unhealthy")
    before = error_lines(fleet, h2)  # the fault's own wait for the 503 included
    assert [get_health(h2, h2.api_key(), ERRORS_FROM) for _ in range(ERRORS)] == [503] * ERRORS
    fleet.break_("fleet2", "healthy")
    # A fixed one-minute window of 600 requests a key: send until it has refused a few (a burst may straddle two
    # minutes, so keep going until 10 refusals, at most 1300 requests).
    flooded = 0
    for _ in range(1300):
        flooded += get_health(h3, h3.api_key(), FLOOD_FROM) == 429
        if flooded == 10:
            break
    assert flooded == 10
    return {"fleet2_errors": before + ERRORS, "flooded": flooded}


def playbook(fleet, name, *args):
    proc = run_playbook(fleet, "playbooks/%s" % name, *args)
    OUTPUTS.append(proc.stdout + proc.stderr)
    return proc


def report_summary(fleet, runbook):
    """The summary lines of the newest incident report of runbook under the module's runs dir."""
    [report] = sorted(fleet.runs_dir.glob("*-%s/report.json" % runbook))[-1:]
    lines = []
    for entry in json.loads(report.read_text())["summary"]:
        lines += entry["lines"]
    return lines


LINE = re.compile(r"^(?P<who>\S+?)(?: \(.*?\))?: (?P<errors>\d+) errors(?: (?P<by_type>\{.*?\}))?; (?P<security>\d+) security "
                  r"events by client IP (?P<sec_ip>\{.*?\}); (?P<requests>\d+) requests, average (?P<avg>\S+) ms; "
                  r"(?P<rate>\d+) rate-limited, top client IPs (?P<rate_ip>\{.*?\})(?: \(not there: .*\))?$")


def parsed(lines):
    found = {}
    for line in lines:
        m = LINE.match(line)
        if m:
            found[m["who"]] = {"errors": int(m["errors"]), "security": int(m["security"]),
                               "sec_ip": json.loads(m["sec_ip"]), "requests": int(m["requests"]),
                               "avg": None if m["avg"] in ("None", "n/a") else float(m["avg"]),
                               "rate": int(m["rate"]), "rate_ip": json.loads(m["rate_ip"])}
    return found


# -- the log analysis --------------------------------------------------------------------------------------------

def test_log_analysis_counts_what_the_hosts_were_made_to_log(fleet, caused):
    proc = playbook(fleet, "cctelegram-log-analysis.yml", "-e", "last=1h")
    assert proc.returncode == 0, out(proc)
    found = parsed(report_summary(fleet, "cctelegram-log-analysis"))
    assert sorted(found) == sorted(HOSTS + ["fleet"]), found
    f1, f2, f3, fleet_wide = found["fleet1"], found["fleet2"], found["fleet3"], found["fleet"]
    # Security events: exactly ours from WRONG_KEY_FROM, on fleet1 only.
    assert f1["sec_ip"].get(WRONG_KEY_FROM) == WRONG
    assert WRONG_KEY_FROM not in f2["sec_ip"] and WRONG_KEY_FROM not in f3["sec_ip"]
    assert fleet_wide["sec_ip"][WRONG_KEY_FROM] == WRONG
    # Errors: fleet2's log holds our 503s on top of what it held before them.
    assert f2["errors"] == caused["fleet2_errors"]
    # Rate limiting: exactly the 429s we were given, by our address, on fleet3 only.
    assert f3["rate_ip"].get(FLOOD_FROM) == caused["flooded"]
    assert fleet_wide["rate_ip"][FLOOD_FROM] == caused["flooded"]
    assert FLOOD_FROM not in f1["rate_ip"] and FLOOD_FROM not in f2["rate_ip"]
    for name, host in zip(HOSTS, fleet.hosts()):
        app = log_records(fleet, host, "application.log")
        sec = log_records(fleet, host, "security.log")
        # every count against the host's own log (nothing else writes ERROR or SECURITY lines)
        assert found[name]["errors"] == sum(1 for r in app if r.get("level") == "ERROR"), name
        assert found[name]["security"] == sum(1 for r in sec if r.get("event") == "SECURITY"), name
        # Performance: the average duration of the requests it counted, in the log's order (Prometheus keeps
        # adding requests, so the log may hold more by now).
        durations = [r["duration_ms"] for r in app if isinstance(r.get("duration_ms"), (int, float))]
        n = found[name]["requests"]
        assert 0 < n <= len(durations) and found[name]["avg"] == round(sum(durations[:n]) / n, 3), name
    for key in ("errors", "security", "requests", "rate"):
        assert fleet_wide[key] == sum(found[h][key] for h in HOSTS), key
    assert found["fleet2"]["errors"] >= ERRORS and found["fleet1"]["security"] >= WRONG


# -- the diagnostics bundle --------------------------------------------------------------------------------------

def open_bundle(archive):
    """{member name: bytes} of the archive's files."""
    with tarfile.open(archive, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def bot_token(fleet):
    token = (fleet.state_dir / "secrets" / "telegram_bot_token").read_text().strip()
    assert len(token) > 30 and ":" in token
    return token


def api_keys(fleet):
    keys = [host.api_key().strip() for host in fleet.hosts()]
    assert all(len(k) > 16 for k in keys)
    return keys


def test_diagnostics_bundle_holds_every_section_of_every_host_with_checksums(fleet, caused):
    dest = fleet.root / "bundle"
    proc = playbook(fleet, "cctelegram-diagnostics.yml", "-e", "output_dir=%s" % dest, "-e", "error_lines=2000")
    assert proc.returncode == 0, out(proc)
    archive = dest / "cctelegram-diagnostics.tar.gz"
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    assert (dest / "cctelegram-diagnostics.tar.gz.sha256").read_text() == "%s  cctelegram-diagnostics.tar.gz\n" % digest
    lines = report_summary(fleet, "cctelegram-diagnostics")
    grouped = " ".join(digest[i:i + 16] for i in range(0, 64, 16))  # the report masks longer hex runs
    assert any("sha256 %s (whole in" % grouped in line for line in lines), (grouped, lines)
    assert sorted(p.name for p in dest.iterdir()) == ["cctelegram-diagnostics.tar.gz",
                                                       "cctelegram-diagnostics.tar.gz.sha256"]
    files = open_bundle(archive)
    manifest = json.loads(files.pop("diagnostics/manifest.json"))
    assert {h: v["status"] for h, v in manifest["hosts"].items()} == {h: "collected" for h in HOSTS}
    for h in HOSTS:
        failed = manifest["hosts"][h]["failed_sections"]
        # fleet3's key is still over its rate limit for this minute (the flood above): its HTTP steps answer 429.
        allowed = ["network-connectivity", "performance-metrics"] if h == "fleet3" else []
        assert set(failed) <= set(allowed), (h, failed, [files.get("diagnostics/%s/%s" % (h, s), b"").decode()[:3000]
                                                         for s in SECTIONS if s[3:-4] in failed])
    assert sorted(files) == sorted("diagnostics/%s/%s" % (h, s) for h in HOSTS for s in SECTIONS)
    assert sorted(e["path"] for e in manifest["files"]) == sorted(files)
    for entry in manifest["files"]:
        data = files[entry["path"]]
        assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["bytes"] == len(data), entry["path"]
        assert entry["path"] == "diagnostics/%s/%02d-%s.txt" % (entry["host"], SECTIONS.index(
            entry["path"].rsplit("/", 1)[1]) + 1, entry["section"])
    for key in api_keys(fleet) + [bot_token(fleet)]:
        for name, data in files.items():
            assert key.encode() not in data, name
    # What the sections say is the hosts' own state.
    for host in fleet.hosts():
        text = {s: files["diagnostics/%s/%s" % (host.name, s)].decode() for s in SECTIONS}
        main_pid = fleet.run(host, ["systemctl", "show", "--property=MainPID", "--value", services.MCP_UNIT]).stdout.strip()
        assert re.search(r"^\s*%s\s" % main_pid, text["05-process-information.txt"], re.M), host.name
        # fleet3 answers 429 while the flood's minute lasts: recorded as the answer it was.
        answers = ("HTTP 200", "HTTP 429") if host.name == "fleet3" else ("HTTP 200",)
        assert any(a in text["03-network-connectivity.txt"] for a in answers), text["03-network-connectivity.txt"]
        assert "X-API-Key: <hidden>" in text["03-network-connectivity.txt"]
        # getMe from the host with the token it holds: the stand-in takes it (its URL from the inventory)
        assert "ok: the token is accepted, bot @mcpops_lab_bot (id 7000000001, is_bot true)" in \
            text["03-network-connectivity.txt"], text["03-network-connectivity.txt"]
        assert "/bot<hidden>/getMe (token from /etc/cctelegram/bot_token)" in text["03-network-connectivity.txt"]
        assert "%s:%d" % (host.address, services.API_PORT) in text["06-network-connections.txt"]
        assert "%s.service" % services.MCP_UNIT in text["02-service-status.txt"]
        assert any(a in text["09-performance-metrics.txt"] for a in ("http_requests_total",) + answers[1:])
    assert WRONG_KEY_FROM in files["diagnostics/fleet1/08-security-events.txt"].decode()
    assert "GET /health 503" in files["diagnostics/fleet2/07-recent-errors.txt"].decode()
    # The hosts keep nothing of it.
    for host in fleet.hosts():
        left = fleet.run(host, ["find", "/var/tmp/mcpops-diagnostics", "-type", "f"], check=False).stdout
        assert left.strip() == "", (host.name, left)


def test_diagnostics_check_mode_writes_nothing(fleet):
    dest = fleet.root / "bundle-check"
    proc = playbook(fleet, "cctelegram-diagnostics.yml", "--check", "-e", "output_dir=%s" % dest)
    assert proc.returncode == 0, out(proc)
    assert not dest.exists() or list(dest.iterdir()) == []
    assert any("Check mode" in line for line in report_summary(fleet, "cctelegram-diagnostics"))
    for host in fleet.hosts():
        left = fleet.run(host, ["find", "/var/tmp/mcpops-diagnostics", "-type", "f"], check=False).stdout
        assert left.strip() == "", (host.name, left)


def test_an_unreachable_host_is_named_and_the_others_collected(fleet):
    fleet.break_("fleet3", "unreachable")
    proc = playbook(fleet, "cctelegram-diagnostics.yml")
    assert proc.returncode == 0, out(proc)
    [archive] = sorted(fleet.runs_dir.glob("*-cctelegram-diagnostics/cctelegram-diagnostics.tar.gz"))
    files = open_bundle(archive)
    manifest = json.loads(files.pop("diagnostics/manifest.json"))
    assert manifest["hosts"]["fleet3"]["status"] == "unreachable"
    assert [manifest["hosts"][h]["status"] for h in ("fleet1", "fleet2")] == ["collected", "collected"]
    assert sorted(files) == sorted("diagnostics/%s/%s" % (h, s) for h in ("fleet1", "fleet2") for s in SECTIONS)
    lines = report_summary(fleet, "cctelegram-diagnostics")
    assert any(line.startswith("fleet3: unreachable, not collected") for line in lines), lines
    assert any(line == "fleet1: collected" or line.startswith("fleet1: collected;") for line in lines), lines


def test_no_api_key_or_bot_token_in_any_output_or_run_dir(fleet):
    assert OUTPUTS, "the tests above ran no playbook"
    # the runs' reports and the archives (those written to an output_dir too); not the fleet's own state dir
    run_files = [p for d in [fleet.runs_dir, *fleet.root.glob("bundle*")] for p in d.rglob("*") if p.is_file()]
    assert len(run_files) >= 3
    for key in api_keys(fleet) + [bot_token(fleet)]:
        for text in OUTPUTS:
            assert key not in text
        for path in run_files:
            assert key.encode() not in path.read_bytes(), path
