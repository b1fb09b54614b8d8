"""A CCTelegram fleet host's files, without root or a boot: its releases and their links (what a rollback uses), the
bad release's launcher, the unit files with and without the Telegram Bot API stand-in, the bot token's file, the
standby marker and the bind mounts."""

import json
import os
import stat
import subprocess

import pytest

from mcpops.lab.fleet import cctelegram_releases as releases, services
from mcpops.lab.fleet.errors import FleetError
from mcpops.lab.fleet.host import FleetHost

TOKEN = "123456:canary-bot-token-Yy7"


@pytest.fixture
def host(tmp_path):
    return FleetHost(tmp_path / "state", 2, net="127.0.20", service=services.CCTELEGRAM)


def links(path):
    return {name: os.readlink(path / name) for name in ("current", "previous")}


def test_releases_are_made_once_and_current_is_never_moved(tmp_path):
    path = tmp_path / "opt" / "releases"
    releases.ensure(path)
    assert links(path) == {"current": "2.4.0", "previous": "2.3.0"}  # relative, as release_link writes them
    for version in releases.VERSIONS:
        meta = json.loads((path / version / "release.json").read_text())
        assert meta["version"] == version and bool(meta["defect"]) == (version == releases.BAD_VERSION)
        assert stat.S_IMODE((path / version / releases.LAUNCHER).stat().st_mode) == 0o755
    assert "CCTELEGRAM_VERSION=2.4.0" in (path / "current" / releases.LAUNCHER).read_text()
    # A rollback (release_link state=rolled_back) then an `up`: the links stay where the rollback put them.
    releases.set_link(path, "current", "2.3.0")
    releases.set_link(path, "previous", "2.4.0")
    releases.ensure(path)
    assert links(path) == {"current": "2.3.0", "previous": "2.4.0"}
    assert not [p for p in path.iterdir() if p.name.startswith(".")]  # no temp link left


def test_deploying_the_bad_release_and_clearing_it(tmp_path):
    path = tmp_path / "releases"
    releases.ensure(path)
    before, after = releases.deploy(path, releases.BAD_VERSION)
    assert before == {"current": "2.4.0", "previous": "2.3.0"}
    assert after == {"current": "2.5.0", "previous": "2.4.0"} == links(path)
    assert releases.deploy(path, releases.BAD_VERSION)[1] == after  # already there: nothing moves
    assert releases.clear_bad(path) is True  # current moved: the unit must restart
    assert links(path) == {"current": "2.4.0", "previous": "2.3.0"}
    assert releases.clear_bad(path) is False
    # Rolled back already (current 2.4.0, previous 2.5.0): previous is put back, current needs no restart.
    releases.set_link(path, "previous", releases.BAD_VERSION)
    assert releases.clear_bad(path) is False and links(path) == {"current": "2.4.0", "previous": "2.3.0"}


def test_the_bad_release_logs_an_error_and_exits_1(tmp_path):
    path = tmp_path / "releases"
    releases.ensure(path)
    proc = subprocess.run(["sh", str(path / releases.BAD_VERSION / releases.LAUNCHER)], capture_output=True,
                          text=True, env={"PATH": os.environ["PATH"], "CCTELEGRAM_LOG_DIR": str(tmp_path)}, timeout=30)
    assert proc.returncode == 1 and "cctelegram-mcp 2.5.0: failed to start" in proc.stderr
    line = json.loads((tmp_path / "application.log").read_text())
    assert line["level"] == "ERROR" and line["error_type"] == "ReleaseStartupError" and line["version"] == "2.5.0"


def test_prepare_writes_units_releases_and_no_token_without_a_stand_in(host):
    services.prepare(host)
    mcp = (host.fleet_etc / "units" / "cctelegram-mcp.service").read_text()
    assert "ExecStart=/bin/sh /opt/cctelegram/releases/current/bin/cctelegram-mcp" in mcp
    assert "CCTELEGRAM_TELEGRAM_API_URL" not in mcp and not services.bot_token_file(host).exists()
    assert links(services.releases_dir(host)) == {"current": "2.4.0", "previous": "2.3.0"}
    assert f"--bind={services.opt_dir(host)}:/opt/cctelegram" in services.nspawn_binds(host)
    assert not services.is_standby(host)


def test_prepare_with_the_bot_api_stand_in_names_the_token_file_not_the_token(host):
    services.prepare(host, telegram_url="http://127.0.0.1:18555", bot_token=TOKEN)
    mcp = (host.fleet_etc / "units" / "cctelegram-mcp.service").read_text()
    assert "Environment=CCTELEGRAM_TELEGRAM_API_URL=http://127.0.0.1:18555\n" in mcp
    assert "Environment=CCTELEGRAM_BOT_TOKEN_FILE=/etc/cctelegram/bot_token\n" in mcp
    assert TOKEN not in mcp
    token_file = services.bot_token_file(host)
    assert token_file.read_text().strip() == TOKEN and stat.S_IMODE(token_file.stat().st_mode) == 0o600
    services.prepare(host)  # the stand-in gone: its token goes too
    assert not token_file.exists()
    with pytest.raises(FleetError, match="go together"):
        services.prepare(host, telegram_url="http://127.0.0.1:18555")


def test_an_unchanged_unit_file_is_not_rewritten(host):
    # systemd takes a new mtime for a changed file, and `up` restarts a unit whose file changed.
    services.prepare(host)
    unit = host.fleet_etc / "units" / "cctelegram-mcp.service"
    os.utime(unit, (1_000_000, 1_000_000))
    services.prepare(host)
    assert unit.stat().st_mtime == 1_000_000
    services.prepare(host, telegram_url="http://127.0.0.1:18555", bot_token=TOKEN)
    assert unit.stat().st_mtime != 1_000_000


def test_standby_is_a_marker_prepare_sets_and_clears(host):
    services.prepare(host, standby=True)
    assert services.is_standby(host)
    services.prepare(host)
    assert not services.is_standby(host)


def test_the_collections_release_link_rolls_the_bad_release_back(tmp_path):
    from ansible_collections.mcpops.runbooks.plugins.module_utils._service.release_link_run import run

    path = tmp_path / "releases"
    releases.ensure(path)
    releases.deploy(path, releases.BAD_VERSION)
    result = run({"path": str(path), "state": "rolled_back"})
    assert result["changed"] and result["after"] == {"current": "2.4.0", "previous": "2.5.0"}
    assert links(path) == {"current": "2.4.0", "previous": "2.5.0"}
    assert [v["version"] for v in result["versions"]] == list(releases.VERSIONS)
