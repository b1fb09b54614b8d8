"""The parse cache (backups/<id>/.parsed.json), verifying once per run, and the EXDEV fallback of restore."""

import errno
import json
import os

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._backup import data_swap
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup import safe_fs
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup import verify as backup_verify
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.gateway_backup_info_run import run as gateway_backup_info_run
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.manifest import file_digest
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.store import BackupStore
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.verify import (
    PARSE_CACHE_NAME,
    JsonlChecker,
    read_parse_cache,
    write_parse_cache,
)

from backup_hostile import Canary, bounded, fifo_unblocker, safe_snapshot


def parsed_files(monkeypatch):
    """Record every file verification parses (hash-only scans are not parses)."""
    seen = []
    real = backup_verify.scan_file

    def spy(base, rel, parse=True, **kwargs):
        if parse and backup_verify.needs_parse(rel):
            seen.append(rel)
        return real(base, rel, parse, **kwargs)

    monkeypatch.setattr(backup_verify, "scan_file", spy)
    return seen


def info(data_dir):
    return gateway_backup_info_run({"data_dir": data_dir, "transport": "files", "verify": True, "max_schema_version": 3})


def test_first_verify_parses_all_then_cache_skips_parse(tmp_path, dd, monkeypatch):
    data_dir = dd.make(tmp_path)
    backup_id = BackupStore(data_dir).create()["id"]
    cache = os.path.join(data_dir, "backups", backup_id, PARSE_CACHE_NAME)
    seen = parsed_files(monkeypatch)
    first = info(data_dir)
    assert first["latest_valid"] == backup_id and first["backups"][0]["valid"]
    # once per run: gateway_backup_info verified the backup once, latest_valid reused it
    assert sorted(seen) == sorted(p for p in dd.OLD_DATA if p.endswith((".json", ".jsonl")))
    assert os.path.isfile(cache)
    with open(cache) as handle:
        recorded = json.load(handle)
    assert recorded["version"] == 1 and "audit.jsonl" in recorded["files"]
    assert [b["id"] for b in first["backups"]] == [backup_id]  # the sidecar is never listed
    del seen[:]
    second = info(data_dir)
    assert second["backups"][0]["valid"] and seen == []  # hashed again, not parsed again
    mtime = os.stat(cache).st_mtime_ns
    info(data_dir)
    assert os.stat(cache).st_mtime_ns == mtime  # nothing new to record: not rewritten


def test_cache_never_vouches_for_other_bytes(tmp_path, dd, monkeypatch):
    data_dir = dd.make(tmp_path)
    backup_id = BackupStore(data_dir).create()["id"]
    info(data_dir)
    path = os.path.join(data_dir, "backups", backup_id)
    # same size, different bytes, manifest fixed up: only the parse can catch it
    target = os.path.join(path, "data", "audit.jsonl")
    with open(target, "rb") as handle:
        raw = handle.read()
    broken = raw.replace(b'{"event": "auth.ok"}', b'{"event": "auth.ok"]')
    with open(target, "wb") as handle:
        handle.write(broken)
    manifest_path = os.path.join(path, "manifest.json")
    with open(manifest_path) as handle:
        manifest = json.load(handle)
    for item in manifest["files"]:
        if item["path"] == "audit.jsonl":
            item["size"], item["sha256"] = file_digest(target)
    with open(manifest_path, "w") as handle:
        json.dump(manifest, handle)
    result = info(data_dir)
    assert result["backups"][0]["valid"] is False
    assert [p.split(":")[0] for p in result["backups"][0]["problems"]] == ["bad_jsonl_line"]
    # the failing file is never recorded; the recorded sha256 of the old bytes stays as it was
    for item in manifest["files"]:
        if item["path"] == "audit.jsonl":
            assert read_parse_cache(path).get("audit.jsonl") != item["sha256"]


def test_store_verifies_each_backup_once(tmp_path, dd, monkeypatch):
    data_dir = dd.make(tmp_path)
    store = BackupStore(data_dir)
    good = store.create()["id"]
    calls = []
    real = backup_verify.check_files

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(backup_verify, "check_files", counting)
    assert store.verify(good) == []
    assert store.latest_valid() == good
    assert store.resolve("latest_valid") == good
    assert store.plan_restore("latest_valid")["needed"] is False
    assert len(calls) == 1
    # a change to the files is noticed (stat fingerprint): verified again
    with open(os.path.join(store.backups_dir, good, "data", "tokens.json"), "a") as handle:
        handle.write(" ")
    assert [p.split(":")[0] for p in store.verify(good)] == ["size_mismatch"]
    assert len(calls) == 2


def test_restore_falls_back_to_copying_when_backups_is_another_filesystem(tmp_path, dd, monkeypatch):
    data_dir = dd.make(tmp_path)
    store = BackupStore(data_dir)
    good = store.create()["id"]
    with open(os.path.join(data_dir, "tokens.json"), "w") as handle:
        handle.write('{"tokens": [{"id": "tok_9"}]}')
    changed = dd.data_snapshot(data_dir)
    real_rename = safe_fs.Dir.rename

    def exdev(self, name, dst, dst_name):
        src_path, dst_path = self.path(name), dst.path(dst_name)
        if dst_path.startswith(store.backups_dir + os.sep) and not src_path.startswith(store.backups_dir + os.sep):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real_rename(self, name, dst, dst_name)

    monkeypatch.setattr(safe_fs.Dir, "rename", exdev)
    result = store.restore(good)
    safety = result["safety_backup_id"]
    assert dd.data_snapshot(data_dir) == dd.data_snapshot(os.path.join(store.backups_dir, good, "data"))
    assert dd.data_snapshot(os.path.join(store.backups_dir, safety, "data")) == changed
    assert BackupStore(data_dir).verify(safety) == []
    assert sorted(n for n in os.listdir(data_dir) if n.startswith(".")) == [".gateway.lock"]
    assert sorted(n for n in os.listdir(store.backups_dir) if n.startswith(".")) == []


def test_staged_copy_that_differs_from_the_manifest_aborts_and_keeps_the_data(tmp_path, dd, monkeypatch):
    data_dir = dd.make(tmp_path)
    store = BackupStore(data_dir)
    good = store.create()["id"]
    with open(os.path.join(data_dir, "tokens.json"), "w") as handle:
        handle.write('{"tokens": []}')
    before = dd.data_snapshot(data_dir)
    backups_before = dd.snapshot(store.backups_dir)

    def tamper(name, **info):  # the backup changes after it was verified
        if name == "safety_backup":
            with open(os.path.join(store.backups_dir, good, "data", "tokens.json"), "r+") as handle:
                handle.write("X")

    store.on_step = tamper
    try:
        store.restore(good)
    except data_swap.SwapError as exc:
        assert "does not match the manifest" in str(exc)
    else:
        raise AssertionError("restore of a changed backup went through")
    assert dd.data_snapshot(data_dir) == before
    assert sorted(n for n in os.listdir(data_dir) if n.startswith(".")) == [".gateway.lock"]
    after = dd.snapshot(store.backups_dir)
    assert set(after) == set(backups_before)  # the unfinished safety backup was removed


def test_jsonl_checker_matches_the_per_line_rule():
    data = b'{"a": 1}\n\n  \x0c\n[1,\n2]\n"x"  \r\n\xff\n{"b": 2}'
    for size in (1, 2, 5, 1000):
        checker = JsonlChecker("f.jsonl")
        for start in range(0, len(data), size):
            checker.feed(data[start:start + size])
        problems = checker.finish()
        assert [p.split(": ")[2] for p in problems] == ["line 4", "line 5", "line 7"], problems


def test_check_mode_listing_writes_no_cache(tmp_path, dd):
    data_dir = dd.make(tmp_path)
    backup_id = BackupStore(data_dir).create()["id"]
    before = dd.snapshot(str(tmp_path))
    params = {"data_dir": data_dir, "transport": "files", "verify": True, "max_schema_version": 3}
    assert gateway_backup_info_run(params, check_mode=True)["latest_valid"] == backup_id
    assert dd.snapshot(str(tmp_path)) == before


# -- the parse cache in a hostile backups/ (issue 23) ----------------------------------------------------


def test_a_linked_cache_tmp_never_overwrites_the_file_outside(tmp_path, dd):
    """The issue's case: gateway_backup_info (read-only) wrote through backups/<id>/.parsed.json.tmp -> outside."""
    data_dir = dd.make(tmp_path)
    backup_id = BackupStore(data_dir).create()["id"]
    canary = Canary(tmp_path / "outside")
    backup = os.path.join(data_dir, "backups", backup_id)
    os.symlink(canary.path, os.path.join(backup, PARSE_CACHE_NAME + ".tmp"))
    result = info(data_dir)
    assert result["latest_valid"] == backup_id  # the cache is not part of the backup
    canary.assert_untouched()
    canary.assert_not_in(result)
    assert not os.path.exists(os.path.join(backup, PARSE_CACHE_NAME))  # not written while the tmp name is a link
    assert os.readlink(os.path.join(backup, PARSE_CACHE_NAME + ".tmp")) == canary.path  # left as it was


def test_a_linked_cache_is_neither_trusted_nor_written_through(tmp_path, dd, monkeypatch):
    data_dir = dd.make(tmp_path)
    backup_id = BackupStore(data_dir).create()["id"]
    backup = os.path.join(data_dir, "backups", backup_id)
    outside = tmp_path / "outside-cache.json"
    # a cache outside that vouches for every file: followed, verification would skip every parse
    with open(os.path.join(backup, "manifest.json")) as handle:
        vouch = {"version": 1, "files": {f["path"]: f["sha256"] for f in json.load(handle)["files"]}}
    outside.write_text(json.dumps(vouch))
    before = outside.read_bytes()
    os.symlink(str(outside), os.path.join(backup, PARSE_CACHE_NAME))
    assert read_parse_cache(backup) == {}
    seen = parsed_files(monkeypatch)
    assert info(data_dir)["latest_valid"] == backup_id
    assert sorted(seen) == sorted(p for p in dd.OLD_DATA if p.endswith((".json", ".jsonl")))  # everything parsed
    assert outside.read_bytes() == before and os.path.islink(os.path.join(backup, PARSE_CACHE_NAME))
    assert write_parse_cache(backup, {"x": "y"}) is False and outside.read_bytes() == before


@pytest.mark.parametrize("name", [PARSE_CACHE_NAME, PARSE_CACHE_NAME + ".tmp"])
def test_a_fifo_as_the_cache_never_blocks(tmp_path, dd, name):
    data_dir = dd.make(tmp_path)
    backup_id = BackupStore(data_dir).create()["id"]
    fifo = os.path.join(data_dir, "backups", backup_id, name)
    os.mkfifo(fifo)
    result = bounded(lambda: info(data_dir), unblock=fifo_unblocker(fifo))
    assert result["latest_valid"] == backup_id
    assert safe_snapshot(os.path.join(data_dir, "backups", backup_id))[name] == ("fifo",)


def test_an_oversized_or_deep_cache_means_parse_everything(tmp_path, dd, monkeypatch):
    data_dir = dd.make(tmp_path)
    backup_id = BackupStore(data_dir).create()["id"]
    backup = os.path.join(data_dir, "backups", backup_id)
    with open(os.path.join(backup, PARSE_CACHE_NAME), "w") as handle:
        handle.write("[" * 300000)
    assert read_parse_cache(backup) == {}
    seen = parsed_files(monkeypatch)
    assert info(data_dir)["latest_valid"] == backup_id and seen  # parsed, then recorded afresh
    assert read_parse_cache(backup)["tokens.json"]
