"""bench/cctelegram_p0_assessment.py's pure parts: the seed loop it times (no key on any command line, an ssh a
command or one a host) and how it reads which instances failed."""

import os
import sys
from types import SimpleNamespace

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "bench"))

import cctelegram_p0_assessment as bench  # noqa: E402

HOSTS = [SimpleNamespace(name="fleet%d" % i, address="127.0.9.%d" % (10 + i)) for i in (1, 2)]


class FakeFleet:
    def ssh_argv(self, host):
        return ["ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "root@%s" % host.address]


def test_the_seed_loop_runs_an_ssh_a_command_on_each_instance_and_the_key_comes_from_stdin():
    script = bench.loop_script(FakeFleet(), HOSTS, one_ssh=False)
    assert script.count("ssh -F /dev/null") == len(bench.SEED_COMMANDS) * len(HOSTS)
    assert script.count('printf "%s\\n" "$API_KEY_HEADER" | ssh') == len(HOSTS)
    assert "http://127.0.9.12:8080/health" in script and "{address}" not in script
    assert script.rstrip().endswith('"$LB_URL/health" >"$OUT/lb.out" 2>&1')


def test_the_one_ssh_loop_has_one_ssh_a_host():
    script = bench.loop_script(FakeFleet(), HOSTS, one_ssh=True)
    assert script.count("ssh -F /dev/null") == len(HOSTS)
    assert "head -1 | curl -sS -H @- http://127.0.9.11:8080/health" in script


def test_an_instance_fails_when_its_unit_is_not_running_or_its_health_is_not_healthy(tmp_path):
    running = "     Active: active (running) since Sat 2026-12-05 14:39:16 UTC; 2min ago\n"
    (tmp_path / "fleet1.out").write_text(running + '{"status": "healthy", "bridge": "running"}\nexit=0\n')
    (tmp_path / "fleet2.out").write_text(running + '{"status": "unhealthy", "reason": "x"}\nexit=0\n')
    assert bench.loop_failing(tmp_path, HOSTS) == {"fleet2"}
    (tmp_path / "fleet2.out").write_text("     Active: inactive (dead)\ncurl: (7) Failed to connect\n")
    assert bench.loop_failing(tmp_path, HOSTS) == {"fleet2"}
    (tmp_path / "fleet2.out").write_text(running + '{"status": "healthy"}\n')
    assert bench.loop_failing(tmp_path, HOSTS) == set()
