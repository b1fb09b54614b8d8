"""mysql_backup's manifest without a server: names, the CHANGE MASTER comment, validation, the sha256 check,
choosing the newest backup before a point in time, and which backups keep=N prunes."""

import gzip
import json
import os

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql import backup_manifest as bm
from ansible_collections.mcpops.runbooks.plugins.module_utils._mysql.errors import MysqlError

T0 = 1704078000  # 2024-01-01T03:00:00Z


def write_backup(directory, database, epoch, body=b"-- dump\nCREATE TABLE t (i int);\n-- Dump completed\n", changes=None):
    name = bm.backup_name(database, epoch)
    dump = os.path.join(directory, name + ".sql.gz")
    with gzip.open(dump, "wb") as handle:
        handle.write(body)
    doc = bm.build(database, name + ".sql.gz", bm.sha256_file(dump), os.path.getsize(dump), ("binlog.000002", 1760),
                   bm.utc_text(epoch + 1), bm.utc_text(epoch), "mariadb-dump Ver 10.19", bm.utc_text(epoch))
    doc.update(changes or {})
    manifest = os.path.join(directory, name + ".json")
    with open(manifest, "w") as handle:
        json.dump(doc, handle)
    return manifest, dump, doc


def test_backup_name_is_database_and_utc_stamp_and_pattern_matches_only_its_database():
    assert bm.backup_name("connectorMCP", T0) == "connectorMCP-20240101T030000Z"
    pattern = bm.name_pattern("connectorMCP")
    assert pattern.match("connectorMCP-20240101T030000Z.json").group(1) == "20240101T030000Z"
    assert not pattern.match("connectorMCP_other-20240101T030000Z.json")
    assert not pattern.match(".connectorMCP-20240101T030000Z.json.tmp")
    assert not pattern.match("connectorMCP-20240101T030000Z.sql.gz")


def test_change_master_comment_is_parsed_and_other_lines_are_not():
    line = "-- CHANGE MASTER TO MASTER_LOG_FILE='binlog.000001', MASTER_LOG_POS=1760;"
    assert bm.parse_change_master(line) == ("binlog.000001", 1760)
    assert bm.parse_change_master("CHANGE MASTER TO MASTER_LOG_FILE='binlog.000001', MASTER_LOG_POS=1760;") is None
    assert bm.parse_change_master("-- CHANGE MASTER TO MASTER_LOG_FILE='../x', MASTER_LOG_POS=1;") is None
    assert bm.parse_change_master("-- Server version 10.11") is None


def test_utc_round_trip_and_bad_text():
    assert bm.utc_epoch(bm.utc_text(T0)) == T0
    with pytest.raises(MysqlError, match="not a UTC time"):
        bm.utc_epoch("2024-01-01 03:00:00")


def test_load_valid_manifest_and_verify_its_dump(tmp_path):
    manifest, dump, doc = write_backup(str(tmp_path), "connectorMCP", T0)
    loaded = bm.load(manifest)
    assert loaded == doc and loaded["binlog_position"] == 1760
    assert bm.verify_dump(manifest, loaded) == dump


@pytest.mark.parametrize("changes, message", [
    ({"file": "../etc/passwd.sql.gz"}, "plain file name"),
    ({"file": "x.sql"}, "ending in .sql.gz"),
    ({"sha256": "ABC"}, "64 lowercase hex"),
    ({"binlog_position": -1}, "whole number"),
    ({"binlog_position": True}, "whole number"),
    ({"binlog_file": "../binlog.1"}, "not a binary log file name"),
    ({"database": "a;drop"}, "not a database name"),
    ({"server_time_utc": "yesterday"}, "not a UTC time"),
    ({"size": "10"}, "whole number"),
])
def test_bad_manifest_fields_are_named(tmp_path, changes, message):
    manifest, _dump, _doc = write_backup(str(tmp_path), "connectorMCP", T0, changes=changes)
    with pytest.raises(MysqlError, match=message):
        bm.load(manifest)


def test_manifest_that_is_not_json_or_too_big_is_refused(tmp_path):
    path = tmp_path / "m.json"
    path.write_text("{not json")
    with pytest.raises(MysqlError, match="does not parse as JSON"):
        bm.load(str(path))
    path.write_text(" " * (bm.MAX_MANIFEST_BYTES + 1))
    with pytest.raises(MysqlError, match="larger than"):
        bm.load(str(path))
    with pytest.raises(MysqlError, match="cannot be read"):
        bm.load(str(tmp_path / "missing.json"))


def test_corrupted_truncated_and_missing_dumps_are_refused(tmp_path):
    manifest, dump, doc = write_backup(str(tmp_path), "connectorMCP", T0)
    data = bytearray(open(dump, "rb").read())
    data[len(data) // 2] ^= 0xFF  # same size, one flipped byte
    open(dump, "wb").write(bytes(data))
    with pytest.raises(MysqlError, match="does not match its manifest's sha256"):
        bm.verify_dump(manifest, doc)
    open(dump, "wb").write(bytes(data[:-3]))
    with pytest.raises(MysqlError, match="manifest says"):
        bm.verify_dump(manifest, doc)
    os.unlink(dump)
    with pytest.raises(MysqlError, match="does not exist"):
        bm.verify_dump(manifest, doc)


def test_newest_before_picks_the_newest_strictly_before_the_point_and_skips_bad_ones(tmp_path):
    d = str(tmp_path)
    m1, _, _ = write_backup(d, "connectorMCP", T0)            # server_time T0+1
    m2, _, _ = write_backup(d, "connectorMCP", T0 + 3600)     # server_time T0+3601
    write_backup(d, "otherdb", T0 + 7000)
    (tmp_path / ("%s.json" % bm.backup_name("connectorMCP", T0 + 7200))).write_text("garbage")
    assert bm.newest_before(d, "connectorMCP", T0 + 3602)[0] == m2
    assert bm.newest_before(d, "connectorMCP", T0 + 3601)[0] == m1  # equal is not before
    assert bm.newest_before(d, "connectorMCP", T0 + 99999)[0] == m2
    with pytest.raises(MysqlError, match="no backup of connectorMCP .* before the recovery point") as err:
        bm.newest_before(d, "connectorMCP", T0)
    assert "skipped" in err.value.msg and "does not parse" in err.value.msg


def test_prune_plan_keeps_the_newest_n_of_that_database_only(tmp_path):
    d = str(tmp_path)
    made = [write_backup(d, "connectorMCP", T0 + i * 60) for i in range(4)]
    other = write_backup(d, "otherdb", T0)
    assert bm.prune_plan(d, "connectorMCP", 0) == []
    assert bm.prune_plan(d, "connectorMCP", 10) == []
    plan = bm.prune_plan(d, "connectorMCP", 2)
    assert plan == [made[0][0], made[0][1], made[1][0], made[1][1]]
    assert other[0] not in plan
