"""The data dir: StoreMigrationRunner (start-up validation and migrations) and the in-memory Store."""

import json
import os
import threading

from . import JSON_STORES, JSONL_STORES, KNOWN_MIGRATIONS, SCHEMA_VERSION, fsutil


class StoreError(Exception):
    """A start-up failure; str() is the text after `StoreMigrationRunner: `."""


def _json_error(name, exc, line_offset=0):
    return StoreError("invalid JSON in %s at line %d column %d" % (name, exc.lineno + line_offset, exc.colno))


def read_json_file(path, name=None):
    name = name or os.path.basename(path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        raise StoreError("missing %s" % name)
    except OSError as exc:
        raise StoreError("cannot read %s: %s" % (name, exc.strerror or exc))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StoreError("invalid UTF-8 in %s at byte %d" % (name, exc.start))
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _json_error(name, exc)


def scan_jsonl(path, name=None):
    """Stream a .jsonl file; every non-blank line must be a JSON object. Returns the record count."""
    name = name or os.path.basename(path)
    count = 0
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        return 0
    with handle:
        for lineno, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError:
                raise StoreError("invalid UTF-8 in %s at line %d" % (name, lineno))
            except json.JSONDecodeError as exc:
                raise StoreError("invalid JSON in %s at line %d column %d" % (name, lineno, exc.colno))
            if not isinstance(obj, dict):
                raise StoreError("%s line %d is not a JSON object" % (name, lineno))
            count += 1
    return count


def check_meta(meta, name="storage-meta.json"):
    if not isinstance(meta, dict):
        raise StoreError("%s must be a JSON object" % name)
    version = meta.get("schemaVersion")
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise StoreError("%s has no integer schemaVersion" % name)
    if version > SCHEMA_VERSION:
        raise StoreError("schemaVersion %d in %s is newer than this binary supports (%d)" % (version, name, SCHEMA_VERSION))
    applied = meta.get("appliedMigrations", [])
    if not isinstance(applied, list) or not all(isinstance(m, str) for m in applied):
        raise StoreError("%s appliedMigrations must be a list of names" % name)
    for migration in applied:
        if migration not in KNOWN_MIGRATIONS:
            raise StoreError("unknown migration %s" % migration)
    return version, applied


def check_store_shape(name, obj):
    key = {"tokens.json": "tokens", "profiles.json": "profiles", "clients.json": "allowedClients"}[name]
    if not isinstance(obj, dict) or not isinstance(obj.get(key), list):
        raise StoreError('%s must be {"%s": [...]}' % (name, key))
    items = obj[key]
    if key == "allowedClients":
        if not all(isinstance(c, str) for c in items):
            raise StoreError("%s allowedClients must be strings" % name)
    else:
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                raise StoreError("%s %s[%d] is not an object" % (name, key, index))
            field = "id" if key == "tokens" else "name"
            if not isinstance(item.get(field), str):
                raise StoreError("%s %s[%d] has no %s" % (name, key, index, field))
    return items


def empty_stores():
    return {
        "storage-meta.json": {"schemaVersion": SCHEMA_VERSION, "appliedMigrations": list(KNOWN_MIGRATIONS)},
        "tokens.json": {"tokens": []},
        "profiles.json": {"profiles": []},
        "clients.json": {"allowedClients": []},
    }


def _dir_has_content(data_dir):
    for name in os.listdir(data_dir):
        if name.startswith("."):
            continue
        return True
    return False


class StoreMigrationRunner:
    """Validate the data dir, initialise an empty one, apply the known migrations up to SCHEMA_VERSION."""

    def __init__(self, data_dir):
        self.data_dir = data_dir

    def path(self, name):
        return os.path.join(self.data_dir, name)

    def run(self):
        """Return a loaded dict {meta, tokens, profiles, clients, audit_count, usage_count}; raise StoreError."""
        os.makedirs(self.data_dir, exist_ok=True)
        if not _dir_has_content(self.data_dir):
            for name, obj in empty_stores().items():
                fsutil.atomic_write_json(self.path(name), obj)
            for name in JSONL_STORES:
                open(self.path(name), "ab").close()
            os.makedirs(self.path("index"), exist_ok=True)
        return self.load(migrate=True)

    def load(self, migrate=False):
        meta = read_json_file(self.path("storage-meta.json"))
        version, applied = check_meta(meta)
        stores = {}
        for name in JSON_STORES:
            stores[name] = read_json_file(self.path(name))
            check_store_shape(name, stores[name])
        counts = {name: scan_jsonl(self.path(name)) for name in JSONL_STORES}
        if migrate and (version < SCHEMA_VERSION or list(applied) != list(KNOWN_MIGRATIONS)):
            self._migrate(meta, stores)
        return {
            "meta": meta,
            "tokens": stores["tokens.json"]["tokens"],
            "profiles": stores["profiles.json"]["profiles"],
            "clients": stores["clients.json"]["allowedClients"],
            "audit_count": counts["audit.jsonl"],
            "usage_count": counts["usage.jsonl"],
        }

    def _migrate(self, meta, stores):
        applied = list(meta.get("appliedMigrations") or [])
        tokens = stores["tokens.json"]["tokens"]
        for migration in KNOWN_MIGRATIONS:
            if migration in applied:
                continue
            if migration == "002_tokens_org":
                for token in tokens:
                    token.setdefault("orgId", "org_default")
            elif migration == "003_rate_limits":
                for token in tokens:
                    token.setdefault("rateLimit", {"requestsPerMinute": 60})
            applied.append(migration)
        fsutil.atomic_write_json(self.path("tokens.json"), stores["tokens.json"])
        meta["appliedMigrations"] = applied
        meta["schemaVersion"] = SCHEMA_VERSION
        fsutil.atomic_write_json(self.path("storage-meta.json"), meta)


class Store:
    """In-memory copy of the stores; every mutation and every append happens under `lock`.

    `save_lock` orders writes of tokens.json (see commit_tokens). Take it before `lock`, never
    while holding `lock`: a backup or a restore takes both, so no token write runs under it.
    """

    def __init__(self, data_dir, loaded):
        self.data_dir = data_dir
        self.lock = threading.RLock()
        self.save_lock = threading.Lock()
        self._tokens_changed = 0  # token changes made in memory
        self._tokens_saved = 0  # of those, how many tokens.json on disk holds
        # Each token's compact JSON: a save joins these instead of encoding the whole store, which at
        # 5,000 tokens holds the GIL ~20 ms and keeps requests from joining a group commit. Keyed by
        # the record's identity, not its id (ids in a hand-edited file may repeat); records are never
        # dropped, and replace() starts afresh.
        self._token_json = {}
        self.replace(loaded)

    def replace(self, loaded):
        with self.lock:
            self.meta = loaded["meta"]
            self.tokens = loaded["tokens"]
            self.profiles = loaded["profiles"]
            self.clients = loaded["clients"]
            self.counts = {"audit.jsonl": loaded["audit_count"], "usage.jsonl": loaded["usage_count"]}
            self.by_hash = {t.get("secretHash"): t for t in self.tokens if t.get("secretHash")}
            self._token_json = {}

    def reload(self):
        self.replace(StoreMigrationRunner(self.data_dir).load(migrate=True))

    def path(self, name):
        return os.path.join(self.data_dir, name)

    def commit_tokens(self, token):
        """Durably write tokens.json with every token change made so far; call it after changing
        or adding `token` under `lock`, without holding `lock`.

        Group commit: requests in flight share one write instead of queueing one write each
        (every write is the whole file), and each returns only once its own change is on disk.
        """
        with self.lock:
            self._tokens_changed += 1
            wanted = self._tokens_changed
            self._token_json[id(token)] = fsutil.json_bytes(token, newline=False)
            if token.get("secretHash"):
                self.by_hash[token["secretHash"]] = token
        with self.save_lock:
            if self._tokens_saved >= wanted:
                return  # another request's write already carried this change
            with self.lock:
                covered = self._tokens_changed
                payload = self.tokens_json_bytes()
            fsutil.atomic_write(self.path("tokens.json"), payload, mode=0o600)
            self._tokens_saved = covered

    def tokens_json_bytes(self):
        """tokens.json as fsutil.json_bytes({"tokens": tokens}) makes it, from the per-token cache (under `lock`)."""
        cache = self._token_json
        parts = []
        for token in self.tokens:
            encoded = cache.get(id(token))
            if encoded is None:
                encoded = cache[id(token)] = fsutil.json_bytes(token, newline=False)
            parts.append(encoded)
        return b'{"tokens":[' + b",".join(parts) + b"]}\n"

    def append(self, name, obj):
        with self.lock:
            fsutil.append_line(self.path(name), obj)
            self.counts[name] = self.counts.get(name, 0) + 1

    def profile(self, name):
        for profile in self.profiles:
            if profile.get("name") == name:
                return profile
        return None

    def json_store_ok(self, name):
        try:
            check_store_shape(name, read_json_file(self.path(name)))
            return True
        except StoreError:
            return False

    def storage_meta(self):
        with self.lock:
            ok_meta = True
            try:
                check_meta(read_json_file(self.path("storage-meta.json")))
            except StoreError:
                ok_meta = False
            return {
                "schemaVersion": self.meta.get("schemaVersion"),
                "appliedMigrations": list(self.meta.get("appliedMigrations") or []),
                "ok": ok_meta,
                "stores": {
                    "tokens": {"records": len(self.tokens), "ok": self.json_store_ok("tokens.json")},
                    "profiles": {"records": len(self.profiles), "ok": self.json_store_ok("profiles.json")},
                    "clients": {"records": len(self.clients), "ok": self.json_store_ok("clients.json")},
                    "audit": {"records": self.counts.get("audit.jsonl", 0), "ok": True},
                    "usage": {"records": self.counts.get("usage.jsonl", 0), "ok": True},
                },
            }
