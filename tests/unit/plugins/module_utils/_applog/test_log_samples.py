"""_applog/log_samples.py: secret-named keys masked, given secrets scrubbed before any cut, texts cut, objects kept small."""

import json
import secrets as token_source

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_samples import (
    MASK,
    Scrubber,
    sample,
    sample_record,
    secret_key,
)


@pytest.mark.parametrize("name", ["Authorization", "authorization", "X-API-Key", "api_key", "apiKey", "token",
                                  "access_token", "X-Metrics-Token", "password", "db_password", "client_secret",
                                  "Cookie", "Set-Cookie", "credentials", "private_key"])
def test_secret_keys(name):
    assert secret_key(name)


@pytest.mark.parametrize("name", ["tokenPrefix", "token_id", "token_type", "message", "client_ip", "level", "path"])
def test_keys_that_are_not_secrets(name):
    assert not secret_key(name)


def test_a_record_made_fit_to_show():
    canary = "CANARY-%s" % token_source.token_hex(12)
    record = {
        "level": "ERROR", "status": 401, "duration_ms": 12.5, "ok": False, "none": None,
        "headers": {"Authorization": "Bearer " + canary, "X-API-Key": canary, "Accept": "*/*"},
        "message": "upstream refused key %s for %s" % (canary, "x" * 300),
        "err": {"message": "Authorization: Bearer abcdefghijklmnopqrstuvwxyz0123456789"},
        "token": "", "list": list(range(25)),
        "deep": {"a": {"b": {"c": {"d": {"e": 1}}}}},
    }
    shown = sample_record(record, Scrubber([canary]))
    text = json.dumps(shown)
    assert canary not in text and canary[-12:] not in text
    assert shown["headers"] == {"Authorization": MASK, "X-API-Key": MASK, "Accept": "*/*"}
    assert shown["message"].startswith("upstream refused key ******** for xxx") and len(shown["message"]) == 203
    assert "abcdefghijklmnop" not in shown["err"]["message"]
    assert shown["token"] == ""  # nothing to hide
    assert shown["list"][:3] == [0, 1, 2] and shown["list"][-1] == "(15 more items)" and len(shown["list"]) == 11
    assert shown["deep"]["a"]["b"]["c"] == "(nested deeper than 4 levels, not shown)"
    assert (shown["status"], shown["duration_ms"], shown["ok"], shown["none"]) == (401, 12.5, False, None)
    assert sample_record({"a": float("nan"), "b": float("inf")}, Scrubber()) == {"a": "nan", "b": "inf"}


def test_a_secret_is_scrubbed_before_a_cut():
    canary = "CANARY-" + "k" * 40
    text = "a" * 180 + canary
    assert canary[:20] not in Scrubber([canary]).clip(text)
    assert canary[:20] not in Scrubber([canary]).key(text)
    assert Scrubber().key({"b": 1, "a": 2}) == '{"a": 2, "b": 1}' and Scrubber().key(None) is None


def test_big_objects_are_capped():
    shown = sample_record({"k%d" % i: i for i in range(100)}, Scrubber())
    assert len(shown) == 41 and shown["(more keys)"] == 60


def test_sample_names_file_and_line():
    assert sample("/var/log/app.log", 7, {"msg": "hi"}, Scrubber()) == {
        "file": "/var/log/app.log", "line": 7, "record": {"msg": "hi"}}
