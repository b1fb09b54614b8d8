"""The alert chain an alert drill runs against a lab (the local lab's 1C gateway or ConnectorMCP, the Loyalty API's
compose lab), every part a private process on loopback started here and stopped by its PID: a Prometheus scraping
what the lab offers (its adapter's alert_targets) with the collection's rules (the lab's copies: 1 s
scrapes and evaluations, `for:` 2 s), an Alertmanager sending every notification to `mcpops watch` (the real
ansible-rulebook with the collection's rulebook and source), which dispatches each alert to the runbook it names
against the lab's inventory, its runs and decisions in the drill's runs dir.

The lab's rule copies also look back over LAB_RANGE where a rule counts over a window (`increase(...[5m])`): the lab's
faults are bursts (rate-storm's 35 429s at once), and over 5 minutes a burst's alert would stay firing, and its
resolution wait, 5 minutes after the burst. The thresholds are the rule files' own.

The approval variant (`auto_remediate=False`) drops the drilled alert's `auto_remediate` label from the lab's rule
copy: the same alert, for a runbook that must wait for a person.

What to scrape is the lab's to say: its drill adapter's `alert_targets(scenario)` returns the scrape jobs it offers
(AlertTarget: the rules' job name, the inventory host, the address, scheme, metrics path and a bearer key file), each
a service's own /metrics (the 1C gateway's, the Loyalty API's with its metrics token as a Bearer key: Prometheus 2.42
sends no custom header) or a blackbox probe of an endpoint (ConnectorMCP's /api/health: `probe=True`, the address is
the URL; over TLS verified against a CA of its own with `ca_file`: the 1C upstream's $metadata, OnecUpstreamDown's).
The chain reads which jobs the drilled alert's rule selects on (rule_jobs) and refuses an alert whose job the lab
does not offer. Every offered target is scraped, and the chain is ready when each answers (up == 1, a probe's
probe_success == 1). A probe target, and the 1C gateway's TLS probe (PROBE_JOBS: `onec-gateway-tls`,
OnecGatewayCertificateExpiring's, with the lab's TLS endpoint of the gateway it probes: mcpops.lab.fixtures.gateway_tls,
the lab's, started on first use, stopped by `mcpops lab down`), bring up one private blackbox_exporter
(mcpops.lab.fixtures.blackbox_exporter), stopped by its PID with the rest of the chain.
"""

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

from mcpops.drill.scenarios import DrillError
from mcpops.lab import pids
from mcpops.lab.loopback import free_port
from mcpops.run.runbooks import REPO

WATCH_STOP_SECONDS = 45  # `mcpops watch` gives ansible-rulebook 20 s after SIGTERM before it kills it
READY_SECONDS = 120      # ansible-rulebook starts a JVM; a loaded machine is slow
POLL_SECONDS = 0.2
AUTO_LABEL = "auto_remediate"
# Each drill is an incident of its own: the ledger's throttle window (one run per runbook and host, 10 minutes by
# default) would let a drill repeated within it start nothing. The rulebook's own throttle still holds in a drill.
DRILL_ALERT_WINDOW_SECONDS = "0"
LAB_RANGE = "30s"  # every range selector's window in the lab's rule copies (30 scrapes at the lab's 1 s)
RANGE_SELECTOR = re.compile(r"\[(?:\d+(?:ms|[smhdwy]))+\]")  # [5m], [1h30m]; never a subquery [5m:1m]
JOB_MATCHER = re.compile(r'\bjob\s*=\s*"([^"]+)"')  # job="onec-gateway" in a rule's expr (not =~ or !=)
# The probe jobs the chain can run for the local lab, each the blackbox probe of one of its endpoints: the job's
# target is https://<the lab gateway's TLS endpoint>/healthz, verified against the lab's test CA.
GATEWAY_TLS_JOB = "onec-gateway-tls"
PROBE_JOBS = (GATEWAY_TLS_JOB,)
GATEWAY_JOB = "onec-gateway"  # the lab whose target is this job (the local lab's gateway) has the chain's PROBE_JOBS
# The blackbox module of a probe target (AlertTarget.probe): a plain GET that must answer 2xx within the probe's time,
# as a site probes a health endpoint; a refused connection, a 5xx or a timeout is probe_success 0.
HTTP_MODULE = "http_2xx_lab"
HTTP_PROBE = {"prober": "http", "timeout": "5s", "http": {"method": "GET", "preferred_ip_protocol": "ip4"}}


@dataclass(frozen=True)
class AlertTarget:
    """One scrape job a lab offers its alert chain (a drill adapter's alert_targets): job, the rules' `job=` label;
    host, the inventory host (`instance` after relabelling); address, the host:port scraped, or for a probe the URL
    blackbox_exporter GETs; scheme and metrics_path of a scrape; bearer_token_file, a file whose content Prometheus
    sends as `Authorization: Bearer` (2.42 sends no other header); ca_file, for a probe over TLS, the CA the endpoint's
    certificate must chain to (probe_module: another CA's fails the probe); scrape_interval, a scrape's own instead of
    the lab's 1 s (an exporter whose every scrape is a login into the slot a full server keeps for its DBA)."""

    job: str
    host: str
    address: str
    scheme: str = "http"
    metrics_path: str = "/metrics"
    bearer_token_file: str = None
    probe: bool = False
    ca_file: str = None
    scrape_interval: str = None


def probe_module(target):
    """The blackbox module of a probe target: HTTP_MODULE, or for one with a ca_file a module of its job's that must
    see TLS verified against that CA only (blackbox_exporter's TLS module with that ca_file)."""
    return "https_2xx_%s" % target.job if target.ca_file else HTTP_MODULE


def listening(port):
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _get_json(url):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only, never a proxy
    try:
        with opener.open(url, timeout=5) as answer:
            return json.loads(answer.read())
    except (OSError, ValueError):
        return None


def without_auto_remediate(rule_file, alertname):
    """The rule file with alertname's auto_remediate label removed (in place); False when no such rule carried it."""
    path = Path(rule_file)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    dropped = False
    for group in data.get("groups") or []:
        for rule in group.get("rules") or []:
            if rule.get("alert") == alertname and AUTO_LABEL in (rule.get("labels") or {}):
                del rule["labels"][AUTO_LABEL]
                dropped = True
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return dropped


def alert_names(rule_files):
    """Every alert the rule files define."""
    names = set()
    for path in rule_files:
        for group in yaml.safe_load(Path(path).read_text(encoding="utf-8")).get("groups") or []:
            names |= {rule.get("alert") for rule in group.get("rules") or [] if rule.get("alert")}
    return names


def with_lab_range(rule_file, window=LAB_RANGE):
    """The rule file with every range selector of every expr looking back over window (in place); the alerts whose
    expr changed."""
    path = Path(rule_file)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    changed = []
    for group in data.get("groups") or []:
        for rule in group.get("rules") or []:
            expr = rule.get("expr")
            if isinstance(expr, str) and RANGE_SELECTOR.search(expr):
                rule["expr"] = RANGE_SELECTOR.sub("[%s]" % window, expr)
                changed.append(rule.get("alert") or rule.get("record"))
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return changed


def rule_jobs(rule_files, alertname):
    """The scrape jobs the alert's rule selects on (every job="..." of its expr), sorted; empty when no rule of
    rule_files defines it or it names no job."""
    jobs = set()
    for path in rule_files:
        for group in yaml.safe_load(Path(path).read_text(encoding="utf-8")).get("groups") or []:
            for rule in group.get("rules") or []:
                if rule.get("alert") == alertname and isinstance(rule.get("expr"), str):
                    jobs |= set(JOB_MATCHER.findall(rule["expr"]))
    return sorted(jobs)


def scrape_configs(targets, exporter_address=None, scrape_interval=None):
    """The scrape jobs of the lab's targets ([AlertTarget]), in their order: a service's own /metrics relabelled to
    the inventory host (mcpops.lab.fixtures.alerting_config; targets of one job with keys of their own: a scrape
    config a target, `<job>-<host>`, relabelled to the job), a probe through the blackbox exporter at
    exporter_address (HTTP_MODULE). ValueError for a probe without an exporter, or a job whose targets disagree."""
    from mcpops.lab.fixtures import alerting_config
    from mcpops.lab.fixtures.blackbox_exporter import probe_scrape_config

    interval = scrape_interval or alerting_config.LAB_SCRAPE_INTERVAL
    jobs = {}
    for target in targets:
        jobs.setdefault(target.job, []).append(target)
    configs = []
    for job, members in jobs.items():
        if len({(t.probe, t.scheme, t.metrics_path, t.ca_file) for t in members}) > 1:
            raise ValueError("scrape job %s: every target of a job needs the same kind, scheme and path (and CA)" % job)
        first = members[0]
        keys = {t.bearer_token_file for t in members}
        if first.probe:
            if not exporter_address:
                raise ValueError("scrape job %s probes through blackbox_exporter: no exporter address" % job)
            if len(keys) > 1:
                raise ValueError("scrape job %s: a probe sends no key" % job)
            configs.append(probe_scrape_config(job, [(t.host, t.address) for t in members], exporter_address,
                                               module=probe_module(first), scrape_interval=interval))
            continue
        # A key for each host (a CCTelegram fleet's): a scrape config each, named after its host and relabelled to the
        # job (a scrape config has one authorization), as the fleet's own Prometheus does
        for group in ([members] if len(keys) == 1 else [[t] for t in members]):
            config = alerting_config.scrape_config(job if len(keys) == 1 else "%s-%s" % (job, group[0].host), [
                alerting_config.ScrapeTarget(t.job, t.host, t.address, t.metrics_path,
                                             str(t.bearer_token_file) if t.bearer_token_file else None)
                for t in group], first.scrape_interval or interval)
            if len(keys) > 1:
                config["relabel_configs"].append({"target_label": "job", "replacement": job})
            if first.scheme != "http":
                config["scheme"] = first.scheme
            configs.append(config)
    return configs


def gateway_tls_probe(host, endpoint, exporter_address):
    """The scrape job of the lab gateway's TLS endpoint (host:port) through the blackbox exporter, `instance` the
    inventory host."""
    from mcpops.lab.fixtures.alerting_config import LAB_SCRAPE_INTERVAL
    from mcpops.lab.fixtures.blackbox_exporter import probe_scrape_config

    return probe_scrape_config(GATEWAY_TLS_JOB, [(host, "https://%s/healthz" % endpoint)], exporter_address,
                               scrape_interval=LAB_SCRAPE_INTERVAL)


class AlertChain:
    """`AlertChain(targets, inventory, runs_root, env, alertname)`: what the lab offers to scrape ([AlertTarget], its
    adapter's alert_targets), the inventory `mcpops watch` dispatches against, where its runs go, and the environment
    its runs need (MCPOPS_LAB_DIR). `start()`, then `prometheus_alert()`, `new_decisions()`; `stop()` in a finally."""

    def __init__(self, targets, inventory, runs_root, env, alertname, auto_remediate=True, base=None):
        self.targets = list(targets)
        if not self.targets:
            raise DrillError("the lab offers its alert chain nothing to scrape")
        self.hosts = list(dict.fromkeys(t.host for t in self.targets))
        self.host = self.hosts[0]  # the lab's first host: what a one-host lab's messages name
        self.inventory, self.runs_root, self.alertname = Path(inventory), Path(runs_root), alertname
        self.auto_remediate = auto_remediate
        self.env = dict(os.environ, **env)
        self.env.update(MCPOPS_RUNS_DIR=str(self.runs_root), MCPOPS_ALERT_WINDOW_SECONDS=DRILL_ALERT_WINDOW_SECONDS,
                        no_proxy="127.0.0.1,localhost", ANSIBLE_NOCOLOR="1")
        self.env.pop("ANSIBLE_CONFIG", None)  # mcpops watch sets the checkout's
        self.dir = Path(tempfile.mkdtemp(prefix="mcpops-alert-drill-", dir=base))
        self.watch_port = free_port()
        self.watch_log = self.dir / "watch.log"
        self.watch = self.prometheus = self.alertmanager = self.blackbox = None
        self.probe_jobs = []  # the chain's own probe jobs the drilled alert's rule needs (start() finds them)
        self._tls_ca = None  # the lab's test CA, when the gateway's TLS endpoint is probed
        self.decisions_path = self.runs_root / ".alerts" / "decisions.log"
        self._offset = 0

    @property
    def webhook_url(self):
        return "http://127.0.0.1:%d/alerts" % self.watch_port

    @property
    def offered_jobs(self):
        return list(dict.fromkeys(t.job for t in self.targets))

    def _needs_blackbox(self):
        return bool(self.probe_jobs) or any(t.probe for t in self.targets)

    def start(self, out=print):
        from mcpops.lab.fixtures import alerting_config
        from mcpops.lab.fixtures.alertmanager_server import AlertmanagerServer
        from mcpops.lab.fixtures.loopback_daemon import DaemonError, find_binary
        from mcpops.lab.fixtures.prometheus_server import PrometheusServer

        try:
            find_binary("prometheus", "prometheus")
            find_binary("prometheus-alertmanager", "prometheus-alertmanager")
        except DaemonError as exc:
            raise DrillError(str(exc)) from None
        rules = alerting_config.write_lab_rules(self.dir / "rules")
        for path in rules:
            with_lab_range(path)
        if self.alertname not in alert_names(rules):
            raise DrillError(f"no rule in {alerting_config.RULES_DIR} defines the alert {self.alertname}")
        jobs = rule_jobs(rules, self.alertname)
        offered = self.offered_jobs
        own = [job for job in PROBE_JOBS if GATEWAY_JOB in offered and job not in offered]  # the chain's probes
        unknown = [job for job in jobs if job not in offered + own]
        if unknown:
            raise DrillError(f"{self.alertname} selects on job {unknown[0]}, which the lab's chain does not scrape "
                             f"(it scrapes {', '.join(offered + own)})")
        self.probe_jobs = [job for job in jobs if job in own]
        if self._needs_blackbox():
            try:
                find_binary("prometheus-blackbox-exporter", "prometheus-blackbox-exporter")
            except DaemonError as exc:
                raise DrillError(str(exc)) from None
        if not self.auto_remediate:  # a rule without the label already waits for approval
            for path in rules:
                without_auto_remediate(path, self.alertname)
        self._offset = self.decisions_path.stat().st_size if self.decisions_path.exists() else 0
        # the watcher first: its JVM starts while Alertmanager and Prometheus do
        bin_dir = Path(sys.executable).parent
        with open(self.watch_log, "wb") as log:
            self.watch = subprocess.Popen([str(bin_dir / "mcpops"), "watch", "-i", str(self.inventory),
                                           "--port", str(self.watch_port), "--runs-dir", str(self.runs_root)],
                                          cwd=str(REPO), env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                                          stderr=subprocess.STDOUT)
        out(f"mcpops watch (pid {self.watch.pid}): the webhook {self.webhook_url}, runs in {self.runs_root}")
        try:
            am_port = free_port()
            self.alertmanager = AlertmanagerServer(am_port, alerting_config.alertmanager_config(self.webhook_url),
                                                   base=str(self.dir)).start()
            out(f"alertmanager (pid {self.alertmanager.pid}): {self.alertmanager.url}, group_wait "
                f"{alerting_config.LAB_ROUTE_TIMING['group_wait']}")
            tls = self._gateway_tls(out) if GATEWAY_TLS_JOB in self.probe_jobs else None
            if self._needs_blackbox():
                self._start_blackbox(tls, out)
            config = alerting_config.prometheus_config([], "127.0.0.1:%d" % am_port, rules)
            config["scrape_configs"] = scrape_configs(self.targets, self.blackbox and self.blackbox.address)
            if tls is not None:
                config["scrape_configs"].append(gateway_tls_probe(tls[0], tls[1], self.blackbox.address))
            self.prometheus = PrometheusServer(free_port(), config, base=str(self.dir)).start()
            out(f"prometheus (pid {self.prometheus.pid}): {self.prometheus.url}, scrape and evaluation every "
                f"{alerting_config.LAB_SCRAPE_INTERVAL}, for: {alerting_config.LAB_FOR}, ranges [{LAB_RANGE}]"
                + ("" if self.auto_remediate else f", {self.alertname} without {AUTO_LABEL}"))
            for target in self.targets:
                out(f"  job {target.job}: {self._describe(target)} as {target.host}")
        except DaemonError as exc:
            raise DrillError(str(exc)) from None
        self._wait(lambda: listening(self.watch_port), READY_SECONDS, "mcpops watch listening on its port")
        for target in self.targets:
            what = "probing" if target.probe else "scraping"
            try:
                self._wait(lambda t=target: self.answers(t), READY_SECONDS,
                           f"Prometheus {what} {target.host} (job {target.job}, "
                           + ("probe_success" if target.probe else "up") + " == 1)")
            except DrillError as exc:  # say what Prometheus saw: a 401 is a key the service refuses
                raise DrillError(f"{exc}; Prometheus' last scrape of it: {self.scrape_error(target)}") from None
        for job in self.probe_jobs:
            self._wait(lambda: self.probed(job), READY_SECONDS, f"Prometheus probing {self.host} (job {job}, "
                                                                "probe_success == 1)")
        return self

    @staticmethod
    def _describe(target):
        if target.probe:
            tls = f", TLS verified against {target.ca_file}" if target.ca_file else ""
            return f"blackbox_exporter GETs {target.address} ({probe_module(target)}: 2xx{tls})"
        key = f", Bearer key from {target.bearer_token_file}" if target.bearer_token_file else ""
        every = f" every {target.scrape_interval}" if target.scrape_interval else ""
        return f"{target.scheme}://{target.address}{target.metrics_path}{key}{every}"

    def _gateway_tls(self, out):
        """(inventory host, host:port) of the lab gateway's TLS endpoint, started when it does not run; the CA the
        exporter must trust is kept for _start_blackbox."""
        from mcpops.lab.fixtures.gateway_tls import GatewayTlsError, LabGatewayTls

        lab_dir = self.env.get("MCPOPS_LAB_DIR")
        if not lab_dir:
            raise DrillError(f"{self.alertname} probes the lab gateway's TLS endpoint: MCPOPS_LAB_DIR (the lab's "
                             "state dir) is not set")
        gateway = next((t for t in self.targets if not t.probe), None)
        if gateway is None:
            raise DrillError(f"{self.alertname} probes the lab gateway's TLS endpoint: the lab offers no gateway")
        tls = LabGatewayTls(lab_dir)
        try:
            server, started = tls.ensure(gateway.address)
        except GatewayTlsError as exc:
            raise DrillError(str(exc)) from None
        endpoint = tls.address(server)
        out(f"the lab gateway's TLS endpoint https://{endpoint} (the lab's, pid {server.pid}"
            + (", started now" if started else "") + f"): forwards to {gateway.address}, certificate of {tls.ca_file}")
        self._tls_ca = tls.ca_file
        return gateway.host, endpoint

    def _start_blackbox(self, tls, out):
        """One blackbox exporter for every probe: HTTP_MODULE, the TLS module trusting the lab's test CA when the
        gateway's TLS endpoint is probed, and a TLS module for each probe job with a CA of its own (probe_module)."""
        from mcpops.lab.fixtures.blackbox_exporter import TLS_MODULE, BlackboxExporter, blackbox_config

        config = blackbox_config(self._tls_ca) if tls is not None else {"modules": {}}
        config["modules"][HTTP_MODULE] = HTTP_PROBE
        for target in self.targets:
            if target.probe and target.ca_file:
                config["modules"][probe_module(target)] = blackbox_config(target.ca_file)["modules"][TLS_MODULE]
        self.blackbox = BlackboxExporter(free_port(), config, base=str(self.dir)).start()
        probes = [f"job {t.job} probes {t.address} as {t.host}" for t in self.targets if t.probe]
        if tls is not None:
            probes.append(f"job {GATEWAY_TLS_JOB} probes https://{tls[1]}/healthz as {tls[0]}")
        out(f"blackbox_exporter (pid {self.blackbox.pid}): {self.blackbox.url}, {'; '.join(probes)}")

    def answers(self, target):
        """Prometheus' last scrape of the target succeeded: up == 1, or for a probe probe_success == 1."""
        metric = "probe_success" if target.probe else "up"
        return bool(self.query('%s{job="%s",instance="%s"} == 1' % (metric, target.job, target.host)))

    def scrape_error(self, target):
        """Prometheus' lastError of the target's scrape (/api/v1/targets), or what it said instead."""
        body = _get_json(self.prometheus.url + "/api/v1/targets?state=active")
        for active in ((body or {}).get("data") or {}).get("activeTargets") or []:
            labels = active.get("labels") or {}
            if labels.get("job") == target.job and labels.get("instance") == target.host:
                return active.get("lastError") or f"health {active.get('health')}, no error"
        return "no such target in /api/v1/targets"

    def probed(self, job):
        return bool(self.query('probe_success{job="%s",instance="%s"} == 1' % (job, self.host)))

    def _wait(self, condition, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = condition()
            if found:
                return found
            self.require_watch()
            time.sleep(POLL_SECONDS)
        raise DrillError(f"no {what} within {timeout}s; mcpops watch's log: {self.watch_log}")

    def require_watch(self):
        """DrillError with the watcher's log tail when it exited."""
        if self.watch is not None and self.watch.poll() is not None:
            tail = self.watch_log.read_text(errors="replace")[-2000:]
            raise DrillError(f"mcpops watch exited {self.watch.returncode}:\n{tail}")

    def query(self, promql):
        body = _get_json(self.prometheus.url + "/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
        return ((body or {}).get("data") or {}).get("result") or []

    def prometheus_alert(self):
        """The drilled alert of one of the lab's hosts in Prometheus (/api/v1/alerts: state pending or firing,
        activeAt; its `instance` the host), the earliest active first; None when there is none."""
        body = _get_json(self.prometheus.url + "/api/v1/alerts")
        found = [alert for alert in ((body or {}).get("data") or {}).get("alerts") or []
                 if (alert.get("labels") or {}).get("alertname") == self.alertname
                 and (alert.get("labels") or {}).get("instance") in self.hosts]
        return min(found, key=lambda alert: alert.get("activeAt") or "") if found else None

    def new_decisions(self):
        """The decisions logged since start() (one dict a line)."""
        try:
            with open(self.decisions_path, "rb") as handle:
                handle.seek(self._offset)
                data = handle.read()
        except OSError:
            return []
        found = []
        for line in data.decode("utf-8", "replace").splitlines():
            try:
                found.append(json.loads(line))
            except ValueError:
                continue
        return found

    def stop(self):
        """Prometheus, Alertmanager, the blackbox exporter and the watcher, each by its PID; the chain's dir is kept
        when the watcher's log is worth reading (the caller says so by not calling purge())."""
        for daemon in (self.prometheus, self.alertmanager, self.blackbox):
            if daemon is not None:
                daemon.halt()
        pids.stop_child(self.watch, WATCH_STOP_SECONDS)

    def purge(self):
        import shutil

        shutil.rmtree(self.dir, ignore_errors=True)
