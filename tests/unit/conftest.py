"""Unit tests import the collection as ansible_collections.mcpops.runbooks through the checkout link."""

import json
import os
import sys
import types

import pytest

COLLECTIONS = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "collections"))
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)


# -- data dir helpers shared by the backup tests (fixture `dd`) ----------------------

OLD_DATA = {
    "storage-meta.json": json.dumps({"schemaVersion": 3, "appliedMigrations": ["001_init", "002_tokens_org", "003_rate_limits"]}),
    "tokens.json": json.dumps({"tokens": [{"id": "tok_1", "prefix": "mcp_ab12"}]}),
    "profiles.json": json.dumps({"profiles": [{"name": "prod", "environment": "production"}]}),
    "clients.json": json.dumps({"allowedClients": ["cursor-ide"]}),
    "audit.jsonl": '{"event": "auth.ok"}\n{"event": "token.issued"}\n',
    "index/catalog.json": json.dumps({"objects": [1, 2, 3]}),
    "index/deep/part.bin": "binary-ish",
}


def write_tree(root, files):
    for rel, text in files.items():
        path = os.path.join(root, *rel.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as handle:
            handle.write(text)


def make_data_dir(tmp_path, files=None):
    data_dir = str(tmp_path / "data")
    os.makedirs(data_dir, exist_ok=True)
    write_tree(data_dir, OLD_DATA if files is None else files)
    return data_dir


def snapshot(root, skip_top=()):
    """{relative path: bytes} of every file under root (dirs included as None)."""
    found = {}
    for dirpath, dirs, files in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        if rel_dir != "." and rel_dir.split(os.sep)[0] in skip_top:
            continue
        for name in dirs:
            found[os.path.normpath(os.path.join(rel_dir, name)) + "/"] = None
        for name in files:
            rel = os.path.normpath(os.path.join(rel_dir, name))
            if rel.split(os.sep)[0] in skip_top:
                continue
            with open(os.path.join(dirpath, name), "rb") as handle:
                found[rel] = handle.read()
    return found


def data_snapshot(data_dir):
    """Only the data: no backups/, no dot names."""
    snap = snapshot(data_dir)
    return {
        k: v for k, v in snap.items()
        if not k.startswith(".") and not k.startswith("backups")
    }


@pytest.fixture
def dd():
    """Helpers: dd.make(tmp_path, files=None), dd.snapshot(root), dd.data_snapshot(data_dir), dd.OLD_DATA."""
    return types.SimpleNamespace(
        OLD_DATA=OLD_DATA, write_tree=write_tree, make=make_data_dir, snapshot=snapshot, data_snapshot=data_snapshot
    )
