"""connector-mcp's own faults (docs/dev/connector-contract.md, "Lab faults"), on a lab started with
`mcpops lab up --service connector-mcp`, and its `healthy` that undoes them.

Each fault returns one line saying what it did and what is now visible; it waits (polling with a deadline) until
the symptom shows, and says so honestly when it does not (e.g. a backend without the feature yet). Each is given the
ServiceLab (its public methods and its `topology`, mcpops.lab.local.connector_topology).

`healthy` undoes what the LAB did: faults.json cleared on every instance (and an instance whose faults.json leaked
pool connections or memory, or failed a datasource, restarted: only a restart frees those and closes its breakers),
the env overrides removed and those instances restarted, the filler sessions closed and max_connections restored,
the storm source's ratelimit keys deleted, the lab's expired oauth_states rows deleted, releases/current back to
1.0.0 (previous and the lab's 1.0.1 removed; the instances restarted), nginx running. It also returns a rehearsed
scale-out to the `up` state: nginx's upstreams.conf emptied (nginx reloaded) and the standby instance
(connectormcp-backend-3) stopped, its faults.json and env overrides removed. It leaves the operator's other things as
the operator left them: nginx's blocklist.conf and the CONNECTOR_CONFIG file.

rate-limit-memory (RATE_LIMIT_BACKEND=memory on backend-2, restarted) is the state in which the runbook forbids adding
instances: each instance counts its own window, so N instances let N times the limit through. healthy undoes it as
it undoes every env override (common healthy: overrides removed, that instance restarted).
"""

import datetime
import http.client
import json
import os
import secrets as _secrets
import subprocess
import time

from mcpops.lab.http_client import http_json
from mcpops.lab.local import supervisor as sup
from mcpops.lab.local.connector_topology import (
    BASE_VERSION, FILLER_PASSWORD_SECRET, FILLER_USER, WAIT, poll, read_status_file)
from mcpops.lab.local.errors import LabError
from mcpops.lab.local.service_catalog import CONNECTOR_LAB_ENV, MYSQL

STORM_SOURCE = "127.0.0.77"
STORM_REQUESTS = 400
STORM_SECONDS = 60.0  # a backend that answers slowly (pool exhausted) does not hold the storm for minutes
EXPIRED_ROWS = 5000
EXPIRED_PREFIX = "lab-expired-"
CLOCK_SKEW_SECONDS = 900
LEAK_MB_PER_REQUEST = 16
BAD_VERSION = "1.0.1"
FAILING_DATASOURCE = "slack"
FILLER_HEADROOM = 3  # max_connections = the sessions connected now + this; the filler takes the rest
# faults.json keys whose effect only a restart of the instance undoes
RESTART_KEYS = ("pool_leak", "leak_mb_per_request", "failing_datasources")
REQUEST_TIMEOUT = 10.0
MEMORY_BACKEND = "memory"  # rate-limit-memory: RATE_LIMIT_BACKEND of backend-2


def _require_up(lab):
    if not lab.supervisord_pid():
        raise LabError(f"the lab in {lab.state_dir} is not up: `mcpops lab up` first")


def _short(status, body):
    if status is None:
        return f"no answer ({(body or {}).get('error')})"
    return f"{status} {json.dumps(body, sort_keys=True)[:200]}"


def _dig(body, *keys):
    node = body
    for key in keys:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _merge_faults(lab, program, **faults):
    current = lab.read_faults(program)
    current.update(faults)
    return lab.write_faults(current, program)


def _deep(url):
    return http_json(url + "/api/health", timeout=REQUEST_TIMEOUT)


def _post(url, path, payload):
    return http_json(url + path, method="POST", body=payload, timeout=REQUEST_TIMEOUT)


def _restart_and_wait(lab, program):
    lab.restart_program(program)
    lab.wait_program((sup.RUNNING,), program, timeout=WAIT)


# ---------------------------------------------------------------------- MariaDB


def mysql_down(lab):
    _require_up(lab)
    pid = lab.stop_datastore(MYSQL)
    status, body = poll(lambda: lab.check("deep"), lambda r: not lab.spec.deep.passes(*r), timeout=15)
    return ("mysql-down: " + (f"stopped MariaDB pid {pid}" if pid else "MariaDB was not running")
            + f"; {lab.spec.deep.path} answers {_short(status, body)}")


def _filler_password(lab):
    path = lab.secret_file(FILLER_PASSWORD_SECRET)
    if not path.exists():
        from mcpops.lab.gateway.fsutil import atomic_write

        atomic_write(path, _secrets.token_hex(16) + "\n", 0o600)
    return path


def _service_login_refused(lab):
    """None when the backends' user can open a new session, else the server's refusal."""
    import pymysql

    login = lab.datastore_login(MYSQL)
    try:
        conn = pymysql.connect(host=login["host"], port=login["port"], user=login["user"], password=login["password"],
                               database=login["database"], connect_timeout=5)
    except pymysql.MySQLError as exc:
        return f"({exc.args[0]}, {exc.args[-1]!r})" if exc.args else type(exc).__name__
    conn.close()
    return None


def mysql_max_connections(lab):
    _require_up(lab)
    topo = lab.topology
    if topo.filler_pid():
        topo.stop_filler()
    password_file = _filler_password(lab)
    password = password_file.read_text().strip()
    conn = topo.mysql_root()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT @@GLOBAL.max_connections")
            current_max = int(cur.fetchone()[0])
            cur.execute("SHOW GLOBAL STATUS LIKE 'Threads_connected'")
            threads = int(cur.fetchone()[1])
            cur.execute("CREATE USER IF NOT EXISTS %s@'127.0.0.1' IDENTIFIED BY %s", (FILLER_USER, password))
            cur.execute("ALTER USER %s@'127.0.0.1' IDENTIFIED BY %s", (FILLER_USER, password))
            lowered = threads + FILLER_HEADROOM
            cur.execute("SET GLOBAL max_connections = %s", (lowered,))
    finally:
        conn.close()
    original = (topo.record().get("filler") or {}).get("original_max_connections") or current_max
    topo._update(filler={"pid": None, "original_max_connections": original, "max_connections": lowered})
    status_file = topo.filler_status_file
    try:
        os.unlink(status_file)
    except FileNotFoundError:
        pass
    record = topo.mysql_record()
    log = open(lab.logs_dir / "filler.log", "ab")
    try:
        proc = subprocess.Popen(topo.holder_command(record["port"], password_file, 500), cwd=str(lab.state_dir),
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, close_fds=True)
    finally:
        log.close()
    topo._update(filler={"pid": proc.pid, "original_max_connections": original, "max_connections": lowered})
    said = poll(lambda: read_status_file(status_file), lambda s: s.get("refused") or proc.poll() is not None,
                timeout=30)
    if proc.poll() is not None:
        raise LabError(f"the filler session holder exited {proc.returncode}; see {lab.logs_dir / 'filler.log'}")
    refusal = poll(lambda: _service_login_refused(lab), lambda r: r is not None, timeout=20)
    seen = (f"a new {lab.datastore_login(MYSQL)['user']} login is refused: {refusal}" if refusal
            else "a new login of the backends' user still succeeds (not refused within 20s)")
    return (f"mysql-max-connections: SET GLOBAL max_connections = {lowered} (was {current_max}); the {FILLER_USER} "
            f"user holds {said.get('held', 0)} idle sessions (holder pid {proc.pid}, refused: "
            f"{said.get('error')}); {seen}")


def _release_filler(lab):
    """Stop the holder and restore max_connections (when MariaDB runs); what was done, as phrases."""
    topo = lab.topology
    did = []
    pid = topo.stop_filler()
    if pid:
        did.append(f"stopped the {FILLER_USER} session holder pid {pid}")
    filler = topo.record().get("filler")
    if filler and filler.get("original_max_connections") and lab.datastore_pid(MYSQL):
        conn = topo.mysql_root()
        try:
            with conn.cursor() as cur:
                cur.execute("SET GLOBAL max_connections = %s", (int(filler["original_max_connections"]),))
        finally:
            conn.close()
        did.append(f"max_connections back to {filler['original_max_connections']}")
        topo._update(filler=None)
    return did


def oauth_states_expired(lab):
    _require_up(lab)
    conn = lab.topology.mysql_root(database=lab.spec.datastore(MYSQL).database)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() "
                        "AND table_name = 'oauth_states'")
            if not cur.fetchone()[0]:
                raise LabError("connectorMCP.oauth_states does not exist yet (the backends create it at start): "
                               "`mcpops lab break healthy` and try again")
            cur.execute("SELECT NOW()")
            now = cur.fetchone()[0]
            datasources = ("slack", "github", "jira")
            rows = []
            for i in range(EXPIRED_ROWS):
                created = now - datetime.timedelta(days=2, seconds=i * 7)
                rows.append((EXPIRED_PREFIX + _secrets.token_hex(16), datasources[i % 3], created,
                             created + datetime.timedelta(minutes=10)))
            for start in range(0, len(rows), 1000):
                cur.executemany("INSERT INTO oauth_states (state, datasource, created_at, expires_at) "
                                "VALUES (%s, %s, %s, %s)", rows[start:start + 1000])
            cur.execute("SELECT COUNT(*), SUM(expires_at < NOW()) FROM oauth_states")
            total, expired = cur.fetchone()
    finally:
        conn.close()
    return (f"oauth-states-expired: inserted {EXPIRED_ROWS} rows with expires_at in the past into "
            f"connectorMCP.oauth_states (state {EXPIRED_PREFIX}*); now {int(expired or 0)} of {total} rows expired")


def _delete_expired_rows(lab):
    if not lab.datastore_pid(MYSQL):
        return []
    conn = lab.topology.mysql_root(database=lab.spec.datastore(MYSQL).database)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() "
                        "AND table_name = 'oauth_states'")
            if not cur.fetchone()[0]:
                return []
            deleted = cur.execute("DELETE FROM oauth_states WHERE state LIKE %s", (EXPIRED_PREFIX + "%",))
    finally:
        conn.close()
    return [f"deleted the lab's {deleted} expired oauth_states rows"] if deleted else []


# ---------------------------------------------------------------------- per-instance faults


def pool_exhausted(lab):
    _require_up(lab)
    program = lab.topology.instances[0]
    url = lab.program_url(program)
    path = _merge_faults(lab, program, pool_leak=True)
    size = int(CONNECTOR_LAB_ENV["DB_POOL_SIZE"])
    sent = [0]

    def once():
        sent[0] += 1
        return _deep(url)

    def exhausted(result):
        status, body = result
        db = _dig(body, "database") or {}
        return "pool exhausted" in str(db.get("error") or "") or (status == 503 and _dig(db, "pool", "available") == 0)

    status, body = poll(once, lambda r: exhausted(r) or sent[0] >= size * 4, timeout=WAIT, interval=0.05)
    seen = (f"its /api/health now says {_short(status, _dig(body, 'database'))}" if exhausted((status, body))
            else f"its pool is not exhausted after {sent[0]} requests (does this backend honour pool_leak?): "
                 f"{_short(status, _dig(body, 'database'))}")
    return f"pool-exhausted: wrote {{\"pool_leak\": true}} to {path}; sent {sent[0]} requests to {program}; {seen}"


def datasource_failing(lab):
    _require_up(lab)
    threshold = int(CONNECTOR_LAB_ENV["CIRCUIT_FAILURE_THRESHOLD"])
    said = []
    for program in lab.topology.instances:
        _merge_faults(lab, program, failing_datasources=[FAILING_DATASOURCE])
    for program in lab.topology.instances:
        url = lab.program_url(program)
        statuses = []

        def call(u=url, s=statuses):
            status, _ = _post(u, "/api/tools/call", {"datasource": FAILING_DATASOURCE, "tool": "search"})
            s.append(status)
            return _deep(u)

        def opened(result):
            return _dig(result[1], "mcp_connectors", FAILING_DATASOURCE, "circuit") == "open"

        status, body = poll(call, lambda r, s=statuses: opened(r) or len(s) >= threshold * 2 + 2, timeout=WAIT,
                            interval=0.05)
        counts = ", ".join(f"{c}x{statuses.count(c)}" for c in sorted(set(statuses), key=str))
        circuit = _dig(body, "mcp_connectors", FAILING_DATASOURCE)
        said.append(f"{program}: {len(statuses)} tool calls ({counts}), {FAILING_DATASOURCE} breaker "
                    + (json.dumps(circuit, sort_keys=True) if circuit else "not shown")
                    + ("" if opened((status, body)) else " (not open: does this backend honour failing_datasources?)"))
    return (f"datasource-failing: failing_datasources [\"{FAILING_DATASOURCE}\"] in every instance's faults.json; "
            + "; ".join(said))


def rate_limit_storm(lab):
    _require_up(lab)
    lb = lab.topology.lb_url
    host, port = lb.rsplit("/", 1)[-1].split(":")
    statuses = []
    conn = None
    payload = json.dumps({"datasource": "slack"})
    deadline = time.monotonic() + STORM_SECONDS
    try:
        for _ in range(STORM_REQUESTS):
            if time.monotonic() >= deadline:
                break
            if conn is None:
                conn = http.client.HTTPConnection(host, int(port), timeout=REQUEST_TIMEOUT,
                                                  source_address=(STORM_SOURCE, 0))
            try:
                conn.request("POST", "/api/oauth/start", body=payload, headers={"Content-Type": "application/json"})
                resp = conn.getresponse()
                resp.read()
                statuses.append(resp.status)
                if resp.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                statuses.append(None)
                conn.close()
                conn = None
    finally:
        if conn is not None:
            conn.close()
    counts = ", ".join(f"{c}x{statuses.count(c)}" for c in sorted(set(statuses), key=str))
    keys = []
    try:
        keys = sorted(k.decode() for k in lab.topology.redis().scan_iter(match=f"ratelimit:{STORM_SOURCE}*", count=500))
    except Exception as exc:  # Redis down: say so, the storm happened anyway
        keys = [f"(Redis: {type(exc).__name__})"]
    if len(statuses) < STORM_REQUESTS:
        counts += f" (stopped after {len(statuses)}: {STORM_SECONDS:.0f}s passed)"
    seen = "429s seen" if 429 in statuses else "no 429 seen (does this backend rate-limit by X-Forwarded-For?)"
    return (f"rate-limit-storm: sent {STORM_REQUESTS} POST /api/oauth/start through nginx {lb} from {STORM_SOURCE}: "
            f"{counts}; {seen}; Redis keys {', '.join(keys[:3]) or 'none'}")


def _delete_storm_keys(lab):
    try:
        client = lab.topology.redis()
        keys = list(client.scan_iter(match=f"ratelimit:{STORM_SOURCE}*", count=500))
        if keys:
            client.delete(*keys)
    except Exception:  # Redis down: its keys have a TTL anyway
        return []
    return [f"deleted {len(keys)} ratelimit keys of {STORM_SOURCE}"] if keys else []


def _skew_of(body):
    now = _dig(body, "clock", "now")
    if not now:
        return None
    try:
        when = datetime.datetime.fromisoformat(str(now).replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return (when - datetime.datetime.now(datetime.timezone.utc)).total_seconds()


def clock_skew(lab):
    _require_up(lab)
    program = lab.topology.instances[1]
    env = lab.env_overrides(program)
    env["CLOCK_SKEW_SECONDS"] = str(CLOCK_SKEW_SECONDS)
    lab.set_env_overrides(program, env)
    _restart_and_wait(lab, program)
    lab.record_program_pids()
    url = lab.program_url(program)
    status, body = poll(lambda: _deep(url), lambda r: (_skew_of(r[1]) or 0) > CLOCK_SKEW_SECONDS - 120, timeout=WAIT)
    skew = _skew_of(body)
    seen = (f"its clock says {_dig(body, 'clock', 'now')} ({skew:+.0f}s)" if skew is not None
            else f"its /api/health shows no clock yet ({_short(status, body)[:80]})")
    return f"clock-skew: set CLOCK_SKEW_SECONDS={CLOCK_SKEW_SECONDS} for {program} and restarted it; {seen}"


def rate_limit_memory(lab):
    _require_up(lab)
    program = lab.topology.instances[1]
    env = lab.env_overrides(program)
    env["RATE_LIMIT_BACKEND"] = MEMORY_BACKEND
    lab.set_env_overrides(program, env)
    _restart_and_wait(lab, program)
    lab.record_program_pids()
    url = lab.program_url(program)
    status, body = poll(lambda: _deep(url), lambda r: _dig(r[1], "rate_limit", "backend") == MEMORY_BACKEND,
                        timeout=WAIT)
    backend = _dig(body, "rate_limit", "backend")
    seen = (f"its /api/health says rate_limit {json.dumps(_dig(body, 'rate_limit'), sort_keys=True)}"
            if backend == MEMORY_BACKEND
            else f"its /api/health does not say the memory backend ({_short(status, body)[:120]})")
    return (f"rate-limit-memory: set RATE_LIMIT_BACKEND={MEMORY_BACKEND} for {program} and restarted it (each instance "
            f"now counts its own window: adding instances multiplies the limit); {seen}")


def memory_leak(lab):
    _require_up(lab)
    program = lab.topology.instances[0]
    url = lab.program_url(program)
    warn = int(lab.env_overrides(program).get("MEMORY_WARN_MB") or CONNECTOR_LAB_ENV["MEMORY_WARN_MB"])
    path = _merge_faults(lab, program, leak_mb_per_request=LEAK_MB_PER_REQUEST)
    sent = [0]
    most = warn // LEAK_MB_PER_REQUEST + 20

    def once():
        sent[0] += 1
        return _deep(url)

    def high(result):
        return (_dig(result[1], "memory", "rss_mb") or 0) > warn

    status, body = poll(once, lambda r: high(r) or sent[0] >= most, timeout=WAIT, interval=0.05)
    rss = _dig(body, "memory", "rss_mb")
    seen = (f"its RSS is {rss} MB, above MEMORY_WARN_MB {warn}" if high((status, body))
            else f"its RSS is {rss} MB after {sent[0]} requests, not above {warn} (does this backend honour "
                 f"leak_mb_per_request?)")
    return (f"memory-leak: wrote {{\"leak_mb_per_request\": {LEAK_MB_PER_REQUEST}}} to {path}; sent {sent[0]} requests "
            f"to {program}; {seen}")


# ---------------------------------------------------------------------- releases


def bad_deploy(lab):
    _require_up(lab)
    topo = lab.topology
    links = topo.release_links()
    topo.write_release(BAD_VERSION, defect="lab bad-deploy: every /api/* request fails")
    topo.link("previous", links["current"] or BASE_VERSION)
    topo.link("current", BAD_VERSION)
    said = []
    for program in topo.instances:
        _restart_and_wait(lab, program)
        url = lab.program_url(program)
        status, body = poll(lambda u=url: _deep(u), lambda r: r[0] == 503 and _dig(r[1], "version") == BAD_VERSION,
                            timeout=WAIT)
        said.append(f"{program} /api/health {status} version {_dig(body, 'version')}")
    lab.record_program_pids()
    return (f"bad-deploy: release {BAD_VERSION} with a defect; current -> {BAD_VERSION}, previous -> "
            f"{links['current'] or BASE_VERSION}; restarted {', '.join(topo.instances)}; " + "; ".join(said))


def _reset_releases(lab):
    topo = lab.topology
    links = topo.release_links()
    did = []
    if links["current"] != BASE_VERSION:
        topo.link("current", BASE_VERSION)
        did.append(f"releases/current back to {BASE_VERSION} (was {links['current']})")
    if links["previous"] is not None:
        topo.unlink("previous")
    bad = topo.releases_dir / BAD_VERSION
    if bad.exists():
        (bad / "release.json").unlink(missing_ok=True)
        os.rmdir(bad)
    return did, links["current"] != BASE_VERSION


# ---------------------------------------------------------------------- healthy


def healthy(lab, undo_common):
    """Undo every connector fault and the common ones (undo_common: service_faults' generic healthy), then wait
    until every instance passes its checks on its own URL and nginx answers."""
    _require_up(lab)
    topo = lab.topology
    instances = topo.instances
    needs_restart = [p for p in instances if any(k in lab.read_faults(p) for k in RESTART_KEYS)]
    overridden = [p for p in instances if lab.env_overrides(p)]
    did = _release_filler(lab)
    released, moved = _reset_releases(lab)
    did += released
    if moved:
        needs_restart = list(instances)
    for program in instances:
        if lab.read_faults(program):
            lab.write_faults({}, program)
            did.append(f"removed {lab.faults_path(program)}")
    for program in needs_restart:
        if program not in overridden and lab.program_state(program) in (sup.RUNNING, sup.STARTING, sup.BACKOFF):
            _restart_and_wait(lab, program)
            did.append(f"restarted {program}")
    common = undo_common(lab)
    did += _release_filler(lab)  # MariaDB was down before: max_connections once it is up again
    did += _delete_storm_keys(lab)
    did += _delete_expired_rows(lab)
    did += topo.retire_standby()  # a rehearsed scale-out: upstreams.conf emptied, backend-3 stopped
    pid, started = topo.start_nginx()
    if started:
        did.append(f"started nginx pid {pid}")
    answers = []
    for program, url in topo.instance_urls().items():
        for role in ("liveness", "readiness"):
            check = lab.spec.checks[role]
            status, body = poll(lambda u=url, c=check: http_json(u + c.path, timeout=5.0),
                                lambda r, c=check: c.passes(*r), timeout=WAIT)
            if not check.passes(status, body):
                raise LabError(f"healthy: {program} {check.path} still answers {_short(status, body)}")
        answers.append(f"{program} {status}")
    status, body = poll(lambda: topo.lb_get("/health"), lambda r: r[0] == 200, timeout=WAIT)
    if status != 200:
        raise LabError(f"healthy: nginx {topo.lb_url}/health answers {_short(status, body)}")
    lab.record_program_pids()
    common = common.split(":", 1)[1].strip() if ":" in common else common
    return (f"healthy: {'; '.join(did) + '; ' if did else ''}{common}; instances {', '.join(answers)}; "
            f"nginx {topo.lb_url} 200")


def _datastore_errors_said(fault, fn):
    """fn(lab), a MariaDB or Redis error turned into a LabError naming the fault (no traceback at the CLI)."""

    def run(lab, *args, **kwargs):
        import pymysql
        import redis

        try:
            return fn(lab, *args, **kwargs)
        except pymysql.MySQLError as exc:
            said = f"({exc.args[0]}, {exc.args[-1]!r})" if exc.args else type(exc).__name__
            raise LabError(f"{fault}: MariaDB said {said}; is it up? (`mcpops lab break healthy`)") from None
        except redis.RedisError as exc:
            raise LabError(f"{fault}: Redis said {type(exc).__name__}: {exc}; is it up? "
                           f"(`mcpops lab break healthy`)") from None

    return run


FAULTS = {name: _datastore_errors_said(name, fn) for name, fn in {
    "mysql-down": mysql_down,
    "mysql-max-connections": mysql_max_connections,
    "pool-exhausted": pool_exhausted,
    "datasource-failing": datasource_failing,
    "rate-limit-storm": rate_limit_storm,
    "oauth-states-expired": oauth_states_expired,
    "clock-skew": clock_skew,
    "memory-leak": memory_leak,
    "bad-deploy": bad_deploy,
    "rate-limit-memory": rate_limit_memory,
}.items()}
