"""What the _redis unit tests share: a private Redis (mcpops.lab.fixtures.redis_server) with a password set after
start (requirepass, a canary) and a TLS port beside its plain one, certified by a throw-away test CA."""

import secrets

import redis

from mcpops.lab.fixtures.ca import TestCA
from mcpops.lab.fixtures.redis_server import RedisServer
from mcpops.lab.loopback import free_port

CANARY = "CANARY-unit-" + secrets.token_hex(8)


class TlsRedisServer(RedisServer):
    """The lab's Redis with a TLS port too (the plain port stays: the fixture polls it until our PID answers)."""

    def __init__(self, port, tls_port, cert, key, ca):
        super().__init__(port)
        self.tls_port, self.cert, self.key, self.ca = tls_port, cert, key, ca

    def command(self):
        return super().command() + ["--tls-port", str(self.tls_port), "--tls-cert-file", self.cert, "--tls-key-file",
                                    self.key, "--tls-ca-cert-file", self.ca, "--tls-auth-clients", "no"]


def start_server(tmp_dir):
    ca = TestCA()
    leaf = ca.issue(["127.0.0.1"])
    cert, key, ca_file = str(tmp_dir / "redis.crt"), str(tmp_dir / "redis.key"), str(tmp_dir / "ca.pem")
    leaf.write(cert, key)
    ca.write_root(ca_file)
    server = TlsRedisServer(free_port(), free_port(), cert, key, ca_file).start()
    redis.Redis(host="127.0.0.1", port=server.port).config_set("requirepass", CANARY)
    return server


def admin(server, db=0):
    return redis.Redis(host="127.0.0.1", port=server.port, password=CANARY, db=db)


def params(server, **extra):
    base = dict(login_host="127.0.0.1", login_port=server.port, login_password=CANARY, login_db=0, connect_timeout=10)
    base.update(extra)
    return base
