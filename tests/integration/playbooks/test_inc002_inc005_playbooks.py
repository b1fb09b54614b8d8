"""INC-002 and INC-005 end to end: the lab's token faults (auth-spike, rate-storm, leak) drive the real
reference gateway over loopback, then `ansible-playbook playbooks/inc-002-auth-failures.yml` /
`inc-005-rate-limit.yml` run against it. Every token is listed through the admin API before and after, so
each test asserts exactly which tokens changed and that no other did.

Every run names a break-glass account (issue 24: the operator_identity role refuses a run without one); the
gateway's audit.jsonl lines of each change must name it and the operator."""

import email.utils
import http.client
import json
import os
import pwd
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mcpops.lab.http_client import http_json
from mcpops.lab.local.lab import LocalLab
from loopback import free_port

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
INC002 = "playbooks/inc-002-auth-failures.yml"
INC005 = "playbooks/inc-005-rate-limit.yml"
BACKUP = "playbooks/backup-scheduled.yml"
BREAK_GLASS = "bg-lab-oncall"
# What the lab's inventory would carry (group_vars mcpops_break_glass_account); given as an extra var here.
IDENTITY = ("-e", "mcpops_break_glass_account=" + BREAK_GLASS)


@pytest.fixture
def lab(tmp_path):
    lab = LocalLab(tmp_path / "lab", listen="127.0.0.1:%d" % free_port())
    lab.up()
    yield lab
    lab.down()


@pytest.fixture
def run_dir(tmp_path):
    path = tmp_path / "run"
    path.mkdir()
    return path


def run_playbook(lab, run_dir, playbook, *args, identity=IDENTITY):
    env = dict(os.environ)
    env.update(
        MCPOPS_LAB_DIR=str(lab.state_dir),
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(REPO / "collections"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_LOG_PATH=str(run_dir / "ansible.log"),
        PATH="%s:%s" % (BIN, env.get("PATH", "")),
        no_proxy="127.0.0.1,localhost",
    )
    cmd = [str(BIN / "ansible-playbook"), playbook, "-i", "inventories/lab"] + list(identity) + list(args)
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    with open(run_dir / "output.txt", "a") as out:
        out.write(proc.stdout + proc.stderr)
    return proc


def all_tokens(lab):
    tokens, cursor = {}, None
    while True:
        path = "/api/mcp-tokens?limit=100" + ("&cursor=" + cursor if cursor else "")
        status, body = http_json(lab.api_url + path, token=lab.admin_token())
        assert status == 200, body
        for token in body["tokens"]:
            tokens[token["id"]] = token
        cursor = body.get("nextCursor")
        if not cursor:
            return tokens


def diff(before, after):
    """(ids added, {id: (before, after)} for every record that changed); nothing may disappear."""
    assert set(before) <= set(after)
    added = sorted(set(after) - set(before))
    changed = {i: (before[i], after[i]) for i in before if before[i] != after[i]}
    return added, changed


def fault(lab, name):
    line = lab.break_(name)
    facts = json.loads(Path(lab.state_dir, "faults", name + ".json").read_text())
    assert facts["token_prefix"] in line and facts["token_id"] in line
    return facts


def mcp_status(lab, secret):
    host, port = lab.listen.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("POST", "/mcp", body=json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
                     headers={"Authorization": "Bearer " + secret, "Content-Type": "application/json",
                              "Accept": "application/json, text/event-stream"})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def assert_no_secret(lab, run_dir, proc, *extra):
    secrets = [lab.admin_token(), lab.mcp_token()] + list(extra)
    texts = [proc.stdout, proc.stderr]
    files = [p for p in run_dir.rglob("*") if p.is_file()] + list(Path(lab.state_dir, "faults").glob("*"))
    assert files
    texts += [p.read_text(errors="replace") for p in files]
    for secret in secrets:
        assert len(secret) > 16
        for text in texts:
            assert secret not in text


def ok(proc):
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]


def refused(proc, *words):
    assert proc.returncode == 2, proc.stdout[-5000:] + proc.stderr[-2000:]
    for word in words:
        assert word in proc.stdout, proc.stdout[-3000:]


# -- the faults ------------------------------------------------------------------------------


def audit_lines(lab, prefix):
    lines = [json.loads(line) for line in Path(lab.data_dir, "audit.jsonl").read_text().splitlines() if line.strip()]
    return [line for line in lines if line.get("tokenPrefix") == prefix]


def audit_size(lab):
    return Path(lab.data_dir, "audit.jsonl").stat().st_size


def audit_events(lab, *events, since=0):
    """The audit lines of these events written after byte `since` (the seed's own lines come before any run)."""
    with open(Path(lab.data_dir, "audit.jsonl"), "rb") as handle:
        handle.seek(since)
        lines = [json.loads(line) for line in handle.read().decode("utf-8").splitlines() if line.strip()]
    return [line for line in lines if line["event"] in events]


def controller_user():
    """The operator a run names when nobody says: the controller's user (SUDO_USER, USER, LOGNAME, else `id -un`)."""
    given = [os.environ[name] for name in ("SUDO_USER", "USER", "LOGNAME") if os.environ.get(name)]
    return given[0] if given else pwd.getpwuid(os.geteuid()).pw_name


def test_token_faults_drive_the_gateway_and_record_what_they_did(lab):
    spike = fault(lab, "auth-spike")
    assert spike["client_id"] == "ci-bot" and spike["revoked_calls"] == {"403": 50}
    failed = [x for x in audit_lines(lab, spike["token_prefix"]) if x["event"] == "auth.failed"]
    assert len(failed) == 50 and {x["reason"] for x in failed} == {"revoked"}
    unknown = [x for x in audit_lines(lab, spike["unknown_prefix"]) if x["event"] == "auth.failed"]
    assert len(unknown) == 20 and {x["status"] for x in unknown} == {401}

    storm = fault(lab, "rate-storm")
    limited = [x for x in audit_lines(lab, storm["token_prefix"]) if x["event"] == "rate_limit.exceeded"]
    assert len(limited) == 35 and storm["calls"] == {"200": 5, "429": 35}

    leak = fault(lab, "leak")
    calls = [x for x in audit_lines(lab, leak["token_prefix"]) if x["event"] == "tool.called"]
    assert len(calls) == 155 and any(x["ip"] == leak["heavy_ip"] for x in calls)
    for path in Path(lab.state_dir, "faults").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert "secret" not in path.read_text()


# -- INC-002 ---------------------------------------------------------------------------------


def test_inc002_from_auth_spike_issues_one_new_token_for_the_client(lab, run_dir, tmp_path):
    spike = fault(lab, "auth-spike")
    before = all_tokens(lab)
    dest = tmp_path / "secrets" / "ci-bot.token"
    dest.parent.mkdir()
    proc = run_playbook(lab, run_dir, INC002, "-e", "secret_dest=%s" % dest)
    ok(proc)

    added, changed = diff(before, all_tokens(lab))
    assert changed == {}  # the spiking token was already revoked: reported, not touched again
    assert len(added) == 1
    new = all_tokens(lab)[added[0]]
    old = before[spike["token_id"]]
    assert (new["clientId"], new["orgId"], new["scopes"], new["rateLimit"]) == (
        "ci-bot", "org_acme", old["scopes"], old["rateLimit"])
    assert new["revokedAt"] is None and not new["blocked"]

    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    secret = dest.read_text().strip()
    assert secret.startswith(new["prefix"])
    assert mcp_status(lab, secret) == 200

    out = proc.stdout
    assert "Identified prefix %s (client ci-bot, org org_acme): 50 of" % spike["token_prefix"] in out
    assert "Revoked: none; already revoked: %s" % spike["token_id"] in " ".join(out.split())
    assert "New token %s prefix %s for ci-bot" % (new["id"], new["prefix"]) in out
    assert str(dest) in out
    assert "Clock skew" in out and "allowedClients: cursor-ide, ci-bot" in out
    assert "Expired but not revoked:" in out and "Active tokens of clients no longer allowed: 0" in out
    assert_no_secret(lab, run_dir, proc, secret)


def test_inc002_with_a_prefix_revokes_exactly_that_token_and_reissues(lab, run_dir, tmp_path):
    before = all_tokens(lab)
    ops_prefix = lab.mcp_token()[:8]
    victim = next(t for t in before.values()
                  if t["revokedAt"] is None and t["expiresAt"] is None and not t["blocked"]
                  and t["prefix"] != ops_prefix)
    dest = tmp_path / "victim.token"
    # As AWX launches it: the launcher's name (here a Cyrillic one) is the operator.
    audit_start = audit_size(lab)
    proc = run_playbook(lab, run_dir, INC002, "-e", "token_prefix=%s" % victim["prefix"], "-e", "secret_dest=%s" % dest,
                        "-e", json.dumps({"awx_user_name": "Иван Петров"}))
    ok(proc)

    after = all_tokens(lab)
    added, changed = diff(before, after)
    assert list(changed) == [victim["id"]]
    was, now = changed[victim["id"]]
    assert now["revokedAt"] and {k: v for k, v in now.items() if k != "revokedAt"} == {
        k: v for k, v in was.items() if k != "revokedAt"}
    assert len(added) == 1
    new = after[added[0]]
    assert (new["clientId"], new["orgId"], new["scopes"]) == (victim["clientId"], victim["orgId"], victim["scopes"])
    assert new.get("profile") == victim.get("profile")
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    assert mcp_status(lab, dest.read_text().strip()) == 200
    assert "Revoked: %s; already revoked: none" % victim["id"] in " ".join(proc.stdout.split())
    # issue 24: said before the first change, and both changes are in the gateway's audit log under that identity
    said = " ".join(proc.stdout.split())
    assert "This run acts as break-glass account %s for operator Иван Петров (AWX launcher (awx_user_name))" % BREAK_GLASS in said
    assert said.index("This run acts as break-glass account") < said.index("TASK [Step 2: Revoke")
    actor = {"breakGlass": BREAK_GLASS, "operator": "Иван Петров"}
    changes = audit_events(lab, "token.revoked", "token.issued", "token.updated", since=audit_start)
    assert [(e["event"], e["tokenId"], e["actor"]) for e in changes] == [
        ("token.revoked", victim["id"], actor), ("token.issued", new["id"], actor)]
    assert_no_secret(lab, run_dir, proc, dest.read_text().strip())


# An AWX survey left blank passes "" (or null, by AWX version) instead of leaving the variable out.
@pytest.mark.parametrize("blank", [[], ["-e", '{"token_prefix": "", "secret_dest": null}']], ids=["not-given", "blank"])
def test_inc002_check_mode_changes_nothing(lab, run_dir, blank):
    spike = fault(lab, "auth-spike")
    before = all_tokens(lab)
    tokens_json = Path(lab.data_dir, "tokens.json").read_bytes()
    proc = run_playbook(lab, run_dir, INC002, "--check", *blank)
    ok(proc)
    assert all_tokens(lab) == before
    assert Path(lab.data_dir, "tokens.json").read_bytes() == tokens_json
    # the secret's default place is under the runs dir the incident report uses too
    assert "Check mode: would issue a new token for ci-bot, secret to %s/secrets/ci-bot-" % os.environ["MCPOPS_RUNS_DIR"] \
        in " ".join(proc.stdout.split())
    assert "Identified prefix %s" % spike["token_prefix"] in proc.stdout
    assert_no_secret(lab, run_dir, proc)


@pytest.mark.parametrize("prefix, words", [
    ("../x", ["Bad input", "token_prefix must match"]),
    ("unknown", ["The gateway has no token with prefix", "Nothing was changed"]),
])
def test_inc002_bad_prefix_is_refused_and_nothing_changes(lab, run_dir, tmp_path, prefix, words):
    spike = fault(lab, "auth-spike")
    if prefix == "unknown":
        prefix = spike["unknown_prefix"]  # 20 auth.failed, but a secret the gateway never issued
    before = all_tokens(lab)
    dest = tmp_path / "never.token"
    proc = run_playbook(lab, run_dir, INC002, "-e", "token_prefix=%s" % prefix, "-e", "secret_dest=%s" % dest)
    refused(proc, "INC-002 failed on lab-gateway", "No token was revoked", "No new token was issued", *words)
    assert all_tokens(lab) == before
    assert not dest.exists()
    assert_no_secret(lab, run_dir, proc)


def restart_with(lab, line):
    """The lab gateway restarted with one more KEY=VALUE in the env file it reads at start; returns the
    Date header of its /healthz (None when it sends none)."""
    with open(lab.env_file, "a") as env:
        env.write(line + "\n")
    lab.break_("stop")
    lab.up()
    host, port = lab.listen.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", "/healthz")
        resp = conn.getresponse()
        resp.read()
        return resp.getheader("Date")
    finally:
        conn.close()


def restart_with_clock_offset(lab, seconds):
    """As from a gateway host whose clock drifted by `seconds`."""
    sent = email.utils.parsedate_to_datetime(restart_with(lab, "ONEC_MCP_LAB_CLOCK_OFFSET_SECONDS=%d" % seconds))
    assert abs(sent.timestamp() - time.time() - seconds) < 30  # the restarted gateway does run off by `seconds`


def test_inc002_without_a_date_header_reads_the_hosts_clock(lab, run_dir):
    assert restart_with(lab, "ONEC_MCP_LAB_NO_DATE_HEADER=1") is None
    victim = next(t for t in all_tokens(lab).values() if t["revokedAt"] is None and t["prefix"] != lab.mcp_token()[:8])
    proc = run_playbook(lab, run_dir, INC002, "--check", "-e", "token_prefix=%s" % victim["prefix"], "-v")
    ok(proc)
    # the fallback ran (date -u +%s on the gateway host, this machine) and found no skew
    assert re.search(r"TASK \[Step 4: Check clock skew: the host's date \+%s when the gateway sends no Date header\]"
                     r"[^\n]*\n(ok|changed): \[lab-gateway\]", proc.stdout), proc.stdout[-3000:]
    assert int(re.search(r"Clock skew (\d+) s \(limit 30 s\)", proc.stdout).group(1)) <= 5
    assert_no_secret(lab, run_dir, proc)


def test_inc002_clock_skew_over_the_limit_fails_after_the_token_steps(lab, run_dir, tmp_path):
    restart_with_clock_offset(lab, -300)
    before = all_tokens(lab)
    ops_prefix = lab.mcp_token()[:8]
    victim = next(t for t in before.values()
                  if t["revokedAt"] is None and t["expiresAt"] is None and not t["blocked"] and t["prefix"] != ops_prefix)

    measured = run_playbook(lab, run_dir, INC002, "--check", "-e", "token_prefix=%s" % victim["prefix"],
                            "-e", "max_clock_skew=600")
    ok(measured)
    skew = int(re.search(r"Clock skew (\d+) s \(limit 600 s\)", measured.stdout).group(1))
    assert 270 <= skew <= 330
    assert all_tokens(lab) == before

    dest = tmp_path / "victim.token"
    proc = run_playbook(lab, run_dir, INC002, "-e", "token_prefix=%s" % victim["prefix"], "-e", "secret_dest=%s" % dest)
    refused(proc, "INC-002 failed on lab-gateway", "Step 4: Check clock skew", "is over 30 s", "fix NTP",
            "Revoked so far: %s" % victim["id"], "A new token")
    added, changed = diff(before, all_tokens(lab))
    assert list(changed) == [victim["id"]] and len(added) == 1  # the token steps before the check stand
    assert mcp_status(lab, dest.read_text().strip()) == 200
    assert_no_secret(lab, run_dir, measured, dest.read_text().strip())
    assert_no_secret(lab, run_dir, proc, dest.read_text().strip())


# -- INC-005 ---------------------------------------------------------------------------------


def test_inc005_from_rate_storm_adjusts_then_blocks_only_that_token(lab, run_dir):
    storm = fault(lab, "rate-storm")
    before = all_tokens(lab)
    audit_start = audit_size(lab)

    proc = run_playbook(lab, run_dir, INC005, "-e", "rate_limit=120", "--check")
    ok(proc)
    assert "Check mode: would change" in proc.stdout and "rateLimit 5 -> 120" in proc.stdout
    assert all_tokens(lab) == before

    proc = run_playbook(lab, run_dir, INC005, "-e", "rate_limit=120")
    ok(proc)
    assert "Actor: token %s prefix %s (client ci-bot, org org_acme): 35 of" % (
        storm["token_id"], storm["token_prefix"]) in proc.stdout
    assert "Changed:" in proc.stdout
    middle = all_tokens(lab)
    added, changed = diff(before, middle)
    assert added == [] and list(changed) == [storm["token_id"]]
    was, now = changed[storm["token_id"]]
    assert now["rateLimit"] == {"requestsPerMinute": 120}
    assert dict(now, rateLimit=was["rateLimit"]) == was

    proc = run_playbook(lab, run_dir, INC005, "-e", "action=block")
    ok(proc)
    assert "blocked False -> True" in proc.stdout
    added, changed = diff(middle, all_tokens(lab))
    assert added == [] and list(changed) == [storm["token_id"]]
    was, now = changed[storm["token_id"]]
    assert now["blocked"] is True and dict(now, blocked=False) == was
    # issue 24: the two PATCHes (not the check run's reads) are audited as the break-glass account and the controller's
    # user, the operator when nobody names one
    updated = audit_events(lab, "token.revoked", "token.issued", "token.updated", since=audit_start)
    assert [(e["tokenId"], e["changed"], e["actor"]) for e in updated] == [
        (storm["token_id"], ["rateLimit"], {"breakGlass": BREAK_GLASS, "operator": controller_user()}),
        (storm["token_id"], ["blocked"], {"breakGlass": BREAK_GLASS, "operator": controller_user()})]
    assert "for operator %s (controller user (" % controller_user() in proc.stdout
    assert_no_secret(lab, run_dir, proc)


@pytest.mark.parametrize("args, words", [
    (["-e", "token_prefix=../x", "-e", "rate_limit=10"], ["Bad input"]),
    (["-e", "action=delete"], ["Bad input", "action must be rate_limit or block"]),
    ([], ["Bad input", "needs -e rate_limit"]),
    (["-e", "token_prefix=mcp_zzzz", "-e", "rate_limit=10"], ["0 tokens with prefix mcp_zzzz"]),
])
def test_inc005_bad_input_is_refused_and_nothing_changes(lab, run_dir, args, words):
    fault(lab, "rate-storm")
    before = all_tokens(lab)
    proc = run_playbook(lab, run_dir, INC005, *args)
    refused(proc, "INC-005 failed on lab-gateway", "Nothing was changed", *words)
    assert all_tokens(lab) == before
    assert_no_secret(lab, run_dir, proc)


# -- issue 23: every extra var checked as a whole value before the first revoke or change ----------------------------

@pytest.fixture(scope="module")
def spiked_lab(tmp_path_factory):
    """One lab with the auth-spike and rate-storm faults, for the refusals: none may change a token."""
    lab = LocalLab(tmp_path_factory.mktemp("inc002-005") / "lab", listen="127.0.0.1:%d" % free_port())
    lab.up()
    try:
        facts = {"auth-spike": fault(lab, "auth-spike"), "rate-storm": fault(lab, "rate-storm")}
        yield lab, facts
    finally:
        lab.down()


def near_misses(value):
    """What an operator may paste instead of value: a trailing newline, CRLF, a trailing space, a tab in front."""
    return [value + "\n", value + "\r\n", value + " ", "\t" + value]


@pytest.mark.parametrize("make_vars", [
    *[(lambda facts, v=v: {"token_prefix": v.replace("PFX", facts["auth-spike"]["token_prefix"])}) for v in near_misses("PFX")],
    lambda facts: {"window": "1h\n"},
    lambda facts: {"max_clock_skew": "30\n"},
    lambda facts: {"new_token_scopes": ["tools:read\n"]},
    lambda facts: {"new_token_scopes": "tools:read"},
    lambda facts: {"new_token_rate_limit": "60 "},
    lambda facts: {"new_token_expires_in": "3600\n"},
], ids=["prefix-newline", "prefix-crlf", "prefix-space", "prefix-tab", "window-newline", "skew-newline",
        "scope-newline", "scopes-not-a-list", "rate-space", "expires-newline"])
def test_inc002_near_misses_are_refused_before_the_revoke(spiked_lab, tmp_path, make_vars):
    lab, facts = spiked_lab
    before = all_tokens(lab)
    extra = dict(make_vars(facts), secret_dest=str(tmp_path / "never.token"))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    proc = run_playbook(lab, run_dir, INC002, "-e", json.dumps(extra))
    refused(proc, "INC-002 failed on lab-gateway", "Bad input", "No token was revoked", "No new token was issued",
            "Step 0: Check the extra vars")
    assert "Step 1: Identify token" not in proc.stdout  # step 0 refused it: not even the audit was read
    assert all_tokens(lab) == before
    assert not (tmp_path / "never.token").exists()
    assert_no_secret(lab, run_dir, proc)


def test_inc002_a_secret_dest_in_a_missing_directory_is_refused_before_the_revoke(spiked_lab, tmp_path):
    """mcp_token checks secret_dest itself, but only in step 3, after step 2 revoked the client's token."""
    lab, facts = spiked_lab
    before = all_tokens(lab)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    dest = tmp_path / "no-such-dir" / "new.token"
    proc = run_playbook(lab, run_dir, INC002, "-e", "token_prefix=" + facts["auth-spike"]["token_prefix"],
                        "-e", "secret_dest=" + str(dest))
    refused(proc, "INC-002 failed on lab-gateway", "does not exist on the controller", "No token was revoked")
    assert "Step 1: Identify token" not in proc.stdout
    assert all_tokens(lab) == before
    assert not dest.parent.exists()


@pytest.mark.parametrize("extra", [
    *[{"rate_limit": v} for v in near_misses("10")],
    {"rate_limit": "10", "window": "1h\n"},
    {"rate_limit": "10", "window": " 1h"},
    {"action": "block\n"},
    {"rate_limit": "\u0661\u0660"},  # Arabic-Indic digits: int() would read 10
], ids=ascii)
def test_inc005_near_misses_are_refused_before_any_change(spiked_lab, tmp_path, extra):
    lab, facts = spiked_lab
    before = all_tokens(lab)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    extra = dict(extra, token_prefix=facts["rate-storm"]["token_prefix"])
    proc = run_playbook(lab, run_dir, INC005, "-e", json.dumps(extra))
    refused(proc, "INC-005 failed on lab-gateway", "Bad input", "Nothing was changed")
    assert "Step 1: Identify actor" not in proc.stdout  # step 0 refused it: not even the audit was read
    assert all_tokens(lab) == before
    assert_no_secret(lab, run_dir, proc)


def test_inc005_a_prefix_with_a_trailing_newline_is_refused(spiked_lab, tmp_path):
    lab, facts = spiked_lab
    before = all_tokens(lab)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    proc = run_playbook(lab, run_dir, INC005, "-e", json.dumps({"rate_limit": 10,
                                                                "token_prefix": facts["rate-storm"]["token_prefix"] + "\n"}))
    refused(proc, "INC-005 failed on lab-gateway", "Bad input", "token_prefix must match")
    assert all_tokens(lab) == before


def test_inc002_does_not_revoke_a_token_it_could_not_issue_again(spiked_lab, tmp_path):
    """The gateway takes any orgId; mcp_token issues only names token_revoke can select. A token of "org acme"
    (a space) would be revoked by step 2 and step 3 would refuse its successor: refused before step 2 instead."""
    lab, _ = spiked_lab
    status, body = http_json(lab.api_url + "/api/mcp-tokens", method="POST", token=lab.admin_token(),
                             body={"clientId": "ci-bot", "orgId": "org acme", "scopes": ["tools:read"]})
    assert status == 201, body
    before = all_tokens(lab)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    proc = run_playbook(lab, run_dir, INC002, "-e", "token_prefix=" + body["token"]["prefix"],
                        "-e", "secret_dest=" + str(tmp_path / "never.token"))
    refused(proc, "INC-002 failed on lab-gateway", "No token was revoked", "step 3 could not issue a new token for it")
    assert '"org acme"' in proc.stdout
    assert "Step 2: Revoke" not in proc.stdout
    assert all_tokens(lab) == before
    assert body["secret"] not in proc.stdout


# -- issue 24: no identity, no change -----------------------------------------------------------------------------

NO_ACCOUNT = ("-e", json.dumps({"mcpops_break_glass_account": ""}))  # blank, as an inventory's value would be overridden


@pytest.mark.parametrize("playbook, args, identity, words", [
    (INC002, ["-e", "token_prefix=PFX-auth-spike"], NO_ACCOUNT,
     ["INC-002 failed on lab-gateway", "No token was revoked", "no break-glass account is configured"]),
    (INC005, ["-e", "token_prefix=PFX-rate-storm", "-e", "rate_limit=10"], NO_ACCOUNT,
     ["INC-005 failed on lab-gateway", "no break-glass account is configured"]),
    (BACKUP, [], NO_ACCOUNT, ["Scheduled backup failed on lab-gateway", "no break-glass account is configured"]),
    (INC005, ["-e", "token_prefix=PFX-rate-storm", "-e", "rate_limit=10"],
     ("-e", json.dumps({"mcpops_break_glass_account": "bg-lab\r\nX-Injected: 1"})),
     ["INC-005 failed on lab-gateway", "Bad input: mcpops_break_glass_account", "no CR, LF or tab"]),
    (INC002, ["-e", "token_prefix=PFX-auth-spike"], IDENTITY + ("-e", json.dumps({"mcpops_operator": "alice\n"})),
     ["INC-002 failed on lab-gateway", "No token was revoked", "Bad input", '"alice\\n"']),
], ids=["inc002-none", "inc005-none", "backup-none", "inc005-account-crlf", "inc002-operator-newline"])
def test_a_run_without_a_good_identity_is_refused_before_any_change(spiked_lab, tmp_path, playbook, args, identity, words):
    lab, facts = spiked_lab
    args = [a.replace("PFX-auth-spike", facts["auth-spike"]["token_prefix"]).replace(
        "PFX-rate-storm", facts["rate-storm"]["token_prefix"]) for a in args]
    before = all_tokens(lab)
    audit_before = Path(lab.data_dir, "audit.jsonl").read_bytes()
    backups_before = sorted(os.listdir(Path(lab.data_dir, "backups")))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    proc = run_playbook(lab, run_dir, playbook, *args, identity=identity)
    assert proc.returncode == 2, proc.stdout[-5000:] + proc.stderr[-2000:]
    out = " ".join(proc.stdout.split())
    for word in words + ["Nothing was changed"]:
        assert word in out, proc.stdout[-3000:]
    assert "Step 1:" not in proc.stdout  # refused right after the input checks: not even the audit was read
    assert all_tokens(lab) == before
    assert Path(lab.data_dir, "audit.jsonl").read_bytes() == audit_before  # the gateway saw no change at all
    assert sorted(os.listdir(Path(lab.data_dir, "backups"))) == backups_before
    assert_no_secret(lab, run_dir, proc)


def test_an_allowed_run_without_a_break_glass_account_says_so_and_is_audited_as_such(spiked_lab, tmp_path):
    lab, facts = spiked_lab
    storm = facts["rate-storm"]
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    audit_start = audit_size(lab)
    proc = run_playbook(lab, run_dir, INC005, "-e", "token_prefix=" + storm["token_prefix"], "-e", "rate_limit=77",
                        "-e", "mcpops_allow_no_break_glass=true", identity=NO_ACCOUNT)
    ok(proc)
    out = " ".join(proc.stdout.split())
    assert "NO BREAK-GLASS ACCOUNT: this run changes the gateway without one (mcpops_allow_no_break_glass=true)" in out
    assert out.index("NO BREAK-GLASS ACCOUNT") < out.index("TASK [Step 2: Adjust token rateLimit")
    updated = audit_events(lab, "token.updated", since=audit_start)
    assert [(e["tokenId"], e["actor"]) for e in updated] == [
        (storm["token_id"], {"breakGlass": None, "operator": controller_user()})]
    assert all_tokens(lab)[storm["token_id"]]["rateLimit"] == {"requestsPerMinute": 77}


def test_the_scheduled_backup_is_audited_with_the_break_glass_account(spiked_lab, tmp_path):
    lab, _ = spiked_lab
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    audit_start = audit_size(lab)
    proc = run_playbook(lab, run_dir, BACKUP, "-e", "mcpops_operator=cron@ops-host")
    ok(proc)
    backup_id = re.search(r"Backup taken: ([0-9A-Za-z-]+)", proc.stdout).group(1)
    created = audit_events(lab, "backup.created", since=audit_start)
    assert [(e["backupId"], e["actor"]) for e in created] == [(backup_id, {"breakGlass": BREAK_GLASS, "operator": "cron@ops-host"})]
