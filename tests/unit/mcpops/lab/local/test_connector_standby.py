"""The connector-mcp lab's standby instance and its nginx upstreams file (docs/dev/connector-contract.md, "Topology"):
connectormcp-backend-3 is defined in supervisord with autostart=false, with the environment of the others, and is in
no upstream at start; nginx's upstream block includes the operator's upstreams.conf (empty at start)."""

import configparser
import types

import pytest

from mcpops.lab.fixtures.nginx_server import NginxServer, NginxServerError, find_nginx
from mcpops.lab.local import service_faults
from mcpops.lab.local.service_catalog import CONNECTOR_LAB_ENV, MYSQL, REDIS, SERVICES, instance_programs, \
    log_paths, program_env
from mcpops.lab.local.service_lab import ServiceLab

SPEC = SERVICES["connector-mcp"]


def test_the_standby_is_the_third_instance_and_not_among_the_running_ones():
    assert [p.name for p in SPEC.supervised] == [
        "connectormcp-backend-1", "connectormcp-backend-2", "connectormcp-backend-3"]
    assert [p.name for p in SPEC.standby_programs] == ["connectormcp-backend-3"]
    assert [p.name for p in SPEC.instance_programs] == ["connectormcp-backend-1", "connectormcp-backend-2"]
    assert [p.name for p in SPEC.kept_running] == ["connectormcp-backend-1", "connectormcp-backend-2"]
    assert SPEC.instances == 2 and SPEC.main_instance.name == "connectormcp-backend-1"
    standby = SPEC.standby_programs[0]
    assert standby.instance == 3 and standby.standby and not standby.main
    # the other services have none
    for name, spec in SERVICES.items():
        if name != "connector-mcp":
            assert spec.standby_programs == () and spec.kept_running == spec.supervised


def test_instance_programs_with_standby():
    base = SPEC.main_program
    assert instance_programs(base, 1) == (base,)
    progs = instance_programs(base, 1, standby=1)
    assert [(p.name, p.main, p.standby) for p in progs] == [
        ("connectormcp-backend-1", True, False), ("connectormcp-backend-2", False, True)]


def test_the_standby_gets_the_same_environment_its_own_port_dir_and_log(tmp_path):
    ctx = types.SimpleNamespace(
        listen={p.name: f"127.0.0.1:{4000 + i}" for i, p in enumerate(SPEC.supervised)},
        state_dirs={p.name: tmp_path / "services" / p.name for p in SPEC.supervised},
        secret_files={s.name: tmp_path / "secrets" / s.name for s in SPEC.secrets},
        urls={MYSQL: "mysql://u:pw@127.0.0.1:6/db", REDIS: "redis://127.0.0.1:7/0"},
        logs_dir=tmp_path / "logs", metrics_listen=None,
        connector_paths={"CONNECTOR_RELEASE_DIR": str(tmp_path / "releases" / "current")},
    )
    one = program_env(SPEC, SPEC.supervised[0], ctx)
    three = program_env(SPEC, SPEC.standby_programs[0], ctx)
    assert set(one) == set(three)
    assert three["INSTANCE_NAME"] == "backend-3" and three["RATE_LIMIT_BACKEND"] == "redis"
    assert three["CONNECTOR_LOG"] == str(tmp_path / "logs" / "connectormcp" / "backend-3" / "app.log")
    assert three["CONNECTOR_LOG"] == log_paths(SPEC, ctx.logs_dir, SPEC.standby_programs[0])["path"]
    assert three["MCPOPS_SERVICE_LISTEN"] == "127.0.0.1:4002"
    assert three["MCPOPS_SERVICE_STATE_DIR"] == str(tmp_path / "services" / "connectormcp-backend-3")
    same = {k for k in CONNECTOR_LAB_ENV} | {"DATABASE_URL", "REDIS_URL", "CONNECTOR_RELEASE_DIR"}
    assert {k: three[k] for k in same} == {k: one[k] for k in same}


def test_supervisord_defines_the_standby_with_autostart_false(tmp_path):
    lab = ServiceLab(tmp_path / "lab", "connector-mcp", listen="127.0.0.1:18000")
    assert lab.program_names == ("connectormcp-backend-1", "connectormcp-backend-2")
    assert lab.supervised_names == lab.program_names + ("connectormcp-backend-3",)
    assert lab.standby_names == ("connectormcp-backend-3",)
    conf = configparser.RawConfigParser()
    conf.read_string(lab.render_config())
    autostart = {s.split(":", 1)[1]: conf[s]["autostart"] for s in conf.sections() if s.startswith("program:")}
    assert autostart == {"connectormcp-backend-1": "true", "connectormcp-backend-2": "true",
                         "connectormcp-backend-3": "false"}
    assert str(lab.env_file("connectormcp-backend-3")) in conf["program:connectormcp-backend-3"]["command"]


def test_the_connector_faults_include_rate_limit_memory():
    assert "rate-limit-memory" in SPEC.faults and "rate-limit-memory" in service_faults.FAULTS
    for name, spec in SERVICES.items():
        assert ("rate-limit-memory" in spec.faults) == (name == "connector-mcp")


@pytest.fixture
def nginx_binary():
    try:
        return find_nginx()
    except NginxServerError as exc:
        pytest.skip(f"the nginx binary is needed for `nginx -t`: {exc}")


def test_the_upstream_includes_the_operators_upstreams_file(tmp_path, nginx_binary):
    server = NginxServer(tmp_path / "nginx", 18080, ["127.0.0.1:18001", "127.0.0.1:18002"], binary=nginx_binary)
    assert server.servers == ["127.0.0.1:18001", "127.0.0.1:18002"]
    assert server.upstreams == server.upstreams_file == tmp_path / "nginx" / "conf" / "upstreams.conf"
    server.render()
    upstream = server.conf.read_text().split("upstream ", 1)[1].split("}", 1)[0]
    assert f"include {server.upstreams_file};" in upstream
    assert server.upstreams_file.read_text().startswith("#") and server.upstream_servers() == []
    ok, said = server.test_conf()
    assert ok, said  # an empty included file inside upstream is accepted
    # a scale-out's line, as an operator writes it: nginx -t accepts it, upstream_servers reads it
    with open(server.upstreams_file, "a") as fh:
        fh.write("server 127.0.0.1:18003;\n")
    ok, said = server.test_conf()
    assert ok, said
    assert server.upstream_servers() == ["127.0.0.1:18003"]
    server.render()  # the operator's file is kept
    assert server.upstream_servers() == ["127.0.0.1:18003"]
    server.write_upstreams()
    assert server.upstream_servers() == [] and server.test_conf()[0]
    server.write_upstreams(["127.0.0.1:18004", "127.0.0.2:18005"])
    assert server.upstream_servers() == ["127.0.0.1:18004", "127.0.0.2:18005"]
    with pytest.raises(NginxServerError, match="loopback only"):
        server.write_upstreams(["10.0.0.1:80"])
    assert server.upstream_servers() == ["127.0.0.1:18004", "127.0.0.2:18005"]  # nothing touched
