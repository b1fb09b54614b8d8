"""The alert chain an alert drill runs against the local lab, every part a private process on loopback started here
and stopped by its PID: a Prometheus scraping the lab's gateway with the collection's rules (the lab's copies: 1 s
scrapes and evaluations, `for:` 2 s), an Alertmanager sending every notification to `mcpops watch` (the real
ansible-rulebook with the collection's rulebook and source), which dispatches each alert to the runbook it names
against the lab's inventory, its runs and decisions in the drill's runs dir.

The lab's rule copies also look back over LAB_RANGE where a rule counts over a window (`increase(...[5m])`): the lab's
faults are bursts (rate-storm's 35 429s at once), and over 5 minutes a burst's alert would stay firing, and its
resolution wait, 5 minutes after the burst. The thresholds are the rule files' own.

The approval variant (`auto_remediate=False`) drops the drilled alert's `auto_remediate` label from the lab's rule
copy: the same alert, for a runbook that must wait for a person.
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
from pathlib import Path

import yaml

from mcpops.drill.scenarios import DrillError
from mcpops.lab import pids
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


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


class AlertChain:
    """`AlertChain(job, host, address, inventory, runs_root, env)`: the lab's target (its scrape job, inventory host,
    host:port), the inventory `mcpops watch` dispatches against, where its runs go, and the environment its runs
    need (MCPOPS_LAB_DIR). `start()`, then `firing(alertname)`, `new_decisions()`; `stop()` in a finally."""

    def __init__(self, job, host, address, inventory, runs_root, env, alertname, auto_remediate=True, base=None):
        self.job, self.host, self.address = job, host, address
        self.inventory, self.runs_root, self.alertname = Path(inventory), Path(runs_root), alertname
        self.auto_remediate = auto_remediate
        self.env = dict(os.environ, **env)
        self.env.update(MCPOPS_RUNS_DIR=str(self.runs_root), MCPOPS_ALERT_WINDOW_SECONDS=DRILL_ALERT_WINDOW_SECONDS,
                        no_proxy="127.0.0.1,localhost", ANSIBLE_NOCOLOR="1")
        self.env.pop("ANSIBLE_CONFIG", None)  # mcpops watch sets the checkout's
        self.dir = Path(tempfile.mkdtemp(prefix="mcpops-alert-drill-", dir=base))
        self.watch_port = free_port()
        self.watch_log = self.dir / "watch.log"
        self.watch = self.prometheus = self.alertmanager = None
        self.decisions_path = self.runs_root / ".alerts" / "decisions.log"
        self._offset = 0

    @property
    def webhook_url(self):
        return "http://127.0.0.1:%d/alerts" % self.watch_port

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
            target = alerting_config.ScrapeTarget(self.job, self.host, self.address)
            config = alerting_config.prometheus_config([target], "127.0.0.1:%d" % am_port, rules)
            self.prometheus = PrometheusServer(free_port(), config, base=str(self.dir)).start()
            out(f"prometheus (pid {self.prometheus.pid}): {self.prometheus.url}, scrape and evaluation every "
                f"{alerting_config.LAB_SCRAPE_INTERVAL}, for: {alerting_config.LAB_FOR}, ranges [{LAB_RANGE}]"
                + ("" if self.auto_remediate else f", {self.alertname} without {AUTO_LABEL}"))
        except DaemonError as exc:
            raise DrillError(str(exc)) from None
        self._wait(lambda: listening(self.watch_port), READY_SECONDS, "mcpops watch listening on its port")
        self._wait(self.scraped, READY_SECONDS, f"Prometheus scraping {self.host} (up == 1)")
        return self

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

    def scraped(self):
        return bool(self.query('up{job="%s",instance="%s"} == 1' % (self.job, self.host)))

    def prometheus_alert(self):
        """The drilled alert of the lab's host in Prometheus (/api/v1/alerts: state pending or firing, activeAt),
        or None."""
        body = _get_json(self.prometheus.url + "/api/v1/alerts")
        for alert in ((body or {}).get("data") or {}).get("alerts") or []:
            labels = alert.get("labels") or {}
            if labels.get("alertname") == self.alertname and labels.get("instance") == self.host:
                return alert
        return None

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
        """Prometheus, Alertmanager and the watcher, each by its PID; the chain's dir is kept when the watcher's log
        is worth reading (the caller says so by not calling purge())."""
        for daemon in (self.prometheus, self.alertmanager):
            if daemon is not None:
                daemon.halt()
        pids.stop_child(self.watch, WATCH_STOP_SECONDS)

    def purge(self):
        import shutil

        shutil.rmtree(self.dir, ignore_errors=True)
