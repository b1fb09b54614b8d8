"""The load balancer of a CCTelegram fleet: a private nginx on the controller side (127.0.0.1:<port>) in front of the
non-standby hosts' cctelegram-mcp (:8080), with prometheus-nginx-exporter beside it reading its stub_status.

Layout under <fleet state>/lb/ (the prefix; nginx_server.NginxServer's, with CCTelegram's site):

    conf/nginx.conf                  main: pid, logs, temp paths, JSON access log, `include conf/cctelegram.conf`
    conf/cctelegram.conf             the site: `limit_req_zone $binary_remote_addr zone=cctelegram:10m rate=30r/s;`,
                                     the offenders' include and zone, `upstream cctelegram_mcp { server <addr>:8080
                                     max_fails=2 fail_timeout=5s; ... }` (a drained server carries ` down`), the
                                     server on 127.0.0.1:<port> with stub_status at /nginx_status
    conf/cctelegram_offenders.conf   `geo $cctelegram_offender { default 0; }`: a `<address> 1;` line inside it puts
                                     that client under the offenders' zone (rate=2r/s), the P1 containment
    logs/access.log                  JSON lines with remote_addr, upstream_addr, status, request_time
    exporter/                        the exporter's log (its record is in fleet.json)

`mcpops fleet up` writes all three confs anew (what a runbook drained, limited or rerouted is undone: `up` clears the
lab's faults) and starts nginx or, when it runs, reloads it. Passive health checks only (open-source nginx):
a server that fails twice within 5 s (connection refused, timeout, 502/503/504) is left out for 5 s and the request
goes to the next one.
"""

import os
import sys
from pathlib import Path

from mcpops.lab.fixtures.nginx_server import NginxServer, _conf_path_value, _TEMP_DIRS
from mcpops.lab.fleet import controller_process
from mcpops.lab.fleet.errors import FleetError

UPSTREAM = "cctelegram_mcp"
RATE = "30r/s"            # the seed's `rate=30r` (its P1 containment seds it down to 10r)
BURST = 100               # a sequential client (100 timed health requests) is never limited
OFFENDER_RATE = "2r/s"
OFFENDER_BURST = 5
MAX_CONNECTIONS = 64      # concurrent connections a client may hold ("lower concurrent connections")
MAX_FAILS = 2
FAIL_TIMEOUT = "5s"
EXPORTER = "prometheus-nginx-exporter"
LOG_FORMAT = "cctelegram_json"

OFFENDERS_TEXT = """# The offending clients (P1 containment): one `<address> 1;` a line inside the block puts that
# client under zone cctelegram_offenders (rate={rate}); `nginx -t` then `nginx -s reload`.
# Written anew by `mcpops fleet up`.
geo $cctelegram_offender {{
    default 0;
}}
"""


class FleetLoadBalancer(NginxServer):
    """nginx under prefix on 127.0.0.1:port in front of upstreams ["<host address>:8080", ...]."""

    @property
    def site_conf(self):
        return self.prefix / "conf" / "cctelegram.conf"

    @property
    def offenders_conf(self):
        return self.prefix / "conf" / "cctelegram_offenders.conf"

    @property
    def status_url(self):
        return self.url + "/nginx_status"

    def render_conf(self):
        v = _conf_path_value
        tmp = self.prefix / "tmp"
        temp_paths = "".join(f"    {name}_temp_path {v(tmp / name)};\n" for name in _TEMP_DIRS)
        user = "user root;\n" if self.as_root else ""
        fields = ('{"time":"$time_iso8601","remote_addr":"$remote_addr","request_method":"$request_method",'
                  '"uri":"$uri","status":$status,"body_bytes_sent":$body_bytes_sent,'
                  '"request_time":$request_time,"upstream_addr":"$upstream_addr",'
                  '"upstream_status":"$upstream_status","upstream_response_time":"$upstream_response_time"}')
        return f"""# written by `mcpops fleet up` (mcpops.lab.fleet.load_balancer); the site is {v(self.site_conf)}
{user}worker_processes 1;
pid {v(self.pid_file)};
error_log {v(self.error_log)} warn;

events {{
    worker_connections 1024;
}}

http {{
{temp_paths}    # $uri, not $request_uri: no query string (a token in one) reaches the log
    log_format {LOG_FORMAT} escape=json '{fields}';
    access_log {v(self.access_log)} {LOG_FORMAT};
    server_tokens off;

    include {v(self.site_conf)};
}}
"""

    def render_site(self, drained=()):
        """The site conf: every server of the upstream, those in drained (addresses) marked down."""
        v = _conf_path_value
        servers = "".join(f"    server {u} max_fails={MAX_FAILS} fail_timeout={FAIL_TIMEOUT}"
                          f"{' down' if u in drained else ''};\n" for u in self.servers)
        return f"""# CCTelegram MCP behind nginx: written anew at every `mcpops fleet up` (mcpops.lab.fleet.load_balancer).
# A drained instance: ` down` after its server's parameters. Validate: nginx -t -p {v(self.prefix)}/ -c {v(self.conf)}

limit_req_zone $binary_remote_addr zone=cctelegram:10m rate={RATE};
limit_conn_zone $binary_remote_addr zone=cctelegram_conn:10m;

# The offending clients (P1 containment) and their own, lower limit; an empty key is never limited.
include {v(self.offenders_conf)};
map $cctelegram_offender $cctelegram_offender_key {{
    default "";
    1 $binary_remote_addr;
}}
limit_req_zone $cctelegram_offender_key zone=cctelegram_offenders:10m rate={OFFENDER_RATE};

upstream {UPSTREAM} {{
{servers}    keepalive 16;
}}

server {{
    listen 127.0.0.1:{self.port};
    server_name _;

    location = /nginx_status {{
        stub_status;
        access_log off;
        allow 127.0.0.0/8;
        deny all;
    }}

    location / {{
        limit_req zone=cctelegram burst={BURST} nodelay;
        limit_req zone=cctelegram_offenders burst={OFFENDER_BURST} nodelay;
        limit_req_status 429;
        limit_conn cctelegram_conn {MAX_CONNECTIONS};
        limit_conn_status 429;

        proxy_pass http://{UPSTREAM};
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        # the client's own loopback source address (nothing is trusted in front)
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $remote_addr;
        proxy_connect_timeout 2s;
        proxy_read_timeout 30s;
        # passive health checks: these count as a server's failures (max_fails) and go to the next server
        proxy_next_upstream error timeout http_502 http_503 http_504;
        proxy_next_upstream_tries 3;
    }}
}}
"""

    def render(self):
        """Write the dirs and the three confs anew (the site with no server drained, no offender)."""
        for d in ("conf", "logs", "tmp"):
            (self.prefix / d).mkdir(parents=True, exist_ok=True)
        for name in _TEMP_DIRS:
            (self.prefix / "tmp" / name).mkdir(exist_ok=True)
        for path, text in ((self.offenders_conf, OFFENDERS_TEXT.format(rate=OFFENDER_RATE)),
                           (self.site_conf, self.render_site()), (self.conf, self.render_conf())):
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(text)
            os.replace(tmp, path)
        return self.conf

    def start_or_reload(self):
        """The confs anew, then nginx started, or reloaded (`nginx -t`, SIGHUP) when it runs; its master's PID."""
        pid = self.running_pid()
        self.render()
        return self.reload(pid) if pid else self.start()

    # ------------------------------------------------------------------ the exporter

    @property
    def exporter_dir(self):
        return self.prefix / "exporter"

    def start_exporter(self, port):
        """prometheus-nginx-exporter on 127.0.0.1:port reading /nginx_status; its record."""
        binary = _find(EXPORTER)
        argv = [binary, f"-nginx.scrape-uri={self.status_url}", f"-web.listen-address=127.0.0.1:{port}",
                "-nginx.retries=10", "-nginx.retry-interval=1s"]
        return controller_process.start(EXPORTER, argv, str(self.exporter_dir / f"{EXPORTER}.log"),
                                        f"http://127.0.0.1:{port}/metrics", marker=str(self.exporter_dir))


def _find(name):
    for d in [*os.environ.get("PATH", "").split(os.pathsep), "/usr/bin", "/usr/sbin", str(Path(sys.executable).parent)]:
        path = Path(d) / name
        if d and path.is_file() and os.access(path, os.X_OK):
            return str(path)
    raise FleetError(f"{name} not found: install the Debian package {name} (scripts/bootstrap does when root)")
