# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The signers' public keys (a PEM file, or fetched from the HSM service's /public-key) and ECDSA/RSA verification of
a record's digest with `cryptography`, imported lazily (require_cryptography names it when missing)."""

from __future__ import annotations

# ssl and urllib load in fetch_public_key, not at import: a run given hsm_public_key (a PEM file) sends no request,
# and on a host every run would otherwise pay about 10 ms for them (issue 20's <= 30 ms of own imports).
import base64
import binascii

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError

MAX_PEM = 64 * 1024


def require_cryptography():
    try:
        from cryptography.hazmat.primitives import serialization  # noqa: F401 (lazy: checked before any work)
    except ImportError as exc:
        raise TaskError(str(exc), library="cryptography >= 39", reason="to verify the audit chain's signatures",
                        exception=str(exc))


def load_public_key(pem, source):
    """A public key from PEM bytes; TaskError naming `source` when it is not one."""
    from cryptography.hazmat.primitives import serialization

    try:
        return serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise TaskError("%s is not a PEM public key: %s" % (source, str(exc).splitlines()[0] if str(exc) else exc))


def read_public_key(path):
    try:
        with open(path, "rb") as handle:
            pem = handle.read(MAX_PEM + 1)
    except OSError as exc:
        raise TaskError("cannot read the public key %s: %s" % (path, exc.strerror or exc))
    return load_public_key(pem[:MAX_PEM], path)


def fetch_public_key(url, ca_cert="", validate_certs=True, timeout=10, opener=None):
    """The PEM an HSM service serves at `url` (GET), over TLS verified with ca_cert (or the system's CAs)."""
    import ssl
    from urllib.error import HTTPError, URLError
    from urllib.request import HTTPSHandler, Request, build_opener

    context = ssl.create_default_context(cafile=ca_cert or None)
    if not validate_certs:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    opener = opener or build_opener(HTTPSHandler(context=context)).open
    try:
        with opener(Request(url, method="GET"), timeout=timeout) as answer:
            pem = answer.read(MAX_PEM + 1)
    except HTTPError as exc:
        raise TaskError("GET %s answered %d %s: cannot fetch the HSM's public key; give hsm_public_key (a PEM "
                        "file) instead" % (url, exc.code, exc.reason))
    except (URLError, OSError, ssl.SSLError) as exc:
        raise TaskError("GET %s failed: %s: cannot fetch the HSM's public key (is the HSM up? ca_cert right?); "
                        "give hsm_public_key (a PEM file) instead" % (url, getattr(exc, "reason", None) or exc))
    return load_public_key(pem[:MAX_PEM], url)


def verify_signature(public_key, digest, signature_b64):
    """None when signature_b64 (base64 of DER ECDSA, or RSA PKCS#1 v1.5) signs the SHA-256 digest; else why not."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    try:
        signature = base64.b64decode(signature_b64 or "", validate=True)
    except (binascii.Error, ValueError, TypeError):
        return "the signature is not base64"
    try:
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, digest, ec.ECDSA(Prehashed(hashes.SHA256())))
        elif isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
        else:
            return "unsupported public key type %s" % type(public_key).__name__
    except InvalidSignature:
        return "the signature does not verify with the signer's public key"
    except ValueError:  # the stored hash is not 32 bytes, or the signature is not DER
        return "the stored hash or the signature is malformed"
    return None


class Verifier:
    """verify(signed_by, digest, signature_b64) for ChainWalk: each signer's key, or why a record cannot be checked."""

    def __init__(self, hsm_key, fallback_key):
        self.keys = {"hsm": hsm_key, "software-fallback": fallback_key}

    def __call__(self, signed_by, digest, signature_b64):
        key = self.keys.get(signed_by)
        if key is None:
            return ("no public key for %s records was given (%s)"
                    % (signed_by, "fallback_public_key" if signed_by == "software-fallback" else "hsm_public_key"))
        return verify_signature(key, digest, signature_b64)
