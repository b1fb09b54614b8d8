# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The facts of one X.509 certificate, as plain JSON-able values, read with `cryptography`.

`cryptography` is imported lazily (load_cryptography) so that a module can tell the operator it is
missing (require_cryptography: missing_required_lib) instead of failing on import.
"""

from __future__ import annotations

import datetime
import math

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.errors import TaskError


def load_cryptography():
    """The `cryptography.x509` module; raises ImportError (with the reason) when it is not installed."""
    from cryptography import x509  # noqa: F401 (lazy: checked by the module before any work)

    return x509


def require_cryptography():
    """TaskError naming the library (missing_required_lib) when `cryptography` does not import; a run()'s first step."""
    try:
        load_cryptography()
    except ImportError as exc:
        raise TaskError(str(exc), library="cryptography >= 39", reason="to read certificates", exception=str(exc))


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def _iso(when):
    return when.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _not_before(cert):
    when = getattr(cert, "not_valid_before_utc", None)
    return when if when is not None else cert.not_valid_before.replace(tzinfo=datetime.timezone.utc)


def _not_after(cert):
    when = getattr(cert, "not_valid_after_utc", None)
    return when if when is not None else cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)


def subject_alt_names(cert):
    x509 = load_cryptography()
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    names = ["DNS:%s" % n for n in ext.get_values_for_type(x509.DNSName)]
    names += ["IP:%s" % ip for ip in ext.get_values_for_type(x509.IPAddress)]
    return names


def key_description(public_key):
    """(key_type, key_size): ('RSA', 2048), ('EC', 256) with the curve in the type, ('Ed25519', 256)."""
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

    if isinstance(public_key, rsa.RSAPublicKey):
        return "RSA", public_key.key_size
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return "EC %s" % public_key.curve.name, public_key.curve.key_size
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    if isinstance(public_key, ed448.Ed448PublicKey):
        return "Ed448", 456
    if isinstance(public_key, dsa.DSAPublicKey):
        return "DSA", public_key.key_size
    return type(public_key).__name__, None


def is_self_issued(cert):
    return cert.issuer == cert.subject


def days_left(cert, now=None):
    """Whole days until notAfter, rounded down (negative once expired)."""
    seconds = (_not_after(cert) - (now or utcnow())).total_seconds()
    return int(math.floor(seconds / 86400.0))


def is_expired(cert, now=None):
    return _not_after(cert) <= (now or utcnow())


def is_not_yet_valid(cert, now=None):
    return _not_before(cert) > (now or utcnow())


def cert_facts(cert, now=None):
    now = now or utcnow()
    key_type, key_size = key_description(cert.public_key())
    try:
        signature = cert.signature_algorithm_oid._name
    except AttributeError:
        signature = cert.signature_algorithm_oid.dotted_string
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "sans": subject_alt_names(cert),
        "serial": "%X" % cert.serial_number,
        "not_before": _iso(_not_before(cert)),
        "not_after": _iso(_not_after(cert)),
        "days_left": days_left(cert, now),
        "key_type": key_type,
        "key_size": key_size,
        "signature_algorithm": signature,
        "self_signed": is_self_issued(cert),
    }


def load_der(der):
    return load_cryptography().load_der_x509_certificate(der)


def load_pem_bundle(data):
    """Every certificate of a PEM file or bundle, in file order; ValueError when there is none."""
    x509 = load_cryptography()
    if isinstance(data, str):
        data = data.encode("utf-8")
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise ValueError("no PEM certificate in it")
    return x509.load_pem_x509_certificates(data)
