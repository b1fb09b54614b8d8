"""The local lab end to end: a real supervisord, the real reference gateway, a tmp state dir and a
free loopback port. Every test stops the lab in a finalizer and checks that no PID it saw is alive."""

import json
import os
import socket
import stat
import subprocess
import sys

import pytest

from mcpops.lab.http_client import http_json
from mcpops.lab.local.errors import LabError
from mcpops.lab.local.lab import LocalLab
from mcpops.lab.pids import pid_alive, wait_gone
from loopback import free_port

REQUIRED_KEYS = {
    "listen", "api_url", "data_dir", "state_dir", "supervisor_config", "supervisor_socket",
    "supervisord_pid", "service_name", "logs_dir", "python", "secrets_dir",
}


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return pid_alive(pid)  # a zombie waiting for its reaper counts as gone


class Recorder:
    """Collects every PID a test sees, to check at the end that none is left."""

    def __init__(self, lab):
        self.lab = lab
        self.pids = set()

    def note(self):
        info = self.lab.read_info()
        for key in ("supervisord_pid", "gateway_pid"):
            if info.get(key):
                self.pids.add(int(info[key]))
        gw = self.lab.gateway_pid()
        if gw:
            self.pids.add(gw)


@pytest.fixture
def lab(tmp_path):
    lab = LocalLab(tmp_path / "lab", listen=f"127.0.0.1:{free_port()}")
    rec = Recorder(lab)
    lab.recorder = rec
    try:
        lab.up()
        rec.note()
        yield lab
    finally:
        rec.note()
        lab.down()
        lab.down()
        left = [p for p in rec.pids if alive(p)]
        assert not left, f"PIDs still alive after down: {left}"


def test_up_is_idempotent_healthy_and_keeps_secrets_out(lab):
    info = lab.read_info()
    assert REQUIRED_KEYS <= set(info)
    assert info["service_name"] == "onec-mcp-gateway"
    assert info["state_dir"] == str(lab.state_dir)
    assert info["python"] == sys.executable
    sup_pid = info["supervisord_pid"]
    gw_pid = lab.gateway_pid()
    assert sup_pid and alive(sup_pid) and gw_pid and alive(gw_pid)

    again = lab.up()
    assert again["started"] is False
    assert lab.read_info()["supervisord_pid"] == sup_pid
    assert lab.gateway_pid() == gw_pid

    status, body = http_json(lab.api_url + "/healthz")
    assert status == 200 and body["status"] == "ok"
    st = lab.status()
    assert st["healthy"] and st["state"] == "RUNNING" and st["gateway_pid"] == gw_pid

    # a backup was made at up, so an INC-003 drill has something to restore
    status, body = http_json(lab.api_url + "/api/system/backups", token=lab.admin_token())
    assert status == 200 and body["backups"], body
    bid = body["backups"][0]["id"]
    assert (lab.data_dir / "backups" / bid / "manifest.json").is_file()
    assert again["backup"] is None  # the second up did not make another one

    # secrets: 0700 dir, 0600 files, the admin token nowhere else
    assert stat.S_IMODE(os.stat(lab.secrets_dir).st_mode) == 0o700
    for name in ("admin_token", "mcp_token", "gateway.env"):
        assert stat.S_IMODE(os.stat(lab.secrets_dir / name).st_mode) == 0o600, name
    token = lab.admin_token()
    assert len(token) >= 32
    assert token not in lab.config_path.read_text()
    assert token not in lab.info_path.read_text()
    assert lab.mcp_token() not in lab.info_path.read_text()
    conf = lab.config_path.read_text()
    assert "ONEC_MCP_HTTP_TOKEN_FILE" in conf and "ONEC_MCP_HTTP_TOKEN=" not in conf

    # the admin token works, a wrong one does not
    status, _ = http_json(lab.api_url + "/api/system/storage-meta", token=token)
    assert status == 200
    status, _ = http_json(lab.api_url + "/api/system/storage-meta", token="wrong")
    assert status == 401


def test_down_twice_then_up_reuses_the_data(lab):
    rec = lab.recorder
    rec.note()
    backups_before = sorted(p.name for p in (lab.data_dir / "backups").iterdir())
    token_before = lab.admin_token()
    first = lab.down()
    assert first["stopped"]
    second = lab.down()
    assert second["stopped"] == []
    assert not [p for p in rec.pids if alive(p)]
    assert lab.read_info()["supervisord_pid"] is None
    assert lab.status()["healthy"] is False
    assert lab.data_dir.is_dir() and lab.info_path.is_file()

    again = lab.up()
    rec.note()
    assert again["started"] is True and again["seeded"] is False and again["backup"] is None
    assert lab.admin_token() == token_before
    assert sorted(p.name for p in (lab.data_dir / "backups").iterdir()) == backups_before
    assert lab.status()["healthy"]


def _stderr_lines(lab):
    return lab.gateway_stderr_log.read_text(errors="replace").splitlines()


def test_break_corrupt_store_crash_loops(lab):
    msg = lab.break_("corrupt-store")
    assert msg.startswith("corrupt-store:") and "\n" not in msg
    st = lab.status()
    assert st["state"] in ("BACKOFF", "FATAL") and not st["healthy"]
    assert any(line.startswith("StoreMigrationRunner:") for line in _stderr_lines(lab))
    with pytest.raises(json.JSONDecodeError):
        json.loads((lab.data_dir / "tokens.json").read_text())


def test_break_bad_migration_crash_loops(lab):
    msg = lab.break_("bad-migration")
    assert msg.startswith("bad-migration:")
    meta = json.loads((lab.data_dir / "storage-meta.json").read_text())
    assert meta["schemaVersion"] == 99 and "099_future" in meta["appliedMigrations"]
    st = lab.status()
    assert st["state"] in ("BACKOFF", "FATAL") and not st["healthy"]
    assert any(line.startswith("StoreMigrationRunner:") for line in _stderr_lines(lab))


def test_break_crash_restarts_with_a_new_pid(lab):
    old = lab.gateway_pid()
    msg = lab.break_("crash")
    assert msg.startswith("crash:")
    lab.recorder.note()
    new = lab.gateway_pid()
    assert new and new != old
    assert not alive(old)
    assert lab.status()["healthy"]


def test_break_stop_then_up_starts_it_again(lab):
    msg = lab.break_("stop")
    assert msg.startswith("stop:")
    st = lab.status()
    assert st["state"] == "STOPPED" and not st["healthy"] and st["gateway_pid"] is None
    sup_pid = lab.read_info()["supervisord_pid"]
    lab.up()
    lab.recorder.note()
    assert lab.read_info()["supervisord_pid"] == sup_pid
    assert lab.status()["healthy"]


def _mcp_initialize(lab, token):
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-03-26", "capabilities": {},
                       "clientInfo": {"name": "test", "version": "0"}}}
    return http_json(lab.api_url + "/mcp", method="POST", token=token, body=body)


def test_mcp_token_is_the_seeded_ops_token(lab):
    status, body = _mcp_initialize(lab, lab.mcp_token())
    assert status == 200 and "result" in body, body
    status, _ = _mcp_initialize(lab, "mcp_0000" + "x" * 40)
    assert status == 401


def test_seed_refuses_while_running_and_reseeds_when_stopped(lab):
    with pytest.raises(LabError, match="before seeding"):
        lab.seed(force=True)
    old_token = lab.mcp_token()
    lab.break_("stop")
    with pytest.raises(LabError, match="--force"):
        lab.seed()
    r = lab.seed(force=True)
    assert r["mcp_token_id"]
    assert lab.mcp_token() != old_token
    assert stat.S_IMODE(os.stat(lab.mcp_token_file).st_mode) == 0o600
    lab.up()
    lab.recorder.note()
    assert lab.status()["healthy"]
    status, _ = _mcp_initialize(lab, lab.mcp_token())
    assert status == 200


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "mcpops", "lab", *args], capture_output=True, text=True,
                          env=env, timeout=120)


def test_cli_status_break_unknown_fault(lab):
    d = str(lab.state_dir)
    r = _cli("--dir", d, "status", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["state"] == "RUNNING"
    r = _cli("break", "no-such-fault", "--dir", d)
    assert r.returncode == 4
    assert "corrupt-store" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = _cli("break", "stop", "--dir", d)
    assert r.returncode == 0 and r.stdout.startswith("stop:")
    env = dict(os.environ, MCPOPS_LAB_DIR=d)
    r = _cli("status", env=env)
    assert r.returncode == 1 and "STOPPED" in r.stdout


def test_cli_repair_undoes_what_the_lab_can_and_names_the_way_for_the_rest(lab):
    d = str(lab.state_dir)
    assert _cli("break", "stop", "--dir", d).returncode == 0
    r = _cli("repair", "stop", "--dir", d)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("lab repair: supervisorctl start ") and "RUNNING" in r.stdout
    lab.recorder.note()
    assert lab.status()["healthy"] and lab.status()["gateway_pid"]
    r = _cli("repair", "corrupt-store", "--dir", d)  # a runbook's to repair (INC-003): refused, nothing touched
    assert r.returncode == 1 and "cannot undo corrupt-store itself" in r.stderr and "repairs: stop," in r.stderr
    r = _cli("repair", "no-such-fault", "--dir", d)
    assert r.returncode == 4 and "unknown fault 'no-such-fault'" in r.stderr
    assert lab.status()["healthy"]


def test_up_refuses_a_port_taken_by_someone_else(tmp_path):
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen(1)
        port = other.getsockname()[1]
        lab = LocalLab(tmp_path / "lab", listen=f"127.0.0.1:{port}")
        try:
            with pytest.raises(LabError, match="already in use"):
                lab.up()
            assert lab.supervisord_pid() is None
            assert not lab.read_info().get("supervisord_pid")
        finally:
            lab.down()


def test_cli_up_down_purge(tmp_path):
    d = str(tmp_path / "cli-lab")
    port = free_port()
    try:
        r = _cli("up", "--dir", d, "--listen", f"127.0.0.1:{port}")
        assert r.returncode == 0, r.stdout + r.stderr
        info = json.loads((tmp_path / "cli-lab" / "lab.json").read_text())
        pids = [info["supervisord_pid"], info["gateway_pid"]]
        assert all(alive(p) for p in pids)
    finally:
        r = _cli("down", "--purge", "--dir", d)
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(d)
    assert not [p for p in pids if alive(p)]


def test_down_and_up_after_supervisord_was_killed(lab):
    """supervisord SIGKILLed: its gateway is orphaned; down (and up) stop it by its recorded PID."""
    import signal

    sup_pid = lab.read_info()["supervisord_pid"]
    gw_pid = lab.gateway_pid()
    os.kill(sup_pid, signal.SIGKILL)
    assert wait_gone([sup_pid], 10) == []
    assert alive(gw_pid)
    st = lab.status()
    assert st["supervisord_pid"] is None and not st["healthy"]
    again = lab.up()  # stops the orphan, starts a fresh supervisord on the same data
    lab.recorder.note()
    assert again["started"] and not alive(gw_pid)
    assert lab.status()["healthy"]
    lab.down()
    lab.recorder.note()
    assert not alive(sup_pid) and not alive(gw_pid)


def test_long_state_dir_puts_the_socket_in_a_private_tmp_dir(tmp_path):
    lab = LocalLab(tmp_path / ("d" * 100) / "lab", listen=f"127.0.0.1:{free_port()}")
    pids = []
    try:
        lab.up()
        pids = [lab.read_info()["supervisord_pid"], lab.gateway_pid()]
        sock = lab.socket_path
        assert sock.parent != lab.state_dir and len(str(sock)) < 100
        assert lab.read_info()["supervisor_socket"] == str(sock)
        assert stat.S_IMODE(os.stat(sock.parent).st_mode) == 0o700
        assert lab.status()["healthy"]
    finally:
        lab.down(purge=True)
    assert not [p for p in pids if p and alive(p)]
    assert not lab.state_dir.exists() and not lab.socket_path.parent.exists()
