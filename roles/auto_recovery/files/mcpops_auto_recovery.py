# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""mcpops auto-recovery: one health check of a systemd service, a restart when it fails, a flap guard.

The seed's auto-recovery.sh (seed 002, "Automated Recovery"), run by mcpops-auto-recovery.timer as a oneshot
service. Installed by the role mcpops.runbooks.auto_recovery; standard library only (the host's python3).

One run:
- healthy: nothing else;
- unhealthy, and fewer than max_restarts restarts in the last window_minutes: restart the unit, poll its health
  until verify_seconds have passed; back -> notify (the service's own send_telegram_message, and/or a webhook),
  not back -> escalate (the escalation webhook; always a loud journal line);
- unhealthy and the flap guard tripped: no restart; escalate once per window, then say it holds.

The API key is read from its file at each run: never on a command line, in the environment or in a journal line.
State (restart times, counters) is a JSON file replaced atomically; the metrics are a node_exporter textfile,
replaced atomically too. Exit status 0 when the service is healthy at the end, 1 otherwise (the unit shows failed).
"""

import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlsplit

STATE_VERSION = 1
RESULTS = ("healthy", "recovered", "not_recovered", "flap_guard", "error")
HTTP_TIMEOUT = 10.0
MAX_BODY = 65536


class ConfigError(Exception):
    pass


# -- config ---------------------------------------------------------------------------------------------------

DEFAULTS = {
    "api_key_file": "",
    "api_key_header": "X-API-Key",
    "notify_url": "",
    "notify_webhook": "",
    "escalation_webhook": "",
    "max_restarts": 3,
    "window_minutes": 30,
    "verify_seconds": 30,
    "state_file": "/var/lib/mcpops-auto-recovery/state.json",
    "metrics_file": "",
    "host": "",
}


def load_config(path):
    """The config file's JSON merged over DEFAULTS; ConfigError naming what is wrong."""
    try:
        with open(path, encoding="utf-8") as handle:
            given = json.load(handle)
    except (OSError, ValueError) as exc:
        raise ConfigError("cannot read config %s: %s" % (path, exc))
    if not isinstance(given, dict):
        raise ConfigError("config %s: expected a JSON object" % path)
    config = dict(DEFAULTS)
    config.update(given)
    for key in ("unit", "health_url"):
        if not isinstance(config.get(key), str) or not config[key]:
            raise ConfigError("config %s: %s is required" % (path, key))
    for key in ("max_restarts", "window_minutes", "verify_seconds"):
        if not isinstance(config[key], int) or isinstance(config[key], bool) or config[key] < 1:
            raise ConfigError("config %s: %s must be a whole number of at least 1" % (path, key))
    for key in ("health_url", "notify_url", "notify_webhook", "escalation_webhook"):
        if config[key] and urlsplit(config[key]).scheme not in ("http", "https"):
            raise ConfigError("config %s: %s must be an http(s) URL" % (path, key))
    return config


def read_api_key(path):
    """The key in its file, stripped; "" when no file is configured."""
    if not path:
        return ""
    with open(path, encoding="utf-8") as handle:
        return handle.read().strip()


def where(url):
    """scheme://host:port of a URL: what a log line may say about it (a webhook's path may hold a token)."""
    parts = urlsplit(url)
    return "%s://%s" % (parts.scheme, parts.hostname + (":%d" % parts.port if parts.port else ""))


# -- state ----------------------------------------------------------------------------------------------------

def empty_state():
    return {"version": STATE_VERSION, "restarts": [], "flap_escalated_at": None, "restarts_total": 0,
            "escalations_total": 0, "last_run": None, "last_result": None}


def load_state(path):
    """(state, problem): the state file, or an empty state and why it was not usable (None when none existed)."""
    try:
        with open(path, encoding="utf-8") as handle:
            state = json.load(handle)
    except FileNotFoundError:
        return empty_state(), None
    except (OSError, ValueError) as exc:
        return empty_state(), "state file %s unreadable (%s); starting from an empty history" % (path, exc)
    fresh = empty_state()
    if (not isinstance(state, dict) or state.get("version") != STATE_VERSION
            or not isinstance(state.get("restarts"), list)
            or not all(isinstance(t, (int, float)) for t in state["restarts"])):
        return fresh, "state file %s is not a version %d state; starting from an empty history" % (path, STATE_VERSION)
    for key in ("restarts_total", "escalations_total"):
        if not isinstance(state.get(key), int) or state[key] < 0:
            state[key] = 0
    for key in fresh:
        state.setdefault(key, fresh[key])
    return state, None


def atomic_write(path, text, mode=0o600):
    """text into path: a temp file in the same dir, fsynced, renamed over it, the dir fsynced. A crash at any
    point leaves the old file or the new one, never half of either."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def save_state(path, state):
    atomic_write(path, json.dumps(state, indent=1, sort_keys=True) + "\n", 0o600)


# -- the decision ---------------------------------------------------------------------------------------------

def decide(state, healthy, now, max_restarts, window_seconds):
    """What to do, from the state and one health check: "none", "restart", "escalate_flap" (the flap guard trips:
    escalate, no restart) or "hold" (tripped and already escalated in this window: neither)."""
    if healthy:
        return "none"
    recent = [t for t in state["restarts"] if now - t < window_seconds]
    if len(recent) < max_restarts:
        return "restart"
    escalated = state.get("flap_escalated_at")
    if isinstance(escalated, (int, float)) and now - escalated < window_seconds:
        return "hold"
    return "escalate_flap"


def prune(state, now, window_seconds):
    """Forget restarts older than the window (the guard only counts the window)."""
    state["restarts"] = [t for t in state["restarts"] if now - t < window_seconds]
    return state


# -- what a run does on the host ------------------------------------------------------------------------------

def http_request(url, method="GET", headers=None, body=None, timeout=HTTP_TIMEOUT):
    """(status, text) of one request; status None and the error when nothing answered. Never a proxy."""
    parts = urlsplit(url)
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(parts.hostname, parts.port, timeout=timeout)
    path = (parts.path or "/") + ("?" + parts.query if parts.query else "")
    data = None
    headers = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode("utf-8")
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read(MAX_BODY).decode("utf-8", "replace")
    except (OSError, http.client.HTTPException) as exc:
        return None, "%s: %s" % (type(exc).__name__, exc)
    finally:
        conn.close()


class Host:
    """The real world of a run: the clock, systemctl, HTTP, the journal (stdout). Tests give a fake."""

    def __init__(self, config):
        self.config = config

    def now(self):
        return time.time()

    def sleep(self, seconds):
        time.sleep(seconds)

    def say(self, line):
        print(line, flush=True)

    def api_headers(self):
        key = read_api_key(self.config["api_key_file"])
        return {self.config["api_key_header"]: key} if key else {}

    def health(self):
        """(healthy, why)."""
        status, text = http_request(self.config["health_url"], headers=self.api_headers())
        if status == 200:
            return True, "HTTP 200"
        return False, ("HTTP %d" % status) if status is not None else ("no answer (%s)" % text)

    def restart(self):
        unit = self.config["unit"]
        # reset-failed first: a unit that hit its start limit refuses a plain restart
        subprocess.run(["systemctl", "reset-failed", unit], capture_output=True, check=False)
        proc = subprocess.run(["systemctl", "restart", unit], capture_output=True, text=True, check=False)
        return proc.returncode == 0, proc.stderr.strip()

    def post(self, url, body, api_key=False):
        headers = self.api_headers() if api_key else {}
        status, _text = http_request(url, method="POST", headers=headers, body=body)
        return status is not None and 200 <= status < 300, status


def verify(host, seconds):
    """Poll health once a second until it passes or `seconds` have gone by; (healthy, why)."""
    deadline = host.now() + seconds
    while True:
        healthy, why = host.health()
        if healthy or host.now() >= deadline:
            return healthy, why
        host.sleep(1)


def notify(host, config, text):
    """The recovery notice: the service's own send_telegram_message (as the seed), and the notify webhook."""
    sent = []
    if config["notify_url"]:
        ok, status = host.post(config["notify_url"], {"message": text, "source": "monitoring"}, api_key=True)
        sent.append("%s: %s" % (where(config["notify_url"]), "sent" if ok else "FAILED (HTTP %s)" % status))
    if config["notify_webhook"]:
        ok, status = host.post(config["notify_webhook"], {"text": text, "source": "mcpops-auto-recovery",
                                                          "host": config["host"], "unit": config["unit"]})
        sent.append("%s: %s" % (where(config["notify_webhook"]), "sent" if ok else "FAILED (HTTP %s)" % status))
    return sent


def escalate(host, config, text, event):
    """The loud journal line always; the escalation webhook when configured."""
    host.say("ESCALATION: " + text)
    if config["escalation_webhook"]:
        ok, status = host.post(config["escalation_webhook"], {"text": text, "event": event, "severity": "high",
                                                              "source": "mcpops-auto-recovery",
                                                              "host": config["host"], "unit": config["unit"]})
        host.say("escalation webhook %s: %s" % (where(config["escalation_webhook"]),
                                                "sent" if ok else "FAILED (HTTP %s)" % status))


def run_once(config, state, host):
    """One run: returns (result, state). The state is updated, not written."""
    now = host.now()
    window = config["window_minutes"] * 60
    unit, who = config["unit"], config["host"] or "this host"
    healthy, why = host.health()
    action = decide(state, healthy, now, config["max_restarts"], window)
    prune(state, now, window)
    if action == "none":
        result = "healthy"
        host.say("%s healthy (%s)" % (unit, why))
    elif action in ("escalate_flap", "hold"):
        result = "flap_guard"
        limit = "%d restarts in %d minutes" % (config["max_restarts"], config["window_minutes"])
        if action == "escalate_flap":
            state["flap_escalated_at"] = now
            state["escalations_total"] += 1
            escalate(host, config, "%s on %s unhealthy (%s); flap guard: already %s, not restarting it. "
                     "Investigate by hand." % (unit, who, why, limit), "flap_guard")
        else:
            host.say("%s unhealthy (%s); flap guard holds (%s), escalated already at %s: not restarting, "
                     "not escalating again in this window" % (unit, why, limit, iso(state["flap_escalated_at"])))
    else:
        host.say("%s unhealthy (%s): restarting it" % (unit, why))
        state["restarts"].append(now)
        state["restarts_total"] += 1
        restarted, err = host.restart()
        healthy, why = verify(host, config["verify_seconds"]) if restarted else (False, "restart failed: %s" % err)
        if healthy:
            result = "recovered"
            host.say("%s recovered after a restart (%s)" % (unit, why))
            for line in notify(host, config, "Auto-recovery successful: %s on %s restarted and healthy" % (unit, who)):
                host.say("notification " + line)
        else:
            result = "not_recovered"
            state["escalations_total"] += 1
            escalate(host, config, "Auto-recovery failed: %s on %s still unhealthy %d s after a restart (%s)" % (
                unit, who, config["verify_seconds"], why), "not_recovered")
    state["last_run"] = now
    state["last_result"] = result
    return result, state


def iso(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts)) if isinstance(ts, (int, float)) else "?"


# -- metrics --------------------------------------------------------------------------------------------------

def _label(value):
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def metrics_text(config, state):
    """The Prometheus text of what the runs did (node_exporter's textfile collector)."""
    labels = 'unit="%s",host="%s"' % (_label(config["unit"]), _label(config["host"]))
    lines = [
        "# HELP mcpops_auto_recovery_restarts_total Restarts auto-recovery made.",
        "# TYPE mcpops_auto_recovery_restarts_total counter",
        "mcpops_auto_recovery_restarts_total{%s} %d" % (labels, state["restarts_total"]),
        "# HELP mcpops_auto_recovery_escalations_total Escalations auto-recovery sent (failed restart, flap guard).",
        "# TYPE mcpops_auto_recovery_escalations_total counter",
        "mcpops_auto_recovery_escalations_total{%s} %d" % (labels, state["escalations_total"]),
        "# HELP mcpops_auto_recovery_last_run_timestamp_seconds When auto-recovery last ran.",
        "# TYPE mcpops_auto_recovery_last_run_timestamp_seconds gauge",
        "mcpops_auto_recovery_last_run_timestamp_seconds{%s} %d" % (labels, int(state["last_run"] or 0)),
        "# HELP mcpops_auto_recovery_last_result The last run's result (1 for it, 0 for the others).",
        "# TYPE mcpops_auto_recovery_last_result gauge",
    ]
    lines += ['mcpops_auto_recovery_last_result{%s,result="%s"} %d' % (labels, r, r == state["last_result"])
              for r in RESULTS]
    lines += [
        "# HELP mcpops_auto_recovery_flap_guard_tripped 1 while the flap guard stops restarts.",
        "# TYPE mcpops_auto_recovery_flap_guard_tripped gauge",
        "mcpops_auto_recovery_flap_guard_tripped{%s} %d" % (labels, state["last_result"] == "flap_guard"),
    ]
    return "\n".join(lines) + "\n"


def write_metrics(config, state):
    if config["metrics_file"]:
        atomic_write(config["metrics_file"], metrics_text(config, state), 0o644)


# -- main -----------------------------------------------------------------------------------------------------

def main(argv=None, host_factory=Host):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2 or argv[0] != "--config":
        print("usage: mcpops_auto_recovery.py --config FILE", file=sys.stderr)
        return 2
    try:
        config = load_config(argv[1])
    except ConfigError as exc:
        print("ESCALATION: auto-recovery cannot run: %s" % exc, flush=True)
        return 2
    host = host_factory(config)
    state, problem = load_state(config["state_file"])
    if problem:
        host.say("WARNING: " + problem)
    try:
        result, state = run_once(config, state, host)
    except OSError as exc:  # the key file unreadable, systemctl missing, ...
        result = "error"
        state["last_run"], state["last_result"] = host.now(), result
        escalate(host, config, "auto-recovery of %s on %s failed to run: %s" % (
            config["unit"], config["host"] or "this host", exc), "error")
    save_state(config["state_file"], state)
    write_metrics(config, state)
    return 0 if result in ("healthy", "recovered") else 1


if __name__ == "__main__":
    sys.exit(main())
