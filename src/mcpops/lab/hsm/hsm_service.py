"""The lab HSM service: the HSM endpoint of seed 001 (`https://hsm.internal:12345/health`) in front of a SoftHSM2
token, HTTPS only (a certificate from the lab's test CA), signing through PKCS#11.

Environment:
- MCPOPS_SERVICE_LISTEN (host:port, port 0: any free one; the start line says which), MCPOPS_SERVICE_STATE_DIR
  (faults.json: `slow_ms` delays every answer, `unhealthy` makes /health 503);
- HSM_TOKEN_STATE_DIR (required): the dir `python -m mcpops.lab.hsm init` made (softhsm2.conf, user.pin, public.pem);
- HSM_TLS_CERT, HSM_TLS_KEY (required): the server certificate (with its chain) and key, PEM;
- HSM_TOKEN_LABEL, HSM_KEY_LABEL (defaults: the init's), HSM_PKCS11_MODULE (default: Debian's libsofthsm2.so).

Endpoints:
- GET /health -> 200 {"status": "healthy", "token": "present", "key": "usable", "algorithm"}; 503 {"status":
  "unhealthy", "token": "present"|"missing", "key": "unusable", "error"} (the token removed, the PIN refused).
- POST /sign {"digest": "<sha256 hex>"} -> 200 {"signature": "<base64 DER ECDSA>", "algorithm", "key_label"};
  400 for a bad digest; 503 {"error": "hsm_unavailable", "message"} when the token cannot sign.
- GET /public-key -> the signing key's public half, PEM.

The PIN is read from its file at start and never logged. Logs: JSON lines on stdout.
"""

import base64
import os
import ssl
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from mcpops.lab.services.config import ConfigError, common, require
from mcpops.lab.services.http_app import App, HttpError, Response, Server

from .pkcs11_signer import ALGORITHM, DIGEST_BYTES, Pkcs11Signer, SignerError
from .softhsm_token import KEY_LABEL, TOKEN_LABEL, TokenError, TokenFiles, find_module, read_pin

NAME = "lab-hsm"


@dataclass(frozen=True)
class HsmConfig:
    host: str
    port: int
    state_dir: str
    token: TokenFiles
    tls_cert: str
    tls_key: str
    token_label: str
    key_label: str
    module_path: str


def load_config(environ):
    base = common(environ)
    token = TokenFiles(Path(require(environ, "HSM_TOKEN_STATE_DIR")).resolve())
    if not token.conf.is_file():
        raise ConfigError("HSM_TOKEN_STATE_DIR %s holds no softhsm2.conf (run: python -m mcpops.lab.hsm init)"
                          % token.state_dir)
    try:
        module_path = find_module(environ)
    except TokenError as exc:
        raise ConfigError(str(exc))
    return HsmConfig(host=base.host, port=base.port, state_dir=base.state_dir, token=token,
                     tls_cert=require(environ, "HSM_TLS_CERT"), tls_key=require(environ, "HSM_TLS_KEY"),
                     token_label=environ.get("HSM_TOKEN_LABEL") or TOKEN_LABEL,
                     key_label=environ.get("HSM_KEY_LABEL") or KEY_LABEL, module_path=module_path)


def parse_digest(body):
    digest = body.get("digest")
    try:
        raw = bytes.fromhex(digest) if isinstance(digest, str) else b""
    except ValueError:
        raw = b""
    if len(raw) != DIGEST_BYTES:
        raise HttpError(400, {"error": "bad_digest", "message": "digest must be %d hex characters (a SHA-256)"
                                                                % (2 * DIGEST_BYTES)})
    return raw


class LabHsm(App):
    name = NAME

    def __init__(self, config, signer):
        super().__init__(config.state_dir)
        self.config = config
        self.signer = signer
        self.add("/health", self.health, ("GET",))
        self.add("/sign", self.sign, ("POST",))
        self.add("/public-key", self.public_key, ("GET",))

    def token_present(self):
        token_dir = self.config.token.token_dir
        return token_dir.is_dir() and any(token_dir.iterdir())

    def health(self, req):
        token = "present" if self.token_present() else "missing"
        if req.faults.unhealthy:
            return 503, {"status": "unhealthy", "token": token, "key": "unknown", "error": req.faults.reason}
        try:
            self.signer.check()
        except SignerError as exc:
            req.context["error"] = str(exc)
            return 503, {"status": "unhealthy", "token": token, "key": "unusable", "error": str(exc)}
        return 200, {"status": "healthy", "token": token, "key": "usable", "algorithm": ALGORITHM}

    def sign(self, req):
        digest = parse_digest(req.json())
        try:
            signature = self.signer.sign(digest)
        except SignerError as exc:
            req.context["error"] = str(exc)
            raise HttpError(503, {"error": "hsm_unavailable", "message": str(exc)})
        return 200, {"signature": base64.b64encode(signature).decode(), "algorithm": ALGORITHM,
                     "key_label": self.config.key_label}

    def public_key(self, req):
        try:
            pem = self.config.token.public_key.read_text()
        except OSError as exc:
            raise HttpError(503, {"error": "no_public_key", "message": exc.strerror or str(exc)})
        return Response.text(200, pem, content_type="application/x-pem-file")

    def log_request(self, req, resp, duration_ms):
        record = {"method": req.method, "path": req.path, "status": resp.status, "duration_ms": duration_ms}
        if req.context.get("error"):
            record["error"] = req.context["error"]
        self.log_event("ERROR" if resp.status >= 500 else "INFO", "%s %s %d" % (req.method, req.path, resp.status),
                       **record)


def tls_context(config):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(config.tls_cert, config.tls_key)
    return context


def _say(line):
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def main(environ=None):
    """Serve until SIGTERM/SIGINT (exit 0); a bad environment exits 2 with one line; cannot listen: 1."""
    import signal

    environ = os.environ if environ is None else environ
    try:
        config = load_config(environ)
        os.environ["SOFTHSM2_CONF"] = str(config.token.conf)  # before libsofthsm2 is loaded
        signer = Pkcs11Signer(config.module_path, config.token_label, config.key_label,
                              read_pin(config.token.user_pin_file))
        context = tls_context(config)
    except (ConfigError, OSError, ssl.SSLError) as exc:
        _say("%s: %s" % (NAME, exc))
        return 2
    app = LabHsm(config, signer)
    try:
        server = Server((config.host, config.port), app)
    except OSError as exc:
        _say("%s: cannot listen on %s:%d: %s" % (NAME, config.host, config.port, exc.strerror or exc))
        return 1
    # the handshake runs in each request's thread, so a client that never sends one cannot stall the accept loop
    server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    line = "%s %s listening on https://%s:%d" % (NAME, app.version, host, port)
    _say(line)
    app.log_event("INFO", line, event="startup")
    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    _say("%s: stopped" % NAME)
    return 0
