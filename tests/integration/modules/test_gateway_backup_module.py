"""gateway_backup / gateway_backup_info run for real through Ansible against the local lab (real
supervisord, real reference gateway on a free 127.0.0.1 port): both transports, interop of API and
module backups, refusals while the gateway runs or its lock is held, check mode, and a restore killed
with SIGKILL at several points and recovered from its journal."""

import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mcpops.lab.http_client import http_json
from mcpops.lab.local import supervisor as sup
from mcpops.lab.local.lab import SERVICE_NAME, LocalLab
from loopback import free_port

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
JOURNAL = ".restore-journal.json"


# ---------------------------------------------------------------------------- lab and ansible helpers


@pytest.fixture
def lab(tmp_path, request):
    lab = LocalLab(tmp_path / "lab", listen="127.0.0.1:%d" % free_port())
    request.addfinalizer(lab.down)
    lab.up()
    return lab


def ansible_env(tmpdir=None):
    """The environment of a test's ansible-playbook; tmpdir: the module's TMPDIR (a run the test SIGKILLs leaves its
    AnsiballZ payload dir behind, which then goes with the test's tmp_path instead of piling up in /tmp)."""
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(REPO / "collections"),
        ANSIBLE_STDOUT_CALLBACK="json",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        PATH="%s:%s" % (BIN, env.get("PATH", "")),
        no_proxy="127.0.0.1,localhost",
    )
    env.pop("ONEC_MCP_HTTP_TOKEN", None)
    if tmpdir is not None:
        Path(tmpdir).mkdir(parents=True, exist_ok=True)
        env["TMPDIR"] = str(tmpdir)
    return env


class Runner:
    """Writes a one-task playbook per call; the admin token goes in a 0600 extra-vars file, never argv."""

    def __init__(self, lab, workdir):
        self.lab = lab
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.count = 0
        self.vars_file = self.workdir / "secret-vars.json"
        fd = os.open(self.vars_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"api_token": lab.admin_token()}, fh)

    def command(self, module, args, check=False):
        self.count += 1
        args = dict(args)
        args.setdefault("data_dir", str(self.lab.data_dir))
        if args.pop("with_api", True):
            args.setdefault("api_url", self.lab.api_url)
            args.setdefault("api_token", "{{ api_token }}")
            args.setdefault("timeout", 3)
        play = [{
            "hosts": "localhost",
            "gather_facts": False,
            "vars": {"ansible_python_interpreter": sys.executable},
            "tasks": [{"name": "t", "mcpops.runbooks.%s" % module: args}],
        }]
        playbook = self.workdir / ("play-%02d.yml" % self.count)
        playbook.write_text(json.dumps(play))
        cmd = [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook),
               "-e", "@%s" % self.vars_file]
        if check:
            cmd.append("--check")
        return cmd

    def run(self, module, check=False, **args):
        proc = subprocess.run(self.command(module, args, check), cwd=self.workdir, env=ansible_env(),
                              capture_output=True, text=True, timeout=300)
        assert self.lab.admin_token() not in proc.stdout + proc.stderr
        result = host_result(proc.stdout)
        assert result is not None, proc.stdout[-3000:] + proc.stderr[-3000:]
        return proc.returncode, result


def host_result(stdout):
    try:
        doc = json.loads(stdout[stdout.index("{"):])
        return doc["plays"][0]["tasks"][0]["hosts"]["localhost"]
    except (ValueError, KeyError, IndexError):
        return None


def ok(rc_result):
    rc, result = rc_result
    assert rc == 0 and not result.get("failed"), json.dumps(result, indent=1)[:3000]
    return result


# ---------------------------------------------------------------------------- data dir helpers


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def tree_digest(root):
    """{relative path: sha256} of every file under root, backups/, dot names and the lock included."""
    root = Path(root)
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            full = Path(dirpath, name)
            out[str(full.relative_to(root))] = sha256_file(full)
    return out


def data_files(data_dir):
    """{path: sha256} of the data files (conventions: not dot names, not backups/)."""
    data_dir = Path(data_dir)
    out = {}
    for top in os.listdir(data_dir):
        if top.startswith(".") or top == "backups":
            continue
        path = data_dir / top
        if path.is_file():
            out[top] = sha256_file(path)
        else:
            for dirpath, _dirs, files in os.walk(path):
                for name in files:
                    full = Path(dirpath, name)
                    out[full.relative_to(data_dir).as_posix()] = sha256_file(full)
    return out


def manifest(lab, backup_id):
    return json.loads(Path(lab.data_dir, "backups", backup_id, "manifest.json").read_text())


def manifest_files(lab, backup_id):
    return {f["path"]: f["sha256"] for f in manifest(lab, backup_id)["files"]}


def leftovers(lab):
    return sorted(n for n in os.listdir(lab.data_dir) if n == JOURNAL or n.startswith(".restore-"))


def api_backups(lab):
    status, body = http_json(lab.api_url + "/api/system/backups", token=lab.admin_token(), timeout=10)
    assert status == 200, body
    return [b["id"] for b in body["backups"]]


def assert_storage_meta_ok(lab):
    status, body = http_json(lab.api_url + "/api/system/storage-meta", token=lab.admin_token(), timeout=10)
    assert status == 200, body
    assert body["schemaVersion"] == 3
    assert body["stores"] and all(store["ok"] for store in body["stores"].values()), body
    return body


def stop_gateway(lab):
    lab.break_("stop")
    assert lab.program_state() in (sup.STOPPED, sup.EXITED, sup.FATAL)
    status, _ = http_json(lab.api_url + "/healthz", timeout=1)
    assert status is None


def start_gateway(lab):
    lab.up()  # starts the stopped program and waits for /healthz
    assert lab.program_state() == sup.RUNNING
    return assert_storage_meta_ok(lab)


def edit_json(path, change):
    path = Path(path)
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc, indent=2) + "\n")


def block_first_token(doc):
    doc["tokens"][0]["blocked"] = not doc["tokens"][0].get("blocked", False)


# ---------------------------------------------------------------------------- 1. transports


def test_transports_api_files_and_auto(lab, tmp_path):
    run = Runner(lab, tmp_path / "ansible")
    before = set(api_backups(lab))

    # api while the gateway runs: the gateway made it, so it lists it.
    result = ok(run.run("gateway_backup", state="present", transport="api"))
    assert result["changed"] and result["transport"] == "api"
    api_id = result["backup_id"]
    assert api_id not in before and api_id in api_backups(lab)
    assert result["backup"]["id"] == api_id and result["backup"]["schemaVersion"] == 3

    # auto while the gateway answers: api.
    result = ok(run.run("gateway_backup", state="present", transport="auto"))
    assert result["transport"] == "api"
    auto_api_id = result["backup_id"]
    assert auto_api_id in api_backups(lab)

    # files while the gateway runs: refused (it holds the lock), nothing added.
    digest = tree_digest(lab.data_dir)
    rc, result = run.run("gateway_backup", state="present", transport="files")
    assert rc != 0 and result["failed"] and ".gateway.lock" in result["msg"]
    assert tree_digest(lab.data_dir) == digest

    stop_gateway(lab)
    edit_json(lab.data_dir / "tokens.json", block_first_token)  # the data differs from every backup

    # files while it is stopped: a backup of exactly the current data.
    result = ok(run.run("gateway_backup", state="present", transport="files"))
    assert result["changed"] and result["transport"] == "files"
    files_id = result["backup_id"]
    assert manifest_files(lab, files_id) == data_files(lab.data_dir)

    # auto while it does not answer: files (and idempotent: the newest backup already holds the data).
    result = ok(run.run("gateway_backup", state="present", transport="auto"))
    assert result["transport"] == "files"
    assert result["changed"] is False and result["backup_id"] == files_id
    Path(lab.data_dir, "usage.jsonl").open("a").write(json.dumps({"ts": "2026-11-23T10:00:00Z"}) + "\n")
    result = ok(run.run("gateway_backup", state="present", transport="auto"))
    assert result["transport"] == "files" and result["changed"]
    auto_files_id = result["backup_id"]
    assert manifest_files(lab, auto_files_id) == data_files(lab.data_dir)

    # The module's backups are listed (and verified) by the gateway's own listing once it is back.
    start_gateway(lab)
    listed = api_backups(lab)
    assert {api_id, auto_api_id, files_id, auto_files_id} <= set(listed)
    info = ok(run.run("gateway_backup_info", transport="files", verify=True))
    assert info["transport"] == "files"
    assert all(b["valid"] for b in info["backups"]), info["backups"]
    assert info["latest_valid"] == listed[0]


# ---------------------------------------------------------------------------- 2. interop


def test_api_backup_restored_by_module_and_module_backup_restored_by_api(lab, tmp_path):
    run = Runner(lab, tmp_path / "ansible")

    # A backup made through the API, restored by the module on the files (gateway stopped).
    status, body = http_json(lab.api_url + "/api/system/backups", method="POST", token=lab.admin_token(),
                             body={}, timeout=30)
    assert status == 201, body
    api_id = body["backup"]["id"]
    stop_gateway(lab)
    edit_json(lab.data_dir / "tokens.json", block_first_token)
    edit_json(lab.data_dir / "clients.json", lambda d: d["allowedClients"].append("interop-client"))
    assert data_files(lab.data_dir) != manifest_files(lab, api_id)

    result = ok(run.run("gateway_backup", state="restored", backup_id=api_id))
    assert result["changed"] and result["backup_id"] == api_id
    assert "tokens.json" in result["files_changed"]["changed"]
    assert "clients.json" in result["files_changed"]["changed"]
    assert "-pre-restore-" in result["safety_backup_id"]
    assert data_files(lab.data_dir) == manifest_files(lab, api_id)
    assert leftovers(lab) == []
    start_gateway(lab)

    # A backup made by the module on the files, restored by the gateway's API (gateway running).
    stop_gateway(lab)
    edit_json(lab.data_dir / "profiles.json", lambda d: d["profiles"][0].update(writeTools=False))
    edit_json(lab.data_dir / "clients.json", lambda d: d["allowedClients"].append("module-client"))
    result = ok(run.run("gateway_backup", state="present", transport="files"))
    assert result["transport"] == "files"
    module_id = result["backup_id"]
    expected = manifest_files(lab, module_id)
    assert expected == data_files(lab.data_dir)
    edit_json(lab.data_dir / "clients.json", lambda d: d["allowedClients"].remove("module-client"))
    edit_json(lab.data_dir / "tokens.json", block_first_token)
    start_gateway(lab)
    assert module_id in api_backups(lab)

    status, body = http_json(lab.api_url + "/api/system/backups/%s/restore" % module_id, method="POST",
                             token=lab.admin_token(), body={}, timeout=60)
    assert status == 200, body
    assert body == {"restored": module_id, "schemaVersion": 3}
    now = data_files(lab.data_dir)
    # Every store equals the backup; audit.jsonl is the backup's bytes plus the gateway's own
    # backup.restored line(s), appended after the swap.
    assert {p: h for p, h in now.items() if p != "audit.jsonl"} == \
        {p: h for p, h in expected.items() if p != "audit.jsonl"}
    backup_audit = Path(lab.data_dir, "backups", module_id, "data", "audit.jsonl").read_bytes()
    audit = Path(lab.data_dir, "audit.jsonl").read_bytes()
    assert audit.startswith(backup_audit)
    extra = [json.loads(line) for line in audit[len(backup_audit):].splitlines() if line.strip()]
    assert [e["event"] for e in extra] == ["backup.restored"] and extra[0]["backupId"] == module_id
    assert leftovers(lab) == []
    assert_storage_meta_ok(lab)
    # And it starts again from the restored data.
    stop_gateway(lab)
    start_gateway(lab)
    clients = json.loads(Path(lab.data_dir, "clients.json").read_text())["allowedClients"]
    assert "module-client" in clients and "interop-client" not in clients


# ---------------------------------------------------------------------------- 3. refusals


LOCK_HOLDER = textwrap.dedent("""
    import fcntl, os, sys, time
    fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    print("locked", flush=True)
    time.sleep(600)
""")


def test_restore_refused_while_running_or_lock_held(lab, tmp_path, request):
    run = Runner(lab, tmp_path / "ansible")
    [backup_id] = api_backups(lab)

    # Gateway running: refused, names the running gateway, touches nothing (backups/ included).
    digest = tree_digest(lab.data_dir)
    rc, result = run.run("gateway_backup", state="restored", backup_id=backup_id)
    assert rc != 0 and result["failed"]
    assert "gateway answers at %s" % lab.api_url in result["msg"]
    assert tree_digest(lab.data_dir) == digest
    # Without api_url the lock alone refuses it.
    rc, result = run.run("gateway_backup", state="restored", backup_id=backup_id, with_api=False)
    assert rc != 0 and result["failed"] and ".gateway.lock" in result["msg"]
    assert tree_digest(lab.data_dir) == digest

    # Gateway stopped, lock held by another process: refused, byte-identical.
    stop_gateway(lab)
    edit_json(lab.data_dir / "tokens.json", block_first_token)  # a restore would change something
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(lab.data_dir / ".gateway.lock")],
                              stdout=subprocess.PIPE, text=True)

    def stop_holder():
        if holder.poll() is None:
            os.kill(holder.pid, signal.SIGTERM)
            holder.wait(10)

    request.addfinalizer(stop_holder)
    assert holder.stdout.readline().strip() == "locked"
    digest = tree_digest(lab.data_dir)
    rc, result = run.run("gateway_backup", state="restored", backup_id=backup_id)
    assert rc != 0 and result["failed"]
    assert ".gateway.lock" in result["msg"] and "stop it before restoring" in result["msg"]
    assert tree_digest(lab.data_dir) == digest
    stop_holder()

    # Lock released: the same restore goes through.
    result = ok(run.run("gateway_backup", state="restored", backup_id=backup_id))
    # audit.jsonl too: the gateway logged backup.created after taking the lab's backup
    assert result["changed"] and result["files_changed"]["changed"] == ["audit.jsonl", "tokens.json"]
    assert data_files(lab.data_dir) == manifest_files(lab, backup_id)
    start_gateway(lab)


# ---------------------------------------------------------------------------- 5. check mode


def test_check_mode_restore_changes_nothing(lab, tmp_path):
    run = Runner(lab, tmp_path / "ansible")
    [backup_id] = api_backups(lab)
    stop_gateway(lab)
    edit_json(lab.data_dir / "tokens.json", block_first_token)
    Path(lab.data_dir, "index", "stale.json").write_text("{}\n")
    digest = tree_digest(lab.data_dir)

    result = ok(run.run("gateway_backup", check=True, state="restored", backup_id=backup_id))
    assert result["changed"] is True and result["backup_id"] == backup_id
    # audit.jsonl: the gateway logged backup.created after taking the lab's backup
    assert result["files_changed"] == {"added": [], "changed": ["audit.jsonl", "tokens.json"],
                                       "removed": ["index/stale.json"]}
    assert result["safety_backup_id"] is None
    assert tree_digest(lab.data_dir) == digest
    assert lab.program_state() in (sup.STOPPED, sup.EXITED)


# ---------------------------------------------------------------------------- 4. SIGKILL mid-restore


# Big enough that the safety backup and the staging last long enough for a 3 ms poll to kill inside them (the next
# test kills inside the safety backup at 40 MiB); CI time: 150 MiB, copied and hashed some 20 times, took minutes.
AUDIT_TARGET_BYTES = 48 * 1024 * 1024
AUDIT_TARGET_RECORDS = AUDIT_TARGET_BYTES // 1024  # the lines grow_audit writes are ~1 KiB each


def grow_audit(path, target=AUDIT_TARGET_BYTES):
    line = json.dumps({"ts": "2026-11-23T10:00:00.123Z", "event": "tool.called", "status": 200,
                       "tokenPrefix": "mcp_ab12", "clientId": "cursor-ide", "orgId": "org_acme",
                       "ip": "203.0.113.7", "path": "/mcp", "tool": "list_profiles", "rows": 3,
                       "note": "x" * 800}) + "\n"
    chunk = (line * (4 * 1024 * 1024 // len(line))).encode()
    with open(path, "ab") as fh:
        while fh.tell() < target:
            fh.write(chunk)


def mutate(lab, n):
    """Change the data validly so that it differs from backup A."""
    with open(lab.data_dir / "audit.jsonl", "a") as fh:
        fh.write(json.dumps({"ts": "2026-11-23T11:00:00Z", "event": "auth.ok", "status": 200, "n": n}) + "\n")
    edit_json(lab.data_dir / "tokens.json", lambda d: d["tokens"][0].update(note="mutation %d" % n))


def journal_phase(lab):
    try:
        return json.loads(Path(lab.data_dir, JOURNAL).read_text()).get("phase")
    except (OSError, ValueError):
        return None


def safety_backup_in_progress(lab):
    return any(n.startswith(".tmp-") and "-pre-restore-" in n for n in os.listdir(lab.data_dir / "backups"))


def _children():
    """{ppid: [pid, ...]} of every process now."""
    tree = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path("/proc", name, "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        tree.setdefault(ppid, []).append(int(name))
    return tree


def _descendants(root):
    tree, found, todo = _children(), [], [root]
    while todo:
        pid = todo.pop()
        for child in tree.get(pid, []):
            found.append(child)
            todo.append(child)
    return found


def kill_tree(root):
    """SIGKILL root's process group and every descendant's group. Ansible's workers call setsid(),
    so the module runs outside ansible-playbook's group: freeze the tree with SIGSTOP until no new
    process appears (a stopped process cannot fork), then SIGKILL every group and pid in it."""
    pids, groups = {root}, {root}
    os.killpg(root, signal.SIGSTOP)
    while True:
        new = set(_descendants(root)) - pids
        if not new:
            break
        for pid in new:
            try:
                groups.add(os.getpgid(pid))
                os.killpg(os.getpgid(pid), signal.SIGSTOP)
            except ProcessLookupError:
                pass
        pids |= new
    for pgid in groups:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return pids, groups


def _gone(pid):
    try:
        stat = Path("/proc", str(pid), "stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2] == "Z"


def kill_restore(cmd, env, cwd, delay=None, when=None, timeout=60):
    """Run cmd in its own session; SIGKILL its whole process tree after delay seconds or as soon as
    when() is true. Returns (killed, returncode, stdout, seconds)."""
    out = Path(cwd, "kill-run.out")
    with open(out, "w") as fh:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)
    started = time.monotonic()
    killed = False
    pids = {proc.pid}
    try:
        while proc.poll() is None:
            elapsed = time.monotonic() - started
            if (delay is not None and elapsed >= delay) or (when is not None and when()):
                pids, _groups = kill_tree(proc.pid)
                killed = True
                break
            if elapsed > timeout:
                raise AssertionError("restore did not finish within %ss" % timeout)
            time.sleep(0.003)
    finally:
        if proc.poll() is None and not killed:
            kill_tree(proc.pid)
        proc.wait(30)
    seconds = time.monotonic() - started
    # Every process of the run is gone (the module included): nothing of it holds the lock any more.
    deadline = time.monotonic() + 10
    while not all(_gone(pid) for pid in pids):
        assert time.monotonic() < deadline, "processes %s survived SIGKILL" % [p for p in pids if not _gone(p)]
        time.sleep(0.02)
    return killed, proc.returncode, out.read_text(), seconds


def assert_gateway_refuses_with_journal(lab):
    log = lab.gateway_stderr_log
    size = log.stat().st_size if log.exists() else 0
    lab.client().start(SERVICE_NAME, False)
    deadline = time.monotonic() + 20
    state = None
    while time.monotonic() < deadline:
        state = lab.program_state()
        with open(log, "rb") as fh:
            fh.seek(size)
            new = fh.read().decode("utf-8", "replace")
        if state in (sup.BACKOFF, sup.FATAL, sup.EXITED) and "interrupted restore" in new:
            break
        assert state != sup.RUNNING, "the gateway is RUNNING with a restore journal present"
        time.sleep(0.05)
    else:
        raise AssertionError("gateway state %s; stderr: %s" % (state, new[-500:]))
    assert "StoreMigrationRunner: interrupted restore in %s" % lab.data_dir in new
    assert http_json(lab.api_url + "/healthz", timeout=1)[0] is None
    stop_gateway(lab)
    assert Path(lab.data_dir, JOURNAL).exists()


def test_sigkill_mid_restore_recovers_to_old_or_new(lab, tmp_path):
    run = Runner(lab, tmp_path / "ansible")
    stop_gateway(lab)
    grow_audit(lab.data_dir / "audit.jsonl")
    result = ok(run.run("gateway_backup", state="present", transport="files"))
    backup_a = result["backup_id"]
    a_files = manifest_files(lab, backup_a)
    assert a_files == data_files(lab.data_dir)
    earlier = set(api_backups_from_files(lab))
    env = ansible_env(tmpdir=run.workdir / "tmp")
    litter = {}
    recoveries = set()

    # time-based kills, then kills aimed at each phase, then one run left to complete
    attempts = [
        ("delay 0.3s", dict(delay=0.3)),
        ("delay 1.5s", dict(delay=1.5)),
        ("during the safety backup", dict(when=lambda: safety_backup_in_progress(lab))),
        ("journal phase staging", dict(when=lambda: journal_phase(lab) == "staging")),
        ("journal phase staged", dict(when=lambda: journal_phase(lab) == "staged")),
        ("journal phase swapped", dict(when=lambda: journal_phase(lab) == "swapped")),
        ("no kill", dict()),
    ]
    seen = []
    for n, (label, how) in enumerate(attempts):
        mutate(lab, n)
        pre = data_files(lab.data_dir)
        assert pre != a_files and pre.keys() == a_files.keys()
        backups_before = backup_stats(lab)
        cmd = run.command("gateway_backup", {"state": "restored", "backup_id": backup_a})
        killed, rc, out, secs = kill_restore(cmd, env, run.workdir, **how)
        journal = Path(lab.data_dir, JOURNAL).exists()
        seen.append((label, killed, journal_phase(lab) if journal else None, round(secs, 2)))
        if not killed:  # the final run, or a kill point the restore passed before it was seen
            assert rc == 0, out[-3000:]
            assert data_files(lab.data_dir) == a_files and leftovers(lab) == [], label
        if journal:
            phase = journal_phase(lab)
            # The gateway must not start on a half-restored data dir.
            assert_gateway_refuses_with_journal(lab)
            # A run that only recovers (prunes nothing) leaves the old or the new data, never a mix.
            rec = ok(run.run("gateway_backup", state="absent", keep_last=1000))
            assert rec["recovered"] and rec["recovered"]["backup_id"] == backup_a, rec
            assert rec["removed"] == []
            assert rec["recovered"]["phase"] == phase
            assert rec["recovered"]["action"] == ("rolled_back" if phase == "staging" else "rolled_forward")
            recoveries.add(rec["recovered"]["action"])
            now = data_files(lab.data_dir)
            expected = a_files if rec["recovered"]["action"] == "rolled_forward" else pre
            assert now == expected, "%s: %s left a mix" % (label, rec["recovered"])
        else:
            now = data_files(lab.data_dir)
            assert now in (pre, a_files), "%s: data is a mix of old and new" % label
        assert leftovers(lab) == [], label

        # Re-running the restore finishes the job.
        assert lock_holders(lab.data_dir / ".gateway.lock") == [], label
        result = ok(run.run("gateway_backup", state="restored", backup_id=backup_a))
        assert result["backup_id"] == backup_a
        assert data_files(lab.data_dir) == a_files, label
        assert leftovers(lab) == [], label

        # backups/: every earlier backup (A included) is still there, untouched; only safety backups
        # were added. (Full verification through gateway_backup_info once at the end: it rereads
        # every backup, 48 MiB each.)
        after = backup_stats(lab)
        assert {k: v for k, v in after.items() if k in backups_before} == backups_before, label
        added = {k.split("/")[0] for k in after} - {k.split("/")[0] for k in backups_before}
        assert all("-pre-restore-" in b for b in added), added
        litter[label] = sorted(n for n in os.listdir(lab.data_dir / "backups") if n.startswith("."))
        if not how:
            break

    # Kill points hit from outside: before the module touched anything, and mid-restore with a journal
    # left to replay. The staged/swapped windows last milliseconds, so a kill from outside lands there
    # only by luck; both recovery directions at every step are proven by tests/unit/plugins/module_utils/_backup/test_data_swap.py
    # (a kill simulated after each step, and real SIGKILLs of a restore paused at chosen steps).
    assert any(killed and phase is None for _l, killed, phase, _s in seen), seen
    assert "rolled_back" in recoveries, seen
    assert recoveries <= {"rolled_back", "rolled_forward"}, seen
    info = ok(run.run("gateway_backup_info", transport="files", verify=True))
    ids = {b["id"] for b in info["backups"]}
    assert earlier <= ids and backup_a in ids
    assert all(b["valid"] for b in info["backups"]), [b for b in info["backups"] if not b["valid"]]
    assert info["latest_valid"] == backup_a and info["interrupted_restore"] is False
    assert all(b["safety"] for b in info["backups"] if b["id"] not in earlier)
    assert manifest_files(lab, backup_a) == a_files
    print("dot names left in backups/ after each attempt:", litter)

    # The gateway starts on the restored data and answers.
    meta = start_gateway(lab)
    assert meta["stores"]["audit"]["records"] > AUDIT_TARGET_RECORDS * 0.9
    print("kill points:", seen)


def test_killed_while_the_safety_backup_is_made_leaves_nothing_behind(lab, tmp_path):
    """A restore killed while backups/.tmp-<id>-pre-restore-<hex> exists: the next run finishes or rolls
    back from the journal and no half-made backup is left in backups/ for good."""
    run = Runner(lab, tmp_path / "ansible")
    stop_gateway(lab)
    grow_audit(lab.data_dir / "audit.jsonl", 40 * 1024 * 1024)
    backup_a = ok(run.run("gateway_backup", state="present", transport="files"))["backup_id"]
    mutate(lab, 0)
    before = data_files(lab.data_dir)
    cmd = run.command("gateway_backup", {"state": "restored", "backup_id": backup_a})
    killed, _rc, _out, _secs = kill_restore(cmd, ansible_env(tmpdir=run.workdir / "tmp"), run.workdir,
                                            when=lambda: safety_backup_in_progress(lab))
    assert killed
    # Killed mid-way: the data dir is the old data or A in full once the journal is replayed; the
    # half-made safety backup is covered by the journal, so the gateway may not start yet.
    assert Path(lab.data_dir, JOURNAL).exists()
    result = ok(run.run("gateway_backup", state="restored", backup_id=backup_a))
    assert result["recovered"]["action"] in ("rolled_back", "rolled_forward")
    assert data_files(lab.data_dir) == manifest_files(lab, backup_a)
    assert before != manifest_files(lab, backup_a)
    assert [n for n in os.listdir(lab.data_dir / "backups") if n.startswith(".")] == []
    assert not any(n.startswith(".restore") for n in os.listdir(lab.data_dir))


def lock_holders(path):
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            for fd in os.listdir("/proc/%s/fd" % pid):
                if os.readlink("/proc/%s/fd/%s" % (pid, fd)) == str(path):
                    out.append((pid, open("/proc/%s/cmdline" % pid).read().replace("\0", " ")[:200]))
        except OSError:
            pass
    return out


def backup_stats(lab):
    """{relative path: (size, mtime_ns, inode)} of every file under backups/ whose top name is not a dot name."""
    root = lab.data_dir / "backups"
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            full = Path(dirpath, name)
            rel = full.relative_to(root).as_posix()
            if not rel.startswith("."):
                st = full.stat()
                out[rel] = (st.st_size, st.st_mtime_ns, st.st_ino)
    return out


def api_backups_from_files(lab):
    return [n for n in os.listdir(lab.data_dir / "backups") if not n.startswith(".")]


# ---------------------------------------------------------------------------- 6. a hostile data dir (issue 23)


CANARY = "CANARY-ROOT-ONLY-integration-5d1e"


def plant_canary(directory):
    """A root-only (0600) JSON file outside the data dir: (path, bytes, sha256). Its content, size and sha256
    must appear in no task result and never in the data dir."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "root-only.json"
    data = json.dumps({"secret": CANARY * 97}).encode()
    path.write_bytes(data)
    os.chmod(path, 0o600)
    return path, data, hashlib.sha256(data).hexdigest()


def assert_no_canary(text, data, sha):
    assert CANARY not in text and sha not in text and '"sizeBytes": %d' % len(data) not in text


def lstat_tree(root):
    """{relative path: bytes, or ('link', target) / ('fifo',) / ('dir',)} without following a link or opening a FIFO."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            full = Path(dirpath, name)
            st = os.lstat(full)
            rel = str(full.relative_to(root))
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(full))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir",)
            elif stat.S_ISFIFO(st.st_mode):
                out[rel] = ("fifo",)
            else:
                out[rel] = full.read_bytes()
    return out


def run_bounded(run, module, seconds=120, **args):
    """Runner.run with a bound of its own: a module that hangs fails the test (TimeoutExpired) instead of the suite."""
    proc = subprocess.run(run.command(module, args), cwd=run.workdir, env=ansible_env(), capture_output=True,
                          text=True, timeout=seconds)
    result = host_result(proc.stdout)
    assert result is not None, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.returncode, result, proc.stdout + proc.stderr


def test_a_backup_linked_to_a_root_only_file_is_never_valid_listed_or_restored(lab, tmp_path):
    """The issue's case through the real modules: backups/<newest>/data/tokens.json -> a root-only file, the
    manifest saying its size and sha256. It verified valid, latest_valid picked it and the restore copied the
    file's bytes into the data dir; the parse cache's linked tmp file was overwritten by the read-only info."""
    run = Runner(lab, tmp_path / "ansible")
    stop_gateway(lab)
    good = ok(run.run("gateway_backup", state="present", transport="files", with_api=False))["backup_id"]
    canary_path, data, sha = plant_canary(tmp_path / "outside")
    cache_victim = tmp_path / "outside" / "cache-victim.txt"
    cache_victim.write_text("must stay as it is")
    # the attacker's backup: a copy of the good one, newer, one data file a link to the canary
    evil = "29990101T000000Z-ev11ev"
    evil_dir = lab.data_dir / "backups" / evil
    shutil.copytree(lab.data_dir / "backups" / good, evil_dir)
    (evil_dir / "data" / "tokens.json").unlink()
    os.symlink(canary_path, evil_dir / "data" / "tokens.json")
    edit_json(evil_dir / "manifest.json", lambda m: (m.update(id=evil, createdAt="2999-01-01T00:00:00Z"), [
        f.update(size=len(data), sha256=sha) for f in m["files"] if f["path"] == "tokens.json"]))
    os.symlink(cache_victim, evil_dir / ".parsed.json.tmp")
    good_dir_tmp = lab.data_dir / "backups" / good / ".parsed.json.tmp"
    os.symlink(cache_victim, good_dir_tmp)
    edit_json(lab.data_dir / "tokens.json", block_first_token)  # so that a restore has something to do

    rc, info, text = run_bounded(run, "gateway_backup_info", transport="files", verify=True, with_api=False)
    assert rc == 0 and not info.get("failed"), text[-3000:]
    entries = {b["id"]: b for b in info["backups"]}
    assert entries[evil]["valid"] is False
    assert entries[evil]["problems"] == ["unsafe_file: tokens.json: a link, not a regular file (links are never followed)"]
    assert info["latest_valid"] == good and entries[good]["valid"] is True
    assert_no_canary(text, data, sha)
    assert cache_victim.read_text() == "must stay as it is"

    rc, result, text = run_bounded(run, "gateway_backup", state="restored", backup_id=evil, with_api=False)
    assert rc != 0 and "fails verification" in result["msg"] and "a link, not a regular file" in result["msg"]
    assert_no_canary(text, data, sha)
    restored = ok(run.run("gateway_backup", state="restored", backup_id="latest_valid", with_api=False))
    assert restored["backup_id"] == good and restored["changed"]
    for rel, content in lstat_tree(lab.data_dir).items():
        if isinstance(content, bytes):
            assert CANARY.encode() not in content, rel
    assert canary_path.read_bytes() == data and cache_victim.read_text() == "must stay as it is"
    (evil_dir / "data" / "tokens.json").unlink()  # leave no link for the lab's teardown to trip over
    start_gateway(lab)


def test_fifos_fail_the_modules_instead_of_hanging_them(lab, tmp_path):
    """The issue's case: a FIFO as .gateway.lock or inside the data dir blocked create and restore with no
    timeout. Now each run ends at once, says 'not a regular file (a FIFO)' and changes nothing."""
    run = Runner(lab, tmp_path / "ansible")
    [backup_id] = api_backups(lab)
    stop_gateway(lab)
    edit_json(lab.data_dir / "tokens.json", block_first_token)
    lock = lab.data_dir / ".gateway.lock"
    if lock.exists():
        lock.unlink()
    os.mkfifo(lock)
    try:
        before = lstat_tree(lab.data_dir)
        for args in (dict(state="restored", backup_id=backup_id), dict(state="present", transport="files")):
            rc, result, _text = run_bounded(run, "gateway_backup", with_api=False, **args)
            assert rc != 0 and "%s: not a regular file (a FIFO)" % lock in result["msg"], result
            assert lstat_tree(lab.data_dir) == before
        lock.unlink()

        pipe = lab.data_dir / "index" / "pipe.json"
        pipe.parent.mkdir(exist_ok=True)
        os.mkfifo(pipe)
        before = lstat_tree(lab.data_dir)
        for args in (dict(state="restored", backup_id=backup_id), dict(state="present", transport="files")):
            rc, result, _text = run_bounded(run, "gateway_backup", with_api=False, **args)
            assert rc != 0 and "%s: not a regular file (a FIFO)" % pipe in result["msg"], result
            snapshot = lstat_tree(lab.data_dir)
            snapshot.pop(".gateway.lock", None)  # the restore's lock file (an empty regular file)
            assert snapshot == {k: v for k, v in before.items() if k != ".gateway.lock"}
        # a FIFO in a backup: listed invalid, the listing goes on
        backup_fifo = lab.data_dir / "backups" / backup_id / "data" / "clients.json"
        saved = backup_fifo.read_bytes()
        backup_fifo.unlink()
        os.mkfifo(backup_fifo)
        rc, info, _text = run_bounded(run, "gateway_backup_info", transport="files", verify=True, with_api=False)
        assert rc == 0 and info["backups"][0]["problems"] == ["unsafe_file: clients.json: not a regular file (a FIFO)"]
        assert info["latest_valid"] is None
        backup_fifo.unlink()
        backup_fifo.write_bytes(saved)
    finally:
        for path in (lock, lab.data_dir / "index" / "pipe.json"):
            if path.is_fifo():
                path.unlink()
    start_gateway(lab)


# ---------------------------------------------------------------------------- a real full volume


def _can_mount_tmpfs():
    return os.geteuid() == 0 and "tmpfs" in Path("/proc/filesystems").read_text()


@pytest.mark.skipif(not _can_mount_tmpfs(), reason="mounting a small tmpfs as the data volume needs root")
def test_a_full_data_volume_fails_create_and_restore_cleanly_and_the_rerun_after_freeing_space_restores(
        tmp_path, request):
    """The data dir on a real 24 MiB tmpfs filled by the lab's fill-volume fault (256 KiB left): the write that
    hits ENOSPC is a real one. Create and restore each fail with a message that says so and leave every byte of the
    data dir (backups/ included) as it was; once space is freed, the same restore runs to the end."""
    volume = tmp_path / "vol"
    volume.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m,mode=0700", "tmpfs", str(volume)], check=True)
    request.addfinalizer(lambda: subprocess.run(["umount", "-l", str(volume)], check=False))
    lab = LocalLab(volume / "lab", listen="127.0.0.1:%d" % free_port())
    request.addfinalizer(lab.down)
    lab.up()
    runner = Runner(lab, tmp_path / "work")  # the playbooks and vars file off the full volume
    [first] = os.listdir(lab.data_dir / "backups")  # the one `lab up` took
    stop_gateway(lab)
    edit_json(lab.data_dir / "tokens.json", block_first_token)  # a change a restore of `first` has to undo
    filled = lab.break_("fill-volume")
    assert "KiB left free" in filled, filled
    before = tree_digest(lab.data_dir)

    rc, result = runner.run("gateway_backup", state="present", transport="files", with_api=False)
    assert rc != 0 and result.get("failed"), result
    assert "no space left on device while writing the backup's copy of " in result["msg"], result["msg"]
    assert tree_digest(lab.data_dir) == before  # no half backup, no temp dir left in backups/

    rc, result = runner.run("gateway_backup", state="restored", backup_id=first, with_api=False)
    assert rc != 0 and result.get("failed"), result
    assert "No space left on device (no space left on the data volume: free space and run again)" in result["msg"]
    assert tree_digest(lab.data_dir) == before and leftovers(lab) == []  # the old data, whole

    os.unlink(lab.state_dir / "fill-volume.bin")
    restored = ok(runner.run("gateway_backup", state="restored", backup_id=first, with_api=False))
    assert restored["backup_id"] == first and restored["safety_backup_id"]
    assert data_files(lab.data_dir) == manifest_files(lab, first) and leftovers(lab) == []
    start_gateway(lab)
