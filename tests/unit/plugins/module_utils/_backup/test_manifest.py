"""_backup/manifest.py: what counts as data, file digests, and the manifest format and its checks."""

import datetime
import hashlib
import json
import os

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.manifest import (
    ManifestError,
    build_manifest,
    data_entries,
    data_files,
    describe_files,
    file_digest,
    is_data_name,
    is_safe_relative_path,
    parse_timestamp,
    read_manifest,
    read_schema_version,
)


def write_manifest(backup_dir, content):
    os.makedirs(str(backup_dir), exist_ok=True)
    with open(os.path.join(str(backup_dir), "manifest.json"), "w") as handle:
        handle.write(content if isinstance(content, str) else json.dumps(content))


def test_dot_names_and_backups_are_never_data(tmp_path, dd):
    data_dir = dd.make(tmp_path)
    for extra in (".gateway.lock", ".restore-journal.json", "backups/x/manifest.json"):
        dd.write_tree(data_dir, {extra: "{}"})
    assert is_data_name("tokens.json") and not is_data_name(".gateway.lock") and not is_data_name("backups")
    assert data_entries(data_dir) == ["audit.jsonl", "clients.json", "index", "profiles.json", "storage-meta.json", "tokens.json"]
    assert data_files(data_dir) == sorted(dd.OLD_DATA)
    assert data_entries(str(tmp_path / "missing")) == []


def test_file_digest_streams_past_one_buffer(tmp_path):
    path = tmp_path / "big.bin"
    payload = os.urandom(256 * 1024 * 2 + 17)  # more than two reads of the reused buffer
    path.write_bytes(payload)
    assert file_digest(str(path)) == (len(payload), hashlib.sha256(payload).hexdigest())


def test_describe_files_lists_path_size_sha256(tmp_path, dd):
    data_dir = dd.make(tmp_path, {"b.json": "{}", "a/c.jsonl": "{\"x\": 1}\n"})
    described = describe_files(data_dir)
    assert [item["path"] for item in described] == ["a/c.jsonl", "b.json"]
    assert described[1] == {"path": "b.json", "size": 2, "sha256": hashlib.sha256(b"{}").hexdigest()}


@pytest.mark.parametrize("meta, expected", [
    ('{"schemaVersion": 3}', 3),
    ('{"schemaVersion": true}', None),
    ('{"schemaVersion": "3"}', None),
    ('[3]', None),
    ('{"schemaVersion": ', None),
])
def test_schema_version_is_an_int_or_none(tmp_path, dd, meta, expected):
    assert read_schema_version(dd.make(tmp_path, {"storage-meta.json": meta})) == expected


def test_schema_version_of_a_data_dir_without_meta_is_none(tmp_path, dd):
    assert read_schema_version(dd.make(tmp_path, {"tokens.json": "{}"})) is None


def test_timestamps_in_both_contract_forms_and_nothing_else():
    assert parse_timestamp("2026-11-23T02:00:00Z") == datetime.datetime(2026, 11, 23, 2, tzinfo=datetime.timezone.utc)
    assert parse_timestamp("2026-11-23T02:00:00.250Z").microsecond == 250000
    assert parse_timestamp("2026-11-23 02:00:00") is None and parse_timestamp(None) is None


@pytest.mark.parametrize("rel, ok", [
    ("tokens.json", True), ("index/deep/part.bin", True), ("../etc/passwd", False), ("/abs", False),
    ("a//b", False), ("a/./b", False), ("backups/x", False), (".gateway.lock", False), ("a\\b", False),
    ("", False), (None, False), ("a\x00b", False),
])
def test_manifest_paths_stay_inside_the_data(rel, ok):
    assert is_safe_relative_path(rel) is ok


def test_build_then_read_round_trip(tmp_path):
    files = [{"path": "z.json", "size": 2, "sha256": "ab"}, {"path": "a.json", "size": 2, "sha256": "cd"}]
    manifest = build_manifest("20261123T020000Z-a1b2c3", 3, files, created_at="2026-11-23T02:00:00Z")
    assert [item["path"] for item in manifest["files"]] == ["a.json", "z.json"]
    write_manifest(tmp_path / "b", manifest)
    assert read_manifest(str(tmp_path / "b")) == manifest


@pytest.mark.parametrize("content, code, words", [
    (None, "missing_manifest", "does not exist"),
    ('{"files": [', "bad_manifest", "invalid JSON at line 1"),
    ("[]", "bad_manifest", "not a JSON object"),
    ({"id": "x"}, "bad_manifest", "no 'files' list"),
    ({"files": [{"path": "../x", "size": 1, "sha256": "a"}]}, "bad_manifest", "files[0]"),
    ({"files": [{"path": "a.json", "size": True, "sha256": "a"}]}, "bad_manifest", "integer 'size'"),
    ({"files": [], "schemaVersion": "3"}, "bad_manifest", "schemaVersion must be an integer"),
])
def test_bad_manifests_are_named(tmp_path, content, code, words):
    backup_dir = tmp_path / "b"
    backup_dir.mkdir()
    if content is not None:
        write_manifest(backup_dir, content)
    with pytest.raises(ManifestError) as caught:
        read_manifest(str(backup_dir))
    assert caught.value.code == code and str(caught.value).startswith(code + ":") and words in str(caught.value)


def test_manifest_that_is_not_utf8(tmp_path):
    (tmp_path / "manifest.json").write_bytes(b'{"files": [], "x": "\xff"}')
    with pytest.raises(ManifestError, match="not UTF-8"):
        read_manifest(str(tmp_path))
