"""cert_check against real TLS servers on loopback: every certificate case of the lab classified, through
module_utils and through ansible (check mode too), one unreachable target a row and not a crash."""

import pytest

from tls_lab import CaseServers, run_module

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._tls import probe as tls_probe
from ansible_collections.mcpops.runbooks.plugins.module_utils._tls.cert_check_run import run as run_cert_check

EXPECTED = {
    # case: (status, reason)
    "valid": ("ok", None),
    "expiring": ("critical", None),
    "expired": ("expired", "expired"),
    "wrong-host": ("error", "wrong host"),
    "self-signed": ("error", "self-signed"),
    "untrusted-root": ("error", "untrusted"),
    "incomplete-chain": ("error", "incomplete chain"),
    "refused": ("error", "refused"),
    "timeout": ("error", "timeout"),
}


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    lab = CaseServers(tmp_path_factory.mktemp("tls-cases"))
    yield lab
    lab.stop()


def params(servers, cases, **over):
    p = dict(targets=[servers.target(c) for c in cases], files=[], ca_path=servers.ca_file, warn_days=30,
             critical_days=7, fail_on="never", timeout=3, concurrency=32)
    p.update(over)
    return p


def test_every_case_is_classified(servers):
    result = run_cert_check(params(servers, list(EXPECTED)))
    got = {case: (row["status"], row["reason"]) for case, row in zip(EXPECTED, result["targets"])}
    assert got == EXPECTED
    rows = dict(zip(EXPECTED, result["targets"]))
    assert rows["valid"]["chain_verified"] is True and rows["valid"]["hostname_match"] is True
    assert rows["valid"]["chain_length"] == 2 and rows["valid"]["verified_chain_length"] == 3
    assert rows["valid"]["key_type"] == "EC secp256r1" and rows["valid"]["key_size"] == 256
    assert rows["valid"]["signature_algorithm"] == "ecdsa-with-SHA256"
    assert rows["valid"]["tls_version"] in ("TLSv1.2", "TLSv1.3")
    assert rows["valid"]["serial"] == "%X" % servers.paths["valid"]["serial"]
    assert "IP:127.0.0.1" in rows["valid"]["sans"] and "DNS:localhost" in rows["valid"]["sans"]
    assert rows["expiring"]["days_left"] == 5
    assert rows["expired"]["days_left"] < 0
    assert rows["wrong-host"]["chain_verified"] is True and rows["wrong-host"]["hostname_match"] is False
    assert rows["incomplete-chain"]["chain_length"] == 1 and "intermediate" in rows["incomplete-chain"]["message"]
    assert rows["untrusted-root"]["chain_verified"] is False and "OpenSSL 19" in rows["untrusted-root"]["chain_error"]
    assert "refused" in rows["refused"]["message"] and rows["refused"]["subject"] is None
    assert result["summary"] == {"ok": 1, "warn": 0, "critical": 1, "expired": 1, "error": 6, "total": 9}


def test_server_name_picks_what_the_certificate_is_checked_for(servers):
    port = servers.ports["wrong-host"]
    good = {"host": "127.0.0.1", "port": port, "server_name": "wrong-host.invalid"}
    result = run_cert_check(params(servers, [], targets=[good, "localhost:%d" % servers.ports["valid"]]))
    assert [r["status"] for r in result["targets"]] == ["ok", "ok"]


def test_thresholds_and_fail_on(servers):
    result = run_cert_check(params(servers, ["expiring"], warn_days=30, critical_days=3))
    assert result["targets"][0]["status"] == "warn"
    with pytest.raises(TaskError) as failed:
        run_cert_check(params(servers, ["expiring", "valid"], fail_on="warn", critical_days=3))
    assert "1 of 2" in failed.value.msg and servers.target("expiring") in failed.value.msg
    assert failed.value.result["summary"]["warn"] == 1


def test_files_are_classified(servers):
    files = [servers.paths[c]["cert"] for c in ("valid", "expiring", "expired", "self-signed", "untrusted-root",
                                                 "incomplete-chain")] + [servers.ca_file + ".missing"]
    result = run_cert_check(params(servers, [], files=files))
    got = [(r["status"], r["reason"]) for r in result["files"]]
    assert got == [("ok", None), ("critical", None), ("expired", "expired"), ("error", "self-signed"),
                   ("error", "untrusted"), ("error", "incomplete chain"), ("error", "unreadable")]


def test_one_context_pair_for_the_whole_run(servers, monkeypatch):
    verifying, inspecting = [], []
    real_verifying, real_inspecting = tls_probe.ssl.create_default_context, tls_probe.inspecting_context
    monkeypatch.setattr(tls_probe.ssl, "create_default_context",
                        lambda *a, **k: verifying.append(1) or real_verifying(*a, **k))
    monkeypatch.setattr(tls_probe, "inspecting_context", lambda: inspecting.append(1) or real_inspecting())
    cases = ["valid", "expiring", "expired", "wrong-host", "self-signed", "untrusted-root", "incomplete-chain"]
    targets = [servers.target(c) for c in cases] + [servers.target(c).replace("127.0.0.1", "localhost") for c in cases]
    run_cert_check(params(servers, [], targets=targets))
    # one of each, shared by 14 connections; the inspecting one loads no trust store (it is not a default context)
    assert len(verifying) == 1 and len(inspecting) == 1


def test_a_run_whose_chains_all_verify_builds_no_inspecting_context(servers, monkeypatch):
    """The inspecting context is built on the first refused chain only: 50 good endpoints pay for one context."""
    inspecting = []
    real_inspecting = tls_probe.inspecting_context
    monkeypatch.setattr(tls_probe, "inspecting_context", lambda: inspecting.append(1) or real_inspecting())
    result = run_cert_check(params(servers, [], targets=[servers.target("valid"), servers.target("expiring")]))
    assert [r["chain_verified"] for r in result["targets"]] == [True, True] and inspecting == []


@pytest.mark.parametrize("bad", [
    {"targets": ["127.0.0.1:99999"]},
    {"targets": ["bad host:443"]},
    {"targets": [{"host": "127.0.0.1", "prot": 443}]},
    {"targets": ["127.0.0.1:443"], "warn_days": 3, "critical_days": 7},
    {"targets": ["127.0.0.1:443"], "concurrency": 0},
    {"targets": [], "files": []},
])
def test_bad_input_is_refused_before_connecting(servers, bad):
    with pytest.raises(TaskError):
        run_cert_check(params(servers, [], **bad))


def test_through_ansible_in_check_mode(servers):
    args = {"targets": [servers.target(c) for c in ("valid", "expired", "refused")], "ca_path": servers.ca_file,
            "timeout": 5}
    result, out = run_module("cert_check", dict(args, fail_on="never"), "--check")
    assert result.get("skipped") is not True and result["changed"] is False
    assert [r["status"] for r in result["targets"]] == ["ok", "expired", "error"]
    failed, out = run_module("cert_check", args)
    assert failed["failed"] is True and "2 of 3 certificates" in failed["msg"]
    assert servers.target("refused") in failed["msg"] and failed["summary"]["error"] == 1
    bad, _ = run_module("cert_check", {"targets": ["127.0.0.1:0"]})
    assert bad["failed"] is True and "Nothing was checked" in bad["msg"]


def test_a_host_without_cryptography_is_told_what_is_missing(servers, tmp_path):
    """The module runs on the managed host: a bare python3 venv (standard library only) stands for one."""
    import subprocess
    import sys

    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True, timeout=120)
    result, _ = run_module("cert_check", {"targets": [servers.target("valid")]},
                           "-e", "ansible_python_interpreter=%s" % (bare / "bin" / "python"))
    assert result["failed"] is True
    assert "cryptography" in result["msg"] and "targets" not in result
