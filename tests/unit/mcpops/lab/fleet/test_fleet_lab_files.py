"""The fleet lab's pieces that need no root: the image recipe's hash, the inventory it writes, the host's
files and systemd-nspawn command line, and the refusal to start on a machine that cannot run it."""

from pathlib import Path

import pytest
import yaml

from mcpops.lab.fleet import image, inventory, lab
from mcpops.lab.fleet.host import FleetHost, HostError

REPO = Path(__file__).resolve().parents[5]


def test_recipe_hash_is_stable_and_follows_every_part_of_the_recipe(monkeypatch):
    first = image.recipe_hash()
    assert first == image.recipe_hash() and len(first) == 16
    monkeypatch.setenv("MCPOPS_FLEET_MIRROR", "http://mirror.example/debian")
    assert image.recipe_hash() == first  # any mirror builds the same image
    for name, value in (("PACKAGES", image.PACKAGES + ("vim",)), ("SUITE", "trixie"),
                        ("FILES", dict(image.FILES, **{"/etc/motd": "hi\n"}))):
        with monkeypatch.context() as m:
            m.setattr(image, name, value)
            assert image.recipe_hash() != first, name
    monkeypatch.setenv("MCPOPS_FLEET_CACHE", "/somewhere")
    assert image.Image().dir == Path("/somewhere/images") / first


def test_the_unit_runs_the_reference_gateway_with_the_inventory_paths():
    unit = image.GATEWAY_UNIT
    assert "ExecStart=/usr/bin/python3 -m mcpops.lab.gateway" in unit
    assert "ONEC_MCP_DATA_DIR=/var/lib/onec-mcp-gateway" in unit
    assert "ONEC_MCP_HTTP_TOKEN_FILE=/etc/onec-mcp-gateway/admin_token" in unit
    assert "Restart=on-failure" in unit


def test_inventory_has_the_lab_inventorys_names_and_pins_host_keys(tmp_path):
    hosts = [FleetHost(tmp_path / "state", i) for i in (1, 2, 3)]
    inventory.write(tmp_path / "inv", tmp_path / "state", hosts)
    parsed = yaml.safe_load((tmp_path / "inv" / "hosts.yml").read_text())
    assert parsed["all"]["vars"]["mcpops_fleet_dir"] == str(tmp_path / "state")
    assert parsed["all"]["children"]["gateways"]["hosts"] == {
        "fleet1": {"ansible_host": "127.0.0.11"}, "fleet2": {"ansible_host": "127.0.0.12"},
        "fleet3": {"ansible_host": "127.0.0.13"}}
    fleet_vars = yaml.safe_load((tmp_path / "inv" / "group_vars" / "gateways.yml").read_text())
    lab_vars = yaml.safe_load((REPO / "inventories" / "lab" / "group_vars" / "gateways.yml").read_text())
    # supervisor's, and the lab's 1C upstream (the fleet runs none: INC-004 is not drilled on it yet)
    supervisor_only = {"gateway_supervisor_config", "gateway_supervisorctl_path", "mcpops_lab_dir", "mcpops_lab",
                       "upstream_ca_path"}
    assert set(lab_vars) - supervisor_only <= set(fleet_vars)
    assert fleet_vars["gateway_platform"] == "systemd"
    ssh_args = fleet_vars["ansible_ssh_common_args"]
    assert "StrictHostKeyChecking=yes" in ssh_args and "known_hosts" in ssh_args
    assert "StrictHostKeyChecking=no" not in (tmp_path / "inv" / "group_vars" / "gateways.yml").read_text()


def test_host_addresses_names_and_nspawn_command_line(tmp_path):
    host = FleetHost(tmp_path, 4)
    assert (host.name, host.address, host.api_url) == ("fleet4", "127.0.0.14", "http://127.0.0.14:3000")
    argv = host.nspawn_argv("/img/rootfs", "/src/mcpops")
    for flag in ("-b", "--volatile=overlay", "--register=no", "--keep-unit"):
        assert flag in argv
    assert "--private-network" not in argv and not any(a.startswith("--network") for a in argv)
    assert f"--bind={tmp_path}/hosts/fleet4/data:/var/lib/onec-mcp-gateway" in argv
    assert "--bind-ro=/src/mcpops:/opt/mcpops/src/mcpops" in argv
    with pytest.raises(HostError):
        FleetHost(tmp_path, 0)
    with pytest.raises(HostError):
        FleetHost(tmp_path, 201)


def test_host_files_are_seeded_once_with_secrets_kept_private(tmp_path):
    host = FleetHost(tmp_path, 2)
    host.prepare("ssh-ed25519 AAAAC3Nza test\n")
    conf = (host.fleet_etc / "sshd.conf").read_text()
    assert "ListenAddress 127.0.0.12\n" in conf and "PasswordAuthentication no" in conf
    assert (host.fleet_etc / "gateway.listen.env").read_text() == "ONEC_MCP_LISTEN=127.0.0.12:3000\n"
    assert host.known_hosts_line().startswith("127.0.0.12 ssh-ed25519 ")
    for secret in (host.admin_token_file, host.mcp_token_file, host.gateway_etc / "gateway.env", host.host_key):
        assert secret.stat().st_mode & 0o077 == 0, secret
    tokens = (host.data_dir / "tokens.json").read_bytes()
    assert host.mcp_token() not in tokens.decode() and host.admin_token() not in tokens.decode()
    host.prepare("ssh-ed25519 AAAAC3Nza test\n")  # a second up keeps the data and the keys
    assert (host.data_dir / "tokens.json").read_bytes() == tokens
    other = FleetHost(tmp_path, 3)
    other.prepare("ssh-ed25519 AAAAC3Nza test\n")
    assert (other.data_dir / "tokens.json").read_bytes() != tokens  # each host its own data


def test_up_refuses_before_touching_anything_when_not_root_or_tools_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(lab.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(lab.shutil, "which", lambda cmd: None if cmd in ("debootstrap", "systemd-nspawn") else "/bin/" + cmd)
    fleet = lab.FleetLab(tmp_path / "state", inventory_dir=tmp_path / "inv")
    with pytest.raises(lab.FleetError) as err:
        fleet.up(2)
    text = str(err.value)
    assert "not root" in text and "debootstrap" in text and "systemd-container" in text
    assert "Nothing was started" in text
    assert not (tmp_path / "state").exists() and not (tmp_path / "inv").exists()
    with pytest.raises(lab.FleetError, match="choose 1..200"):
        fleet.up(0)


def test_a_fleet_on_another_loopback_net_gives_its_hosts_addresses_there(tmp_path):
    host = FleetHost(tmp_path, 3, "127.0.1")
    assert (host.address, host.api_url) == ("127.0.1.13", "http://127.0.1.13:3000")
    for bad in ("10.0.0", "127.0", "127.0.256", "127.a.1"):
        with pytest.raises(HostError, match="loopback /24"):
            FleetHost(tmp_path, 1, bad)


def test_a_fleet_keeps_the_net_it_was_recorded_with(tmp_path, monkeypatch):
    from mcpops.lab.fleet.lab import FleetLab

    (tmp_path / "fleet.json").write_text('{"count": 2, "net": "127.0.4"}')
    monkeypatch.setenv("MCPOPS_FLEET_NET", "127.0.9")
    assert [h.address for h in FleetLab(tmp_path).hosts()] == ["127.0.4.11", "127.0.4.12"]
    assert [h.address for h in FleetLab(tmp_path / "new").hosts()] == []
    assert FleetLab(tmp_path / "new").net == "127.0.9"
