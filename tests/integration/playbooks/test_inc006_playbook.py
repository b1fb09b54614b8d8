"""INC-006 end to end: the local lab (real supervisord, real reference gateway, the lab's 1C publication stand-in
checking HTTP Basic against the passwords its 1C admin set) with tokens in two orgs, then
`ansible-playbook playbooks/inc-006-secret-leak.yml` revokes one org's tokens, rotates the admin token and the
OData credentials 1C already has (proven first), exports the audit and notifies a local webhook. No secret may
show anywhere."""

import hashlib
import http.server
import json
import os
import stat
import subprocess
import sys
import threading
import urllib.parse
from pathlib import Path

import pytest

from mcpops.lab.fixtures.odata_upstream import LabUpstream, publication_base
from mcpops.lab.http_client import http_json
from mcpops.lab.local.lab import LocalLab
from loopback import free_port

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
PLAYBOOK = "playbooks/inc-006-secret-leak.yml"
ORG = "org_acme"
OTHER_ORG = "org_globex"


def make_lab(path):
    """The lab with its 1C: the upstream on a free port (never the seed's 8443, so that parallel runs never meet),
    each publication's password the one the gateway's env file holds (as a healthy production), and the gateway
    trusting the upstream's test CA (SSL_CERT_FILE in its env file, read at its next start: INC-006's restart)."""
    lab = LocalLab(path, listen="127.0.0.1:%d" % free_port(), upstream="127.0.0.1:%d" % free_port())
    # The gateway's env file cannot override what the process environment already sets (the reference gateway's
    # rule), so supervisord starts without this machine's own SSL_CERT_FILE / SSL_CERT_DIR.
    saved = {name: os.environ.pop(name) for name in ("SSL_CERT_FILE", "SSL_CERT_DIR") if name in os.environ}
    try:
        lab.up()
    finally:
        os.environ.update(saved)
    upstream = LabUpstream(lab.state_dir, lab.data_dir)
    upstream.ensure()
    assert len(upstream.use_passwords_of(lab.env_file)) == 3
    with Path(lab.env_file).open("a") as handle:
        handle.write("SSL_CERT_FILE=%s\n" % upstream.ca_file)
    return lab


def set_in_onec(lab, passwords):
    """As the 1C admin: each profile's publication gets the new password of its passwordEnv."""
    upstream = LabUpstream(lab.state_dir, lab.data_dir)
    profiles = json.loads(Path(lab.data_dir, "profiles.json").read_text())["profiles"]
    for profile in profiles:
        if profile["passwordEnv"] in passwords:
            upstream.set_password(publication_base(profile["odataUrl"]), passwords[profile["passwordEnv"]])


def run_playbook(lab_dir, *args):
    env = dict(os.environ)
    env.update(
        MCPOPS_LAB_DIR=str(lab_dir),
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(REPO / "collections"),
        ANSIBLE_NOCOLOR="1",
        PATH="%s:%s" % (BIN, env.get("PATH", "")),
        no_proxy="127.0.0.1,localhost",
        NO_PROXY="127.0.0.1,localhost",
    )
    cmd = [str(BIN / "ansible-playbook"), PLAYBOOK, "-i", "inventories/lab"] + list(args)
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def issue(lab, client_id, org_id):
    status, body = http_json(lab.api_url + "/api/mcp-tokens", method="POST", token=lab.admin_token(),
                             body={"clientId": client_id, "orgId": org_id, "scopes": ["tools:read"]})
    assert status == 201, body
    return body["secret"]


def all_tokens(lab, token=None):
    tokens, cursor = {}, None
    while True:
        query = {"limit": 100}
        if cursor:
            query["cursor"] = cursor
        status, body = http_json(lab.api_url + "/api/mcp-tokens?" + urllib.parse.urlencode(query),
                                 token=token or lab.admin_token())
        assert status == 200, body
        tokens.update((t["id"], t) for t in body["tokens"])
        cursor = body.get("nextCursor")
        if not cursor:
            return tokens


def connection_health(lab, profile):
    """The gateway's own check_connection_health (MCP tools/call with the lab's ops token)."""
    status, body = http_json(lab.api_url + "/mcp", method="POST", token=lab.mcp_token(),
                             body={"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                   "params": {"name": "check_connection_health", "arguments": {"profile": profile}}})
    assert status == 200, body
    return body["result"]["structuredContent"]


def read_env(path):
    lines = Path(path).read_text().splitlines()
    return lines, dict(line.split("=", 1) for line in lines if "=" in line)


def password_envs(lab):
    profiles = json.loads(Path(lab.data_dir, "profiles.json").read_text())["profiles"]
    return sorted({p["passwordEnv"] for p in profiles if p.get("passwordEnv")})


def state_digest(lab):
    """sha256 over the lab's secrets and data, every file's relative path and bytes."""
    h = hashlib.sha256()
    for root in (lab.secrets_dir, lab.data_dir):
        for path in sorted(p for p in Path(root).rglob("*") if p.is_file()):
            h.update(str(path.relative_to(lab.state_dir)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def assert_no_secret(secrets, **texts):
    for secret in secrets:
        assert len(secret) >= 16
        for name, text in texts.items():
            assert secret not in text, "a secret shows in %s" % name


class Webhook:
    """A tiny local webhook: records every POSTed body."""

    def __init__(self):
        self.bodies = []
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length") or 0)
                hook.bodies.append(self.rfile.read(length).decode("utf-8", "replace"))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/hooks/incident" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def webhook(request):
    hook = Webhook()
    request.addfinalizer(hook.stop)
    return hook


@pytest.fixture
def lab(tmp_path):
    lab = make_lab(tmp_path / "lab")
    yield lab
    lab.down()


@pytest.fixture(scope="module")
def untouched_lab(tmp_path_factory):
    """One lab for the runs that must change nothing (check mode, refusals)."""
    lab = make_lab(tmp_path_factory.mktemp("inc006") / "lab")
    yield lab
    lab.down()


def test_leak_revokes_the_org_rotates_every_secret_exports_and_notifies(lab, webhook, tmp_path):
    issued = [issue(lab, "cursor-ide", ORG), issue(lab, "ci-bot", ORG),
              issue(lab, "cursor-ide", OTHER_ORG), issue(lab, "ci-bot", OTHER_ORG)]
    before = all_tokens(lab)
    assert any(t["orgId"] == ORG and t["revokedAt"] is None for t in before.values())
    assert any(t["orgId"] != ORG for t in before.values())
    old_admin = lab.admin_token()
    env_file = Path(lab.read_info()["env_file"])
    with env_file.open("a") as handle:
        handle.write("# kept by INC-006\nONEC_MCP_EXTRA_SETTING=keep-me\n")
    _, old_env = read_env(env_file)
    names = password_envs(lab)
    assert names and all(old_env.get(n) for n in names)
    # the 1C admin has set new passwords for all but the last name; that one is not rotated by this run
    given = {name: "Given-OData-Password-%s" % os.urandom(8).hex() for name in names[:-1]}
    set_in_onec(lab, given)
    vars_file = tmp_path / "odata.json"
    vars_file.write_text(json.dumps({"odata_passwords": given}))
    vars_file.chmod(0o600)
    export_dir = tmp_path / "export"

    proc = run_playbook(lab.state_dir, "-v", "--diff", "-e", "org_id=" + ORG, "-e", "@" + str(vars_file),
                        "-e", "export_dir=" + str(export_dir), "-e", "notify_webhook_url=" + webhook.url)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]

    # Step 1: every token of the org revoked, no token of another org changed.
    new_admin = lab.admin_token()
    after = all_tokens(lab, token=new_admin)
    assert after.keys() == before.keys()
    for token_id, token in after.items():
        if before[token_id]["orgId"] == ORG:
            assert token["revokedAt"] is not None, token_id
            if before[token_id]["revokedAt"] is not None:
                assert token["revokedAt"] == before[token_id]["revokedAt"]
        else:
            assert token == before[token_id], token_id
    newly = [t for t in before.values() if t["orgId"] == ORG and t["revokedAt"] is None]
    assert "Step 1: revoked %d MCP token(s) of %s" % (len(newly), ORG) in proc.stdout

    # Step 2: the old admin token is refused, the new one (from the file the gateway reads) works.
    assert new_admin != old_admin and len(new_admin) >= 32
    assert stat.S_IMODE(os.stat(lab.admin_token_file).st_mode) == 0o600
    assert http_json(lab.api_url + "/api/system/storage-meta", token=old_admin)[0] == 401
    assert http_json(lab.api_url + "/api/system/storage-meta", token=new_admin)[0] == 200
    assert lab.program_state() == "RUNNING"

    # Step 3: the given (and proven) values in the env file, the name not given kept as it was (no generated
    # password: 1C would not know it); other lines kept; the backup of the old file removed after the proof.
    lines, new_env = read_env(env_file)
    assert stat.S_IMODE(os.stat(env_file).st_mode) == 0o600
    for name in names[:-1]:
        assert new_env[name] == given[name] != old_env[name]
    assert new_env[names[-1]] == old_env[names[-1]]
    assert "# kept by INC-006" in lines and new_env["ONEC_MCP_EXTRA_SETTING"] == "keep-me"
    assert not Path(str(env_file) + ".inc006-old").exists()
    said = " ".join(proc.stdout.split())
    assert "1C takes the new OData password of erp-prod, erp-staging" in said
    assert ("after the restart the gateway reaches 1C: check_connection_health healthy for erp-prod; NOT rotated: %s"
            % names[-1]) in said
    # and it does: the restarted gateway (with the new passwords) answers check_connection_health healthy
    assert connection_health(lab, "erp-prod")["healthy"] is True
    assert len(lines) == len(Path(env_file).read_text().splitlines())
    assert sorted(k for k in new_env) == sorted(old_env)

    # Step 4: the redacted export, 0600.
    [export] = list(export_dir.iterdir())
    assert export.name == "inc-006-%s-lab-gateway.audit.jsonl" % ORG
    assert stat.S_IMODE(export.stat().st_mode) == 0o600
    export_text = export.read_text()
    assert export_text.count("\n") > 100
    assert str(export) in proc.stdout

    # Step 5: one JSON notice, names only.
    assert len(webhook.bodies) == 1
    notice = json.loads(webhook.bodies[0])
    assert notice["incident"] == "INC-006" and notice["org_id"] == ORG
    assert int(notice["tokens_revoked"]) == len(newly)
    assert notice["rotated"] == ["ONEC_MCP_HTTP_TOKEN"] + names[:-1]
    assert notice["export"] == str(export)

    # Step 6: the manual steps are listed.
    assert "THREAT_MODEL.md" in proc.stdout
    assert "rotate the OData passwords not rotated by this run (%s): set each new one in 1C" % names[-1] in said

    # The canary: no secret, old or new, anywhere.
    secrets = [old_admin, new_admin, lab.mcp_token()] + issued
    secrets += [old_env[n] for n in names] + [new_env[n] for n in names]
    assert_no_secret(secrets, stdout=proc.stdout, stderr=proc.stderr, export=export_text, notice=webhook.bodies[0])


def test_check_mode_changes_nothing(untouched_lab, webhook, tmp_path):
    lab = untouched_lab
    digest = state_digest(lab)
    tokens = all_tokens(lab)
    export_dir = tmp_path / "export"
    proc = run_playbook(lab.state_dir, "--check", "--diff", "-v", "-e", "org_id=" + ORG,
                        "-e", "export_dir=" + str(export_dir), "-e", "notify_webhook_url=" + webhook.url)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
    would = [t for t in tokens.values() if t["orgId"] == ORG and t["revokedAt"] is None]
    assert "Check mode: would revoke %d token(s) of %s" % (len(would), ORG) in proc.stdout
    assert state_digest(lab) == digest
    assert all_tokens(lab) == tokens
    assert not export_dir.exists()
    assert webhook.bodies == []
    assert lab.program_state() == "RUNNING"
    _, env = read_env(lab.read_info()["env_file"])
    assert_no_secret([lab.admin_token(), lab.mcp_token()] + list(env.values()), stdout=proc.stdout, stderr=proc.stderr)


@pytest.mark.parametrize("args", [(), ("-e", "org_id="), ("-e", "org_id=../etc")], ids=["missing", "empty", "bad"])
def test_refused_without_org_id(untouched_lab, args):
    lab = untouched_lab
    digest = state_digest(lab)
    proc = run_playbook(lab.state_dir, *args)
    assert proc.returncode == 2, proc.stdout[-5000:]
    assert "INC-006 refused: give the org" in proc.stdout
    assert "Step 1" not in proc.stdout
    assert state_digest(lab) == digest


def test_unknown_odata_password_name_is_refused(untouched_lab, tmp_path):
    lab = untouched_lab
    digest = state_digest(lab)
    vars_file = tmp_path / "odata.json"
    vars_file.write_text(json.dumps({"odata_passwords": {"ONEC_NO_SUCH_PASSWORD": "Typo-Value-0123456789"}}))
    proc = run_playbook(lab.state_dir, "-e", "org_id=" + ORG, "-e", "@" + str(vars_file))
    assert proc.returncode == 2, proc.stdout[-5000:]
    assert "unknown: ONEC_NO_SUCH_PASSWORD" in proc.stdout
    assert "Typo-Value-0123456789" not in proc.stdout
    assert state_digest(lab) == digest


def test_the_proof_fails_when_the_service_does_not_read_the_token_file(lab, tmp_path):
    """The token written where the gateway does not look: after the restart the old token still works, so the
    play must fail at the proof, name the step, and print no secret."""
    old_admin = lab.admin_token()
    elsewhere = tmp_path / "not-read-by-the-gateway"
    proc = run_playbook(lab.state_dir, "-e", "org_id=" + OTHER_ORG, "-e", "gateway_admin_token_file=" + str(elsewhere))
    assert proc.returncode == 2, proc.stdout[-5000:]
    assert 'INC-006 failed on lab-gateway at "Step 2: Check the new admin token got 200 and the old one 401"' in proc.stdout
    said = " ".join(proc.stdout.split())
    assert "answered 401 to accepted token #1 (wanted 200)" in said
    assert "answered 200 to refused token #1 (wanted 401)" in said
    assert "ONEC_MCP_HTTP_TOKEN is not also set in its environment" in said
    assert "Step 6" not in proc.stdout
    new_admin = elsewhere.read_text().strip()
    assert stat.S_IMODE(elsewhere.stat().st_mode) == 0o600
    assert lab.admin_token() == old_admin
    assert http_json(lab.api_url + "/api/system/storage-meta", token=old_admin)[0] == 200
    assert_no_secret([old_admin, new_admin, lab.mcp_token()], stdout=proc.stdout, stderr=proc.stderr)


def test_from_the_leak_fault_the_leaked_token_is_revoked_and_its_reads_are_in_the_export(lab, tmp_path):
    """The lab's `leak` fault (heavy data-reading calls from a second loopback address), then the
    runbook: the leaked token is revoked with the rest of its org, no other org's token changes, and
    the redacted export holds the leak's tool calls with their source ip and no secret."""
    lab.break_("leak")
    leak = json.loads((lab.state_dir / "faults" / "leak.json").read_text())
    before = all_tokens(lab)
    assert before[leak["token_id"]]["revokedAt"] is None
    old_admin = lab.admin_token()
    export_dir = tmp_path / "export"
    proc = run_playbook(lab.state_dir, "-e", "org_id=" + leak["org_id"], "-e", "export_dir=" + str(export_dir))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]

    after = all_tokens(lab)  # with the rotated admin token, read from the lab's file
    assert lab.admin_token() != old_admin
    assert after[leak["token_id"]]["revokedAt"] is not None
    for token_id, token in before.items():
        if token["orgId"] == leak["org_id"]:
            assert after[token_id]["revokedAt"] is not None
        else:
            assert after[token_id] == token
    [export] = list(export_dir.iterdir())
    lines = [json.loads(line) for line in export.read_text().splitlines()]
    reads = [line for line in lines if line.get("event") == "tool.called" and line.get("tokenPrefix") == leak["token_prefix"]]
    assert len(reads) >= 150
    assert {line.get("ip") for line in reads} >= {leak["heavy_ip"]}
    assert_no_secret([old_admin, lab.admin_token(), lab.mcp_token()],
                     stdout=proc.stdout, stderr=proc.stderr, export=export.read_text())


# -- issue 23: "org_acme\n" revoked 0 tokens, then rotated everything and reported success ------------------------

def secrets_digest(lab):
    """The admin token file, the env file and the rest of the lab's secrets, byte for byte."""
    h = hashlib.sha256()
    for path in sorted(p for p in Path(lab.secrets_dir).rglob("*") if p.is_file()):
        h.update(str(path).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def run_with(lab, extra_vars, *args):
    return run_playbook(lab.state_dir, "-e", json.dumps(extra_vars), *args)


def assert_refused_before_anything(lab, proc, *words):
    said = " ".join(proc.stdout.split())
    assert proc.returncode == 2, proc.stdout[-5000:] + proc.stderr[-2000:]
    for word in words:
        assert word in said, said[-3000:]
    assert "Nothing was changed." in said
    assert "Step 1" not in proc.stdout and "Step 2" not in proc.stdout
    assert_no_secret([lab.admin_token(), lab.mcp_token()], stdout=proc.stdout, stderr=proc.stderr)


@pytest.mark.parametrize("org_id", [
    "org_acme\n",            # the issue's case: `$` matched before the final newline
    "org_acme\r\n",          # pasted from a Windows ticket
    "org_acme ",             # a trailing space
    "\torg_acme",            # a tab
    "org_\u0430cme",         # a Cyrillic look-alike letter
    "\uff4frg_acme",         # a fullwidth look-alike letter
    "",                      # empty
    "org_acme\norg_globex",  # two lines
], ids=ascii)
def test_an_org_id_that_is_not_a_whole_id_is_refused_before_anything(untouched_lab, org_id):
    lab = untouched_lab
    digest, admin, tokens = state_digest(lab), lab.admin_token(), all_tokens(lab)
    pid = lab.gateway_pid()
    proc = run_with(lab, {"org_id": org_id})
    assert_refused_before_anything(lab, proc, "INC-006 refused: give the org whose MCP tokens are revoked")
    if org_id:
        assert "got %s." % json.dumps(org_id) in " ".join(proc.stdout.split())
    assert state_digest(lab) == digest  # admin token file, env file, data dir: byte-identical
    assert lab.admin_token() == admin and all_tokens(lab) == tokens
    assert lab.gateway_pid() == pid and lab.program_state() == "RUNNING"  # never restarted


@pytest.mark.parametrize("org_id", [["org_acme"], {"org": "org_acme"}, 7], ids=["list", "dict", "int"])
def test_an_org_id_that_is_not_a_string_is_refused(untouched_lab, org_id):
    digest = state_digest(untouched_lab)
    proc = run_with(untouched_lab, {"org_id": org_id})
    assert_refused_before_anything(untouched_lab, proc, "INC-006 refused: give the org")
    assert state_digest(untouched_lab) == digest


@pytest.mark.parametrize("extra", [
    {"export_dir": "relative/export"},
    {"export_dir": "/tmp/export\n"},
    {"audit_last": "24h\n"},
    {"audit_last": "24 h"},
    {"audit_last": "-1h"},
    {"audit_since": "2026-11-23T10:00:00Z\n"},
    {"audit_since": "yesterday"},
    {"hash_ips": "maybe"},
    {"hash_ips": "true\n"},
    {"allow_empty_org": "yes "},
    {"ip_salt": "Salt-Canary-9f8e7d\nsecond line"},
    {"notify_webhook_url": "http://127.0.0.1:9/hook-canary-4c3b\n"},
    {"notify_webhook_url": "file:///etc/shadow"},
], ids=lambda extra: ascii(extra))
def test_the_other_extra_vars_are_checked_whole_before_anything(untouched_lab, extra):
    lab = untouched_lab
    digest = state_digest(lab)
    proc = run_with(lab, dict(extra, org_id=ORG))
    assert_refused_before_anything(lab, proc, "INC-006 refused: export_dir must be an absolute path")
    assert state_digest(lab) == digest
    if "notify_webhook_url" in extra or "ip_salt" in extra:  # secrets: never shown, even when refused
        value = extra.get("notify_webhook_url") or extra.get("ip_salt")
        assert value.strip() not in proc.stdout and value.split("\n")[0] not in proc.stdout


@pytest.mark.parametrize("value", [" Leading-space-0123456789", "Trailing-space-0123456789 ", "Tab\tinside-0123456789",
                                   "Nul\x00inside-0123456789"], ids=ascii)
def test_an_odata_password_the_env_file_would_change_is_refused(untouched_lab, tmp_path, value):
    lab = untouched_lab
    digest = state_digest(lab)
    vars_file = tmp_path / "odata.json"
    vars_file.write_text(json.dumps({"odata_passwords": {password_envs(lab)[0]: value}}))
    vars_file.chmod(0o600)
    proc = run_playbook(lab.state_dir, "-e", "org_id=" + ORG, "-e", "@" + str(vars_file))
    assert_refused_before_anything(lab, proc, "without control characters and without a space at either end")
    assert value.strip().split("\t")[0].split("\x00")[0] not in proc.stdout
    assert state_digest(lab) == digest


def test_an_org_the_gateway_knows_no_token_of_is_refused_before_anything(untouched_lab):
    """Well formed, but no token of it at all (a typo such as org_acm): step 1 would revoke nothing."""
    lab = untouched_lab
    secrets, admin, tokens, pid = secrets_digest(lab), lab.admin_token(), all_tokens(lab), lab.gateway_pid()
    env_before = Path(lab.read_info()["env_file"]).read_bytes()
    proc = run_playbook(lab.state_dir, "-e", "org_id=org_acm")
    assert_refused_before_anything(lab, proc, "INC-006 refused on lab-gateway: the gateway knows no MCP token of org org_acm",
                                   "-e allow_empty_org=true")
    assert secrets_digest(lab) == secrets and lab.admin_token() == admin
    assert Path(lab.read_info()["env_file"]).read_bytes() == env_before
    assert all_tokens(lab) == tokens
    assert lab.gateway_pid() == pid and lab.program_state() == "RUNNING"


def test_allow_empty_org_rotates_and_says_loudly_that_nothing_was_revoked(lab, tmp_path):
    old_admin = lab.admin_token()
    before = all_tokens(lab)
    proc = run_playbook(lab.state_dir, "-e", "org_id=org_nobody", "-e", "allow_empty_org=true",
                        "-e", "export_dir=" + str(tmp_path / "export"))
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
    said = " ".join(proc.stdout.split())
    assert ("Step 1: revoked 0 MCP token(s) of org_nobody (0 were already revoked) -- NOTHING WAS REVOKED: "
            "the gateway knows no token of org_nobody (allow_empty_org)") in said
    assert lab.admin_token() != old_admin
    assert all_tokens(lab) == before
    assert_no_secret([old_admin, lab.admin_token(), lab.mcp_token()], stdout=proc.stdout, stderr=proc.stderr)


# -- issue 24: the new 1C password is proven against 1C before anything changes ---------------------------------

def untouched(lab):
    """What a refused run must leave as it was: the gateway process, its admin token, every token, the env file and
    the rest of the lab's secrets and data, byte for byte."""
    return (lab.gateway_pid(), lab.admin_token(), all_tokens(lab), Path(lab.read_info()["env_file"]).read_bytes(),
            state_digest(lab))


def test_a_new_odata_password_1c_refuses_or_cannot_check_changes_nothing(untouched_lab, tmp_path):
    """A password the 1C admin has not set (401), then 1C's web server down (refused): each run is refused before
    step 1, names the profile and the reason, shows no password, and leaves everything as it was."""
    lab = untouched_lab
    canary = "Canary-OData-Password-%s" % os.urandom(8).hex()
    vars_file = tmp_path / "odata.json"
    vars_file.write_text(json.dumps({"odata_passwords": {"ONEC_HR_PROD_PASSWORD": canary}}))
    vars_file.chmod(0o600)
    before = untouched(lab)
    backup = Path(str(lab.read_info()["env_file"]) + ".inc006-old")

    proc = run_playbook(lab.state_dir, "-v", "--diff", "-e", "org_id=" + ORG, "-e", "@" + str(vars_file))
    said = " ".join(proc.stdout.split())
    assert_refused_before_anything(lab, proc, "INC-006 refused on lab-gateway: 1C does not take the new OData password of",
                                   "profile hr-prod (ONEC_HR_PROD_PASSWORD, https://",
                                   "the password is REFUSED by 1C (HTTP 401)")
    assert "NOT REACHABLE" not in said and "erp-prod (" not in said
    assert untouched(lab) == before and not backup.exists()
    assert_no_secret([canary], stdout=proc.stdout, stderr=proc.stderr)

    lab.break_("upstream-web-down")
    try:
        proc = run_playbook(lab.state_dir, "-v", "-e", "org_id=" + ORG, "-e", "@" + str(vars_file))
        said = " ".join(proc.stdout.split())
        assert_refused_before_anything(lab, proc, "profile hr-prod (ONEC_HR_PROD_PASSWORD,",
                                       "1C is NOT REACHABLE (refused: connection refused; web server failed, cluster unknown)")
        assert "REFUSED by 1C" not in said
        assert untouched(lab) == before and not backup.exists()
        assert_no_secret([canary], stdout=proc.stdout, stderr=proc.stderr)
    finally:
        LabUpstream(lab.state_dir, lab.data_dir).ensure()
