"""faults.json: what the reference services read on every request to be unhealthy or slow on demand."""

import json
import os

import pytest

from mcpops.lab.services.faults import (FAULTS_FILE, MAX_BYTES, NONE, Faults, clear_faults, parse_faults, read_faults,
                                        write_faults)


def test_no_file_is_no_fault(tmp_path):
    assert read_faults(str(tmp_path)) == NONE
    assert not NONE.active and NONE.error == ""


def test_missing_state_dir_is_no_fault(tmp_path):
    assert read_faults(str(tmp_path / "nope")) == NONE


def test_write_read_clear_round_trip(tmp_path):
    path = write_faults(str(tmp_path), unhealthy=True, slow_ms=250, reason="disk full", circuits={"slack": "open"})
    assert os.path.basename(path) == FAULTS_FILE
    assert [p.name for p in tmp_path.iterdir()] == [FAULTS_FILE]  # no tmp file left behind
    faults = read_faults(str(tmp_path))
    assert faults == Faults(unhealthy=True, slow_ms=250, reason="disk full", extra={"circuits": {"slack": "open"}})
    assert faults.active
    clear_faults(str(tmp_path))
    clear_faults(str(tmp_path))  # twice is fine
    assert read_faults(str(tmp_path)) == NONE


def test_empty_object_and_empty_file_heal(tmp_path):
    write_faults(str(tmp_path))
    assert read_faults(str(tmp_path)) == NONE
    (tmp_path / FAULTS_FILE).write_text("  \n")
    assert read_faults(str(tmp_path)) == NONE


def test_defaults():
    faults = parse_faults({"unhealthy": True})
    assert faults.reason == "fault injected" and faults.slow_ms == 0 and faults.extra == {}
    assert parse_faults({"unhealthy": True, "reason": ""}).reason == "fault injected"


@pytest.mark.parametrize("data, word", [
    ([], "object"),
    ({"unhealthy": "yes"}, "unhealthy"),
    ({"unhealthy": 1}, "unhealthy"),
    ({"slow_ms": -1}, "slow_ms"),
    ({"slow_ms": True}, "slow_ms"),
    ({"slow_ms": 1.5}, "slow_ms"),
    ({"slow_ms": 10 ** 9}, "slow_ms"),
    ({"reason": 3}, "reason"),
])
def test_bad_values_are_named(data, word):
    with pytest.raises(ValueError, match=word):
        parse_faults(data)


@pytest.mark.parametrize("content, word", [
    ("{not json", "faults.json"),
    ('{"unhealthy": "yes"}', "unhealthy"),
    ("[" * 5000 + "]" * 5000, "faults.json"),
])
def test_an_invalid_file_injects_nothing_and_says_why(tmp_path, content, word):
    (tmp_path / FAULTS_FILE).write_text(content)
    faults = read_faults(str(tmp_path))
    assert not faults.unhealthy and faults.slow_ms == 0
    assert word in faults.error


def test_an_oversized_file_is_not_read(tmp_path):
    (tmp_path / FAULTS_FILE).write_text(json.dumps({"unhealthy": True, "pad": "x" * MAX_BYTES}))
    faults = read_faults(str(tmp_path))
    assert not faults.unhealthy and "over" in faults.error


def test_a_directory_in_its_place_is_an_error_not_a_crash(tmp_path):
    (tmp_path / FAULTS_FILE).mkdir()
    faults = read_faults(str(tmp_path))
    assert not faults.unhealthy and "cannot read" in faults.error
