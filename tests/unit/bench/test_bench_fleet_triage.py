"""bench/fleet_triage_figures.py: the shell loops the figure times, the checks of each side's output, the figures."""

import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "bench"))

import fleet_triage_figures as figures  # noqa: E402

SSH_ARGV = ["ssh", "-F", "/dev/null", "-i", "/f/ssh/id_ed25519", "-o", "UserKnownHostsFile=/f/ssh/known_hosts",
            "-o", "StrictHostKeyChecking=yes", "root@127.0.4.11"]

GOOD = """\u25cf onec-mcp-gateway.service - onec-mcp-gateway (the mcpops reference gateway)
     Loaded: loaded (/etc/systemd/system/onec-mcp-gateway.service; enabled; preset: enabled)
     Active: active (running) since Tue 2026-11-24 19:19:43 UTC; 26s ago
{"status": "ok", "version": "0.1.0"}Filesystem     1024-blocks     Used Available Capacity Mounted on
/dev/vda         264212084 28779652  77611260      28% /var/lib/onec-mcp-gateway
exit=0
"""


def test_ssh_options_drop_only_the_destination():
    assert figures.ssh_options(SSH_ARGV, "127.0.4.11") == SSH_ARGV[:-1]


def test_ssh_options_refuse_an_argv_for_another_host():
    with pytest.raises(ValueError, match="root@127.0.4.12"):
        figures.ssh_options(SSH_ARGV, "127.0.4.12")


@pytest.mark.parametrize("parallel", [False, True])
def test_loop_script_runs_the_three_checks_once_a_host(tmp_path, parallel):
    # A stand-in `ssh` that records its argv: the loop's quoting and its per-host output files are real bash.
    fake = tmp_path / "ssh"
    fake.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    fake.chmod(0o755)
    out = tmp_path / "out"
    out.mkdir()
    script = figures.loop_script([str(fake), "-o", "UserKnownHostsFile=/a b/known_hosts"], parallel)
    assert ("&\ndone\nwait" in script) is parallel
    subprocess.run(["bash", "-c", script, "loop", "127.0.4.11", "127.0.4.12"], env={"OUT": str(out), "PATH": "/bin:/usr/bin"},
                   check=True)
    for address in ("127.0.4.11", "127.0.4.12"):
        lines = (out / (address + ".out")).read_text().splitlines()
        assert lines == ["-o", "UserKnownHostsFile=/a b/known_hosts", "root@" + address,
                         "systemctl status onec-mcp-gateway; curl -fsS http://%s:3000/healthz; "
                         "df -P /var/lib/onec-mcp-gateway" % address, "exit=0"]


def test_loop_output_with_the_three_answers_has_no_problem():
    assert figures.loop_output_problems("127.0.4.11", GOOD) == []


@pytest.mark.parametrize("broken, says", [
    (GOOD.replace("active (running)", "failed (Result: exit-code)"), "systemctl status"),
    (GOOD.replace('"status": "ok"', '"status": "degraded"'), "curl /healthz"),
    (GOOD.replace("/var/lib/onec-mcp-gateway\nexit", "/\nexit"), "df -P"),
    (GOOD.replace("exit=0", "exit=255"), "exit=255"),
    ("", "systemctl status"),
])
def test_loop_output_missing_an_answer_says_which(broken, says):
    problems = figures.loop_output_problems("127.0.4.11", broken)
    assert problems and all(p.startswith("127.0.4.11: ") for p in problems)
    assert any(says in p for p in problems)


RECAP = """PLAY RECAP *********************************************************************
fleet1                     : ok=3    changed=0    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0
fleet2                     : ok=2    changed=0    unreachable=0    failed=1    skipped=0    rescued=0    ignored=0
fleet3                     : ok=0    changed=0    unreachable=1    failed=0    skipped=0    rescued=0    ignored=0
fleet4                     : ok=3    changed=1    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0
"""


def test_recap_problems_name_failed_unreachable_changed_missing_and_unasked_hosts():
    problems = figures.recap_problems(RECAP, ["fleet1", "fleet2", "fleet3", "fleet4", "fleet5"])
    assert problems == ["fleet5: not in the PLAY RECAP",
                        "fleet2: changed=0 unreachable=0 failed=1",
                        "fleet3: changed=0 unreachable=1 failed=0",
                        "fleet4: changed=1 unreachable=0 failed=0"]
    assert figures.recap_problems(RECAP, ["fleet1"])[0] == "fleet2: ran but was not asked for (--limit)"
    assert figures.recap_problems(RECAP.split("fleet2")[0], ["fleet1"]) == []


def test_median_and_slope():
    assert figures.median([3.0, 1.0, 2.0, 10.0, 2.5]) == 2.5
    with pytest.raises(ValueError):
        figures.median([])
    assert figures.marginal_per_host({2: 1.0, 4: 2.0, 8: 4.0}) == pytest.approx(0.5)
    assert figures.marginal_per_host({8: 4.0}) is None
    assert figures.per_host(4.0, 8) == 0.5


@pytest.mark.parametrize("seconds, target, verdict", [
    (1.5, 1.0, "target < 1x, faster: met"),
    (2.0, 1.0, "target < 1x, faster: ABOVE TARGET"),
    (4.0, 2.0, "target <= 2x: met"),
    (4.1, 2.0, "target <= 2x: ABOVE TARGET"),
    (9.0, None, "for reading, no target"),
])
def test_ratio_line(seconds, target, verdict):
    line = figures.ratio_line("playbook", seconds, "serial loop", 2.0, target)
    assert line == "playbook / serial loop: %.2fx (%.2f s vs 2.00 s; %s)" % (seconds / 2.0, seconds, verdict)


def test_table_has_a_row_a_size_and_the_cost_a_host():
    lines = figures.table(["serial loop", "playbook"], {"serial loop": {2: 0.5, 8: 2.0}, "playbook": {8: 6.0}}, [2, 8])
    assert lines[0].split() == ["hosts", "serial", "loop", "playbook"]
    assert lines[1].split() == ["2", "0.50", "s", "(0.250)", "-"]
    assert lines[2].split() == ["8", "2.00", "s", "(0.250)", "6.00", "s", "(0.750)"]
    assert len({len(line) for line in lines}) == 1  # aligned columns
