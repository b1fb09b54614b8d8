"""cert_check's run(): bad input refused before anything is touched, files and targets classified and summed up,
fail_on turning the rows into a TaskError that keeps the result, a host without `cryptography` told so."""

import socket
import sys

import pytest

from mcpops.lab.fixtures.ca import make_cases
from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._tls.cert_check_run import run


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    _ca, paths, root = make_cases(tmp_path_factory.mktemp("certs"))
    return paths, root


def params(root, **over):
    p = dict(targets=[], files=[], ca_path=root, warn_days=30, critical_days=7, fail_on="never", timeout=2,
             concurrency=4)
    p.update(over)
    return p


def refused_target():
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        return "127.0.0.1:%d" % free.getsockname()[1]


def test_files_and_a_target_are_classified_and_summed_up(cases):
    paths, root = cases
    files = [paths[c]["cert"] for c in ("valid", "expiring", "expired")]
    target = refused_target()
    result = run(params(root, files=files, targets=[target]))
    assert result["changed"] is False and result["checked_at"].endswith("Z")
    assert [r["status"] for r in result["files"]] == ["ok", "critical", "expired"]
    assert [(r["target"], r["status"], r["reason"]) for r in result["targets"]] == [(target, "error", "refused")]
    assert result["summary"] == {"ok": 1, "warn": 0, "critical": 1, "expired": 1, "error": 1, "total": 4}
    assert result["failed_checks"] == []  # fail_on=never: nothing fails


def test_fail_on_fails_the_task_with_the_result(cases):
    paths, root = cases
    files = [paths["valid"]["cert"], paths["expiring"]["cert"]]
    assert run(params(root, files=files, fail_on="critical", warn_days=6, critical_days=1))["summary"]["warn"] == 1
    with pytest.raises(TaskError) as err:
        run(params(root, files=files, fail_on="warn", warn_days=30, critical_days=1))
    assert err.value.msg.startswith("1 of 2 certificates are warn or worse (fail_on=warn): %s: warn" % files[1])
    assert "fail_on=never to only report" in err.value.msg
    assert err.value.result["summary"]["warn"] == 1 and len(err.value.result["failed_checks"]) == 1
    assert err.value.result["failed_checks"][0].startswith("%s: warn, 5 days left" % files[1])


@pytest.mark.parametrize("bad, needle", [
    ({}, "cert_check needs targets (host:port) or files (PEM paths) to check"),
    ({"targets": ["127.0.0.1:99999"]}, "out of range 1-65535. Nothing was checked."),
    ({"targets": ["127.0.0.1:443"], "warn_days": 3, "critical_days": 7}, "must not be larger than warn_days"),
    ({"targets": ["127.0.0.1:443"], "concurrency": 0}, "concurrency must be 1 to 256 (got 0)"),
    ({"targets": ["127.0.0.1:443"], "timeout": 0}, "timeout must be more than 0 seconds"),
    ({"targets": ["127.0.0.1:443"], "ca_path": "/nonexistent/ca.pem"}, "ca_path /nonexistent/ca.pem does not exist"),
    ({"files": [""]}, "files: '' is not a path"),
])
def test_bad_input_is_refused_before_anything_is_touched(cases, bad, needle):
    _paths, root = cases
    with pytest.raises(TaskError) as err:
        run(params(root, **bad))
    assert needle in err.value.msg and err.value.result == {}


def test_without_cryptography_the_library_is_named_first(cases, monkeypatch):
    _paths, root = cases
    monkeypatch.setitem(sys.modules, "cryptography", None)  # import raises ImportError
    with pytest.raises(TaskError) as err:
        run(params(root))  # bad input too: the missing library is said first, as before
    assert (err.value.library, err.value.reason) == ("cryptography >= 39", "to read certificates")
