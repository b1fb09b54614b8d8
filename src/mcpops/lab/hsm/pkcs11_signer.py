"""Signing with a key inside a PKCS#11 token (python-pkcs11), as an application talks to an HSM: open a session,
log in with the user PIN, find the key by label, sign, close.

SoftHSM2 reads its token dir when the library is initialised: when the token dir disappears (the "token removed"
fault) every call fails, and keeps failing after the dir is back until the library is initialised again. So after a
failure the next call re-initialises first, as an HSM client reconnects.
"""

import threading

DIGEST_BYTES = 32  # a SHA-256 digest
ALGORITHM = "ecdsa-p256-sha256"


class SignerError(Exception):
    pass


def _pkcs11():
    import pkcs11

    return pkcs11


def generate_in_token(module_path, token_label, key_label, user_pin):
    """Generate a P-256 key pair stored in the token; its public key as PEM (SubjectPublicKeyInfo)."""
    pkcs11 = _pkcs11()
    from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters
    from cryptography.hazmat.primitives import serialization

    token = pkcs11.lib(module_path).get_token(token_label=token_label)
    with token.open(rw=True, user_pin=user_pin) as session:
        params = session.create_domain_parameters(
            pkcs11.KeyType.EC, {pkcs11.Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")}, local=True)
        public, _private = params.generate_keypair(store=True, label=key_label)
        der = encode_ec_public_key(public)
    key = serialization.load_der_public_key(der)
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


class Pkcs11Signer:
    """sign(digest) -> DER ECDSA signature; check() -> None or raises SignerError. Calls are serialised (one
    session at a time is plenty for the lab, and SoftHSM2's re-initialisation must not race a signing)."""

    def __init__(self, module_path, token_label, key_label, user_pin):
        self.module_path = module_path
        self.token_label = token_label
        self.key_label = key_label
        self._pin = user_pin
        self._lib = None
        self._stale = False
        self._lock = threading.Lock()

    def __repr__(self):  # never the PIN
        return "Pkcs11Signer(token=%r, key=%r)" % (self.token_label, self.key_label)

    def _library(self):
        pkcs11 = _pkcs11()
        if self._lib is None:
            self._lib = pkcs11.lib(self.module_path)
        elif self._stale:
            self._lib.reinitialize()
        self._stale = False
        return self._lib

    def _with_key(self, work):
        pkcs11 = _pkcs11()
        with self._lock:
            try:
                token = self._library().get_token(token_label=self.token_label)
                with token.open(user_pin=self._pin) as session:
                    key = session.get_key(object_class=pkcs11.ObjectClass.PRIVATE_KEY, label=self.key_label)
                    return work(pkcs11, key)
            except pkcs11.exceptions.PKCS11Error as exc:
                self._stale = True
                raise SignerError("PKCS#11 %s (token %s, key %s)" % (exc.__class__.__name__, self.token_label,
                                                                    self.key_label))

    def sign(self, digest):
        if not isinstance(digest, bytes) or len(digest) != DIGEST_BYTES:
            raise ValueError("a digest is %d bytes (SHA-256)" % DIGEST_BYTES)
        from pkcs11.util.ec import encode_ecdsa_signature

        raw = self._with_key(lambda pkcs11, key: key.sign(digest, mechanism=pkcs11.Mechanism.ECDSA))
        return encode_ecdsa_signature(raw)

    def check(self):
        """The token is there, the PIN logs in and the key signs (a throw-away digest)."""
        self._with_key(lambda pkcs11, key: key.sign(b"\0" * DIGEST_BYTES, mechanism=pkcs11.Mechanism.ECDSA))
