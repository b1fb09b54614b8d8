"""`mcpops drill --service`: the refusals before anything starts (a service/lab pair the labs cannot run, a running
fleet of another service), and a service target checked its profile's way (mcpops.drill.lab_adapters.Target),
without a lab: a loopback stub answers for the service."""

import argparse
import json

import pytest

from mcpops.drill import command, lab_adapters
from mcpops.drill.checks import common_checks
from mcpops.drill.lab_adapters import FleetDrillLab, Target
from mcpops.drill.profiles import load_profile
from mcpops.drill.scenarios import CCTELEGRAM, ONEC, DrillError
from mcpops.lab.fleet.lab import FleetLab

KEY = "cctg_unit-test-key-0123456789abcdef"


def parse(*argv):
    parser = argparse.ArgumentParser(prog="mcpops")
    command.add_parser(parser.add_subparsers())
    return parser.parse_args(["drill", *argv])


@pytest.fixture
def no_lab(monkeypatch):
    """Any lab the drill would make fails the test: a refusal starts nothing."""
    def refuse(*args, **kwargs):
        raise AssertionError("a lab was made")

    monkeypatch.setattr(lab_adapters, "LocalDrillLab", refuse)
    monkeypatch.setattr(lab_adapters, "FleetDrillLab", refuse)
    monkeypatch.setattr(lab_adapters, "ConnectorDrillLab", refuse)


@pytest.mark.parametrize("argv, words", [
    (("service-outage", "--service", CCTELEGRAM), ["the local lab cannot run it", "(--fleet N)"]),
    (("service-outage", "--fleet", "3", "--service", "no-such-mcp"),
     ["a drill runs one of onec-gateway, cctelegram-mcp, connector-mcp"]),
    (("service-outage", "--fleet", "3", "--service", "lego-mcp"), ["the fleet lab cannot run it", "(--lab kubernetes)"]),
    (("connector-rollback",), ["connector-rollback cannot be drilled for onec-gateway", "(--service connector-mcp)"]),
    (("connector-rollback", "--fleet", "2", "--service", "connector-mcp"), ["the fleet lab cannot run it"]),
    (("connector-db-backup", "--service", "connector-mcp"), ["connector-db-backup cannot be drilled",
                                                             "nothing breaks"]),
    (("service-outage", "--fleet", "3"), ["service-outage cannot be drilled for onec-gateway"]),
    (("inc-001-gateway-down", "--fleet", "2", "--service", CCTELEGRAM),
     ["inc-001-gateway-down cannot be drilled for cctelegram-mcp"]),
])
def test_the_cli_refuses_in_one_line_before_any_lab(no_lab, capsys, argv, words):
    args = parse(*argv)
    assert command.cmd_drill(args) == command.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("mcpops drill: error: ") and err.count("\n") == 1, err
    for word in words:
        assert word in err


def test_the_service_option_defaults_to_the_1c_gateway():
    assert parse("inc-003-restore").service == ONEC
    assert parse("service-outage", "--fleet", "3", "--service", CCTELEGRAM).service == CCTELEGRAM


def _recorded_fleet(tmp_path, monkeypatch, service, count=3):
    """A fleet.json of `count` hosts running `service`, every host taken for running (no real host)."""
    state = tmp_path / "fleet"
    state.mkdir()
    hosts = {"fleet%d" % i: {"address": "127.0.9.%d" % (10 + i), "pid": 4242 + i} for i in range(1, count + 1)}
    (state / "fleet.json").write_text(json.dumps({"count": count, "net": "127.0.9", "service": service,
                                                  "inventory_dir": str(tmp_path / "inventory"), "hosts": hosts}))
    monkeypatch.setattr(FleetLab, "pid", lambda self, host: 4242 + host.index)
    return state


def test_a_running_fleet_of_another_service_is_refused(tmp_path, monkeypatch):
    state = _recorded_fleet(tmp_path, monkeypatch, ONEC)
    with pytest.raises(DrillError) as err:
        FleetDrillLab(3, state_dir=state, service=CCTELEGRAM)
    assert str(err.value) == ("the fleet in %s runs onec-gateway, not cctelegram-mcp: `mcpops fleet down` first, or "
                              "--service onec-gateway" % state.resolve())
    state2 = tmp_path / "other"
    state2.mkdir()
    (state2 / "fleet.json").write_text((state / "fleet.json").read_text().replace(ONEC, CCTELEGRAM))
    with pytest.raises(DrillError, match="runs cctelegram-mcp, not onec-gateway: .* or --service cctelegram-mcp"):
        FleetDrillLab(3, state_dir=state2)  # the default: the 1C gateway


def test_the_cli_says_the_running_fleets_service_and_exits_4(tmp_path, monkeypatch, capsys):
    state = _recorded_fleet(tmp_path, monkeypatch, ONEC)
    args = parse("service-outage", "--fleet", "3", "--service", CCTELEGRAM, "--dir", str(state))
    assert command.cmd_drill(args) == command.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "runs onec-gateway, not cctelegram-mcp" in err, err


def test_a_cctelegram_fleet_lab_has_its_faults_and_service_targets(tmp_path, monkeypatch):
    state = _recorded_fleet(tmp_path, monkeypatch, CCTELEGRAM)
    lab = FleetDrillLab(3, state_dir=state, service=CCTELEGRAM)
    assert lab.fleet.service == CCTELEGRAM and lab.service == CCTELEGRAM and lab.was_running
    assert "bridge-down" in lab.faults() and "corrupt-store" not in lab.faults()
    targets = lab.targets()
    assert [t.name for t in targets] == ["fleet1", "fleet2", "fleet3"]
    one = targets[0]
    assert one.api_url == "http://127.0.9.11:8080" and one.unit == "cctelegram-mcp" and one.token_file is None
    assert one.api_key_file == state.resolve() / "hosts" / "fleet1" / "etc-cctelegram" / "api_key"
    assert not one.has("tokens") and not one.has("storage-meta")
    with pytest.raises(DrillError, match="cctelegram-mcp has no admin API"):
        one.admin("/api/system/storage-meta")


def _service_target(tmp_path, url):
    key_file = tmp_path / "api_key"
    key_file.write_text(KEY + "\n")
    return Target("fleet1", url, service=CCTELEGRAM, profile=load_profile(CCTELEGRAM), api_key_file=key_file,
                  unit="cctelegram-mcp")


def _health_route(answer):
    def route(handler, body):
        if handler.headers.get("X-API-Key") != KEY:
            return 401, {"Content-Type": "application/json"}, {"error": "unauthorized"}
        return answer
    return route


def test_a_service_target_is_healthy_the_profiles_way(tmp_path, stub):
    target = _service_target(tmp_path, stub.url)
    assert [spec["name"] for spec in target.health_specs()] == ["health"]  # liveness and readiness: one check
    stub.routes[("GET", "/health")] = _health_route((200, {"Content-Type": "application/json"}, {"status": "healthy"}))
    [healthy] = common_checks(target, True)  # no storage-meta, no tokens: cctelegram-mcp has neither feature
    assert healthy.ok and healthy.name == "healthy" and healthy.target == "fleet1", healthy.line()
    assert healthy.detail == "/health 200 (the profile's liveness and readiness: health)"
    sent = {name.lower(): value for name, value in stub.requests[-1]["headers"].items()}
    assert sent["x-api-key"] == KEY and "authorization" not in sent and stub.requests[-1]["path"] == "/health"
    assert common_checks(target, False) == []

    json_type = {"Content-Type": "application/json"}
    stub.routes[("GET", "/health")] = _health_route((503, json_type, {"status": "unhealthy"}))
    [down] = common_checks(target, True)
    assert not down.ok and "/health 503, expected 200" in down.detail
    stub.routes[("GET", "/health")] = _health_route((200, {"Content-Type": "application/json"}, {"status": "degraded"}))
    [degraded] = common_checks(target, True)
    assert not degraded.ok and "'status == healthy' fails (status is \"degraded\")" in degraded.detail
    (tmp_path / "api_key").write_text("another key\n")
    [refused] = common_checks(target, True)
    assert not refused.ok and "/health 401" in refused.detail
    for check in (healthy, down, degraded, refused):
        assert KEY not in check.line()


def test_a_service_target_that_does_not_answer_fails_without_its_key(tmp_path):
    target = _service_target(tmp_path, "http://127.0.0.1:9")
    [check] = common_checks(target, True)
    assert not check.ok and "/health None" in check.detail and KEY not in check.line()


# -- the connector lab (--service connector-mcp) ----------------------------------------------------------

def test_the_connector_drill_refuses_the_1c_upstream_and_another_inventory(tmp_path, capsys):
    args = parse("connector-rollback", "--service", "connector-mcp", "--dir", str(tmp_path / "lab"),
                 "--upstream", "127.0.0.1:8443")
    assert command.cmd_drill(args) == command.EXIT_USAGE
    assert "--upstream is the 1C gateway lab's" in capsys.readouterr().err
    args = parse("connector-rollback", "--service", "connector-mcp", "--dir", str(tmp_path / "lab"),
                 "-i", "inventories/production.example")
    assert command.cmd_drill(args) == command.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not the connector lab's" in err and "its own lab only" in err, err
    assert not (tmp_path / "lab" / "lab.json").exists()  # nothing started


def test_a_lab_dir_of_another_service_is_refused_before_anything(tmp_path):
    from mcpops.drill.lab_adapters import ConnectorDrillLab, LocalDrillLab

    onec, connector = tmp_path / "onec", tmp_path / "connector"
    for path, service in ((onec, None), (connector, "connector-mcp")):
        path.mkdir()
        (path / "lab.json").write_text(json.dumps({"listen": "127.0.0.1:9", **({"service": service} if service
                                                                                else {})}))
    with pytest.raises(DrillError, match="runs onec-gateway, not connector-mcp"):
        ConnectorDrillLab(onec)
    with pytest.raises(DrillError, match="runs connector-mcp, not onec-gateway: .* or --service connector-mcp"):
        LocalDrillLab(connector)
    lab = ConnectorDrillLab(connector)
    assert lab.inventory == connector.resolve() / "drill" / "connector-inventory.json"
    assert lab.service == "connector-mcp" and "pool-exhausted" in lab.faults() and not lab.started


def test_the_connector_inventory_reads_each_secret_from_its_file():
    from mcpops.lab.local.connector_inventory import secret_lookup
    from mcpops.lab.local.errors import LabError

    assert secret_lookup("/lab/secrets/db_password") == "{{ lookup('ansible.builtin.file', '/lab/secrets/db_password') }}"
    for bad in ("/lab/it's", "/lab/{{x}}", "/lab/a\\b"):
        with pytest.raises(LabError, match="cannot quote"):
            secret_lookup(bad)
