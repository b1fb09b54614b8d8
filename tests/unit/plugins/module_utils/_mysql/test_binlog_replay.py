"""The binary log replay's pure parts, without a server: the recovery point, which files are replayed, the
mariadb-binlog command line (no password in it), and the scan for statements that name the database."""

import os

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql import binlog_replay as br
from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.client_tools import ClientConfig
from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.errors import MysqlError

CANARY = "canary-pw-\"quote'\\back#hash"


def test_stop_datetime_is_validated_and_re_rendered():
    assert br.parse_stop_datetime(" 2024-01-01 10:15:00 ") == "2024-01-01 10:15:00"
    for bad in ("2024-01-01T10:15:00", "2024-02-30 10:00:00", "2024-01-01 10:15", "1970-01-01 00:00:00",
                "2024-01-01 10:15:00'; DROP DATABASE x; --", "", None):
        with pytest.raises(MysqlError):
            br.parse_stop_datetime(bad)


LOGS = [["binlog.000001", "1760"], ["binlog.000002", "9000"], ["binlog.000003", "400"]]


def test_files_from_the_backups_file_to_the_newest():
    assert br.files_to_replay(LOGS, "binlog.000002", 1200) == ["binlog.000002", "binlog.000003"]
    assert br.files_to_replay(LOGS, "binlog.000003", 400) == ["binlog.000003"]


def test_purged_file_and_position_past_the_end_are_refused():
    with pytest.raises(MysqlError, match="no longer on the server .* purged"):
        br.files_to_replay(LOGS[1:], "binlog.000001", 100)
    with pytest.raises(MysqlError, match="past the end"):
        br.files_to_replay(LOGS, "binlog.000003", 401)


def test_decode_argv_carries_no_password_and_filters_on_the_original_name():
    params = dict(login_user="root", login_password=CANARY, login_host="127.0.0.1", login_port=3307)
    with ClientConfig(params) as cfg:
        cfg.tools["mariadb-binlog"] = "/usr/bin/mariadb-binlog"
        argv = br.decode_argv(cfg, ["binlog.000002"], 1760, "2024-01-01 10:15:00", "connectorMCP", "connectorMCP_pitr_1")
        assert not any(CANARY in a for a in argv)
        assert argv[1] == "--defaults-extra-file=" + cfg.path
        assert "--database=connectorMCP" in argv
        assert "--rewrite-db=connectorMCP->connectorMCP_pitr_1" in argv
        assert "--disable-log-bin" in argv and "--start-position=1760" in argv
        assert argv[-2:] == ["--", "binlog.000002"]
        assert oct(os.stat(cfg.path).st_mode & 0o777) == "0o600"
        assert oct(os.stat(cfg.dir).st_mode & 0o777) == "0o700"
        held = cfg.dir
    assert not os.path.exists(held)
    with pytest.raises(MysqlError):
        with ClientConfig(params) as cfg:
            br.decode_argv(cfg, ["b"], 4, "2024-01-01 10:15:00", "x", "y`; drop")


DECODED = """/*!50530 SET @@SESSION.PSEUDO_SLAVE_MODE=1*/;
# at 1760
#240101  3:05:43 server id 1  end_log_pos 2421 CRC32 0xb1c70f90 	Table_map: `connectorMCP`.`oauth_states` mapped to number 22
BINLOG '
Y29ubmVjdG9yTUNQ connectorMCP
'/*!*/;
use `connectorMCP`/*!*/;
SET TIMESTAMP=1796439943/*!*/;
insert into oauth_states(state) values ('B1')
/*!*/;
insert into connectorMCP.oauth_states(state) values ('B3')
/*!*/;
use `other`/*!*/;
insert into `connectorMCP`.`oauth_states`(state) values ('B4')
insert into t values ('connectorMCP2 is another word')
"""


def test_scan_finds_statements_naming_the_database_but_not_comments_use_set_or_row_events():
    found = br.statements_naming(DECODED.splitlines(), "connectorMCP")
    assert [line for line, _ in found] == [11, 14]
    assert "B3" in found[0][1] and "B4" in found[1][1]
    assert br.statements_naming(DECODED.splitlines(), "other") == []


def test_scan_reports_at_most_a_few():
    lines = ["insert into db1.t values (%d)" % i for i in range(50)]
    assert len(br.statements_naming(lines, "db1")) == br.MAX_REPORTED


def test_option_file_quotes_a_hostile_password_so_the_client_reads_it_back(tmp_path):
    """my_print_defaults reads the file as the client programs do: the password comes back byte for byte."""
    import shutil
    import subprocess

    tool = shutil.which("my_print_defaults")
    if not tool:
        pytest.skip("my_print_defaults (Debian mariadb-client-core) is not installed: cannot read the option file back")
    with ClientConfig(dict(login_user="root", login_password=CANARY, login_unix_socket="/tmp/x.sock")) as cfg:
        out = subprocess.run([tool, "--defaults-file=" + cfg.path, "client"], capture_output=True, text=True,
                             check=True).stdout.splitlines()
    assert "--password=" + CANARY in out
    assert "--socket=/tmp/x.sock" in out and "--protocol=SOCKET" in out
