"""_applog/log_fields.py: the fields option checked, defaults, dotted paths, a key holding a dot."""

import pytest

from ansible_collections.mcpops.runbooks.plugins.module_utils._applog.log_fields import (
    DEFAULTS,
    FIELDS,
    FieldsError,
    check_fields,
    getter,
)


def test_defaults_for_what_is_not_given():
    fields = check_fields({"latency": "responseTime", "client_ip": "context.client_ip"})
    assert set(fields) == set(FIELDS)
    assert fields["latency"] == ("responseTime",) and fields["client_ip"] == ("context.client_ip",)
    assert fields["time"] == DEFAULTS["time"]
    assert check_fields(None) == check_fields({}) == dict(DEFAULTS)
    assert check_fields({"level": None})["level"] == DEFAULTS["level"]


@pytest.mark.parametrize("given, words", [
    ({"host": "hostname"}, "fields: unknown key host (allowed: time, level"),
    ({"level": ""}, "fields.level must be the name of a JSON key"),
    ({"level": 5}, "fields.level must be the name"),
    ({"client_ip": "context..ip"}, "fields.client_ip: 'context..ip' has an empty part"),
    (["level"], "fields must be a mapping"),
])
def test_bad_fields_are_refused(given, words):
    with pytest.raises(FieldsError) as caught:
        check_fields(given)
    assert words in caught.value.msg


def test_dotted_paths_and_a_key_with_a_dot():
    get = getter(("context.client_ip",))
    assert get({"context": {"client_ip": "10.0.0.1"}}) == "10.0.0.1"
    assert get({"context.client_ip": "10.9.9.9", "context": {"client_ip": "10.0.0.1"}}) == "10.9.9.9"
    assert get({"context": "flat"}) is None and get({}) is None
    assert getter(("res.statusCode",))({"res": {"statusCode": 401}}) == 401


def test_first_default_found_wins():
    get = getter(DEFAULTS["client_ip"])
    assert get({"context": {"client_ip": "10.0.0.2"}, "ip": "10.0.0.3"}) == "10.0.0.2"
    assert get({"req": {"remoteAddress": "::1"}}) == "::1"
    assert getter(DEFAULTS["time"])({"timestamp": "t2", "time": 3}) == "t2"
    assert getter(("level",))({"level": 0}) == 0
