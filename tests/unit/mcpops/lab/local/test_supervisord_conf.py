"""The local labs' shared supervisord pieces (supervisord_conf), the env files their programs start through
(env_exec), what the service lab writes into supervisord.conf, and which lab the `mcpops lab` command opens."""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from mcpops.lab.local import commands, env_exec, service_datastores as ds, supervisord_conf as sc
from mcpops.lab.local.errors import LabError
from mcpops.lab.local.lab import LocalLab
from mcpops.lab.local.service_lab import ServiceLab, recorded_service


def test_conf_values_escape_percent_and_refuse_newlines_and_quotes():
    assert sc.conf_value("/a/100%/b") == "/a/100%%/b"
    for bad in ("a\nb", 'a"b'):
        with pytest.raises(LabError, match="cannot be written into supervisord.conf"):
            sc.conf_value(bad)


def test_a_long_state_dir_gets_its_socket_in_a_private_tmp_dir(tmp_path):
    assert sc.socket_path(tmp_path) == tmp_path / "supervisor.sock"
    long_dir = tmp_path / ("d" * 120)
    path = sc.socket_path(long_dir)
    assert str(path).startswith(f"/tmp/mcpops-lab-{os.getuid()}-") and len(str(path)) < 100
    assert sc.socket_path(long_dir) == path  # stable


def test_render_program_section(tmp_path):
    text = sc.render_program("svc", "python -m x", tmp_path, {"A": "1", "B": "50%"}, tmp_path / "o", tmp_path / "e",
                             startretries=5)
    assert text.startswith("\n[program:svc]\ncommand=python -m x\n")
    assert 'environment=A="1",B="50%%"' in text and "startretries=5" in text and "startsecs=1" in text


def test_env_files_round_trip_and_refuse_what_they_cannot_hold(tmp_path):
    env = {"DATABASE_URL": "postgresql://u:p=w@127.0.0.1:5/db", "EMPTY": "", "A_1": "x y"}
    path = tmp_path / "p.env"
    path.write_text("# comment\n\n" + env_exec.render_env_file(env))
    assert env_exec.read_env_file(path) == env
    with pytest.raises(ValueError):
        env_exec.render_env_file({"A": "two\nlines"})
    path.write_text("NOT A LINE\n")
    with pytest.raises(ValueError, match="not a KEY=VALUE line"):
        env_exec.read_env_file(path)


def test_env_exec_execs_the_command_with_the_file_added(tmp_path):
    path = tmp_path / "p.env"
    path.write_text("LAB_X=from-file\n")
    code = "import os; print(os.environ['LAB_X'], os.environ['LAB_Y'], os.getpid())"
    proc = subprocess.run([sys.executable, "-m", "mcpops.lab.local.env_exec", str(path), "--", sys.executable, "-c",
                           code], capture_output=True, text=True, env=dict(os.environ, LAB_X="env", LAB_Y="kept"),
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[:2] == ["from-file", "kept"]
    proc = subprocess.run([sys.executable, "-m", "mcpops.lab.local.env_exec", str(tmp_path / "missing"), "--", "true"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "cannot read the env file" in proc.stderr


def test_the_service_labs_config_starts_each_program_through_its_env_file(tmp_path):
    lab = ServiceLab(tmp_path / "lab", "cctelegram-mcp", listen="127.0.0.1:4100")
    conf = lab.render_config()
    assert conf.startswith(sc.HEADER_COMMENT)
    for program in ("cctelegram-mcp", "cctelegram-bridge"):
        assert f"[program:{program}]" in conf
        assert (f"-m mcpops.lab.local.env_exec {lab.secrets_dir}/{program}.env -- {sys.executable} "
                f"-m mcpops.lab.services {program}") in conf
    assert "API_KEY" not in conf and "DATABASE_URL" not in conf


def test_recorded_service_and_the_lab_the_command_opens(tmp_path):
    def args(d, service=None):
        return argparse.Namespace(dir=str(d), service=service, listen=None, upstream=None)

    empty = tmp_path / "empty"
    assert recorded_service(empty) is None
    assert isinstance(commands._lab(args(empty)), LocalLab)
    assert isinstance(commands._lab(args(empty, "onec-gateway")), LocalLab)
    assert isinstance(commands._lab(args(empty, "lego-mcp")), ServiceLab)

    gw = tmp_path / "gw"
    gw.mkdir()
    (gw / "lab.json").write_text(json.dumps({"listen": "127.0.0.1:3000", "data_dir": str(gw / "data")}))
    assert recorded_service(gw) == "onec-gateway"
    assert isinstance(commands._lab(args(gw)), LocalLab)
    with pytest.raises(LabError, match="runs onec-gateway, not lego-mcp"):
        commands._lab(args(gw, "lego-mcp"))

    svc = tmp_path / "svc"
    svc.mkdir()
    (svc / "lab.json").write_text(json.dumps({"service": "connector-mcp"}))
    lab = commands._lab(args(svc))
    assert isinstance(lab, ServiceLab) and lab.service == "connector-mcp"
    with pytest.raises(LabError, match="runs connector-mcp, not onec-gateway"):
        commands._lab(args(svc, "onec-gateway"))
    with pytest.raises(LabError, match="--upstream is for the onec-gateway lab"):
        commands._lab(argparse.Namespace(dir=str(svc), service=None, listen=None, upstream="127.0.0.1:8443"))


def test_a_datastore_record_never_claims_another_process(tmp_path):
    me = os.getpid()
    for record in ({"kind": "postgres", "data_dir": str(tmp_path), "port": 1},
                   {"kind": "redis", "dir": str(tmp_path), "port": 1},
                   {"kind": "mysql", "data_dir": str(tmp_path), "port": 1}):
        record["pid"] = me
        assert not ds.is_ours(record, me)
        assert ds.running_pid(record) is None
        assert ds.stop(record) is None  # nothing signalled


def test_datastores_go_under_the_state_dir_unless_their_socket_path_would_be_too_long():
    short = Path(tempfile.mkdtemp(prefix="sl-", dir="/tmp"))
    try:
        assert ds.base_dir(short, "mysql") == short / "ds"
        assert ds.base_dir(short / ("d" * 70), "mysql") == Path("/tmp")
        (short / ("d" * 70)).mkdir()
        assert ds.base_dir(short / ("d" * 70), "redis") == short / ("d" * 70) / "ds"  # TCP only: no socket
    finally:
        shutil.rmtree(short, ignore_errors=True)
