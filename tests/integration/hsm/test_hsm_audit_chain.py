"""The signed audit chain of lego-mcp end to end on real components: a SoftHSM2 token (PINs in 0600 files), the lab
HSM service over HTTPS with the test CA signing through PKCS#11, lego-mcp on a private PostgreSQL writing one signed
record per equipment status change, and audit_chain_verify run through Ansible. Faults: the HSM stopped, slow, its
token removed; with and without HSM_FALLBACK_ENABLED. No PIN or password in any log or output."""

import base64
import hashlib
import os
import secrets
import shutil
import socket
import urllib.error

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from hsm_lab import call, init_token, start_hsm, start_lego
from loopback import free_port
from mcpops.lab.fixtures.ca import TestCA
from mcpops.lab.fixtures.pg_cluster import PgCluster
from mcpops.lab.services.faults import clear_faults, write_faults
from pg_testbed import run_module

pytestmark = pytest.mark.skipif(not shutil.which("softhsm2-util"), reason="softhsm2 is not installed "
                                                                         "(scripts/bootstrap installs it as root)")

CANARY = "canary-" + secrets.token_hex(6)
DB_PASSWORD = CANARY + "-lego"
MODULE = "mcpops.runbooks.audit_chain_verify"


class Lab:
    pass


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("hsm")
    lab = Lab()
    lab.root = root
    lab.outputs = []
    lab.token_dir = root / "token"
    lab.outputs.append(init_token(lab.token_dir))
    lab.pins = [(lab.token_dir / name).read_text().strip() for name in ("so.pin", "user.pin")]
    ca = TestCA()
    lab.ca_file = ca.write_root(root / "ca.crt")
    lab.tls = ca.issue(["127.0.0.1", "localhost"]).write(root / "hsm.crt", root / "hsm.key")
    lab.hsm_port = free_port()
    lab.hsm_url = "https://127.0.0.1:%d" % lab.hsm_port
    lab.started = []
    lab.hsm = lab.start_hsm = None
    cluster = PgCluster(free_port(), max_connections=50).start()
    lab.pg = cluster
    try:
        with cluster.admin() as admin:
            admin.execute("CREATE ROLE lego LOGIN PASSWORD '%s'" % DB_PASSWORD)
            for db in ("lego_mcp", "lego_fb"):
                admin.execute("CREATE DATABASE %s OWNER lego" % db)

        def hsm_up(tag):
            lab.hsm = start_hsm(lab.token_dir, lab.tls[0], lab.tls[1], lab.hsm_port, root, tag)
            lab.started.append(lab.hsm)
            return lab.hsm

        lab.start_hsm = hsm_up
        hsm_up("hsm-1")
        url = "postgresql://lego:%s@127.0.0.1:%d/%%s" % (DB_PASSWORD, cluster.port)
        lab.lego = start_lego(url % "lego_mcp", lab.hsm_url, lab.ca_file, root, "lego")
        lab.lego_fb = start_lego(url % "lego_fb", lab.hsm_url, lab.ca_file, root, "lego-fb", fallback=True)
        lab.started += [lab.lego, lab.lego_fb]
        yield lab
    finally:
        codes = [p.stop() for p in lab.started]
        cluster.stop()
    assert all(code == 0 for code in codes), codes


def other_ca(lab):
    """A CA file of another test CA (what a client that trusts the wrong CA has)."""
    path = lab.root / "other-ca.crt"
    if not path.exists():
        TestCA(with_intermediate=False).write_root(path)
    return str(path)


def lego_url(proc, path):
    return "http://127.0.0.1:%d%s" % (proc.port, path)


def set_status(lab, proc, equipment_id, status):
    return call(lego_url(proc, "/api/v8/equipment/%s/status" % equipment_id), "POST",
                {"status": status, "actor": "shift-lead"})


def verify(lab, run_dir, db, **args):
    full = dict(login_host="127.0.0.1", login_port=lab.pg.port, login_user="lego", login_db=db,
                login_password="{{ pg_password }}", **args)
    result, output = run_module(run_dir, MODULE, full, DB_PASSWORD)
    lab.outputs.append(output)
    return result


@pytest.fixture
def run_dir(tmp_path):
    path = tmp_path / "run"
    path.mkdir()
    return path


def audit_rows(lab, db):
    with lab.pg.admin(dbname=db) as admin:
        return admin.execute("SELECT id, signed_by FROM audit_log ORDER BY id").fetchall()


def test_the_hsm_service_signs_with_the_token_key_over_tls(lab):
    status, body = call(lab.hsm_url + "/health", ca_file=lab.ca_file)
    assert (status, body["token"], body["key"]) == (200, "present", "usable")
    digest = hashlib.sha256(b"audit record").digest()
    status, body = call(lab.hsm_url + "/sign", "POST", {"digest": digest.hex()}, ca_file=lab.ca_file)
    assert status == 200
    public = serialization.load_pem_public_key((lab.token_dir / "public.pem").read_bytes())
    public.verify(base64.b64decode(body["signature"]), digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    status, served = call(lab.hsm_url + "/public-key", ca_file=lab.ca_file)
    assert served == (lab.token_dir / "public.pem").read_text()
    status, body = call(lab.hsm_url + "/sign", "POST", {"digest": "abc"}, ca_file=lab.ca_file)
    assert (status, body["error"]) == (400, "bad_digest")
    with socket.create_connection(("127.0.0.1", lab.hsm_port)):  # a client that never starts TLS ...
        status, body = call(lab.hsm_url + "/health", ca_file=lab.ca_file, timeout=10)  # ... stalls nobody else
        assert status == 200
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):  # another CA is refused
        call(lab.hsm_url + "/health", ca_file=other_ca(lab))


def test_lego_writes_a_signed_chain_that_the_module_verifies(lab, run_dir):
    for equipment_id, status in (("PRN-001", "maintenance"), ("CNC-001", "idle"), ("PRN-001", "operational")):
        code, body = set_status(lab, lab.lego, equipment_id, status)
        assert (code, body["signed_by"]) == (200, "hsm"), body
    status, health = call(lego_url(lab.lego, "/health"))
    assert (status, health["hsm"], health["signing"]) == (200, "ok", "hsm")
    result = verify(lab, run_dir, "lego_mcp", hsm_public_key_url=lab.hsm_url + "/public-key",
                    hsm_ca_cert=lab.ca_file)
    assert not result.get("failed"), result
    assert (result["ok"], result["records"], result["fallback"]["count"]) == (True, 3, 0)
    assert result["head"]["id"] == 3


def test_a_tampered_row_and_a_removed_row_are_found(lab, run_dir):
    with lab.pg.admin(dbname="lego_mcp") as admin:
        for copy in ("tampered", "gapped"):
            admin.execute("DROP TABLE IF EXISTS %s" % copy)
            admin.execute("CREATE TABLE %s AS SELECT * FROM audit_log" % copy)
            admin.execute("ALTER TABLE %s OWNER TO lego" % copy)
        admin.execute("UPDATE tampered SET payload = replace(payload, 'maintenance', 'operational') WHERE id = 1")
        admin.execute("DELETE FROM gapped WHERE id = 2")
    result = verify(lab, run_dir, "lego_mcp", table="tampered", hsm_public_key=str(lab.token_dir / "public.pem"))
    assert result["failed"] and "BROKEN at record 1" in result["msg"]
    assert (result["first_broken"]["id"], result["first_broken"]["problem"]) == (1, "hash_mismatch")
    result = verify(lab, run_dir, "lego_mcp", table="gapped", fail_on_broken=False,
                    hsm_public_key=str(lab.token_dir / "public.pem"))
    assert not result.get("failed")
    assert (result["ok"], result["first_broken"]["id"], result["first_broken"]["problem"]) == (False, 3,
                                                                                                "broken_link")


def test_hsm_down_without_fallback_refuses_the_write_and_health_says_why(lab):
    before = audit_rows(lab, "lego_mcp")
    assert lab.hsm.stop() == 0
    status, health = call(lego_url(lab.lego, "/health"))
    assert status == 503 and "HSM" in health["hsm"] and health["signing"] == "none"
    code, body = set_status(lab, lab.lego, "LSR-001", "offline")
    assert (code, body["error"]) == (503, "hsm_unavailable")
    assert audit_rows(lab, "lego_mcp") == before
    with lab.pg.admin(dbname="lego_mcp") as admin:  # the change and its record commit together, or neither
        assert admin.execute("SELECT status FROM equipment WHERE equipment_id = 'LSR-001'").fetchone()[0] == "idle"
    lab.start_hsm("hsm-2")
    code, body = set_status(lab, lab.lego, "LSR-001", "offline")
    assert (code, body["signed_by"]) == (200, "hsm")


def test_a_removed_token_fails_signing_until_it_is_back(lab):
    tokens = lab.token_dir / "tokens"
    moved = lab.token_dir / "tokens.removed"
    os.rename(tokens, moved)
    try:
        status, body = call(lab.hsm_url + "/health", ca_file=lab.ca_file)
        assert (status, body["token"], body["key"]) == (503, "missing", "unusable")
        code, body = set_status(lab, lab.lego, "ARM-001", "maintenance")
        assert (code, body["error"]) == (503, "hsm_unavailable")
    finally:
        os.rename(moved, tokens)
    status, body = call(lab.hsm_url + "/health", ca_file=lab.ca_file)
    assert (status, body["token"], body["key"]) == (200, "present", "usable")


def test_with_fallback_a_slow_hsm_gives_marked_records_that_the_module_lists(lab, run_dir):
    assert set_status(lab, lab.lego_fb, "PRN-002", "operational")[1]["signed_by"] == "hsm"
    write_faults(os.path.join(str(lab.root), "hsm-state"), slow_ms=2500)  # over lego's 1 s HSM timeout
    try:
        for status in ("idle", "maintenance"):
            code, body = set_status(lab, lab.lego_fb, "PRN-002", status)
            assert (code, body["signed_by"]) == (200, "software-fallback"), body
        status, health = call(lego_url(lab.lego_fb, "/health"))
        assert (status, health["signing"]) == (200, "software-fallback")
    finally:
        clear_faults(os.path.join(str(lab.root), "hsm-state"))
    assert set_status(lab, lab.lego_fb, "PRN-002", "operational")[1]["signed_by"] == "hsm"
    assert "SOFTWARE FALLBACK" in lab.lego_fb.stdout()
    fallback_key = os.path.join(str(lab.root), "lego-fb-state", "audit-fallback-key.pub.pem")
    result = verify(lab, run_dir, "lego_fb", hsm_public_key=str(lab.token_dir / "public.pem"),
                    fallback_public_key=fallback_key)
    assert not result.get("failed"), result
    assert (result["ok"], result["records"], result["fallback"]["ids"]) == (True, 4, [2, 3])
    assert result["fallback"]["first_ts"] <= result["fallback"]["last_ts"]
    assert "2 records signed by the software fallback" in result["msg"]
    # the fallback key is not the HSM's: without it, the fallback records cannot be vouched for
    result = verify(lab, run_dir, "lego_fb", hsm_public_key=str(lab.token_dir / "public.pem"), fail_on_broken=False)
    assert [p["id"] for p in result["problems"]] == [2, 3]


def test_no_pin_or_password_in_any_log_or_output(lab):
    secrets_seen = lab.pins + [DB_PASSWORD]
    texts = list(lab.outputs)
    for dirpath, _dirs, names in os.walk(str(lab.root)):
        for name in names:
            path = os.path.join(dirpath, name)
            if os.path.dirname(path) == str(lab.token_dir) and name.endswith(".pin"):
                continue  # the PIN files themselves
            with open(path, "rb") as handle:
                texts.append(handle.read().decode("utf-8", "replace"))
    assert len(texts) > 8
    for text in texts:
        for secret in secrets_seen:
            assert secret not in text
    for proc in lab.started:
        if proc.returncode is None:
            with open("/proc/%d/cmdline" % proc.proc.pid, "rb") as handle:
                cmdline = handle.read().decode("utf-8", "replace")
            assert not any(pin in cmdline for pin in lab.pins)
