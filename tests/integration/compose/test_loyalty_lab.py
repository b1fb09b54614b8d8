"""The Loyalty API's compose lab (issue 17) on the session's private engine: the project in the seed's shape comes up
healthy, the worker delivers the outbox to the merchant webhook stand-in and notifies the Telegram stand-in, the
outbox pauses, maintenance and read-only modes behave, and each fault shows its symptom through the API or compose
and its repair brings the lab back. One project for the whole session (the `loyalty_lab` fixture): a test that
breaks it repairs it, and every test starts by checking the lab is ready."""

import json
import uuid

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mcpops.lab.compose import loyalty_faults, loyalty_project
from mcpops.lab.compose.loyalty_lab import LoyaltyLabError, wait_for
from mcpops.lab.services.loyalty_migrations import MIGRATIONS

SYMPTOM_TIMEOUT = 60  # seconds for a fault's symptom (a container restart, retries) on a loaded 2-core machine


def samples(lab, name):
    """{frozenset(labels.items()): value} of the metric family `name` on /metrics."""
    text = lab.metrics()
    assert text is not None, "the API did not answer /metrics with its token"
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[frozenset(sample.labels.items())] = sample.value
    return found


def value(lab, name, **labels):
    return samples(lab, name).get(frozenset(labels.items()), 0.0)


def customer():
    return "cust-" + uuid.uuid4().hex[:10]


def earn(lab, who, points=10):
    return lab.call("POST", "/api/v1/loyalty/earn", {"customerId": who, "points": points})


def received_by_merchant(lab, who):
    status, body = lab.standin("merchant", "/_lab/received")
    assert status == 200, body
    # triage's provider probe posts a ping with empty data: only this customer's events count
    return [e for e in body["events"] if (e.get("data") or {}).get("customerId") == who]


def telegram_messages(lab, who):
    status, body = lab.standin("telegram", "/_lab/messages")
    assert status == 200, body
    return [m for m in body["messages"] if who in m["text"]]


@pytest.fixture
def lab(loyalty_lab):
    """The session's lab, ready (a test before may have left it broken: then this says so)."""
    loyalty_lab.wait_ready(timeout=SYMPTOM_TIMEOUT)
    return loyalty_lab


def test_project_comes_up_healthy(lab):
    states = lab.states()
    assert {s: states[s][0] for s in loyalty_project.SERVICES} == {s: "running" for s in loyalty_project.SERVICES}
    assert lab.get("/ready") == (200, {"status": "ok", "checks": {"database": "ok", "redis": "ok"}})
    status, health = lab.get("/health")
    assert (status, health["version"], health["maintenance"]) == (200, "1.4.0", False)
    assert lab.get("/metrics")[0] == 401  # the token is wanted
    assert value(lab, "loyalty_outbox_dead_total") == 0
    code, report = lab.migrate("status")
    assert (code, report["up_to_date"], report["pending"]) == (0, True, [])
    assert report["applied"] == [name for name, _ in MIGRATIONS]
    for release in loyalty_project.RELEASES:  # the previous image is there for a rollback
        label = lab.docker.run("image", "inspect", "--format", '{{index .Config.Labels "org.mcpops.release"}}',
                               loyalty_project.image(release)).stdout.strip()
        assert label == release
    inventory = json.loads(lab.inventory_path.read_text())["all"]["hosts"]["loyalty-compose"]
    assert inventory["ansible_connection"] == "local"
    assert inventory["gateway_compose_project_src"] == str(lab.dir)
    assert inventory["gateway_compose_env_files"] == [".env.production"]
    assert inventory["gateway_compose_files"] == ["docker-compose.production.yml"]
    assert inventory["loyalty_metrics_token_file"] == str(lab.metrics_token_file)
    text = lab.inventory_path.read_text()
    for name in ("metrics_token", "db_password", "pg_superuser_password", "telegram_bot_token"):
        assert lab.secret(name) not in text  # secrets by file lookup only
    assert "postgresql://" not in lab.logs("api", 200)  # nor in the logs (the URL carries the password)


def test_worker_delivers_the_outbox_and_notifies_telegram(lab):
    who = customer()
    ok_before = value(lab, "external_requests_total", provider="merchant_webhook", result="ok", status="200")
    assert earn(lab, who, 25)[0] == 200
    events = wait_for(lambda: received_by_merchant(lab, who), "the merchant stand-in got no event", SYMPTOM_TIMEOUT)
    assert events[0]["type"] == "loyalty.earn" and events[0]["data"]["points"] == 25
    messages = wait_for(lambda: telegram_messages(lab, who), "no Telegram message", SYMPTOM_TIMEOUT)
    assert messages[0]["chat_id"] == "-1001234567890"
    assert value(lab, "external_requests_total", provider="merchant_webhook", result="ok", status="200") > ok_before
    assert value(lab, "external_requests_total", provider="telegram", result="ok", status="200") >= 1


def test_outbox_pause_holds_delivery_until_resumed(lab):
    assert lab.outbox("pause")["paused"] is True
    try:
        wait_for(lambda: "outbox delivery paused" in lab.logs("worker", 20), "the worker did not see the pause",
                 SYMPTOM_TIMEOUT)
        who = customer()
        assert earn(lab, who)[0] == 200
        with lab.db() as conn:
            status = conn.execute("SELECT status FROM outbox WHERE payload->>'customerId' = %s", (who,)).fetchone()[0]
        assert status == "pending" and value(lab, "loyalty_outbox_pending") >= 1
        assert lab.outbox("status")["paused_since"]  # how long it has been paused: the runbook's guard reads it
    finally:
        assert lab.outbox("resume")["paused"] is False
    wait_for(lambda: received_by_merchant(lab, who), "the event was not delivered after resume", SYMPTOM_TIMEOUT)


def test_maintenance_mode_refuses_all_but_health_and_metrics(lab):
    lab.break_("maintenance")
    try:
        lab.wait_ready()
        status, body = earn(lab, customer())
        assert (status, body["error"]) == (503, "maintenance")
        assert lab.get("/api/v1/loyalty/balance/nobody")[0] == 503
        assert lab.get("/health")[1]["maintenance"] is True
        assert lab.metrics() is not None
    finally:
        lab.repair("maintenance")
    assert earn(lab, customer())[0] == 200


def test_read_only_mode_allows_only_reads(lab):
    who = customer()
    assert earn(lab, who)[0] == 200
    lab.break_("read-only")
    try:
        lab.wait_ready()
        status, body = earn(lab, who)
        assert (status, body["error"]) == (503, "read_only")
        assert lab.get(f"/api/v1/loyalty/balance/{who}")[:1] == (200,)
    finally:
        lab.repair("read-only")
    assert earn(lab, who)[0] == 200


def api_down_with(lab, words):
    """The api container restarting (or exited) with a non-zero code and its log naming `words`."""
    def crashed():
        state, code = lab.states()["api"]
        return state in ("restarting", "exited") and code not in (0, None) and words in lab.logs("api", 40)

    wait_for(crashed, f"the api did not crash with {words!r}", SYMPTOM_TIMEOUT)
    assert lab.get("/live")[0] is None  # nothing answers


def test_crash_at_start_on_a_bad_env_and_its_repair(lab):
    lab.break_("crash-at-start")
    try:
        api_down_with(lab, "REDIS_URL")
    finally:
        lab.repair("crash-at-start")
    assert lab.get("/ready")[0] == 200


def test_bad_release_and_rollback_to_the_previous_image(lab):
    lab.break_("bad-release")
    try:
        assert lab.read_env()["IMAGE_TAG"] == loyalty_project.BAD_RELEASE
        api_down_with(lab, "ModuleNotFoundError")
    finally:
        lab.repair("bad-release")
    assert lab.get("/health")[1]["version"] == "1.4.0"
    env = lab.read_env()
    assert (env["IMAGE_TAG"], env["IMAGE_TAG_PREVIOUS"]) == ("1.4.0", "1.3.0")
    assert lab.docker.run("inspect", "--format", "{{.Config.Image}}", "loyalty-api-1").stdout.strip() == \
        loyalty_project.image("1.4.0")


def test_5xx_storm_and_its_repair(lab):
    before = value(lab, "http_requests_total", method="POST", path="/api/v1/loyalty/earn", status="500")
    lab.break_("5xx-storm")
    try:
        for _ in range(3):
            assert earn(lab, customer())[0] == 500
        assert value(lab, "http_requests_total", method="POST", path="/api/v1/loyalty/earn",
                     status="500") == before + 3
    finally:
        lab.repair("5xx-storm")
    assert earn(lab, customer())[0] == 200


def test_slow_queries_and_their_repair(lab):
    before = value(lab, "http_slow_requests_total", method="POST", path="/api/v1/loyalty/earn")
    lab.break_("slow-queries")
    try:
        assert earn(lab, customer())[0] == 200
        assert value(lab, "http_slow_requests_total", method="POST", path="/api/v1/loyalty/earn") == before + 1
    finally:
        lab.repair("slow-queries")
    assert not (lab.dir / "state" / "api" / "faults.json").exists()


def test_postgres_down_and_its_repair(lab):
    lab.break_("postgres-down")
    try:
        status, body = lab.get("/ready")
        assert status == 503 and body["checks"]["database"].startswith("error") and body["checks"]["redis"] == "ok"
        assert earn(lab, customer())[0] == 503
    finally:
        lab.repair("postgres-down")
    assert earn(lab, customer())[0] == 200


def test_redis_down_degrades_and_its_repair(lab):
    lab.break_("redis-down")
    try:
        status, body = lab.get("/ready")
        assert status == 503 and body["checks"]["redis"].startswith("error") and body["checks"]["database"] == "ok"
        assert earn(lab, customer())[0] == 200  # Redis is optional for the business API (the seed)
    finally:
        lab.repair("redis-down")


def test_disk_full_on_the_database_volume_and_its_repair(lab):
    lab.break_("disk-full")
    try:
        df = lab.exec_api("df", "-P", "/var/lib/postgresql/data", service="postgres").stdout.splitlines()[-1].split()
        assert df[3] == "0" and df[4] == "100%", df  # available, use%: full, as the container sees it
        with pytest.raises(psycopg.Error, match="No space left on device"):
            with lab.db() as conn:  # a write that needs new pages
                conn.execute("CREATE TABLE disk_full_probe AS SELECT g, repeat('x', 500) AS pad "
                             "FROM generate_series(1, 20000) AS g")
    finally:
        lab.repair("disk-full")
    assert earn(lab, customer())[0] == 200
    assert not (lab.pgvol / loyalty_faults.FILLER).exists()


def test_worker_disabled_grows_the_outbox_and_its_repair(lab):
    lab.break_("worker-disabled")
    try:
        wait_for(lambda: "workers disabled" in lab.logs("worker", 10), "the worker did not say it is disabled",
                 SYMPTOM_TIMEOUT)
        who = customer()
        assert earn(lab, who)[0] == 200
        assert value(lab, "loyalty_outbox_pending") >= 1
    finally:
        lab.repair("worker-disabled")
    wait_for(lambda: received_by_merchant(lab, who), "the outbox was not drained after the repair", SYMPTOM_TIMEOUT)
    wait_for(lambda: value(lab, "loyalty_outbox_pending") == 0, "outbox still pending", SYMPTOM_TIMEOUT)


@pytest.mark.parametrize("fault, status, result", [("webhook-429", "429", "rate_limited"),
                                                   ("webhook-500", "500", "http_error")])
def test_merchant_webhook_errors_make_dead_events_and_their_repair(lab, fault, status, result):
    dead_before = value(lab, "loyalty_outbox_dead_total")
    lab.break_(fault)
    who = customer()
    try:
        assert earn(lab, who)[0] == 200
        wait_for(lambda: value(lab, "loyalty_outbox_dead_total") > dead_before,
                 "loyalty_outbox_dead_total did not grow", SYMPTOM_TIMEOUT)
        assert value(lab, "external_requests_total", provider="merchant_webhook", result=result, status=status) >= 3
        assert not received_by_merchant(lab, who)
    finally:
        lab.repair(fault)  # the merchant answers again and the dead events are requeued
    wait_for(lambda: received_by_merchant(lab, who), "the requeued event was not delivered", SYMPTOM_TIMEOUT)
    assert value(lab, "loyalty_outbox_dead_total") == 0


def test_telegram_token_wrong_and_its_repair(lab):
    lab.break_("telegram-token-wrong")
    who = customer()
    try:
        wait_for(lambda: lab.states()["worker"][0] == "running", "worker not running", SYMPTOM_TIMEOUT)
        assert earn(lab, who)[0] == 200
        wait_for(lambda: value(lab, "external_requests_total", provider="telegram", result="http_error",
                               status="401") >= 1, "no 401 from the Telegram stand-in counted", SYMPTOM_TIMEOUT)
        wait_for(lambda: received_by_merchant(lab, who), "the webhook is not delivered", SYMPTOM_TIMEOUT)
        assert not telegram_messages(lab, who)
        assert "wrong-token" not in lab.logs("worker", 50)  # the token is never logged
    finally:
        lab.repair("telegram-token-wrong")
    again = customer()
    assert earn(lab, again)[0] == 200
    wait_for(lambda: telegram_messages(lab, again), "no Telegram message after the repair", SYMPTOM_TIMEOUT)


def test_pending_migration_and_deploy_through_compose_exec(lab):
    lab.break_("pending-migration")
    try:
        code, report = lab.migrate("status")
        assert (code, report["pending"]) == (1, [loyalty_faults.LAST_MIGRATION])
    finally:
        lab.repair("pending-migration")
    code, report = lab.migrate("status")
    assert (code, report["up_to_date"]) == (0, True)
    with lab.db() as conn:
        assert conn.execute("SELECT to_regclass('loyalty_transactions_customer_idx')").fetchone()[0] is not None


def test_unknown_fault_is_refused(lab):
    with pytest.raises(loyalty_faults.UnknownFault, match="one of crash-at-start"):
        lab.break_("cosmic-rays")


def test_wait_for_says_what_did_not_happen():
    with pytest.raises(LoyaltyLabError, match="never within 0s"):
        wait_for(lambda: False, "never", 0)
