# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Is a new certificate and key fit to be put in place? The checks cert_install runs before it touches anything.

The files parse, the key is the certificate's key, the certificate covers every host name the
service answers to, and it is valid now. The key's bytes never leave this module (no message holds them).
"""

from __future__ import annotations

from ansible_collections.mcpops.runbooks.plugins.module_utils._tls.cert_facts import (
    cert_facts,
    is_expired,
    is_not_yet_valid,
    load_pem_bundle,
)
from ansible_collections.mcpops.runbooks.plugins.module_utils._tls.hostname import uncovered_names


class CertPairError(ValueError):
    pass


def _load_key(data, path):
    from cryptography.hazmat.primitives import serialization

    try:
        return serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        # the library's text never holds key material, but keep it out anyway: name the file and the kind
        raise CertPairError("cannot read the private key %s (PEM, unencrypted): %s" % (path, type(exc).__name__))


def _public_der(key):
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def check_pair(cert_data, cert_path, key_data, key_path, names, now=None):
    """The new certificate's facts; raises CertPairError saying which check failed."""
    try:
        certs = load_pem_bundle(cert_data)
    except ValueError as exc:
        raise CertPairError("cannot read the certificate %s as PEM: %s" % (cert_path, exc))
    leaf = certs[0]
    key = _load_key(key_data, key_path)
    if _public_der(key.public_key()) != _public_der(leaf.public_key()):
        raise CertPairError("the certificate %s (serial %X) does not match the key %s: they are not a pair"
                            % (cert_path, leaf.serial_number, key_path))
    facts = cert_facts(leaf, now)
    missing = uncovered_names(names or [], facts["sans"])
    if missing:
        raise CertPairError("the certificate %s does not cover %s (it names %s)"
                            % (cert_path, ", ".join(missing), ", ".join(facts["sans"]) or facts["subject"]))
    if is_expired(leaf, now):
        raise CertPairError("the certificate %s expired at %s" % (cert_path, facts["not_after"]))
    if is_not_yet_valid(leaf, now):
        raise CertPairError("the certificate %s is not valid before %s" % (cert_path, facts["not_before"]))
    for child, parent in zip(certs, certs[1:]):
        try:
            child.verify_directly_issued_by(parent)
        except Exception:  # InvalidSignature, ValueError, TypeError
            raise CertPairError("the chain in %s is out of order or broken: %s is not issued by %s"
                                % (cert_path, child.subject.rfc4514_string(), parent.subject.rfc4514_string()))
    facts["chain_length"] = len(certs)
    return facts
