"""cctelegram-bridge (seed 002): the bridge process the CCTelegram MCP server depends on (systemd unit
`cctelegram-bridge` beside `cctelegram-mcp`). In the lab it only answers its health; the Telegram Bot API behind it is
simulated by cctelegram-mcp (see there).

Environment: MCPOPS_SERVICE_LISTEN, MCPOPS_SERVICE_STATE_DIR (its own faults.json).

Endpoints:
- GET /health -> 200 {"status": "ok", "version", "uptime_seconds"}; 503 {"status": "unhealthy", "reason"} while its
  faults.json says unhealthy. Stopping the process is the other way to break it (cctelegram-mcp then reports
  "bridge": "unreachable: ...").

Logs: one text line a request on stdout.
"""

import sys
import time
from dataclasses import dataclass

from .config import common
from .http_app import App, now_iso, run_service

NAME = "cctelegram-bridge"


@dataclass(frozen=True)
class BridgeConfig:
    host: str
    port: int
    state_dir: str


def load_config(environ):
    base = common(environ)
    return BridgeConfig(host=base.host, port=base.port, state_dir=base.state_dir)


class Bridge(App):
    name = NAME

    def __init__(self, config):
        super().__init__(config.state_dir)
        self.config = config
        self.add("/health", self.health, ("GET",))

    def health(self, req):
        if req.faults.unhealthy:
            return 503, {"status": "unhealthy", "reason": req.faults.reason}
        return 200, {"status": "ok", "version": self.version, "uptime_seconds": round(time.time() - self.started_wall, 1)}

    def log_request(self, req, resp, duration_ms):
        level = "ERROR" if resp.status >= 500 else "INFO"
        self.log.write_line("%s %s %s %s %d %.1fms" % (now_iso(), level, req.method, req.path, resp.status, duration_ms))

    def log_event(self, level, message, **fields):
        self.log.write_line("%s %s %s" % (now_iso(), level, message))


def build(config):
    return Bridge(config)


def main(environ=None):
    return run_service(NAME, load_config, build, environ)


if __name__ == "__main__":
    sys.exit(main())
