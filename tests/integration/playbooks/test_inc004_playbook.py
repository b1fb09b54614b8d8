"""INC-004 end to end on the local lab: the real gateway under supervisord, the lab's OData upstream (a real
HTTPS server with the lab's test CA), and `mcpops lab break upstream-down | upstream-slow | cert-expiring |
upstream-web-down | upstream-cluster-down`. The playbook must name each failure kind, and for the upstream which
of the 1C web server and the 1C cluster failed; the profiles' passwords (planted by the seed) never show."""

import re
from pathlib import Path

import pytest

from mcpops.lab.fixtures.odata_upstream import LabUpstream
from mcpops.lab.local.lab import LocalLab
from mcpops.lab.pids import pid_alive
from loopback import free_port
from tls_lab import run_playbook

PLAYBOOK = "playbooks/inc-004-upstream-degraded.yml"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    state = tmp_path_factory.mktemp("inc004-lab")
    # the upstream on a free port, not the seed's 127.0.0.1:8443, so that parallel runs never meet
    lab = LocalLab(state, listen="127.0.0.1:%d" % free_port(), upstream="127.0.0.1:%d" % free_port())
    lab.up()
    yield lab
    upstream = LabUpstream(lab.state_dir, lab.data_dir).server()
    lab.down()
    assert upstream is None or not pid_alive(upstream.pid), "lab down left the upstream running"


def passwords(lab):
    return [line.split("=", 1)[1] for line in lab.env_file.read_text().splitlines() if "=" in line]


def run(lab, *args):
    proc = run_playbook(PLAYBOOK, *args, MCPOPS_LAB_DIR=str(lab.state_dir), ANSIBLE_CALLBACK_RESULT_FORMAT="json")
    out = proc.stdout + proc.stderr
    for secret in passwords(lab):
        assert len(secret) >= 16 and secret not in out, "a passwordEnv value shows in the output"
    return proc.returncode, out


def profile_line(out, name):
    match = re.search(r"'?%s: (FAILED: [a-z, ]+|healthy);[^\n]*" % re.escape(name), out)
    assert match, out[-3000:]
    return match.group(0)


def healthy_upstream(lab):
    upstream = LabUpstream(lab.state_dir, lab.data_dir)
    upstream.ensure()
    upstream.set_mode("healthy")
    upstream.reissue(days=90)
    return upstream


def test_healthy_then_each_failure_kind(lab):
    healthy_upstream(lab)
    rc, out = run(lab)
    assert rc == 0, out[-3000:]
    assert "every production profile is healthy" in out
    assert "healthy; upstream ok, HTTP 200" in profile_line(out, "erp-prod")

    assert "HTTP 500" in lab.break_("upstream-down")
    rc, out = run(lab, "--check")  # read-only: check mode runs every probe too
    assert rc != 0
    line = profile_line(out, "erp-prod")
    assert "FAILED: upstream;" in line and "HTTP 500" in line and "certificate ok" in line
    assert "erp-prod (upstream failed, upstream at the 1C cluster)" in " ".join(out.split())
    assert "Mark unhealthy in comms: erp-prod, hr-prod" in out

    lab.break_("upstream-slow")
    rc, out = run(lab, "-e", "odata_timeout=2")
    line = profile_line(out, "hr-prod")
    assert rc != 0 and "FAILED: upstream;" in line and "timeout" in line

    healthy_upstream(lab)
    assert "valid 5 more days" in lab.break_("cert-expiring")
    rc, out = run(lab)
    line = profile_line(out, "erp-prod")
    assert rc != 0 and "FAILED: certificate;" in line and "critical" in line and "5 days left" in line
    assert "upstream ok" in line


def test_missing_credential_is_named_without_its_value(lab):
    healthy_upstream(lab)
    env_file = Path(lab.env_file)
    original = env_file.read_text()
    try:
        env_file.write_text("".join(l + "\n" for l in original.splitlines() if not l.startswith("ONEC_HR_PROD_PASSWORD=")))
        rc, out = run(lab)
        assert rc != 0
        assert "FAILED: credential;" in profile_line(out, "hr-prod")
        assert "ONEC_HR_PROD_PASSWORD is not set" in out
        assert "healthy;" in profile_line(out, "erp-prod")
        rc, out = run(lab, "-e", "profile=erp-prod")
        assert rc == 0 and "hr-prod" not in out.split("PLAY RECAP")[0].split("Step 1")[1]
    finally:
        env_file.write_text(original)


def test_a_dev_profile_is_refused(lab):
    rc, out = run(lab, "-e", "profile=erp-staging")
    assert rc != 0 and "INC-004 refused" in out and "Nothing was checked" in out


def step2_lines(out, name):
    """What step 2 said about profile `name`: its web server line and its cluster line."""
    web = re.search(r"%s: 1C web server (OK|FAILED) \(([^\n]*)\)" % re.escape(name), out)
    cluster = re.search(r"%s: 1C cluster (OK|FAILED|UNKNOWN) \(([^\n]*)\)" % re.escape(name), out)
    assert web and cluster, out[-4000:]
    return web.group(1), web.group(2), cluster.group(1), cluster.group(2)


def test_step2_names_the_web_server_or_the_cluster(lab):
    """INC-004 step 2: a 1C publication is a web server in front of the 1C cluster. The web server down (its port
    refuses) and the cluster down (the web server answers 500 with 1C's cluster-connection error) are told apart."""
    healthy_upstream(lab)
    rc, out = run(lab)
    assert rc == 0, out[-3000:]
    assert step2_lines(out, "erp-prod")[0::2] == ("OK", "OK")

    assert "refuses connections" in lab.break_("upstream-web-down")
    rc, out = run(lab)
    web, web_said, cluster, _ = step2_lines(out, "erp-prod")
    assert rc != 0 and (web, cluster) == ("FAILED", "UNKNOWN") and "connection refused" in web_said
    line = profile_line(out, "erp-prod")
    # no web server, no TLS handshake: the certificate cannot be read either
    assert "FAILED: upstream, certificate;" in line and "upstream FAILED at the 1C web server (refused" in line
    assert "erp-prod (upstream, certificate failed, upstream at the 1C web server)" in " ".join(out.split())

    healthy_upstream(lab)  # the web server is started again
    assert "cluster" in lab.break_("upstream-cluster-down")
    rc, out = run(lab)
    web, _, cluster, cluster_said = step2_lines(out, "hr-prod")
    assert rc != 0 and (web, cluster) == ("OK", "FAILED")
    assert "HTTP 500" in cluster_said and "server_addr=tcp://1c-cluster.lab:1541" in cluster_said
    line = profile_line(out, "hr-prod")
    assert "FAILED: upstream;" in line and "upstream FAILED at the 1C cluster (http: HTTP 500" in line
    assert "certificate ok" in line
    healthy_upstream(lab)
