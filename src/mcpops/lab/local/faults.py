"""Fault injection for the local lab (`mcpops lab break <fault>`).

Each fault returns one line saying what it did. The store faults make the gateway's
StoreMigrationRunner refuse to start, so supervisor ends in BACKOFF/FATAL: the crash loop of
INC-001/INC-003, repaired by restoring a backup (the lab makes one at `up`).
The token faults (auth-spike, rate-storm, leak) drive the running gateway's HTTP API and /mcp on
loopback, as a misbehaving client would, and record what they did in `<state dir>/faults/<fault>.json`.

A fault is given the LocalLab and uses its public methods only; the lab's `break_` dispatches here, and
nothing here imports the lab module back.
"""

import calendar
import http.client
import json
import os
import secrets
import signal
import socket
import time
from pathlib import Path

from mcpops.lab.gateway.fsutil import atomic_write, atomic_write_json
from mcpops.lab.http_client import http_json
from mcpops.lab.local import supervisor as sup
from mcpops.lab.local.errors import LabError, UnknownFault

WAIT = 20.0


def _require_up(lab):
    if not lab.supervisord_pid():
        raise LabError(f"the lab in {lab.state_dir} is not up: `mcpops lab up` first")


def _wait_state(lab, wanted, timeout=WAIT):
    deadline = time.monotonic() + timeout
    state = None
    while time.monotonic() < deadline:
        state = lab.program_state()
        if state in wanted:
            return state
        time.sleep(0.1)
    raise LabError(f"{lab.service_name} did not reach {'/'.join(wanted)} within {timeout:.0f}s (state {state})")


def _restart_into_crash_loop(lab):
    client = lab.client()
    state = lab.program_state()
    if state in (sup.RUNNING, sup.STARTING, sup.BACKOFF):
        try:
            client.stop(lab.service_name, True)
        except sup.SupervisorError:
            pass  # BACKOFF -> stop may race with a respawn; start below handles both
    try:
        client.start(lab.service_name, False)
    except sup.SupervisorError as exc:
        if "ALREADY_STARTED" not in str(exc):
            raise LabError(str(exc)) from exc
    lab.record_gateway_pid(None)
    return _wait_state(lab, (sup.BACKOFF, sup.FATAL))


def corrupt_store(lab):
    _require_up(lab)
    path = lab.data_dir / "tokens.json"
    atomic_write(path, '{"tokens": [ {"id": "tok_broken", \n', 0o600)
    state = _restart_into_crash_loop(lab)
    return f"corrupt-store: wrote invalid JSON into {path} and restarted {lab.service_name}; now {state}"


def corrupt_store_live(lab):
    """tokens.json made invalid under the running gateway, with no restart: /readyz's storage check fails while the
    gateway still answers and exports /metrics, which OnecGatewayStorageNotReady alerts on (corrupt-store's restart
    into a crash loop takes /metrics away, so only OnecGatewayDown could fire)."""
    _require_healthy(lab)
    path = lab.data_dir / "tokens.json"
    atomic_write(path, '{"tokens": [ {"id": "tok_broken", \n', 0o600)
    return f"corrupt-store-live: wrote invalid JSON into {path}; {lab.service_name} still runs (/readyz storage failing)"


def bad_migration(lab):
    _require_up(lab)
    path = lab.data_dir / "storage-meta.json"
    try:
        meta = json.loads(path.read_text())
        if not isinstance(meta, dict):
            meta = {}
    except (OSError, ValueError):
        meta = {}
    applied = list(meta.get("appliedMigrations") or ["001_init", "002_tokens_org", "003_rate_limits"])
    if "099_future" not in applied:
        applied.append("099_future")
    meta["schemaVersion"] = 99
    meta["appliedMigrations"] = applied
    atomic_write(path, json.dumps(meta) + "\n", 0o600)
    state = _restart_into_crash_loop(lab)
    return (f"bad-migration: set schemaVersion 99 and appliedMigrations += 099_future in {path} "
            f"and restarted {lab.service_name}; now {state}")


def stop(lab):
    _require_up(lab)
    state, pid = lab.program()
    if state in (sup.STOPPED, sup.EXITED, sup.FATAL):
        return f"stop: {lab.service_name} was already {state}"
    try:
        lab.client().stop(lab.service_name, True)
    except sup.SupervisorError as exc:
        if "NOT_RUNNING" not in str(exc):
            raise LabError(str(exc)) from exc
    lab.record_gateway_pid(None)
    state = _wait_state(lab, (sup.STOPPED, sup.EXITED, sup.FATAL))
    return f"stop: supervisorctl stop {lab.service_name} (was pid {pid}); now {state}"


def crash(lab):
    _require_up(lab)
    state, pid = lab.program()
    if state != sup.RUNNING or not pid:
        raise LabError(f"crash: {lab.service_name} is {state}, not RUNNING; nothing to crash")
    if not sup.is_our_gateway(pid, lab.data_dir):
        raise LabError(f"crash: pid {pid} does not look like this lab's gateway; not signalling it")
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + WAIT
    new_pid = None
    while time.monotonic() < deadline:
        state, new_pid = lab.program()
        if state == sup.RUNNING and new_pid and new_pid != pid:
            status, _ = http_json(lab.api_url + "/healthz", timeout=2)
            if status == 200:
                lab.record_gateway_pid(new_pid)
                return (f"crash: sent SIGKILL to gateway pid {pid}; supervisor restarted it as pid "
                        f"{new_pid}, healthy")
        time.sleep(0.1)
    lab.record_gateway_pid(new_pid)
    return f"crash: sent SIGKILL to gateway pid {pid}; supervisor state now {state} (pid {new_pid})"


# -- token faults (INC-002, INC-005, INC-006) -----------------------------------------------------
# They drive the running lab gateway over HTTP on loopback only, the way clients and attackers do;
# nothing is edited behind its back. Each records what it did (never a secret) in
# <state dir>/faults/<fault>.json for tests and drills.

AUTH_SPIKE_REVOKED_CALLS = 50
AUTH_SPIKE_UNKNOWN_CALLS = 20
RATE_STORM_RPM = 5
RATE_STORM_CALLS = 40
LEAK_NORMAL_CALLS = 5
LEAK_HEAVY_CALLS = 150
_FAULT_CLIENT = "ci-bot"
_FAULT_ORG = "org_acme"


def _require_healthy(lab):
    _require_up(lab)
    status, _ = http_json(lab.api_url + "/healthz", timeout=3)
    if status != 200:
        raise LabError(f"the lab gateway at {lab.api_url} is not healthy (/healthz: {status}); "
                       "token faults need it running")


def _admin(lab, method, path, body=None):
    status, answer = http_json(lab.api_url + path, method=method, token=lab.admin_token(), body=body, timeout=10)
    if status is None or status >= 300:
        raise LabError(f"{method} {path} -> {status}: {answer}")
    return answer


def _issue(lab, client_id, org_id, rpm):
    answer = _admin(lab, "POST", "/api/mcp-tokens", {
        "clientId": client_id, "orgId": org_id, "scopes": ["tools:read"],
        "rateLimit": {"requestsPerMinute": rpm}})
    return answer["token"], answer["secret"]


class _McpCaller:
    """POSTs JSON-RPC messages to the lab's /mcp over one kept-alive loopback connection."""

    def __init__(self, lab, secret, source_ip=None):
        host, port = lab.listen.rsplit(":", 1)
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise LabError(f"token faults only talk to a loopback gateway, not {host}")
        self.host, self.port, self.secret, self.source_ip = host, int(port), secret, source_ip
        self.conn = None
        self.statuses = {}
        self.next_id = 0

    def _connect(self):
        source = (self.source_ip, 0) if self.source_ip else None
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=10, source_address=source)

    def call(self, method, params=None):
        self.next_id += 1
        body = json.dumps({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params or {}})
        headers = {"Authorization": "Bearer " + self.secret, "Content-Type": "application/json",
                   "Accept": "application/json, text/event-stream"}
        for attempt in (1, 2):
            if self.conn is None:
                self._connect()
            try:
                self.conn.request("POST", "/mcp", body=body, headers=headers)
                resp = self.conn.getresponse()
                resp.read()
                if resp.getheader("Connection", "").lower() == "close":
                    self.close()
                break
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                if attempt == 2:
                    raise LabError(f"POST /mcp on {self.host}:{self.port}: {exc}") from exc
        self.statuses[resp.status] = self.statuses.get(resp.status, 0) + 1
        return resp.status

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def _record(lab, fault, **facts):
    facts = dict(fault=fault, at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **facts)
    path = lab.state_dir / "faults" / f"{fault}.json"
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    atomic_write(path, json.dumps(facts, indent=2, sort_keys=True) + "\n", 0o600)
    return path


def _token_facts(token):
    return {"token_id": token["id"], "token_prefix": token["prefix"], "client_id": token["clientId"],
            "org_id": token["orgId"]}


def auth_spike(lab):
    """A ci-bot token is revoked, and something keeps calling /mcp with its secret (403 revoked),
    plus a few calls with a secret the gateway never issued (401 unknown_token)."""
    _require_healthy(lab)
    token, secret = _issue(lab, _FAULT_CLIENT, _FAULT_ORG, 600)
    _admin(lab, "POST", f"/api/mcp-tokens/{token['id']}/revoke")
    caller = _McpCaller(lab, secret)
    try:
        for _ in range(AUTH_SPIKE_REVOKED_CALLS):
            caller.call("tools/list")
    finally:
        caller.close()
    del secret
    unknown = "mcp_" + secrets.token_hex(2) + secrets.token_urlsafe(30)
    unknown_prefix = unknown[:8]
    stranger = _McpCaller(lab, unknown)
    try:
        for _ in range(AUTH_SPIKE_UNKNOWN_CALLS):
            stranger.call("tools/list")
    finally:
        stranger.close()
    del unknown
    path = _record(lab, "auth-spike", **_token_facts(token), revoked_calls=caller.statuses,
                   unknown_prefix=unknown_prefix, unknown_calls=stranger.statuses)
    return (f"auth-spike: token {token['id']} prefix {token['prefix']} of client {token['clientId']} "
            f"({token['orgId']}) revoked, then {AUTH_SPIKE_REVOKED_CALLS} /mcp calls with its secret "
            f"(HTTP {caller.statuses}) and {AUTH_SPIKE_UNKNOWN_CALLS} with an unknown secret prefix "
            f"{unknown_prefix} (HTTP {stranger.statuses}); recorded in {path}")


def rate_storm(lab):
    """A ci-bot token limited to 5 requests a minute calls tools/list 40 times at once (429s)."""
    _require_healthy(lab)
    token, secret = _issue(lab, _FAULT_CLIENT, _FAULT_ORG, RATE_STORM_RPM)
    caller = _McpCaller(lab, secret)
    try:
        for _ in range(RATE_STORM_CALLS):
            caller.call("tools/list")
    finally:
        caller.close()
    del secret
    path = _record(lab, "rate-storm", **_token_facts(token), rate_limit=RATE_STORM_RPM, calls=caller.statuses)
    return (f"rate-storm: token {token['id']} prefix {token['prefix']} of client {token['clientId']} "
            f"({token['orgId']}, {RATE_STORM_RPM}/min) called tools/list {RATE_STORM_CALLS} times "
            f"(HTTP {caller.statuses}); recorded in {path}")


def leak(lab):
    """A token used normally, then from another loopback address with heavy data-reading calls."""
    _require_healthy(lab)
    token, secret = _issue(lab, "n8n-automation", _FAULT_ORG, 10000)
    normal = _McpCaller(lab, secret)
    try:
        for _ in range(LEAK_NORMAL_CALLS):
            normal.call("tools/call", {"name": "list_profiles", "arguments": {}})
    finally:
        normal.close()
    source_ip = "127.0.0.2"
    try:
        with socket.socket() as probe:
            probe.bind((source_ip, 0))
    except OSError:
        source_ip = None  # a loopback without 127.0.0.2: same ip, the volume still shows
    heavy = _McpCaller(lab, secret, source_ip=source_ip)
    try:
        for index in range(LEAK_HEAVY_CALLS):
            if index % 3 == 2:
                heavy.call("tools/call", {"name": "get_active_profile", "arguments": {}})
            else:
                heavy.call("tools/call", {"name": "list_profiles", "arguments": {}})
    finally:
        heavy.close()
    del secret
    path = _record(lab, "leak", **_token_facts(token), normal_calls=normal.statuses, heavy_calls=heavy.statuses,
                   heavy_ip=source_ip or "127.0.0.1")
    return (f"leak: token {token['id']} prefix {token['prefix']} of client {token['clientId']} "
            f"({token['orgId']}) made {LEAK_NORMAL_CALLS} normal calls, then {LEAK_HEAVY_CALLS} data-reading "
            f"tool calls from {source_ip or '127.0.0.1'} (HTTP {heavy.statuses}); recorded in {path}")


# -- upstream faults (INC-004) ----------------------------------------------------------------------
# The lab's 1C OData upstream (mcpops.lab.fixtures.odata_upstream) is started on first use where the production
# profiles' odataUrl point; each fault changes it live and records what it did.


def _upstream(lab):
    from mcpops.lab.fixtures.odata_upstream import LabUpstream, UpstreamError

    upstream = LabUpstream(lab.state_dir, lab.data_dir)
    try:
        server, _ = upstream.ensure()
    except UpstreamError as exc:
        raise LabError(str(exc)) from exc
    return upstream, server


def _upstream_mode(lab, fault, mode, what):
    upstream, server = _upstream(lab)
    upstream.set_mode(mode)
    port = server.ports.get("odata")
    path = _record(lab, fault, mode=mode, port=port, pid=server.pid, ca_file=str(upstream.ca_file))
    return f"{fault}: the lab OData upstream (pid {server.pid}, port {port}) now {what}; recorded in {path}"


def upstream_slow(lab):
    from mcpops.lab.fixtures.odata_upstream import SLOW_SECONDS

    return _upstream_mode(lab, "upstream-slow", "slow", f"answers $metadata after {SLOW_SECONDS}s")


def upstream_down(lab):
    return _upstream_mode(lab, "upstream-down", "failing", "answers $metadata with HTTP 500")


# INC-004 step 2: a 1C publication is a web server in front of the 1C cluster; either can be the one down.

def upstream_web_down(lab):
    """The web server is down: the upstream process stopped by its PID, so its port refuses connections."""
    upstream, server = _upstream(lab)
    port = server.ports.get("odata")
    pid = upstream.stop()
    path = _record(lab, "upstream-web-down", port=port, pid=pid, ca_file=str(upstream.ca_file))
    return (f"upstream-web-down: the lab OData upstream's web server (pid {pid}) is stopped, port {port} refuses "
            f"connections; recorded in {path}")


def upstream_cluster_down(lab):
    from mcpops.lab.fixtures.odata_upstream import CLUSTER_ADDRESS

    return _upstream_mode(lab, "upstream-cluster-down", "cluster-down",
                          f"answers $metadata with HTTP 500 and 1C's error: the cluster {CLUSTER_ADDRESS} is not reachable")


def cert_expiring(lab):
    from mcpops.lab.fixtures.ca import EXPIRING_DAYS

    upstream, server = _upstream(lab)
    serial = upstream.reissue(days=EXPIRING_DAYS)
    path = _record(lab, "cert-expiring", serial="%X" % serial, days=EXPIRING_DAYS, pid=server.pid,
                   cert_file=str(upstream.cert_file))
    return (f"cert-expiring: the lab OData upstream (pid {server.pid}) now serves certificate {serial:X}, "
            f"valid {EXPIRING_DAYS} more days; recorded in {path}")


def gateway_cert_expiring(lab):
    """The gateway's TLS endpoint (mcpops.lab.fixtures.gateway_tls: started on first use) serves a certificate of the
    lab's test CA with EXPIRING_DAYS left, under OnecGatewayCertificateExpiring's 14 days; cert-renewal renews it."""
    from mcpops.lab.fixtures.ca import EXPIRING_DAYS
    from mcpops.lab.fixtures.gateway_tls import GatewayTlsError, LabGatewayTls

    tls = LabGatewayTls(lab.state_dir)
    try:
        serial = "%X" % tls.reissue(lab.listen, days=EXPIRING_DAYS)
        server = tls.server()
        deadline = time.monotonic() + WAIT
        while (tls.served() or ("",))[0] != serial:  # the reload (SIGHUP) takes effect at the next handshake
            if time.monotonic() > deadline:
                raise LabError(f"gateway-cert-expiring: {tls.address(server)} still does not serve {serial} "
                               f"{WAIT:.0f}s after its reload")
            time.sleep(0.1)
    except (GatewayTlsError, OSError) as exc:
        raise LabError(f"gateway-cert-expiring: {exc}") from exc
    path = _record(lab, "gateway-cert-expiring", serial=serial, days=EXPIRING_DAYS, pid=server.pid,
                   endpoint=tls.address(server), cert_file=str(tls.cert_file), key_file=str(tls.key_file),
                   ca_file=str(tls.ca_file))
    return (f"gateway-cert-expiring: the lab gateway's TLS endpoint {tls.address(server)} (pid {server.pid}) now "
            f"serves certificate {serial}, valid {EXPIRING_DAYS} more days; recorded in {path}")


# -- service lifecycle faults (INC-001, rolling restart, the index-job guard) ----------------------

INDEX_JOB_SECONDS = 30  # how long the index-job fault's discover runs; tests may lower it
FILL_LEAVE_BYTES = 256 * 1024  # what fill-volume leaves free: enough for the gateway to keep running
FILL_MAX_VOLUME_BYTES = 1024 ** 3  # fill-volume refuses bigger volumes: it is for a small test mount
DISCOVER_KEY = "ONEC_MCP_DISCOVER_SECONDS"
RELEASE_KEY = "ONEC_MCP_LAB_DISCOVER_RELEASE_FILE"


def index_job_release_file(lab):
    """The file whose creation ends the index-job fault's job early (release_index_job)."""
    return Path(lab.state_dir) / "index-job.release"


def set_env_line(path, key, value):
    """Set KEY=VALUE in the gateway's env file (ONEC_MCP_ENV_FILE), keeping every other line."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        lines = []
    kept = [line for line in lines if not line.split("=", 1)[0].strip() == key]
    atomic_write(path, "".join(line + "\n" for line in kept + ["%s=%s" % (key, value)]), 0o600)


def index_job(lab):
    """A long index.discover job (INDEX_JOB_SECONDS): the gateway is restarted once with that discover
    length (ONEC_MCP_DISCOVER_SECONDS in its env file) and a job is started over the API."""
    _require_healthy(lab)
    release = index_job_release_file(lab)
    release.unlink(missing_ok=True)
    set_env_line(lab.env_file, DISCOVER_KEY, INDEX_JOB_SECONDS)
    set_env_line(lab.env_file, RELEASE_KEY, release)
    client = lab.client()
    client.stop(lab.service_name, True)
    client.start(lab.service_name, True)
    deadline = time.monotonic() + WAIT
    while http_json(lab.api_url + "/healthz", timeout=2)[0] != 200:
        if time.monotonic() > deadline:
            raise LabError(f"index-job: {lab.service_name} did not answer /healthz within {WAIT:.0f}s "
                           "after its restart")
        time.sleep(0.2)
    lab.record_gateway_pid(lab.gateway_pid())
    job = _admin(lab, "POST", "/api/system/index/discover", {})["job"]
    path = _record(lab, "index-job", job_id=job["id"], seconds=INDEX_JOB_SECONDS, gateway_pid=lab.gateway_pid())
    return (f"index-job: started index.discover job {job['id']} that runs {INDEX_JOB_SECONDS}s "
            f"({DISCOVER_KEY} in {lab.env_file}); recorded in {path}")


def release_index_job(lab):
    """End the index-job fault's job now (the reference gateway polls for the release file): a test that is done
    with the running job does not wait out INDEX_JOB_SECONDS."""
    atomic_write(index_job_release_file(lab), "released\n", 0o600)


def fill_volume(lab):
    """Fill the (small) volume that holds the lab's data dir until FILL_LEAVE_BYTES are free, with one
    file next to the data dir (never in it: it is not the gateway's data)."""
    _require_up(lab)
    st = os.statvfs(lab.data_dir)
    size = st.f_blocks * st.f_frsize
    if size > FILL_MAX_VOLUME_BYTES:
        raise LabError(f"fill-volume: {lab.data_dir} is on a {size // 1024 ** 2} MiB volume; this fault only fills "
                       f"volumes up to {FILL_MAX_VOLUME_BYTES // 1024 ** 2} MiB (put the lab's state dir on a small "
                       "tmpfs or loop mount)")
    filler = lab.state_dir / "fill-volume.bin"
    free = st.f_bavail * st.f_frsize
    with open(filler, "ab") as handle:
        chunk = b"\0" * (64 * 1024)
        while free > FILL_LEAVE_BYTES + len(chunk):
            handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
            st = os.statvfs(lab.data_dir)
            free = st.f_bavail * st.f_frsize
    path = _record(lab, "fill-volume", filler=str(filler), free_bytes=free, volume_bytes=size)
    return f"fill-volume: wrote {filler}; {free // 1024} KiB of {size // 1024} KiB left free; recorded in {path}"


def not_ready(lab):
    """The gateway runs and answers /healthz, but /readyz says 503 (index/ missing): a host that fails a
    health gate after a restart. index/ is moved aside to <state dir>/index.moved, not deleted."""
    _require_healthy(lab)
    index, aside = lab.data_dir / "index", lab.state_dir / "index.moved"
    if index.is_dir():
        if aside.exists():
            raise LabError(f"not-ready: {aside} already exists; move it back to {index} or remove it first")
        os.rename(index, aside)
    status, body = http_json(lab.api_url + "/readyz", timeout=3)
    return f"not-ready: moved {index} to {aside}; /readyz now answers {status} {body}"


def repair_not_ready(lab):
    """index/ back from <state dir>/index.moved (what not-ready moved aside); one that exists again is left alone."""
    index, aside = lab.data_dir / "index", lab.state_dir / "index.moved"
    if not aside.is_dir():
        return f"not-ready: nothing to repair (no {aside})"
    if index.exists():
        return f"not-ready: {index} exists again; {aside} left for a person to compare and remove"
    os.rename(aside, index)
    status, _ = http_json(lab.api_url + "/readyz", timeout=3)
    return f"not-ready: moved {aside} back to {index}; /readyz now answers {status}"


# -- 5xx (OnecGatewayServerErrors, health-check) --------------------------------------------------------------------
# usage.jsonl made a link to a log volume that is not there: the gateway cannot append a tool call's usage line and
# answers every tools/call 500 (its internal error) while /healthz and /readyz stay 200. Then a client calls.

USAGE_LOG_CALLS = 40        # tools/call list_profiles of one client, each answered 500
USAGE_LOG_FIRST = 4         # of them the first few, USAGE_LOG_PAUSE s apart: a series the gateway starts at its first
USAGE_LOG_PAUSE = 0.5       # 500 must be scraped before Prometheus can count an increase (a burst between two scrapes
                            # would never show), and a few stay under OnecGatewayServerErrors' 10; then the rest at once


def _usage_paths(lab):
    """(usage.jsonl, where the fault keeps the file, the log volume the link points into: never there)."""
    return lab.data_dir / "usage.jsonl", lab.state_dir / "usage.jsonl.aside", lab.state_dir / "log-volume"


def usage_log_unwritable(lab):
    """usage.jsonl becomes a link to <state dir>/log-volume/usage.jsonl, a volume that is not mounted (the dir does
    not exist), as when a gateway's usage log lives on a log volume of its own that did not come back; the file is
    kept aside (a hard link first, then the link put in its place at once: no line is lost). A client then calls
    tools/call USAGE_LOG_CALLS times, the first USAGE_LOG_FIRST a moment apart: every call fails with 500."""
    _require_healthy(lab)
    usage, aside, volume = _usage_paths(lab)
    if usage.is_symlink() or aside.exists():
        raise LabError(f"usage-log-unwritable: already in place ({usage} is a link, or {aside} exists); "
                       "repair it first")
    if volume.exists():
        raise LabError(f"usage-log-unwritable: {volume} exists; the fault needs a log volume that is not there")
    if not usage.exists():
        atomic_write(usage, "", 0o640)
    os.link(usage, aside)
    link = lab.data_dir / ".usage.jsonl.fault-link"
    link.unlink(missing_ok=True)
    os.symlink(volume / "usage.jsonl", link)
    os.replace(link, usage)
    token, secret = _issue(lab, "n8n-automation", _FAULT_ORG, 10000)
    caller = _McpCaller(lab, secret)
    try:
        for number in range(USAGE_LOG_CALLS):
            caller.call("tools/call", {"name": "list_profiles", "arguments": {}})
            if number < USAGE_LOG_FIRST:
                time.sleep(USAGE_LOG_PAUSE)
    finally:
        caller.close()
    del secret
    path = _record(lab, "usage-log-unwritable", **_token_facts(token), calls=caller.statuses, link=str(usage),
                   points_to=str(volume / "usage.jsonl"), aside=str(aside))
    if not any(500 <= status < 600 for status in caller.statuses):
        raise LabError(f"usage-log-unwritable: tools/call answered {caller.statuses}, no 5xx; recorded in {path}")
    return (f"usage-log-unwritable: {usage} links to {volume / 'usage.jsonl'} (no such volume; the file kept as "
            f"{aside}); client {token['clientId']} called tools/call list_profiles {USAGE_LOG_CALLS} times, the first "
            f"{USAGE_LOG_FIRST} {USAGE_LOG_PAUSE:g}s apart (HTTP {caller.statuses}); recorded in {path}")


def repair_usage_log(lab):
    """usage.jsonl a file again: the one kept aside put back in place of the link, at once."""
    usage, aside, _ = _usage_paths(lab)
    if not aside.exists():
        return f"usage-log-unwritable: nothing to repair (no {aside})"
    os.replace(aside, usage)
    return f"usage-log-unwritable: {usage} is the file again (the link to the missing log volume replaced)"


# -- backup age (backup-scheduled, OnecGatewayBackupStale) -----------------------------------------------------------

STALE_BACKUP_HOURS = 30  # past OnecGatewayBackupStale's 26 h (extensions/prometheus/rules/onec-gateway.rules.yml)


def _backup_manifests(lab):
    """{backup id: its manifest.json} of every backup under the data dir's backups/ (not .sealed or .tmp-)."""
    root = lab.data_dir / "backups"
    if not root.is_dir():
        return {}
    return {p.name: p / "manifest.json" for p in sorted(root.iterdir())
            if not p.name.startswith(".") and (p / "manifest.json").is_file()}


def _set_created_at(manifest_path, created_at):
    """createdAt of one manifest (the gateway's onec_gateway_last_backup_timestamp_seconds reads it on every scrape),
    and the backup dir's and manifest's mtimes with it; the file's mode is kept."""
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["createdAt"] = created_at
    atomic_write_json(manifest_path, manifest, manifest_path.stat().st_mode & 0o777)  # the gateway's own format
    epoch = _epoch(created_at)
    for path in (manifest_path, manifest_path.parent):
        os.utime(path, (epoch, epoch))


def _epoch(stamp):
    return calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))


def stale_backup(lab):
    """Every backup dated STALE_BACKUP_HOURS earlier (its manifest's createdAt and its mtimes): the newest backup is
    older than OnecGatewayBackupStale's 26 h, as when the nightly backup stopped running a day ago. The gateway's own
    metric goes stale; nothing fakes it. The true dates are recorded (faults/stale-backup.json) for the repair, and a
    second break keeps the first one's: the backups never move further back."""
    _require_healthy(lab)
    manifests = _backup_manifests(lab)
    if not manifests:
        raise LabError(f"stale-backup: no backup under {lab.data_dir / 'backups'} to age; take one first "
                       f"(POST /api/system/backups)")
    try:
        true_dates = json.loads((lab.state_dir / "faults" / "stale-backup.json").read_text()).get("true_dates") or {}
    except (OSError, ValueError):
        true_dates = {}
    aged = []
    for backup_id, path in manifests.items():
        try:
            created = true_dates.get(backup_id) or json.loads(path.read_text(encoding="utf-8")).get("createdAt")
            back = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(_epoch(created) - STALE_BACKUP_HOURS * 3600))
        except (OSError, ValueError, TypeError, AttributeError):
            continue  # a manifest the gateway cannot date either: it is not in the metric
        true_dates[backup_id] = created
        _set_created_at(path, back)
        aged.append(backup_id)
    if not aged:
        raise LabError(f"stale-backup: no backup under {lab.data_dir / 'backups'} has a createdAt to age")
    newest = max(true_dates[b] for b in aged)
    path = _record(lab, "stale-backup", true_dates=true_dates, hours=STALE_BACKUP_HOURS, backups=len(aged))
    return (f"stale-backup: {len(aged)} backup(s) under {lab.data_dir / 'backups'} dated {STALE_BACKUP_HOURS} h "
            f"back (newest was {newest}); recorded in {path}")


def repair_stale_backup(lab):
    """The backups' true dates back (what stale-backup recorded); a backup taken since is left as it is."""
    record = lab.state_dir / "faults" / "stale-backup.json"
    try:
        true_dates = json.loads(record.read_text()).get("true_dates") or {}
    except (OSError, ValueError):
        return "stale-backup: nothing to repair (no record of the fault)"
    manifests = _backup_manifests(lab)
    back = sorted(b for b in true_dates if b in manifests)
    for backup_id in back:
        _set_created_at(manifests[backup_id], true_dates[backup_id])
    record.unlink()
    return f"stale-backup: {len(back)} backup(s) have their true dates again"


def _backups_aside(lab):
    return lab.state_dir / "backups.moved"


def no_backup(lab):
    """Every backup under backups/ (each dir the gateway lists) moved into <state dir>/backups.moved: the gateway's
    onec_gateway_backups is 0, as on a gateway that never took one (OnecGatewayNoBackup); the ids are recorded for
    the repair. backups/ itself and its dot entries stay."""
    _require_healthy(lab)
    root, aside = lab.data_dir / "backups", _backups_aside(lab)
    if aside.exists():
        raise LabError(f"no-backup: {aside} already exists; repair the fault first")
    moved = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")) \
        if root.is_dir() else []
    aside.mkdir(mode=0o700)
    for backup_id in moved:
        os.rename(root / backup_id, aside / backup_id)
    path = _record(lab, "no-backup", moved=moved, aside=str(aside))
    status, body = http_json(lab.api_url + "/api/system/backups", token=lab.admin_token(), timeout=10)
    left = len((body or {}).get("backups") or []) if status == 200 else None
    return (f"no-backup: moved {len(moved)} backup(s) from {root} to {aside}; the gateway lists {left}; "
            f"recorded in {path}")


def repair_no_backup(lab):
    """The backups no-backup moved aside back under backups/ (beside any taken since); the aside dir removed."""
    root, aside = lab.data_dir / "backups", _backups_aside(lab)
    if not aside.is_dir():
        return f"no-backup: nothing to repair (no {aside})"
    root.mkdir(mode=0o700, exist_ok=True)
    back, kept = [], []
    for entry in sorted(aside.iterdir()):
        if (root / entry.name).exists():
            kept.append(entry.name)
            continue
        os.rename(entry, root / entry.name)
        back.append(entry.name)
    if kept:
        return f"no-backup: {len(back)} backup(s) back under {root}; {', '.join(kept)} already there, left in {aside}"
    aside.rmdir()
    return f"no-backup: {len(back)} backup(s) back under {root}"


def repair_upstream(lab):
    """The lab's 1C upstream serving again: its web server started when it is stopped, its cluster healthy."""
    upstream, server = _upstream(lab)
    upstream.set_mode("healthy")
    return f"the lab OData upstream (pid {server.pid}, port {server.ports.get('odata')}) answers $metadata again"


def repair_stop(lab):
    """The stopped gateway started again by its supervisor, as INC-001's restart does."""
    _require_up(lab)
    lab.client().start(lab.service_name, True)
    lab.record_gateway_pid(lab.gateway_pid())
    return f"supervisorctl start {lab.service_name}; now {lab.program_state()}"


def repair_gateway_cert(lab):
    """The gateway's TLS endpoint back on a long certificate (what cert-renewal's reissue does)."""
    from mcpops.lab.fixtures.gateway_tls import LONG_DAYS, LabGatewayTls

    serial = LabGatewayTls(lab.state_dir).reissue(lab.listen, days=LONG_DAYS)
    return f"the gateway's TLS endpoint reloaded with certificate {serial:X} ({LONG_DAYS} days)"


_REPAIRS = {"stop": repair_stop, "gateway-cert-expiring": repair_gateway_cert,
            "stale-backup": repair_stale_backup, "no-backup": repair_no_backup, "not-ready": repair_not_ready,
            "usage-log-unwritable": repair_usage_log, "upstream-down": repair_upstream,
            "upstream-slow": repair_upstream, "upstream-cluster-down": repair_upstream,
            "upstream-web-down": repair_upstream}
REPAIRS = tuple(_REPAIRS)


def repair(lab, fault):
    """Undo a fault as an operator would, where the lab can (for a drill whose run was denied, a read-only runbook's
    drill, `mcpops lab repair`); UnknownFault for a name that is no fault, LabError for a fault it cannot undo."""
    fn = _REPAIRS.get(fault)
    if fn is None:
        if fault not in _FAULTS:
            raise UnknownFault(f"unknown fault {fault!r}; faults: {', '.join(_FAULTS)}")
        raise LabError(f"the local lab cannot undo {fault} itself: its runbook does (`mcpops drill` names it); "
                       f"`mcpops lab down` and `mcpops lab up` start over (repairs: {', '.join(_REPAIRS)})")
    return fn(lab)


_FAULTS = {
    "corrupt-store": corrupt_store,
    "corrupt-store-live": corrupt_store_live,
    "bad-migration": bad_migration,
    "stop": stop,
    "crash": crash,
    "auth-spike": auth_spike,
    "rate-storm": rate_storm,
    "leak": leak,
    "upstream-slow": upstream_slow,
    "upstream-down": upstream_down,
    "upstream-web-down": upstream_web_down,
    "upstream-cluster-down": upstream_cluster_down,
    "cert-expiring": cert_expiring,
    "gateway-cert-expiring": gateway_cert_expiring,
    "index-job": index_job,
    "fill-volume": fill_volume,
    "not-ready": not_ready,
    "stale-backup": stale_backup,
    "no-backup": no_backup,
    "usage-log-unwritable": usage_log_unwritable,
}
FAULTS = tuple(_FAULTS)


def inject(lab, fault):
    fn = _FAULTS.get(fault)
    if fn is None:
        raise UnknownFault(f"unknown fault {fault!r}; faults: {', '.join(FAULTS)}")
    return fn(lab)
