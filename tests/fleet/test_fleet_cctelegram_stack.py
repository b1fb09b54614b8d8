"""The controller side of a CCTelegram fleet (issue 19), on the session's `cctelegram_stack` (3 hosts and a standby):
the nginx load balancer spreads over the serving hosts and never the standby, Prometheus scrapes each host and
nginx, the Telegram stand-in receives what a host sends, a traffic spike from one client is rate limited, no secret
is written where it does not belong, `nginx -t` passes on the written conf, and `down` stops every PID it started.

Root only (systemd-nspawn); the fleet is the session's (tests/fleet/conftest.py)."""

import json
import stat
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import yaml

from fleet_helpers import process_tree
from mcpops.lab import pids
from mcpops.lab.fleet import cctelegram_controller as controller, services, telegram_standin

WAIT = 90.0  # Prometheus scrapes every 2 s; the machine is shared and loaded
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy


def http(url, method="GET", body=None, headers=None):
    """(status, parsed JSON body or text) of one request."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with OPENER.open(req, timeout=15) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def controller_vars(fleet):
    return yaml.safe_load((fleet.inventory_dir / "group_vars" / "all.yml").read_text())


def access_log_lines(fleet, offset=0):
    path = fleet.state_dir / "lb" / "logs" / "access.log"
    with open(path, "rb") as fh:
        fh.seek(offset)
        return [json.loads(line) for line in fh.read().splitlines() if line.strip()]


def access_log_size(fleet):
    return (fleet.state_dir / "lb" / "logs" / "access.log").stat().st_size


def prometheus_query(fleet, query):
    url = controller_vars(fleet)["prometheus_url"] + "/api/v1/query?" + urllib.parse.urlencode({"query": query})
    status, body = http(url)
    assert status == 200, body
    return body["data"]["result"]


def test_the_inventory_names_the_controller_side_and_the_standby(cctelegram_stack):
    fleet = cctelegram_stack
    names = controller_vars(fleet)
    lb = fleet.state_dir / "lb"
    assert names["cctelegram_lb_nginx_prefix"] == str(lb)
    assert names["cctelegram_lb_site_conf"] == str(lb / "conf" / "cctelegram.conf")
    assert names["cctelegram_lb_upstream"] == "cctelegram_mcp"
    assert names["cctelegram_releases_dir"] == "/opt/cctelegram/releases"
    assert http(names["cctelegram_lb_status_url"])[0] == 200
    hosts = yaml.safe_load((fleet.inventory_dir / "hosts.yml").read_text())["all"]["children"]
    assert sorted(hosts["gateways"]["hosts"]) == ["fleet1", "fleet2", "fleet3"]
    assert sorted(hosts["cctelegram_standby"]["hosts"]) == ["fleet4"]


def test_the_lb_spreads_requests_over_the_serving_hosts_and_never_the_standby(cctelegram_stack):
    fleet = cctelegram_stack
    serving = {f"{h.address}:{services.API_PORT}" for h in fleet.serving_hosts()}
    [standby] = fleet.standby_hosts()
    site = (fleet.state_dir / "lb" / "conf" / "cctelegram.conf").read_text()
    assert standby.address not in site
    assert fleet.run(standby, ["systemctl", "is-active", services.MCP_UNIT], check=False).stdout.strip() != "active"
    offset = access_log_size(fleet)
    url = controller_vars(fleet)["cctelegram_lb_url"]
    # Every instance takes the fleet's one key (the inventory's cctelegram_lb_api_key): 200 from whichever answers.
    key = (fleet.state_dir / "secrets" / "cctelegram_api_key").read_text().strip()
    statuses = [http(url + "/health", headers={"X-API-Key": key})[0] for _ in range(12)]
    assert set(statuses) == {200}, statuses
    lines = [line for line in access_log_lines(fleet, offset) if line["uri"] == "/health"]
    assert len(lines) == 12
    used = {addr for line in lines for addr in line["upstream_addr"].split(", ")}
    assert used == serving, used
    assert {line["remote_addr"] for line in lines} == {"127.0.0.1"}


def test_prometheus_has_each_host_and_nginx_up_and_the_rules_loaded(cctelegram_stack):
    fleet = cctelegram_stack
    wanted = {("cctelegram-mcp", h.name) for h in fleet.serving_hosts()} | {("nginx", "lb")}
    deadline = time.monotonic() + WAIT
    while True:
        up = {(r["metric"]["job"], r["metric"]["instance"]): r["value"][1] for r in prometheus_query(fleet, "up")}
        if all(up.get(key) == "1" for key in wanted):
            break
        assert time.monotonic() < deadline, f"up after {WAIT:.0f}s: {up}"
        time.sleep(1)
    [nginx_up] = prometheus_query(fleet, "nginx_up")
    assert nginx_up["value"][1] == "1"
    # the standby is scraped under its own job (down until a scale-up), never as a cctelegram-mcp instance
    assert ("cctelegram-mcp", "fleet4") not in up
    status, rules = http(controller_vars(fleet)["prometheus_url"] + "/api/v1/rules")
    assert status == 200
    names = {rule["name"] for group in rules["data"]["groups"] for rule in group["rules"]}
    assert {"CctelegramDown", "CctelegramBridgeDown"} <= names


def test_the_standin_accepts_only_its_token_and_records_no_token(cctelegram_stack):
    fleet = cctelegram_stack
    names = controller_vars(fleet)
    token = telegram_standin.token_file(fleet.state_dir).read_text().strip()
    text = f"stack test {uuid.uuid4()}"
    status, body = http(f"{names['cctelegram_telegram_api_url']}/bot{token}/sendMessage", "POST",
                        {"chat_id": "-100123", "text": text})
    assert status == 200 and body["ok"] is True, body
    assert http(f"{names['cctelegram_telegram_api_url']}/botWRONG/getMe")[0] == 401
    assert [m["chat_id"] for m in telegram_standin.messages(fleet.state_dir) if m["text"] == text] == ["-100123"]
    assert stat.S_IMODE(telegram_standin.token_file(fleet.state_dir).stat().st_mode) == 0o600


def test_a_message_sent_through_a_host_reaches_the_standin(cctelegram_stack):
    fleet = cctelegram_stack
    host = fleet.serving_hosts()[1]
    text = f"System recovery test {uuid.uuid4()}"
    status, body = http(host.api_url + "/tools/send_telegram_message", "POST",
                        {"message": text, "source": "incident-response"}, {"X-API-Key": host.api_key()})
    assert status == 200, body
    deadline = time.monotonic() + 30
    while not any(text in m["text"] for m in telegram_standin.messages(fleet.state_dir)):
        assert time.monotonic() < deadline, f"{text!r} never reached the stand-in; the host answered {body}"
        time.sleep(0.5)


def test_nginx_t_passes_on_the_written_conf(cctelegram_stack):
    names = controller_vars(cctelegram_stack)
    proc = subprocess.run([names["cctelegram_lb_nginx_binary"], "-t", "-p", names["cctelegram_lb_nginx_prefix"] + "/",
                           "-c", names["cctelegram_lb_nginx_conf"]], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    site = open(names["cctelegram_lb_site_conf"]).read()
    assert "limit_req_zone $binary_remote_addr zone=cctelegram:10m rate=30r/s;" in site
    assert f"include {names['cctelegram_lb_offenders_conf']};" in site
    for host in cctelegram_stack.serving_hosts():
        assert f"server {host.address}:8080 max_fails=2 fail_timeout=5s;" in site


def test_a_traffic_spike_from_one_client_is_rate_limited_and_others_are_not(cctelegram_stack):
    fleet = cctelegram_stack
    offset = access_log_size(fleet)
    result = controller.traffic_spike(fleet, requests=300, concurrency=16)
    assert result["sent"] == 300 and sum(result["statuses"].values()) == 300
    assert result["429"] > 0, result
    limited = {line["remote_addr"] for line in access_log_lines(fleet, offset) if line["status"] == 429}
    assert limited == {controller.SPIKE_SOURCE}
    # the limit is per client: this machine's own address is still served by the hosts (401 without a key)
    assert http(controller_vars(fleet)["cctelegram_lb_url"] + "/health")[0] == 401


def _secrets(fleet):
    found = {h.name: h.api_key() for h in fleet.hosts()}
    found["bot token"] = telegram_standin.token_file(fleet.state_dir).read_text().strip()
    assert all(len(value) > 16 for value in found.values())
    return found


def test_no_secret_in_fleet_json_the_inventory_or_the_confs(cctelegram_stack):
    fleet = cctelegram_stack
    files = [fleet.info_path, fleet.state_dir / "prometheus" / "prometheus.yml",
             fleet.state_dir / "telegram" / "telegram-api.log", fleet.state_dir / "telegram" / "messages.jsonl",
             fleet.state_dir / "lb" / "logs" / "access.log"]
    files += sorted((fleet.state_dir / "lb" / "conf").glob("*.conf"))
    files += [p for p in sorted(fleet.inventory_dir.rglob("*")) if p.is_file()
              and stat.S_IMODE(p.stat().st_mode) != 0o600]
    assert len(files) > 10
    for path in files:
        text = path.read_text(errors="replace")
        for name, value in _secrets(fleet).items():
            assert value not in text, f"{name}'s secret in {path}"
    assert "credentials_file" in (fleet.state_dir / "prometheus" / "prometheus.yml").read_text()


def test_down_stops_every_pid_it_started_and_up_brings_the_stack_back(cctelegram_stack):
    """Last in the module: the session's stack is downed, checked in /proc, and booted again for the modules
    after this one."""
    fleet = cctelegram_stack
    daemons = controller.running(fleet)
    assert all(daemons.values()) and set(daemons) == {"telegram", "nginx", "nginx_exporter", "prometheus"}, daemons
    hosts = [fleet.pid(h) for h in fleet.hosts()]
    assert all(hosts)
    tree = process_tree([*daemons.values(), *hosts])  # nginx's workers, the hosts' every process
    result = fleet.down()
    assert set(daemons.values()) | set(hosts) <= set(result["stopped"])
    # The kernel ends a host's last processes when its PID 1 is gone: wait for that, a zombie counting as gone.
    alive = pids.wait_gone(sorted(tree), 30)
    assert not alive, {pid: pids.cmdline(pid) for pid in alive}
    assert not any(controller.running(fleet).values())
    fleet.up(3)  # as the modules after this one restore the stack: the standby is kept
    assert all(controller.running(fleet).values())
    assert [h.name for h in fleet.standby_hosts()] == ["fleet4"]
    assert fleet.run(fleet.standby_hosts()[0], ["systemctl", "is-active", services.MCP_UNIT],
                     check=False).stdout.strip() == "inactive"
