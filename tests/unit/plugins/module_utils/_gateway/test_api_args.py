"""_gateway/api_args.py: the gateway API options every gateway module merges into its argument_spec."""

from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.api_args import gateway_api_argument_spec
from ansible_collections.mcpops.runbooks.plugins.module_utils._gateway.client import DEFAULT_API_URL


def test_defaults_match_the_doc_fragment():
    spec = gateway_api_argument_spec()
    assert spec == {
        "api_url": {"type": "str", "default": "http://127.0.0.1:3000"},
        "api_token": {"type": "str", "required": True, "no_log": True},
        "validate_certs": {"type": "bool", "default": True},
        "timeout": {"type": "int", "default": 10},
        "break_glass_account": {"type": "str"},
        "operator": {"type": "str"},
    }
    assert spec["api_url"]["default"] == DEFAULT_API_URL


def test_file_capable_modules_get_an_optional_token_and_no_url_default():
    spec = gateway_api_argument_spec(api_url_default=None, token_required=False)
    assert spec["api_url"]["default"] is None
    assert spec["api_token"] == {"type": "str", "required": False, "no_log": True}


def test_each_call_returns_a_fresh_spec():
    first = gateway_api_argument_spec()
    first["timeout"]["default"] = 99
    assert gateway_api_argument_spec()["timeout"]["default"] == 10
