"""INC-003 across three real hosts over SSH, each with a different corruption: every gateway healthy at
the end, each restored from its own latest valid backup (playbooks/inc-003-restore.yml, unchanged)."""

import json
import os
import re
import tempfile
import time

from ansible_collections.mcpops.runbooks.plugins.module_utils._forensic.forensic_key import read_key_file
from ansible_collections.mcpops.runbooks.plugins.module_utils._forensic.sealed_file import open_into
from fleet_helpers import admin, run_playbook

CORRUPT_PROFILES = ("import os\n"
                    "p = '/var/lib/onec-mcp-gateway/profiles.json'\n"
                    "open(p + '.x', 'w').write('{\"profiles\": [')\n"
                    "os.replace(p + '.x', p)\n")


def new_backup(host):
    """A second backup after a change, so that it differs from the first (backup ids have 1 s resolution)."""
    time.sleep(1.1)
    admin(host, "POST", "/api/mcp-tokens", {"clientId": "ci-bot", "orgId": "org_acme", "scopes": ["tools:read"],
                                            "rateLimit": {"requestsPerMinute": 60}})
    return admin(host, "POST", "/api/system/backups", {})["backup"]["id"]


def backup_ids(host):
    return sorted(p.name for p in (host.data_dir / "backups").iterdir() if not p.name.startswith("."))


def test_inc003_on_three_hosts_each_restored_from_its_own_latest_valid_backup(make_fleet):
    fleet = make_fleet(3)
    key = read_key_file(str(fleet.state_dir / "secrets" / "forensic.key"))

    def opened(sealed):
        with tempfile.TemporaryDirectory() as scratch:
            open_into(key, str(sealed), os.path.join(scratch, "clear"))
            with open(os.path.join(scratch, "clear"), "rb") as fh:
                return fh.read()
    one, two, three = fleet.hosts()
    expected = {}
    # fleet1: a corrupt tokens.json; its only backup is the one `fleet up` made.
    [expected["fleet1"]] = backup_ids(one)
    fleet.break_("fleet1", "corrupt-store")
    # fleet2: a migration its binary does not know; a newer backup (with one more token) is the one to restore.
    expected["fleet2"] = new_backup(two)
    fleet.break_("fleet2", "bad-migration")
    # fleet3: a truncated profiles.json, and its newest backup fails verification: the older one is restored.
    expected["fleet3"] = backup_ids(three)[0]
    tampered = new_backup(three)
    with open(three.data_dir / "backups" / tampered / "data" / "tokens.json", "ab") as fh:
        fh.write(b" ")
    fleet.run(three, ["python3", "-c", CORRUPT_PROFILES])
    fleet.run(three, ["systemctl", "restart", "--no-block", "onec-mcp-gateway"])
    three.wait_unit(fleet.pid(three), ("failed",))

    broken = {h.name: {n: (h.data_dir / n).read_bytes() for n in ("tokens.json", "storage-meta.json", "profiles.json")}
              for h in (one, two, three)}
    assert fleet.status()["healthy"] is False

    proc = run_playbook(fleet, "playbooks/inc-003-restore.yml")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    assert re.search(r"fleet1\s+: ok=\d+\s+changed=\d+\s+unreachable=0\s+failed=0", proc.stdout)

    assert fleet.status()["healthy"], fleet.status()
    for host in (one, two, three):
        restored = expected[host.name]
        assert re.search(r"^%s: Restored backup %s " % (re.escape(host.name), restored), proc.stdout, re.M), \
            (host.name, restored, proc.stdout[-3000:])
        # The live data is the chosen backup's data, byte for byte, on that host only.
        for name in ("tokens.json", "storage-meta.json", "profiles.json"):
            assert (host.data_dir / name).read_bytes() == \
                (host.data_dir / "backups" / restored / "data" / name).read_bytes(), (host.name, name)
        meta = admin(host, "GET", "/api/system/storage-meta")
        assert meta["schemaVersion"] == 3 and "099_future" not in meta["appliedMigrations"]
        assert all(store["ok"] for store in meta["stores"].values()), meta
        # The corrupt data is kept for the review in a safety backup, never deleted: sealed on the host with the
        # fleet's forensic key (backups/.sealed/, no clear copy), opened here with that key to the same bytes.
        assert not [b for b in backup_ids(host) if "-pre-restore-" in b]
        [safety] = [b for b in os.listdir(host.data_dir / "backups" / ".sealed") if not b.startswith(".")]
        kept = host.data_dir / "backups" / ".sealed" / safety / "data"
        assert {n: opened(kept / n) for n in broken[host.name]} == broken[host.name]
        assert all((kept / n).read_bytes() != broken[host.name][n] for n in broken[host.name])
        assert fleet.run(host, ["systemctl", "is-active", "onec-mcp-gateway"]).stdout.strip() == "active"
    # Each host got its own data back: three different token sets, fleet2 with the token issued before its backup.
    tokens = {h.name: json.loads((h.data_dir / "tokens.json").read_text())["tokens"] for h in (one, two, three)}
    assert len({json.dumps(t, sort_keys=True) for t in tokens.values()}) == 3
    assert len(tokens["fleet2"]) == len(tokens["fleet1"]) + 1
    for host in (one, two, three):
        for secret in (host.admin_token(), host.mcp_token()):
            assert secret not in out
