import hashlib
import json
import os
import socket

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._backup import bounded_json
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup import safe_fs
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup import verify as backup_verify
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.store import (
    BackupStore,
    RestoreRefusedError,
    UnknownBackupError,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.verify import problem_name

from backup_hostile import Canary, bounded, edit_manifest, fifo_unblocker, set_file_entry


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


# -- a hostile backups/ (issue 23): links and special files are never followed or opened ---------------


@pytest.fixture
def canary(tmp_path):
    return Canary(tmp_path / "outside")


def test_a_data_file_linked_to_a_root_only_file_is_unsafe_not_valid(made, canary, dd):
    """The issue's case: data/tokens.json -> a root-only file, the manifest saying the target's size and sha256
    (what a reader of earlier messages would know). Followed, it verified valid and was restored."""
    store, backup_id, path = made
    target = os.path.join(path, "data", "tokens.json")
    os.unlink(target)
    os.symlink(canary.path, target)
    set_file_entry(path, "tokens.json", len(canary.data), canary.sha256)
    problems = store.verify(backup_id)
    assert problems == ["unsafe_file: tokens.json: a link, not a regular file (links are never followed)"]
    assert store.latest_valid() is None
    with pytest.raises(RestoreRefusedError) as caught:
        store.restore(backup_id)
    canary.assert_not_in(problems, str(caught.value))
    canary.assert_not_copied_into(store.data_dir)
    canary.assert_untouched()


def test_a_data_file_linked_with_the_manifest_unchanged_says_nothing_of_the_target(made, canary):
    store, backup_id, path = made
    target = os.path.join(path, "data", "clients.json")
    os.unlink(target)
    os.symlink(canary.path, target)
    problems = store.verify(backup_id)
    assert names(problems) == ["unsafe_file"]  # not size_mismatch: the target's size is never looked at
    canary.assert_not_in(problems)


@pytest.mark.parametrize("where, label", [
    ("data", "data"),
    ("data/index", "index"),
    ("data/index/deep", "index/deep"),
])
def test_a_linked_directory_in_a_backup_is_unsafe(made, tmp_path, canary, where, label):
    """data/ (or a directory below it) -> a copy outside that would verify: never followed."""
    store, backup_id, path = made
    outside = str(tmp_path / "outside-copy")
    os.rename(os.path.join(path, *where.split("/")), outside)
    os.symlink(outside, os.path.join(path, *where.split("/")))
    problems = store.verify(backup_id)
    assert problems and all(p.startswith("unsafe_file: %s: a link, not a directory" % label) for p in problems), problems
    assert store.latest_valid() is None


def test_the_backup_dir_itself_linked_is_listed_invalid(made, tmp_path, dd):
    store, backup_id, path = made
    other = store.create("20200101T000000Z-0ld0ld")["id"]
    linked = "29990101T000000Z-11nked"
    os.symlink(path, os.path.join(store.backups_dir, linked))  # a valid backup, reached through a link
    listed = {entry["id"]: entry for entry in store.list()}
    assert listed[linked]["createdAt"] is None and listed[linked]["files"] is None
    assert store.verify(linked) == ["unsafe_file: %s: a link, not a directory (links are never followed)" % linked]
    assert store.latest_valid() in (backup_id, other) and store.latest_valid() != linked
    with pytest.raises(RestoreRefusedError, match="a link, not a directory"):
        store.restore(linked)


def test_a_linked_manifest_is_unsafe(made, canary):
    store, backup_id, path = made
    real = os.path.join(path, "manifest.json")
    moved = os.path.join(os.path.dirname(canary.path), "manifest.json")
    os.rename(real, moved)
    os.symlink(moved, real)
    (problem,) = store.verify(backup_id)
    assert problem.startswith("unsafe_file: %s: a link, not a regular file" % real)


@pytest.mark.parametrize("where", ["data/tokens.json", "manifest.json", "data/index/deep/part.bin"])
def test_a_fifo_in_a_backup_is_refused_without_waiting(made, where):
    store, backup_id, path = made
    fifo = os.path.join(path, *where.split("/"))
    os.unlink(fifo)
    os.mkfifo(fifo)
    problems = bounded(lambda: store.verify(backup_id), unblock=fifo_unblocker(fifo))
    assert len(problems) == 1 and "not a regular file (a FIFO)" in problems[0]
    assert problems[0].split(":")[0] == "unsafe_file"


def test_a_socket_in_a_backup_is_refused(made, monkeypatch):
    store, backup_id, path = made
    os.unlink(os.path.join(path, "data", "profiles.json"))
    monkeypatch.chdir(os.path.join(path, "data"))  # a socket path has a short length limit
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind("profiles.json")
        assert store.verify(backup_id) == ["unsafe_file: profiles.json: not a regular file (a socket)"]
    finally:
        sock.close()


def test_a_sparse_giant_is_a_size_mismatch_without_a_byte_read(made, monkeypatch):
    """The issue's 20 GiB sparse file whose manifest says 10 bytes: the sizes are compared before reading."""
    store, backup_id, path = made
    giant = os.path.join(path, "data", "index", "deep", "part.bin")
    os.truncate(giant, 4 << 30)
    read = {"bytes": 0}
    real_readv = os.readv

    def counting(fd, buffers):
        count = real_readv(fd, buffers)
        read["bytes"] += count
        return count

    monkeypatch.setattr(safe_fs.os, "readv", counting)
    problems = bounded(lambda: store.verify(backup_id))
    assert problems == ["size_mismatch: index/deep/part.bin: manifest says 10 bytes, file has %d" % (4 << 30)]
    assert read["bytes"] < 1 << 20  # the other, small files only


def test_a_json_store_over_the_cap_is_hashed_not_parsed(made, monkeypatch):
    store, backup_id, path = made
    monkeypatch.setattr(backup_verify, "MAX_STORE_BYTES", 128)  # the other stores are smaller
    parsed = []
    real_loads = backup_verify.loads
    monkeypatch.setattr(backup_verify, "loads", lambda text: parsed.append(len(text)) or real_loads(text))
    rewrite_with_manifest(path, "profiles.json", json.dumps({"profiles": ["x" * 200]}))
    problems = store.verify(backup_id)
    assert names(problems) == ["too_large"]
    assert "profiles.json: 218 bytes, more than the 128 bytes a .json store may have to be parsed" in problems[0]
    assert parsed and all(size <= 128 for size in parsed)


def test_an_unfinished_jsonl_line_is_never_held_whole(made, monkeypatch):
    """The issue's 500 MB line without a newline (here 6 MiB over a lowered 256 KiB cap)."""
    store, backup_id, path = made
    monkeypatch.setattr(backup_verify, "MAX_JSONL_LINE_BYTES", 256 * 1024)
    monkeypatch.setattr(backup_verify, "READ_CHUNK", 64 * 1024)
    held = []
    real_feed = backup_verify.JsonlChecker.feed

    def watching(self, chunk):
        real_feed(self, chunk)
        held.append(len(self.pending))

    monkeypatch.setattr(backup_verify.JsonlChecker, "feed", watching)
    body = b'{"event": "auth.ok"}\n' + b'{"x": "' + b"y" * (6 << 20)  # never ends
    full = os.path.join(path, "data", "audit.jsonl")
    with open(full, "wb") as handle:
        handle.write(body)
    set_file_entry(path, "audit.jsonl", len(body), hashlib.sha256(body).hexdigest())
    problems = store.verify(backup_id)
    assert problems == ["bad_jsonl_line: audit.jsonl: line 2: longer than 256 KiB; not parsed"]
    assert max(held) <= 256 * 1024


def test_a_long_jsonl_line_is_skipped_and_the_next_lines_still_counted(monkeypatch):
    checker = backup_verify.JsonlChecker("a.jsonl", max_line=100)
    for chunk in (b'{"a": 1}\n{"b": "' + b"z" * 90, b"z" * 90, b"z" * 90 + b'"}\n{broken\n', b'{"c": 3}\n'):
        checker.feed(chunk)
    assert checker.finish() == [
        "bad_jsonl_line: a.jsonl: line 2: longer than 100 bytes; not parsed",
        "bad_jsonl_line: a.jsonl: line 3: Expecting property name enclosed in double quotes",
    ]


@pytest.mark.parametrize("rel, text, name", [
    ("profiles.json", "[" * 200000 + "]" * 200000, "invalid_json"),
    ("audit.jsonl", '{"ok": 1}\n' + "[" * 200000 + "\n", "bad_jsonl_line"),
])
def test_deep_nesting_in_a_store_is_one_problem_not_a_crash(made, rel, text, name):
    store, backup_id, path = made
    rewrite_with_manifest(path, rel, text)
    problems = store.verify(backup_id)
    assert names(problems) == [name] and bounded_json.NESTED_TOO_DEEPLY in problems[0]


def test_a_manifest_of_nested_brackets_is_a_bad_manifest(made):
    store, backup_id, path = made
    with open(os.path.join(path, "manifest.json"), "w") as handle:
        handle.write("[" * 500000)
    (problem,) = store.verify(backup_id)
    assert problem.startswith("bad_manifest: ") and bounded_json.NESTED_TOO_DEEPLY in problem
    assert store.list()[0]["createdAt"] is None


def test_the_problem_list_is_capped_with_a_count(made):
    """The issue's 94 MB task result: a manifest of many files none of which exist."""
    store, backup_id, path = made
    edit_manifest(path, lambda m: m["files"].extend(
        {"path": "gone/%06d.json" % i, "size": 1, "sha256": "00" * 32} for i in range(5000)))
    problems = store.verify(backup_id)
    assert len(problems) == backup_verify.MAX_PROBLEMS + 1
    assert problems[-1] == "more_problems: 4980 more problems not listed (5000 in all)"
    assert all(name == "missing_file" for name in names(problems[:-1]))


def test_a_huge_value_in_the_manifest_never_reaches_a_message(made):
    store, backup_id, path = made
    edit_manifest(path, lambda m: m.update(createdAt="x" * 100000, files=m["files"] + [
        {"path": "a.json", "size": 1, "sha256": "s" * 100}, {"path": "b" * 5000, "size": 1, "sha256": "0"}]))
    problems = store.verify(backup_id)
    assert names(problems) == ["bad_manifest"] and len(problems[0]) < 1000
    assert store.list()[0]["createdAt"] is None
