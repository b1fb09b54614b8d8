"""_health/conditions.py: the condition language of health checks, parse errors and evaluate (paths, *, bool vs int,
missing keys), and every condition the five shipped profiles write."""

import glob
import os

import pytest
import yaml

from ansible_collections.mcpops.runbooks.plugins.module_utils._health.conditions import evaluate, parse

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", ".."))


def holds(text, body):
    return evaluate(parse(text), body)


# -- parse -----------------------------------------------------------------------------


@pytest.mark.parametrize("text,path,op,value", [
    ("status == healthy", ["status"], "==", "healthy"),
    ("  status   ==   healthy  ", ["status"], "==", "healthy"),
    ("stores.*.ok == true", ["stores", "*", "ok"], "==", True),
    ("schemaVersion <= 3", ["schemaVersion"], "<=", 3),
    ("ratio > 0.5", ["ratio"], ">", 0.5),
    ("name == \"a b\"", ["name"], "==", "a b"),
    ("x != null", ["x"], "!=", None),
    ("data exists", ["data"], "exists", None),
    ("items.0.id == 7", ["items", "0", "id"], "==", 7),
    ("bridge-state.up_1 == yes", ["bridge-state", "up_1"], "==", "yes"),
])
def test_parse(text, path, op, value):
    condition = parse(text)
    assert (condition.path, condition.op, condition.value) == (path, op, value)
    assert condition.text == text.strip() and repr(condition) == "Condition(%r)" % text.strip()


@pytest.mark.parametrize("text,says", [
    (None, "must be a string"),
    (3, "must be a string"),
    ("", "is not '<path> <op> <value>'"),
    ("status", "is not '<path> <op> <value>'"),
    ("status healthy", "is not '<path> <op> <value>'"),
    ("status =~ healthy", "is not '<path> <op> <value>'"),
    ("status ==", "is not '<path> <op> <value>'"),
    ("status exists please", "is not '<path> <op> <value>'"),
    ("a..b == 1", "path segment ''"),
    ("a.b$ == 1", "path segment 'b$'"),
    ("a.%s == 1" % ("k" * 65), "path segment"),
    ("status == two words", "neither a JSON literal nor one bare word"),
    ("status == 'quoted'", "neither a JSON literal nor one bare word"),
    ("status == \"unterminated", "neither a JSON literal nor one bare word"),
    ("status == [1, 2", "neither a JSON literal nor one bare word"),
    ("status == [1, 2]", "must be a string, number, true, false or null"),
    ("status == [1]", "must be a string, number, true, false or null"),
    ("status == {}", "must be a string, number, true, false or null"),
    ("count < many", "compares numbers, and 'many' is not one"),
    ("count >= true", "compares numbers, and True is not one"),
    ("count > null", "compares numbers"),
    ("count <= \"3\"", "compares numbers"),
])
def test_parse_errors_say_what_is_wrong(text, says):
    with pytest.raises(ValueError) as caught:
        parse(text)
    assert says in str(caught.value)


def test_every_condition_of_the_shipped_profiles_parses():
    texts = []
    for path in glob.glob(os.path.join(ROOT, "profiles", "*.yml")):
        with open(path) as handle:
            profile = yaml.safe_load(handle)
        for check in profile["health"]["checks"]:
            texts.extend(check.get("conditions") or [])
    assert len(texts) >= 10
    for text in texts:
        parse(text)


# -- evaluate ----------------------------------------------------------------------------


def test_equality_on_strings_numbers_and_null():
    assert holds("status == healthy", {"status": "healthy"}) is None
    assert holds("status == healthy", {"status": "degraded"}) == 'status is "degraded"'
    assert holds("status != degraded", {"status": "healthy"}) is None
    assert holds("status != degraded", {"status": "degraded"}) == 'status is "degraded"'
    assert holds("n == 3", {"n": 3.0}) is None
    assert holds("x == null", {"x": None}) is None
    assert holds("x == null", {"x": 0}) == "x is 0"


def test_bool_is_not_int():
    assert holds("ok == true", {"ok": True}) is None
    assert holds("ok == true", {"ok": 1}) == "ok is 1"
    assert holds("ok == false", {"ok": 0}) == "ok is 0"
    assert holds("n == 1", {"n": True}) == "n is true"
    assert holds("n != 1", {"n": True}) is None
    assert holds("n >= 0", {"n": False}) == "n is false"


def test_ordering_compares_numbers_only():
    assert holds("schemaVersion <= 3", {"schemaVersion": 3}) is None
    assert holds("schemaVersion <= 3", {"schemaVersion": 4}) == "schemaVersion is 4"
    assert holds("schemaVersion <= 3", {"schemaVersion": "3"}) == 'schemaVersion is "3"'
    assert holds("load < 0.9", {"load": 0.25}) is None
    assert holds("load > 0.9", {"load": 0.25}) == "load is 0.25"
    assert holds("n >= 2", {"n": 2}) is None


def test_missing_keys_fail_every_operator():
    for text in ("status == healthy", "status != healthy", "status exists", "status < 3"):
        assert holds(text, {}) == "status is missing"
    assert holds("redis.status == healthy", {"redis": {}}) == "redis.status is missing"
    assert holds("redis.status == healthy", {"redis": "down"}) == "redis.status is missing"
    assert holds("a.b.c == 1", {"a": {}}) == "a.b.c is missing"
    assert holds("status == ok", ["status"]) == "status is missing"
    assert holds("status == ok", None) == "status is missing"


def test_exists_and_list_indices():
    assert holds("data exists", {"data": []}) is None
    assert holds("data exists", {"data": None}) is None
    assert holds("items.1.id == 2", {"items": [{"id": 1}, {"id": 2}]}) is None
    assert holds("items.2.id == 2", {"items": [{"id": 1}]}) == "items.2.id is missing"


def test_star_must_hold_for_every_key_or_item_and_there_must_be_one():
    stores = {"tokens": {"ok": True}, "audit": {"ok": True}}
    assert holds("stores.*.ok == true", {"stores": stores}) is None
    stores["profiles"] = {"ok": False}
    assert holds("stores.*.ok == true", {"stores": stores}) == "stores.profiles.ok is false"
    stores["profiles"] = {}
    assert holds("stores.*.ok == true", {"stores": stores}) == "stores.profiles.ok is missing"
    assert holds("stores.*.ok == true", {"stores": {}}) == "stores.* is missing"
    assert holds("stores.*.ok == true", {"stores": "none"}) == "stores.* is missing"
    assert holds("nodes.*.up == true", {"nodes": [{"up": True}, {"up": True}]}) is None
    assert holds("nodes.*.up == true", {"nodes": [{"up": True}, {"up": False}]}) == "nodes.1.up is false"
    assert holds("nodes.* exists", {"nodes": []}) == "nodes.* is missing"
    assert holds("* == ok", {"a": "ok", "b": "ok"}) is None
    assert holds("* == ok", {"a": "ok", "b": "no"}) == 'b is "no"'


def test_star_reports_the_first_failing_key_in_sorted_order():
    body = {"stores": {"z": {"ok": False}, "a": {"ok": False}}}
    assert holds("stores.*.ok == true", body) == "stores.a.ok is false"


def test_long_values_are_cut_in_the_reason():
    why = holds("status == ok", {"status": "x" * 500})
    assert why.startswith('status is "xxx') and len(why) == len("status is ") + 80
