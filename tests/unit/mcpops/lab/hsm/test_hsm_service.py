"""The lab HSM service's configuration and input checks (the service itself runs in tests/integration/hsm)."""

import pytest

from mcpops.lab.hsm.hsm_service import load_config, parse_digest
from mcpops.lab.services.config import ConfigError
from mcpops.lab.services.http_app import HttpError


def test_a_digest_is_64_hex_characters():
    assert parse_digest({"digest": "ab" * 32}) == b"\xab" * 32
    for bad in ({"digest": "ab" * 31}, {"digest": "zz" * 32}, {"digest": 5}, {}):
        with pytest.raises(HttpError) as caught:
            parse_digest(bad)
        assert caught.value.status == 400


def test_the_config_names_what_is_missing(tmp_path):
    env = {"MCPOPS_SERVICE_LISTEN": "127.0.0.1:0", "MCPOPS_SERVICE_STATE_DIR": str(tmp_path / "state")}
    with pytest.raises(ConfigError, match="HSM_TOKEN_STATE_DIR is not set"):
        load_config(env)
    env["HSM_TOKEN_STATE_DIR"] = str(tmp_path)
    with pytest.raises(ConfigError, match="holds no softhsm2.conf"):
        load_config(env)
    (tmp_path / "softhsm2.conf").write_text("")
    env["HSM_PKCS11_MODULE"] = str(tmp_path / "none.so")
    with pytest.raises(ConfigError, match="no SoftHSM2 PKCS#11 library"):
        load_config(env)
