"""What the _diagnostics tests share: the module's params and a fake command runner that answers like a host."""

from ansible_collections.mcpops.runbooks.plugins.module_utils._diagnostics.command import step

KEY = "cctg_test-key-0123456789abcdef"
SS = """State  Recv-Q Send-Q Local Address:Port  Peer Address:Port Process
LISTEN 0      128    127.0.22.11:8080       0.0.0.0:*     users:(("python3",pid=40,fd=3))
LISTEN 0      128    0.0.0.0:22             0.0.0.0:*     users:(("sshd",pid=20,fd=3))
LISTEN 0      128    127.0.22.11:9090       0.0.0.0:*     users:(("python3",pid=40,fd=4))
"""


def params(**extra):
    p = dict(dest=None, sections=[], unit="cctelegram-mcp", depends_on=["cctelegram-bridge"], optional_units=["nginx"],
             health_url=None, metrics_url=None, api_key=KEY, api_key_header="X-API-Key", validate_certs=True,
             metrics_pattern="(http_requests_total|process_memory)", app_log=None, security_log=None, error_lines=10,
             error_levels=["ERROR", "CRITICAL", "FATAL"], security_lines=5,
             security_events=["SECURITY", "RATE_LIMIT_EXCEEDED"], disk_paths=["/", "/var/log"], ports=[8080, 9090],
             status_lines=10, timeout=5, max_section_bytes=65536)
    p.update(extra)
    return p


class FakeHost:
    """run_command for a host where cctelegram-mcp runs in /system.slice/cctelegram-mcp.service, the bridge is
    stopped (no cgroup), nginx is not installed and df of /var/log fails; records every argv."""

    def __init__(self, answers=None):
        self.calls = []
        self.answers = {
            ("systemctl", "show", "--property=ControlGroup", "cctelegram-mcp"):
                (0, "ControlGroup=/system.slice/cctelegram-mcp.service\n"),
            ("systemctl", "show", "--property=ControlGroup", "cctelegram-bridge"): (0, "ControlGroup=\n"),
            ("systemctl", "show", "--property=LoadState", "--value", "nginx"): (0, "not-found\n"),
            ("df", "-h", "/var/log"): (1, "df: /var/log: No such file or directory\n"),
            ("ss", "-tlnp"): (0, SS),
        }
        self.answers.update(answers or {})

    def __call__(self, argv, timeout, max_bytes):
        self.calls.append(tuple(argv))
        rc, out = self.answers.get(tuple(argv), (0, "output of %s (key %s echoed)\n" % (" ".join(argv), KEY)))
        return step(" ".join(argv), rc, out, 0.001)
