"""The reference gateway's tokens.json writes: built from per-token cached JSON, byte-identical to
encoding the whole store, whatever sequence of issues, revokes, patches and reloads came before."""

import json
import os

from mcpops.lab.gateway import fsutil
from mcpops.lab.gateway import tokens as tokens_api
from mcpops.lab.gateway.audit import Audit
from mcpops.lab.gateway.store import Store, StoreMigrationRunner
from mcpops.lab.seed import seed_data_dir


def open_store(data_dir):
    return Store(str(data_dir), StoreMigrationRunner(str(data_dir)).run())


def on_disk(data_dir):
    with open(os.path.join(str(data_dir), "tokens.json"), "rb") as handle:
        return handle.read()


def test_every_write_equals_the_whole_store_encoded(tmp_path):
    seed_data_dir(tmp_path, tokens=20, audit_lines=10)
    store = open_store(tmp_path)
    audit = Audit(store)
    client = store.clients[0]
    first = store.tokens[0]["id"]

    tokens_api.revoke_token(store, audit, first)
    assert on_disk(tmp_path) == fsutil.json_bytes({"tokens": store.tokens})
    assert json.loads(on_disk(tmp_path))["tokens"][0]["revokedAt"]

    record, _secret = tokens_api.create_token(store, audit, {"clientId": client, "orgId": "org_new", "scopes": ["tools:read"]})
    tokens_api.patch_token(store, audit, record["id"], {"blocked": True, "rateLimit": {"requestsPerMinute": 5}})
    assert on_disk(tmp_path) == fsutil.json_bytes({"tokens": store.tokens})
    saved = json.loads(on_disk(tmp_path))["tokens"][-1]
    assert saved["id"] == record["id"] and saved["blocked"] is True and saved["rateLimit"] == {"requestsPerMinute": 5}

    # A reload (what a restore does) must not keep the JSON of records that are gone.
    store.reload()
    tokens_api.revoke_token(store, audit, store.tokens[1]["id"])
    assert on_disk(tmp_path) == fsutil.json_bytes({"tokens": store.tokens})


def test_repeated_ids_keep_each_record_as_it_is(tmp_path):
    seed_data_dir(tmp_path, tokens=3, audit_lines=10)
    with open(tmp_path / "tokens.json") as handle:
        doc = json.load(handle)
    twin = dict(doc["tokens"][1], id=doc["tokens"][0]["id"], prefix="mcp_twin")
    doc["tokens"].append(twin)
    with open(tmp_path / "tokens.json", "w") as handle:
        json.dump(doc, handle)
    store = open_store(tmp_path)

    tokens_api.revoke_token(store, Audit(store), doc["tokens"][0]["id"])  # find() takes the first of the two

    saved = json.loads(on_disk(tmp_path))["tokens"]
    assert [t["prefix"] for t in saved] == [t["prefix"] for t in doc["tokens"]]
    assert saved[0]["revokedAt"] and saved[-1]["revokedAt"] is None
