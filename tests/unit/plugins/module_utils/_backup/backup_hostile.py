"""Helpers for the hostile data dir tests of the backup domain (issue 23): a canary file outside the data dir,
a bound on work that could hang, a snapshot that never follows a link or opens a FIFO, manifest edits."""

import hashlib
import json
import os
import stat
import threading

import pytest

CANARY_TEXT = "CANARY-ROOT-ONLY-7f3a9c-"
CANARY_SIZE = 7919  # a size no fixture file has: its digits in a message would be the leak
HANG_BOUND_SECONDS = 60


class Canary(object):
    """A root-only (0600) file outside the data dir: its content, size and sha256 must never show up."""

    def __init__(self, directory):
        os.makedirs(str(directory), exist_ok=True)
        self.path = os.path.join(str(directory), "root-only-secret.json")
        body = (CANARY_TEXT * (CANARY_SIZE // len(CANARY_TEXT) + 1))[: CANARY_SIZE - 8]
        self.data = ('{"s":"%s"}' % body).encode()  # valid JSON: followed, it would even parse
        assert len(self.data) == CANARY_SIZE
        with open(self.path, "wb") as handle:
            handle.write(self.data)
        os.chmod(self.path, 0o600)
        self.sha256 = hashlib.sha256(self.data).hexdigest()
        self.mtime_ns = os.stat(self.path).st_mtime_ns

    def assert_not_in(self, *texts):
        """Neither the content, nor the size, nor the sha256 (nor the target path) in any of texts."""
        for text in texts:
            text = text if isinstance(text, str) else json.dumps(text, default=str)
            assert CANARY_TEXT not in text, text[:500]
            assert str(CANARY_SIZE) not in text, text[:500]
            assert self.sha256 not in text, text[:500]
            assert self.path not in text, text[:500]

    def assert_untouched(self):
        with open(self.path, "rb") as handle:
            assert handle.read() == self.data
        assert os.stat(self.path).st_mtime_ns == self.mtime_ns

    def assert_not_copied_into(self, root):
        """No regular file under root (links not followed) holds the canary's bytes."""
        for dirpath, _dirs, files in os.walk(root):
            for name in files:
                full = os.path.join(dirpath, name)
                st = os.lstat(full)
                if stat.S_ISREG(st.st_mode):
                    with open(full, "rb") as handle:
                        assert CANARY_TEXT.encode() not in handle.read(), full


def bounded(work, seconds=HANG_BOUND_SECONDS, unblock=None):
    """work() in a thread: its result, or its exception; a hang FAILS the test (unblock() is then called
    to free the thread, e.g. by opening the FIFO it waits on) instead of hanging the suite."""
    box = {}

    def target():
        try:
            box["value"] = work()
        except BaseException as exc:  # handed to the test below
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        if unblock is not None:
            unblock()
        pytest.fail("still running after %d s: a blocking step without a bound" % seconds)
    if "error" in box:
        raise box["error"]
    return box.get("value")


def fifo_unblocker(path):
    """unblock() for bounded(): open the FIFO at path for writing (and reading), so a reader stuck on it returns."""
    def unblock():
        try:
            fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
            os.close(fd)
        except OSError:
            pass
    return unblock


def safe_snapshot(root):
    """{relative path: what it is} under root without following a link or opening a special file:
    bytes for a regular file, ('link', target) for a link, ('dir',) / ('fifo',) / ('socket',) otherwise."""
    found = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                found[rel] = ("link", os.readlink(full))
            elif stat.S_ISDIR(st.st_mode):
                found[rel] = ("dir",)
            elif stat.S_ISREG(st.st_mode):
                with open(full, "rb") as handle:
                    found[rel] = handle.read()
            elif stat.S_ISFIFO(st.st_mode):
                found[rel] = ("fifo",)
            else:
                found[rel] = ("other", stat.S_IFMT(st.st_mode))
    return found


def manifest_path(backup_dir):
    return os.path.join(str(backup_dir), "manifest.json")


def edit_manifest(backup_dir, change):
    with open(manifest_path(backup_dir)) as handle:
        manifest = json.load(handle)
    change(manifest)
    with open(manifest_path(backup_dir), "w") as handle:
        json.dump(manifest, handle)


def set_file_entry(backup_dir, rel, size, sha256):
    """The manifest entry of rel says size and sha256 (so that only the file itself can be wrong)."""
    def change(manifest):
        for item in manifest["files"]:
            if item["path"] == rel:
                item["size"], item["sha256"] = size, sha256
    edit_manifest(backup_dir, change)
