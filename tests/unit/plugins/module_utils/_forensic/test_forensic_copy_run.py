import os

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError
from ansible_collections.mcpops.runbooks.plugins.module_utils._forensic.forensic_copy_run import run

CANARY = "CANARY-triage-0003"


def params(**kw):
    base = dict(state="sealed", src=None, content=None, dest=None, key_file=None, allow_unencrypted=False)
    base.update(kw)
    return base


@pytest.fixture
def key(tmp_path):
    path = tmp_path / "forensic.key"
    path.write_text(os.urandom(32).hex())
    os.chmod(path, 0o600)
    return str(path)


def test_seal_then_open(tmp_path, key):
    dest = str(tmp_path / "run" / "gw.json.sealed")
    result = run(params(content='{"t": "%s"}' % CANARY, dest=dest, key_file=key))
    assert result["changed"] and result["sealed"]
    assert CANARY.encode() not in open(dest, "rb").read()
    assert os.stat(dest).st_mode & 0o777 == 0o600 and os.stat(os.path.dirname(dest)).st_mode & 0o777 == 0o700
    again = run(params(content='{"t": "%s"}' % CANARY, dest=dest, key_file=key))
    assert not again["changed"]
    out = str(tmp_path / "gw.json")
    assert run(params(state="opened", src=dest, dest=out, key_file=key))["changed"]
    assert open(out).read() == '{"t": "%s"}' % CANARY and os.stat(out).st_mode & 0o777 == 0o600


def test_wrong_key_writes_nothing(tmp_path, key):
    dest = str(tmp_path / "x.sealed")
    run(params(content=CANARY, dest=dest, key_file=key))
    other = tmp_path / "other.key"
    other.write_text(os.urandom(32).hex())
    os.chmod(other, 0o600)
    with pytest.raises(TaskError, match="another key"):
        run(params(state="opened", src=dest, dest=str(tmp_path / "x"), key_file=str(other)))
    assert sorted(os.listdir(tmp_path)) == ["forensic.key", "other.key", "x.sealed"]


def test_no_key_refused_unless_allowed(tmp_path):
    dest = str(tmp_path / "x.json")
    with pytest.raises(TaskError, match="no forensic key"):
        run(params(content=CANARY, dest=dest))
    assert not os.path.exists(dest)
    warnings = []
    assert not run(params(content=CANARY, dest=dest, allow_unencrypted=True), warn=warnings.append)["sealed"]
    assert open(dest).read() == CANARY and warnings and os.stat(dest).st_mode & 0o777 == 0o600


def test_check_mode_writes_nothing(tmp_path, key):
    dest = str(tmp_path / "x.sealed")
    assert run(params(content=CANARY, dest=dest, key_file=key), check_mode=True)["changed"]
    assert not os.path.exists(dest)
