import json
import os

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.store import BackupStore, UnknownBackupError
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.verify import problem_name



@pytest.fixture
def made(tmp_path, dd):
    data_dir = dd.make(tmp_path)
    store = BackupStore(data_dir)
    manifest = store.create()
    return store, manifest["id"], os.path.join(store.backups_dir, manifest["id"])


def names(problems):
    return [problem_name(p) for p in problems]


def test_fresh_backup_is_valid(made):
    store, backup_id, _ = made
    assert store.verify(backup_id) == []


def test_missing_file(made):
    store, backup_id, path = made
    os.unlink(os.path.join(path, "data", "tokens.json"))
    problems = store.verify(backup_id)
    assert names(problems) == ["missing_file"] and "tokens.json" in problems[0]


def test_size_mismatch(made):
    store, backup_id, path = made
    with open(os.path.join(path, "data", "index", "deep", "part.bin"), "a") as handle:
        handle.write("more")
    problems = store.verify(backup_id)
    assert names(problems) == ["size_mismatch"] and "index/deep/part.bin" in problems[0]


def test_sha256_mismatch(made):
    store, backup_id, path = made
    target = os.path.join(path, "data", "clients.json")
    with open(target) as handle:
        text = handle.read()
    with open(target, "w") as handle:
        handle.write(text.replace("cursor", "CURSOR"))  # same size, different bytes
    problems = store.verify(backup_id)
    assert names(problems) == ["sha256_mismatch"] and "clients.json" in problems[0]


def rewrite_with_manifest(path, rel, text):
    """Replace a file and fix its manifest entry, so only the content check can fail."""
    from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.manifest import file_digest

    full = os.path.join(path, "data", *rel.split("/"))
    with open(full, "w") as handle:
        handle.write(text)
    manifest_path = os.path.join(path, "manifest.json")
    with open(manifest_path) as handle:
        manifest = json.load(handle)
    for item in manifest["files"]:
        if item["path"] == rel:
            item["size"], item["sha256"] = file_digest(full)
    with open(manifest_path, "w") as handle:
        json.dump(manifest, handle)


def test_invalid_json_names_file_line_and_column(made):
    store, backup_id, path = made
    rewrite_with_manifest(path, "profiles.json", '{\n  "profiles": [\n    {"name" "x"}\n  ]\n}')
    problems = store.verify(backup_id)
    assert names(problems) == ["invalid_json"]
    assert "profiles.json: line 3 col" in problems[0]


def test_bad_jsonl_line_names_file_and_line(made):
    store, backup_id, path = made
    rewrite_with_manifest(path, "audit.jsonl", '{"ok": 1}\n{"ok": 2}\n{broken\n{"ok": 4}\n')
    problems = store.verify(backup_id)
    assert names(problems) == ["bad_jsonl_line"]
    assert "audit.jsonl: line 3" in problems[0]


def test_missing_manifest(made):
    store, backup_id, path = made
    os.unlink(os.path.join(path, "manifest.json"))
    assert names(store.verify(backup_id)) == ["missing_manifest"]


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        "[]",
        '{"files": "nope"}',
        '{"files": [{"path": "../escape", "size": 1, "sha256": "00"}]}',
        '{"files": [{"path": "/abs", "size": 1, "sha256": "00"}]}',
        '{"files": [{"path": "tokens.json", "size": "1", "sha256": "00"}]}',
        '{"files": [], "schemaVersion": "3"}',
    ],
)
def test_bad_manifest(made, text):
    store, backup_id, path = made
    with open(os.path.join(path, "manifest.json"), "w") as handle:
        handle.write(text)
    problems = store.verify(backup_id)
    assert names(problems) == ["bad_manifest"]


def test_bad_manifest_json_names_line_and_col(made):
    store, backup_id, path = made
    with open(os.path.join(path, "manifest.json"), "w") as handle:
        handle.write('{\n "files": [,]\n}')
    (problem,) = store.verify(backup_id)
    assert "line 2 col" in problem


def test_unknown_backup(made):
    store = made[0]
    with pytest.raises(UnknownBackupError):
        store.verify("20000101T000000Z-000000")
