"""The PKCS#11 signer refuses what is not a SHA-256 digest before it touches the token, and never shows its PIN
(signing itself runs against a real SoftHSM2 token in tests/integration/hsm)."""

import pytest

from mcpops.lab.hsm.pkcs11_signer import Pkcs11Signer


def test_only_a_32_byte_digest_is_signed_and_the_pin_is_not_in_the_repr():
    signer = Pkcs11Signer("/nonexistent/libsofthsm2.so", "lego-mcp-audit", "audit-signing", "pin-canary-1234")
    for bad in (b"", b"x" * 31, b"x" * 33, "ab" * 16):
        with pytest.raises(ValueError, match="32 bytes"):
            signer.sign(bad)
    assert "pin-canary-1234" not in repr(signer) and "lego-mcp-audit" in repr(signer)
