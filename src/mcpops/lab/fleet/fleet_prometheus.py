"""The Prometheus of a CCTelegram fleet: Debian's `prometheus` on 127.0.0.1:<port>, on the controller side, scraping
every 2 s:

- job "cctelegram-mcp": each serving host's metrics listener (<address>:9090/metrics), instance = the host's name,
  with `authorization: {type: Bearer, credentials_file: <state>/hosts/<name>/etc-cctelegram/api_key}` (the key
  stays in its 0600 file); one scrape config a host (each its own key), relabelled to the one job;
- job "cctelegram-mcp-standby": the standby hosts the same way (a standby's units are stopped, so its up is 0:
  a job of its own keeps the collection's CctelegramDown from firing for it until option D starts it);
- job "nginx": the load balancer's prometheus-nginx-exporter, instance "lb";

and evaluating the collection's rules (extensions/prometheus/rules/cctelegram-mcp.rules.yml), copied with the
lab's short `for:` (alerting_config.lab_rules). Its files in <fleet state>/prometheus/: prometheus.yml,
rules/, data/ (the TSDB), prometheus.log. fleet.json records it by PID ("controller": {"prometheus": ...}).
"""

from pathlib import Path

from mcpops.lab.fixtures import alerting_config
from mcpops.lab.fixtures.loopback_daemon import DaemonError, find_binary
from mcpops.lab.fleet import controller_process, services
from mcpops.lab.fleet.errors import FleetError

SCRAPE_INTERVAL = "2s"
JOB = "cctelegram-mcp"
STANDBY_JOB = "cctelegram-mcp-standby"
NGINX_JOB = "nginx"
RULES = "cctelegram-mcp.rules.yml"


def home(fleet_state):
    return Path(fleet_state) / "prometheus"


def config_path(fleet_state):
    return home(fleet_state) / "prometheus.yml"


def host_scrape_config(host, job):
    """One host's scrape config: its metrics listener, its own key as the bearer (from its file), relabelled to the
    job and to instance = the host's name."""
    return {
        "job_name": f"{job}-{host.name}",
        "scrape_interval": SCRAPE_INTERVAL,
        "scrape_timeout": SCRAPE_INTERVAL,
        "metrics_path": "/metrics",
        "authorization": {"type": "Bearer", "credentials_file": str(host.api_key_file)},
        "static_configs": [{"targets": [f"{host.address}:{services.METRICS_PORT}"]}],
        "relabel_configs": [{"target_label": "job", "replacement": job},
                            {"target_label": "instance", "replacement": host.name}],
    }


def config(hosts, standby, exporter_port, rule_files):
    """prometheus.yml as a dict: hosts and standby are FleetHosts, exporter_port the nginx exporter's."""
    scrape = [host_scrape_config(h, JOB) for h in hosts] + [host_scrape_config(h, STANDBY_JOB) for h in standby]
    scrape.append({"job_name": NGINX_JOB, "scrape_interval": SCRAPE_INTERVAL, "scrape_timeout": SCRAPE_INTERVAL,
                   "static_configs": [{"targets": [f"127.0.0.1:{exporter_port}"], "labels": {"instance": "lb"}}]})
    return {"global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
            "rule_files": [str(p) for p in rule_files],
            "scrape_configs": scrape}


def write(fleet_state, hosts, standby, exporter_port):
    """The rules' lab copy and prometheus.yml; the config's path."""
    rules_dir = home(fleet_state) / "rules"
    rules_dir.mkdir(parents=True, exist_ok=True)
    source = alerting_config.RULES_DIR / RULES
    rule_file = rules_dir / RULES
    rule_file.write_text(alerting_config.lab_rules(source.read_text(encoding="utf-8")), encoding="utf-8")
    path = config_path(fleet_state)
    alerting_config.write_yaml(str(path), config(hosts, standby, exporter_port, [rule_file]))
    return path


def start(fleet_state, port):
    """Prometheus on 127.0.0.1:port with the written config; its record."""
    try:
        binary = find_binary("prometheus", "prometheus")
    except DaemonError as exc:
        raise FleetError(str(exc)) from None
    base = home(fleet_state)
    url = f"http://127.0.0.1:{port}"
    argv = [binary, f"--config.file={config_path(fleet_state)}", f"--storage.tsdb.path={base / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}", f"--web.external-url={url}", "--web.enable-lifecycle",
            "--storage.tsdb.retention.time=2d", "--log.level=info"]
    return controller_process.start("prometheus", argv, str(base / "prometheus.log"), url + "/-/ready",
                                    marker=str(config_path(fleet_state)))


def reload(record):
    """Make a running Prometheus read its config again (POST /-/reload); the HTTP status."""
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    req = urllib.request.Request(f"http://127.0.0.1:{record['port']}/-/reload", method="POST", data=b"")
    with opener.open(req, timeout=30) as resp:
        return resp.status
