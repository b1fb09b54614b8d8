"""The Alertmanager event source (extensions/eda/plugins/event_source/alertmanager.py) without the rule engine:
its payload handling as plain functions, then its real HTTP server on loopback feeding a queue the test reads."""

import asyncio
import importlib.util
import json
from pathlib import Path


import aiohttp
import pytest
from mcpops.lab.loopback import free_port

SOURCE = Path(__file__).resolve().parents[3] / "extensions" / "eda" / "plugins" / "event_source" / "alertmanager.py"
_spec = importlib.util.spec_from_file_location("mcpops_eda_alertmanager", SOURCE)
am = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(am)


def alert(status="firing", **labels):
    labels = dict({"alertname": "GatewayDown", "runbook": "health-check", "instance": "gw1:3000"}, **labels)
    return {"status": status, "labels": {k: v for k, v in labels.items() if v is not None},
            "annotations": {"summary": "gateway /healthz failing"}, "startsAt": "2026-01-01T00:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus/graph", "fingerprint": "f" + status}


def payload(*alerts):
    return {"version": "4", "groupKey": "{}:{alertname=\"GatewayDown\"}", "truncatedAlerts": 0, "status": "firing",
            "receiver": "mcpops", "groupLabels": {"alertname": "GatewayDown"},
            "commonLabels": {"alertname": "GatewayDown", "severity": "critical"},
            "commonAnnotations": {"summary": "gateway /healthz failing"}, "externalURL": "http://alertmanager:9093",
            "alerts": list(alerts)}


# -- payload handling -------------------------------------------------------------------


def test_one_event_per_alert_with_its_group_and_host():
    events, skipped = am.events_from_payload(payload(alert(), alert("resolved", instance="gw2")), "/hook")
    assert skipped == 0
    firing, resolved = events
    assert firing["alert"]["status"] == "firing" and firing["alert"]["fingerprint"] == "ffiring"
    assert firing["alert"]["labels"]["runbook"] == "health-check"
    assert firing["alert"]["annotations"] == {"summary": "gateway /healthz failing"}
    assert firing["group"]["commonLabels"] == {"alertname": "GatewayDown", "severity": "critical"}
    assert firing["group"]["receiver"] == "mcpops" and firing["group"]["version"] == "4"
    # no meta.hosts: the rulebook's action (the dispatch) runs on the controller, the runbook is limited by it
    assert firing["host"] == "gw1" and firing["meta"] == {"endpoint": "/hook"}
    assert firing["throttle_key"] == "health-check@gw1"
    assert resolved["alert"]["status"] == "resolved" and resolved["host"] == "gw2"


def test_entries_that_are_not_alerts_are_skipped_and_counted():
    events, skipped = am.events_from_payload(payload("text", {"status": "pending"}, {"labels": {}}, alert()))
    assert skipped == 3 and [e["alert"]["fingerprint"] for e in events] == ["ffiring"]


@pytest.mark.parametrize("instance, host", [
    ("gw1:9100", "gw1"), ("gw1", "gw1"), ("10.0.0.5:3000", "10.0.0.5"), (" gw-1.example.com:443 ", "gw-1.example.com"),
    ("all", None), ("ALL:9100", None), ("localhost:3000", None), ("ungrouped", None), ("web*:80", None),
    ("gw1,gw2", None), ("gateways:!gw2", None), ("&gateways", None), ("@/etc/hosts", None), ("[::1]:3000", None),
    ("gw[1:3]", None), ("~gw.*", None), ("-gw", None), ("", None), (None, None), (42, None),
])
def test_the_host_is_a_plain_name_never_an_ansible_pattern(instance, host):
    assert am.inventory_host(instance) == host


def test_an_alert_without_a_plain_host_has_no_host_and_no_limit():
    [event], _ = am.events_from_payload(payload(alert(instance="all")))
    assert "host" not in event and "hosts" not in event["meta"] and event["throttle_key"] == "health-check@all"
    [event], _ = am.events_from_payload(payload(alert(instance=None, runbook=None)))
    assert "host" not in event and "hosts" not in event["meta"] and event["throttle_key"] == "@"


def test_another_instance_label_names_the_host():
    [event], _ = am.events_from_payload(payload(alert(node="gw7")), instance_label="node")
    assert event["host"] == "gw7"


def test_label_values_that_are_not_strings_are_dropped():
    weird = alert()
    weird["labels"]["instance"] = ["gw1", "gw2"]
    weird["annotations"] = "not a map"
    [event], _ = am.events_from_payload(dict(payload(weird), commonLabels={"a": 1, "b": "x"}))
    assert "instance" not in event["alert"]["labels"] and "host" not in event
    assert event["alert"]["annotations"] == {} and event["group"]["commonLabels"] == {"b": "x"}


@pytest.mark.parametrize("body, reason", [
    ([], "not a JSON object"), ({"status": "firing"}, "no alerts list"), ({"alerts": {"a": 1}}, "no alerts list"),
])
def test_a_body_that_is_not_a_notification_is_refused(body, reason):
    with pytest.raises(am.PayloadError, match=reason):
        am.events_from_payload(body)


def test_bearer_token():
    assert am.authorized(None, None) and am.authorized("Basic x", None)
    assert am.authorized("Bearer s3cret", "s3cret") and am.authorized("bearer s3cret", "s3cret")
    for header in (None, "", "Bearer", "Bearer wrong", "Basic s3cret", "s3cret"):
        assert not am.authorized(header, "s3cret")


def test_settings(tmp_path):
    defaults = am.Settings({})
    assert (defaults.host, defaults.port, defaults.token, defaults.instance_label) == ("127.0.0.1", 5000, None, "instance")
    # a rulebook's "{{ VAR }}" gives strings; an unset token file is an empty string
    assert am.Settings({"port": "5051", "token_file": ""}).port == 5051
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    assert am.Settings({"token_file": str(token)}).token == "s3cret"
    token.write_text("\n")
    for args, message in [({"port": "x"}, "port must be"), ({"port": 0}, "port must be"), ({"port": 70000}, "not a TCP port"),
                          ({"backlog": True}, "backlog must be"), ({"prot": 1}, "unknown argument"),
                          ({"token_file": str(token)}, "is empty"), ({"token_file": str(tmp_path / "none")}, "cannot be read")]:
        with pytest.raises(ValueError, match=message):
            am.Settings(args)


# -- the HTTP server ------------------------------------------------------------------------


async def _serving(args, queue):
    """main() running on a free loopback port; returns (task, url) once it answers."""
    port = free_port()
    task = asyncio.create_task(am.main(queue, dict(args, host="127.0.0.1", port=port)))
    url = "http://127.0.0.1:%d" % port
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return task, url
        except OSError:
            if task.done():
                task.result()
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.05)


def serve(args, scenario, queue_size=0):
    async def run():
        queue = asyncio.Queue(queue_size)
        task, url = await _serving(args, queue)
        try:
            # an answer that waited for the rule engine would never come: a bounded wait makes it a failure
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
                return await scenario(session, url, queue)
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    return asyncio.run(run())


def test_a_notification_becomes_events_on_the_queue():
    async def scenario(session, url, queue):
        async with session.post(url + "/alerts", json=payload(alert(), alert("resolved"), "junk")) as answer:
            assert answer.status == 200 and await answer.json() == {"accepted": 2, "skipped": 1}
        first, second = await asyncio.wait_for(queue.get(), 10), await asyncio.wait_for(queue.get(), 10)
        assert [first["alert"]["status"], second["alert"]["status"]] == ["firing", "resolved"]
        assert first["meta"] == {"endpoint": "/alerts"} and first["host"] == "gw1"
    serve({}, scenario)


def test_bad_requests_are_refused_and_queue_nothing():
    async def scenario(session, url, queue):
        for method, body, status in [("GET", None, 405), ("POST", b"{not json", 400), ("POST", b"\xff\xfe", 400),
                                     ("POST", b"[]", 400), ("POST", b'{"alerts": 1}', 400),
                                     ("POST", json.dumps(payload(alert()) | {"pad": "x" * 4096}).encode(), 413)]:
            async with session.request(method, url + "/", data=body) as answer:
                assert answer.status == status, (method, body[:20] if body else body)
                assert "error" in await answer.json()
        async with session.post(url, json=payload(alert(fingerprint_marker="last"))) as answer:
            assert answer.status == 200
        # the first event the queue ever gets is the valid notification's
        assert (await asyncio.wait_for(queue.get(), 10))["alert"]["labels"]["fingerprint_marker"] == "last"
    serve({"max_body_bytes": 4096}, scenario)


def test_with_a_token_only_the_bearer_is_heard(tmp_path):
    token = tmp_path / "token"
    token.write_text("s3cret-token\n")

    async def scenario(session, url, queue):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret-token"}):
            async with session.post(url, json=payload(alert()), headers=headers) as answer:
                assert answer.status == 401 and "s3cret" not in await answer.text()
        async with session.post(url, json=payload(alert(marker="ok")), headers={"Authorization": "Bearer s3cret-token"}) as answer:
            assert answer.status == 200
        assert (await asyncio.wait_for(queue.get(), 10))["alert"]["labels"]["marker"] == "ok"
    serve({"token_file": str(token)}, scenario)


def test_the_answer_never_waits_for_the_rule_engine():
    # ansible-rulebook's source queue holds one event; nobody takes from it here
    async def scenario(session, url, queue):
        for n in range(3):
            async with session.post(url, json=payload(alert(marker=str(n)))) as answer:
                assert answer.status == 200
        # over the backlog: refused whole, Alertmanager sends it again later
        async with session.post(url, json=payload(alert(), alert(), alert())) as answer:
            assert answer.status == 503
        assert [(await asyncio.wait_for(queue.get(), 10))["alert"]["labels"]["marker"] for _ in range(3)] == ["0", "1", "2"]
    serve({"backlog": 3}, scenario, queue_size=1)
