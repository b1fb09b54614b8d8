"""The built collection tarball installs and works on its own, without this checkout.

`ansible-galaxy collection build` from the repo root, then `ansible-galaxy collection install` into
a temp dir, then the modules, ansible-doc and a runbook by its collection name run with
ANSIBLE_COLLECTIONS_PATH pointing only at that install and ANSIBLE_CONFIG at an empty file (the repo's
ansible.cfg and its collections/ link are not used), from a cwd outside the repo.
"""

import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
BIN = os.path.dirname(sys.executable)
ANSIBLE = os.path.join(BIN, "ansible")
GALAXY = os.path.join(BIN, "ansible-galaxy")
ANSIBLE_DOC = os.path.join(BIN, "ansible-doc")
ANSIBLE_PLAYBOOK = os.path.join(BIN, "ansible-playbook")

pytestmark = pytest.mark.skipif(not os.path.exists(GALAXY), reason="ansible-galaxy not in the venv")

MUST_HAVE = (
    "plugins/modules/gateway_backup.py",
    "plugins/modules/gateway_backup_info.py",
    "plugins/modules/gateway_health.py",
    "plugins/modules/service_health.py",
    "plugins/lookup/service_profile.py",
    "plugins/plugin_utils/service_profiles.py",
    "plugins/plugin_utils/report_templates/report.md.j2",
    "profiles/onec-gateway.yml",
    "profiles/cctelegram-mcp.yml",
    "roles/service_profile/tasks/main.yml",
    "playbooks/vars/service_profile.yml",
    "plugins/module_utils/_backup/store.py",
    "roles/gateway_service/tasks/main.yml",
    "roles/gateway_service/meta/argument_specs.yml",
    "playbooks/inc-003-restore.yml",
    "playbooks/inc_003_restore.yml",
    "playbooks/vars/module_defaults.yml",
    "meta/runtime.yml",
    "MANIFEST.json",
    "FILES.json",
)
# What stays out of the tarball (galaxy.yml build_ignore): tests, figures, the lab, the Python
# package, the venv, VCS, and the checkout's collections/ link back to the root.
MUST_NOT_HAVE = ("tests", "bench", "molecule", "src", ".venv", ".lab", ".git", "collections", "runs", "scripts")

STORAGE_META = {"schemaVersion": 3, "appliedMigrations": ["001_init", "002_tokens_org", "003_rate_limits"]}
DATA = {
    "storage-meta.json": json.dumps(STORAGE_META),
    "tokens.json": json.dumps({"tokens": [{"id": "tok_7f3a9c", "prefix": "mcp_ab12", "secretHash": "0" * 64,
                                           "clientId": "cursor-ide", "orgId": "org_acme", "scopes": ["tools:read"]}]}),
    "profiles.json": json.dumps({"profiles": [{"name": "prod", "environment": "production",
                                               "odataUrl": "https://1c.example.invalid/odata", "passwordEnv": "P",
                                               "writeTools": False}]}),
    "clients.json": json.dumps({"allowedClients": ["cursor-ide"]}),
    "audit.jsonl": '{"ts": "2026-11-23T10:00:00.123Z", "event": "auth.ok"}\n{"ts": "2026-11-23T10:00:01.000Z", "event": "token.issued"}\n',
    "usage.jsonl": '{"ts": "2026-11-23T10:00:00Z", "tokenId": "tok_7f3a9c", "tool": "list_profiles", "status": "ok"}\n',
    "index/catalog.json": json.dumps({"objects": [1, 2, 3]}),
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(tarball, member names, install dir, env) of one build + install shared by the tests."""
    base = tmp_path_factory.mktemp("collection-build")
    out = base / "dist"
    out.mkdir()
    proc = subprocess.run([GALAXY, "collection", "build", "--output-path", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tarballs = sorted(out.glob("mcpops-runbooks-*.tar.gz"))
    assert len(tarballs) == 1, list(out.iterdir())
    with tarfile.open(str(tarballs[0])) as tar:
        members = [m.name.rstrip("/") for m in tar.getmembers()]

    empty_cfg = base / "empty-ansible.cfg"
    empty_cfg.write_text("")
    install = base / "collections"
    home = base / "ansible-home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(
        ANSIBLE_CONFIG=str(empty_cfg),
        ANSIBLE_COLLECTIONS_PATH=str(install),
        ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="False",
        ANSIBLE_HOME=str(home),
        # ad hoc's own stdout callback (minimal): `localhost | SUCCESS => {json}`; the json callback
        # lives in ansible.posix, which this isolated collections path does not have
        ANSIBLE_STDOUT_CALLBACK="ansible.builtin.minimal",
        ANSIBLE_DEPRECATION_WARNINGS="0",
        ANSIBLE_LOCALHOST_WARNING="0",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
        ANSIBLE_NOCOLOR="1",
    )
    proc = subprocess.run([GALAXY, "collection", "install", str(tarballs[0]), "-p", str(install)],
                          cwd=str(base), env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {"tarball": tarballs[0], "members": members, "install": install, "env": env, "cwd": str(base)}


def run_module(built, module, args, *flags):
    proc = subprocess.run(
        [ANSIBLE, "localhost", "-i", "localhost,", "-c", "local",
         "-e", "ansible_python_interpreter=%s" % sys.executable,
         "-m", "mcpops.runbooks.%s" % module, "-a", json.dumps(args)] + list(flags),
        cwd=built["cwd"], env=built["env"], capture_output=True, text=True, timeout=300,
    )
    marker = proc.stdout.find("localhost | ")
    start = proc.stdout.find("{", marker)
    assert marker >= 0 and start >= 0, proc.stdout + proc.stderr
    result, _end = json.JSONDecoder().raw_decode(proc.stdout[start:])
    return result


def write_data_dir(root):
    data_dir = os.path.join(str(root), "data")
    for rel, text in DATA.items():
        path = os.path.join(data_dir, *rel.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as handle:
            handle.write(text)
    return data_dir


def test_tarball_members(built):
    members = set(built["members"])
    missing = [name for name in MUST_HAVE if name not in members]
    assert not missing, "missing from %s: %s" % (built["tarball"].name, missing)
    leaked = sorted(m for m in members if m.split("/", 1)[0] in MUST_NOT_HAVE)
    assert not leaked, "should be in galaxy.yml build_ignore: %s" % leaked[:20]
    assert not [m for m in members if m.endswith(".pyc") or "__pycache__" in m.split("/")]
    manifest = tarfile.open(str(built["tarball"])).extractfile("MANIFEST.json").read()
    info = json.loads(manifest)["collection_info"]
    assert (info["namespace"], info["name"]) == ("mcpops", "runbooks")


def test_installed_copy_is_a_real_copy(built):
    root = built["install"] / "ansible_collections" / "mcpops" / "runbooks"
    assert (root / "plugins" / "modules" / "gateway_backup.py").is_file()
    assert not os.path.islink(str(root))
    assert os.path.realpath(str(root)) != os.path.realpath(ROOT)
    assert (root / "MANIFEST.json").is_file()


def test_ansible_doc_from_installed_copy(built):
    proc = subprocess.run([ANSIBLE_DOC, "mcpops.runbooks.gateway_backup"], cwd=built["cwd"], env=built["env"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "mcpops.runbooks.gateway_backup" in proc.stdout
    assert str(built["install"]) in proc.stdout  # the documented file is the installed one
    assert "backup_id" in proc.stdout and "latest_valid" in proc.stdout
    proc = subprocess.run([ANSIBLE_DOC, "--json", "mcpops.runbooks.gateway_backup_info"], cwd=built["cwd"],
                          env=built["env"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)["mcpops.runbooks.gateway_backup_info"]["doc"]
    assert "verify" in doc["options"] and doc["filename"].startswith(str(built["install"]))


def test_installed_modules_round_trip(built, tmp_path):
    data_dir = write_data_dir(tmp_path)
    tokens = os.path.join(data_dir, "tokens.json")
    with open(tokens) as handle:
        original_tokens = handle.read()

    empty = run_module(built, "gateway_backup_info", {"data_dir": data_dir, "transport": "files", "verify": True})
    assert not empty.get("failed"), empty
    assert empty["backups"] == [] and empty["latest_valid"] is None and empty["transport"] == "files"

    made = run_module(built, "gateway_backup", {"data_dir": data_dir, "state": "present", "transport": "files"})
    assert not made.get("failed"), made
    assert made["changed"] is True and made["transport"] == "files"
    backup_id = made["backup_id"]
    assert made["backup"]["files"] == len(DATA) and made["backup"]["schemaVersion"] == 3
    assert os.path.isfile(os.path.join(data_dir, "backups", backup_id, "manifest.json"))

    info = run_module(built, "gateway_backup_info", {"data_dir": data_dir, "transport": "files", "verify": True})
    assert not info.get("failed"), info
    assert info["changed"] is False and info["latest_valid"] == backup_id
    assert [(b["id"], b["valid"], b["problems"], b["safety"]) for b in info["backups"]] == [(backup_id, True, [], False)]
    assert info["interrupted_restore"] is False

    # INC-003: a corrupt store, then the restore of the newest valid backup
    with open(tokens, "w") as handle:
        handle.write('{"tokens": [')
    restored = run_module(built, "gateway_backup", {"data_dir": data_dir, "state": "restored", "backup_id": "latest_valid"})
    assert not restored.get("failed"), restored
    assert restored["changed"] is True and restored["backup_id"] == backup_id
    assert restored["files_changed"] == {"added": [], "changed": ["tokens.json"], "removed": []}
    assert "-pre-restore-" in restored["safety_backup_id"] and restored["schema_version"] == 3
    with open(tokens) as handle:
        assert handle.read() == original_tokens
    assert not os.path.exists(os.path.join(data_dir, ".restore-journal.json"))
    assert not [n for n in os.listdir(data_dir) if n.startswith(".restore-")]

    again = run_module(built, "gateway_backup", {"data_dir": data_dir, "state": "restored", "backup_id": "latest_valid"})
    assert not again.get("failed"), again
    assert again["changed"] is False and again["safety_backup_id"] is None

    listed = run_module(built, "gateway_backup_info", {"data_dir": data_dir, "transport": "files", "verify": True})
    ids = {b["id"]: b for b in listed["backups"]}
    assert set(ids) == {backup_id, restored["safety_backup_id"]}
    assert ids[restored["safety_backup_id"]]["safety"] is True
    assert ids[restored["safety_backup_id"]]["valid"] is False  # it holds the corrupt tokens.json, byte for byte
    assert listed["latest_valid"] == backup_id


def collection_name(playbook_file):
    """A runbook's collection playbook name: its file name as an identifier (inc-003-restore -> inc_003_restore)."""
    return playbook_file[:-len(".yml")].replace("-", "_")


def test_every_runbook_has_its_collection_name_in_the_checkout():
    """ansible-playbook mcpops.runbooks.<name> needs an identifier: each runbook's underscore name is a relative link
    to it in playbooks/ (one source of truth), and no link is left pointing at a runbook that went."""
    playbooks = Path(ROOT) / "playbooks"
    runbooks = sorted(p.name for p in playbooks.glob("*.yml") if not p.is_symlink())
    links = {p.name: os.readlink(str(p)) for p in playbooks.glob("*.yml") if p.is_symlink()}
    for name in runbooks:
        fqcn_file = collection_name(name) + ".yml"
        if fqcn_file == name:
            continue  # triage.yml is an identifier already
        assert links.get(fqcn_file) == name, "ln -s %s playbooks/%s (the name mcpops.runbooks.%s runs)" % (
            name, fqcn_file, collection_name(name))
    assert set(links.values()) <= set(runbooks), "links to no runbook: %s" % sorted(set(links.values()) - set(runbooks))
    assert len(links) == len(set(links.values())), links
    assert all(re.match(r"^[a-z_][a-z0-9_]*\.yml$", name) for name in links)


def test_the_tarball_keeps_every_collection_name_as_a_link(built):
    with tarfile.open(str(built["tarball"])) as tar:
        playbooks = {m.name: m for m in tar.getmembers() if m.name.startswith("playbooks/") and m.name.count("/") == 1}
    runbooks = {n for n, m in playbooks.items() if m.isfile()}
    for name in runbooks:
        fqcn_file = "playbooks/%s.yml" % collection_name(name.split("/", 1)[1])
        if fqcn_file != name:
            assert playbooks[fqcn_file].issym() and playbooks[fqcn_file].linkname == name.split("/", 1)[1], fqcn_file
    root = built["install"] / "ansible_collections" / "mcpops" / "runbooks" / "playbooks"
    assert (root / "inc_003_restore.yml").read_text() == (root / "inc-003-restore.yml").read_text()


@pytest.fixture
def lab(tmp_path):
    from local_lab_helpers import make_lab

    lab = make_lab(tmp_path / "lab")
    yield lab
    lab.down()


def test_a_runbook_by_its_collection_name_from_the_installed_collection(built, lab, tmp_path):
    """Triage by FQCN from a cwd outside the checkout, no repository ansible.cfg, the callback enabled by FQCN: its
    vars_files and roles resolve in the installed copy, and the report and the bundle (the run_dir lookup) go to
    the user's state dir, never into the installed collection."""
    from local_lab_helpers import lab_host_vars, write_inventory

    inventory = write_inventory(tmp_path / "inventory.json", {"lab-gateway": lab_host_vars(lab)})
    home = tmp_path / "home"
    state = tmp_path / "state"
    env = dict(built["env"], HOME=str(home), XDG_STATE_HOME=str(state), MCPOPS_LAB_DIR=str(lab.state_dir),
               ANSIBLE_CALLBACKS_ENABLED="mcpops.runbooks.incident_report", PATH="%s:%s" % (BIN, os.environ["PATH"]),
               no_proxy="127.0.0.1,localhost")
    for name in ("MCPOPS_RUNS_DIR", "MCPOPS_REPORT_DIR", "AWX_ISOLATED_DATA_DIR", "JOB_ID"):
        env.pop(name, None)
    env.pop("ANSIBLE_STDOUT_CALLBACK")  # the playbook's own output, as a user sees it
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    install = built["install"] / "ansible_collections" / "mcpops" / "runbooks"
    installed_files = sorted(str(p) for p in install.rglob("*") if "__pycache__" not in p.parts)
    proc = subprocess.run([ANSIBLE_PLAYBOOK, "mcpops.runbooks.triage", "-i", str(inventory)], cwd=str(cwd), env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]

    [report_md] = list((state / "mcpops" / "runs").glob("*-triage/report.md"))
    assert "incident report: %s" % report_md in proc.stdout
    report = json.loads((report_md.parent / "report.json").read_text())
    assert report["runbook"]["id"] == "triage" and report["status"] == "ok"
    assert report["playbook"].startswith(str(install))  # the installed copy ran, not the checkout's
    assert "Service Status (systemctl status --no-pager)" in [e["step"] for e in report["timeline"]]
    [bundle] = list((state / "mcpops" / "runs").glob("*-triage/lab-gateway.json.sealed"))
    assert bundle.stat().st_size > 0
    # nothing written into the installed collection (Python's bytecode cache aside), nor into the cwd
    assert sorted(str(p) for p in install.rglob("*") if "__pycache__" not in p.parts) == installed_files
    assert list(cwd.iterdir()) == []
