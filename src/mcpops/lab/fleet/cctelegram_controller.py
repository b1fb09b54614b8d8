"""The controller side of a CCTelegram fleet (`mcpops fleet up --service cctelegram-mcp`), beside its hosts: the
Telegram Bot API stand-in (telegram_standin.py), the nginx load balancer and its exporter (load_balancer.py) and
Prometheus (fleet_prometheus.py), all on 127.0.0.1, all recorded in fleet.json by PID under "controller" (no secret)
and stopped by `down` by those PIDs; and the traffic spike (`mcpops fleet break lb traffic-spike`).

Each gets the FleetLab (its public methods), never imports it. Ports are chosen free at the first up and kept.
"""

import collections
import concurrent.futures
import http.client

from mcpops.lab.fixtures.nginx_server import NginxServerError
from mcpops.lab.fleet import controller_process, fleet_prometheus, services, telegram_standin
from mcpops.lab.fleet.errors import FleetError, UnknownFault
from mcpops.lab.fleet.load_balancer import UPSTREAM, FleetLoadBalancer
from mcpops.lab.loopback import free_port

LB = "lb"  # the load balancer's name for `mcpops fleet break`
TELEGRAM, NGINX, EXPORTER, PROMETHEUS = "telegram", "nginx", "nginx_exporter", "prometheus"
SPIKE_SOURCE = "127.0.0.66"  # the one offending client of the traffic spike
SPIKE_REQUESTS = 300
SPIKE_CONCURRENCY = 16
SPIKE_PATH = "/health"


def records(fleet):
    """{name: record} of the controller-side daemons fleet.json keeps."""
    return dict(fleet.read_info().get("controller") or {})


def _record(fleet, name, record):
    info = fleet.read_info()
    info.setdefault("controller", {})[name] = record
    fleet.write_info(info)


def _port(fleet, name):
    return (records(fleet).get(name) or {}).get("port") or free_port()


def load_balancer(fleet, serving=None):
    """The fleet's FleetLoadBalancer (prefix <state>/lb), in front of serving (default: the non-standby hosts)."""
    serving = fleet.serving_hosts() if serving is None else serving
    port = _port(fleet, NGINX)
    return FleetLoadBalancer(fleet.state_dir / "lb", port, [f"{h.address}:{services.API_PORT}" for h in serving])


def telegram_url(fleet):
    record = records(fleet).get(TELEGRAM)
    return telegram_standin.url(record) if record else None


def ensure_telegram(fleet):
    """The stand-in running (the recorded one, else started on its recorded or a free port); (url, token)."""
    record = records(fleet).get(TELEGRAM)
    if not (record and controller_process.is_ours(record)):
        record = telegram_standin.start(fleet.state_dir, _port(fleet, TELEGRAM))
        _record(fleet, TELEGRAM, record)
        fleet.say(f"telegram-api stand-in: pid {record['pid']} on 127.0.0.1:{record['port']}")
    token = telegram_standin.token_file(fleet.state_dir).read_text().strip()
    return telegram_standin.url(record), token


def ensure_front(fleet):
    """nginx (confs anew: drains and offenders undone; started or reloaded), its exporter and Prometheus (config
    anew; started, or reloaded when running)."""
    lb = load_balancer(fleet)
    try:
        pid = lb.start_or_reload()
    except NginxServerError as exc:
        raise FleetError(f"the fleet's load balancer: {exc}") from None
    _record(fleet, NGINX, {"pid": pid, "port": lb.port, "prefix": str(lb.prefix)})
    fleet.say(f"load balancer: nginx pid {pid} on {lb.url} -> {', '.join(lb.servers)}")

    exporter = records(fleet).get(EXPORTER)
    if not (exporter and controller_process.is_ours(exporter)):
        exporter = lb.start_exporter(_port(fleet, EXPORTER))
        _record(fleet, EXPORTER, exporter)
        fleet.say(f"nginx exporter: pid {exporter['pid']} on 127.0.0.1:{exporter['port']}")

    fleet_prometheus.write(fleet.state_dir, fleet.serving_hosts(), fleet.standby_hosts(), exporter["port"])
    prometheus = records(fleet).get(PROMETHEUS)
    if prometheus and controller_process.is_ours(prometheus):
        fleet_prometheus.reload(prometheus)
    else:
        prometheus = fleet_prometheus.start(fleet.state_dir, _port(fleet, PROMETHEUS))
        _record(fleet, PROMETHEUS, prometheus)
        fleet.say(f"prometheus: pid {prometheus['pid']} on 127.0.0.1:{prometheus['port']}")
    return {name: rec.get("pid") for name, rec in records(fleet).items()}


def stop_all(fleet):
    """Stop Prometheus, the exporter, nginx and the stand-in by their recorded PIDs; (PIDs stopped, errors)."""
    stopped, errors = [], []
    recs = records(fleet)
    for name in (PROMETHEUS, EXPORTER, NGINX, TELEGRAM):
        record = recs.get(name)
        if not record:
            continue
        try:
            if name == NGINX:
                pid = FleetLoadBalancer(record["prefix"], record["port"], ["127.0.0.1:1"]).stop(record.get("pid"))
            else:
                pid = controller_process.stop(record)
        except (FleetError, NginxServerError) as exc:
            errors.append(f"{name}: {exc}")
            continue
        if pid:
            stopped.append(pid)
            fleet.say(f"stopped the fleet's {name} (pid {pid})")
        _record(fleet, name, dict(record, pid=None))
    return stopped, errors


def running(fleet):
    """{name: PID or None} of the controller-side daemons (a PID only when it is alive and ours)."""
    result = {}
    for name, record in records(fleet).items():
        if name == NGINX:
            lb = FleetLoadBalancer(record["prefix"], record["port"], ["127.0.0.1:1"])
            result[name] = lb.running_pid([record.get("pid")] if record.get("pid") else ())
        else:
            result[name] = controller_process.running_pid(record)
    return result


RELEASES_DIR = "/opt/cctelegram/releases"  # on each host (helper C1's release layout)


def inventory_vars(fleet):
    """The controller side's inventory vars (group_vars/all.yml): URLs, nginx's binary and files; no secret."""
    lb = load_balancer(fleet)
    recs = records(fleet)
    return {
        "cctelegram_lb_url": lb.url,
        "cctelegram_lb_status_url": lb.status_url,
        "cctelegram_lb_nginx_binary": lb.binary,
        "cctelegram_lb_nginx_prefix": str(lb.prefix),
        "cctelegram_lb_nginx_conf": str(lb.conf),
        "cctelegram_lb_site_conf": str(lb.site_conf),
        "cctelegram_lb_offenders_conf": str(lb.offenders_conf),
        "cctelegram_lb_access_log": str(lb.access_log),
        "cctelegram_lb_upstream": UPSTREAM,
        "prometheus_url": f"http://127.0.0.1:{recs[PROMETHEUS]['port']}",
        "cctelegram_telegram_api_url": telegram_standin.url(recs[TELEGRAM]),
        "cctelegram_telegram_bot_token_file": str(telegram_standin.token_file(fleet.state_dir)),
        "cctelegram_telegram_messages_file": str(telegram_standin.messages_file(fleet.state_dir)),
        "cctelegram_releases_dir": RELEASES_DIR,
    }


# ---------------------------------------------------------------------------------------------------- the spike

def _one_request(url_port, source, path, api_key, timeout):
    conn = http.client.HTTPConnection("127.0.0.1", url_port, timeout=timeout, source_address=(source, 0))
    try:
        conn.request("GET", path, headers={"X-API-Key": api_key} if api_key else {})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def traffic_spike(fleet, requests=SPIKE_REQUESTS, concurrency=SPIKE_CONCURRENCY, source=SPIKE_SOURCE,
                  path=SPIKE_PATH, api_key=None, timeout=10.0):
    """A bounded burst of `requests` GETs of path through the load balancer, `concurrency` at a time, every one
    from source (the client socket is bound to it: nginx sees one offending client). Without api_key the hosts
    answer 401 to what nginx lets through; nginx's own refusals are 429 (rate limit) and 502/503/504. Returns
    {"source", "sent", "statuses": {status: count} ("none": no answer), and "200", "429", "503" counts}."""
    record = records(fleet).get(NGINX)
    if not record or not running(fleet).get(NGINX):
        raise FleetError(f"the fleet in {fleet.state_dir} has no load balancer running: `mcpops fleet up`")
    requests = max(1, min(int(requests), 5000))
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(int(concurrency), 64))) as pool:
        statuses = list(pool.map(lambda _: _one_request(record["port"], source, path, api_key, timeout),
                                 range(requests)))
    tally = collections.Counter("none" if s is None else str(s) for s in statuses)
    return {"source": source, "sent": requests, "statuses": dict(sorted(tally.items())),
            **{code: tally.get(code, 0) for code in ("200", "429", "503")}}


def _spike_line(result):
    return (f"traffic-spike: {result['sent']} requests through the load balancer from {result['source']}: "
            + ", ".join(f"{n} x {code}" for code, n in result["statuses"].items()))


FAULTS = {"traffic-spike": lambda fleet: _spike_line(traffic_spike(fleet))}


def break_lb(fleet, fault):
    """`mcpops fleet break lb FAULT`: one line saying what was done."""
    if fleet.service != services.CCTELEGRAM:
        raise FleetError(f"`{LB}` is the load balancer of a {services.CCTELEGRAM} fleet; this one runs {fleet.service}")
    if fault not in FAULTS:
        raise UnknownFault(f"unknown fault {fault!r} for {LB}: use one of {', '.join(FAULTS)}")
    return FAULTS[fault](fleet)
