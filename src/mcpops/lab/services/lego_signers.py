"""The two signers of lego-mcp's audit chain: the lab HSM over HTTPS (POST /sign, the test CA verifies it) and the
software fallback, a local P-256 key in the service's state dir (made at first use, 0600; its public half beside it
for the verifier), used only when HSM_FALLBACK_ENABLED=true and the HSM fails."""

import base64
import json
import os
import ssl
import threading
import urllib.error
import urllib.request

FALLBACK_KEY = "audit-fallback-key.pem"
FALLBACK_PUBLIC_KEY = "audit-fallback-key.pub.pem"


class HsmUnavailable(Exception):
    pass


class HsmClient:
    def __init__(self, base_url, ca_file, timeout):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.context = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()

    def _call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self.context) as answer:
                return json.loads(answer.read().decode() or "{}")
        except urllib.error.HTTPError as exc:
            try:
                detail = json.loads(exc.read().decode() or "{}")
            except ValueError:
                detail = {}
            raise HsmUnavailable("HSM %s %s answered %d: %s" % (method, path, exc.code,
                                                               detail.get("message") or detail.get("error")
                                                               or exc.reason))
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise HsmUnavailable("HSM %s %s: %s" % (method, path, reason))

    def sign(self, digest):
        answer = self._call("POST", "/sign", {"digest": digest.hex()})
        try:
            return base64.b64decode(answer["signature"], validate=True)
        except (KeyError, TypeError, ValueError):
            raise HsmUnavailable("HSM POST /sign answered without a signature")

    def health(self):
        """'ok' or raises HsmUnavailable."""
        answer = self._call("GET", "/health")
        if answer.get("status") != "healthy":
            raise HsmUnavailable("HSM /health: %s" % answer.get("status"))
        return "ok"


class SoftwareSigner:
    """ECDSA P-256 with a local key: what HSM_FALLBACK_ENABLED trades the HSM's protection for."""

    def __init__(self, state_dir):
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        path = os.path.join(state_dir, FALLBACK_KEY)
        if not os.path.exists(path):
            # Replicas sharing one key dir may start together: each writes a whole key aside and links it into place;
            # the one that finds the name taken reads the winner's, never a half-written file.
            key = ec.generate_private_key(ec.SECP256R1())
            pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
            aside = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
            fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
            try:
                os.link(aside, path)
            except FileExistsError:
                pass
            finally:
                os.unlink(aside)
        with open(path, "rb") as handle:
            self.key = serialization.load_pem_private_key(handle.read(), password=None)
        public = self.key.public_key().public_bytes(serialization.Encoding.PEM,
                                                    serialization.PublicFormat.SubjectPublicKeyInfo)
        public_path = os.path.join(state_dir, FALLBACK_PUBLIC_KEY)
        public_aside = f"{public_path}.{os.getpid()}.{threading.get_ident()}.tmp"
        with open(public_aside, "wb") as handle:
            handle.write(public)
        os.replace(public_aside, public_path)

    def sign(self, digest):
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

        return self.key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))
