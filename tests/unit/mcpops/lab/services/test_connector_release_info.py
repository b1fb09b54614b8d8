"""release_info: release.json of CONNECTOR_RELEASE_DIR."""

import json
import os

import pytest

from mcpops.lab.services.release_info import ReleaseError, parse_release, read_release


def write(path, data):
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "release.json"), "w") as handle:
        handle.write(data if isinstance(data, str) else json.dumps(data))


def test_a_good_and_a_defective_release_through_a_link(tmp_path):
    write(str(tmp_path / "1.0.0"), {"version": "1.0.0", "defect": None})
    write(str(tmp_path / "1.0.1"), {"version": "1.0.1", "defect": "null pointer"})
    os.symlink("1.0.1", str(tmp_path / "current"))
    release = read_release(str(tmp_path / "current"))
    assert (release.version, release.defect, release.defective) == ("1.0.1", "null pointer", True)
    assert not read_release(str(tmp_path / "1.0.0")).defective


def test_defect_forms():
    assert parse_release({"version": "2"}).defect == ""
    assert parse_release({"version": "2", "defect": True}).defect == "defect"
    assert parse_release({"version": "2", "defect": False}).defective is False
    for bad in ({"defect": None}, {"version": ""}, {"version": 3}, {"version": "2", "defect": 5}, []):
        with pytest.raises(ReleaseError):
            parse_release(bad)


def test_unreadable_releases_name_the_file(tmp_path):
    with pytest.raises(ReleaseError, match="cannot read .*release.json"):
        read_release(str(tmp_path / "missing"))
    write(str(tmp_path / "broken"), "{not json")
    with pytest.raises(ReleaseError, match="not valid JSON"):
        read_release(str(tmp_path / "broken"))
