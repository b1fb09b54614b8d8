"""The control plane's credentials, written into its private dir: the API server's serving certificate (from the
project's test CA), the service-account key pair, the static token file, and a kubeconfig a token."""

import base64
import json
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from mcpops.lab.fixtures.ca import TestCA, new_key, write_file

# The names the serving certificate is good for: loopback, and what in-cluster clients would call it.
SERVING_NAMES = ("127.0.0.1", "localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc")


class Identity:
    """A static-token user of the API server: a name, its groups and a fresh token (never printed)."""

    def __init__(self, user, groups=()):
        self.user = user
        self.groups = tuple(groups)
        self.token = secrets.token_urlsafe(32)

    def __repr__(self):  # the token stays out of reprs, logs and assertion messages
        return f"Identity({self.user!r}, groups={self.groups!r})"

    def token_file_line(self):
        groups = ",".join(self.groups)
        return f'{self.token},{self.user},{self.user}' + (f',"{groups}"' if groups else "")


class ControlPlanePki:
    """Everything the processes and the clients need to trust and authenticate each other, under `directory`."""

    def __init__(self, directory):
        self.dir = Path(directory)
        self.ca_cert = self.dir / "ca.crt"
        self.serving_cert = self.dir / "apiserver.crt"
        self.serving_key = self.dir / "apiserver.key"
        self.sa_key = self.dir / "sa.key"
        self.sa_pub = self.dir / "sa.pub"
        self.token_file = self.dir / "tokens.csv"

    def write(self, identities):
        ca = TestCA(name="mcpops kube lab root", with_intermediate=False)
        ca.write_root(self.ca_cert)
        ca.issue(list(SERVING_NAMES)).write(self.serving_cert, self.serving_key)
        # the controller manager signs service-account tokens with it, the API server checks them
        sa = new_key(rsa_bits=2048)
        write_file(self.sa_key, sa.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()), 0o600)
        write_file(self.sa_pub, sa.public_key().public_bytes(serialization.Encoding.PEM,
                                                             serialization.PublicFormat.SubjectPublicKeyInfo), 0o644)
        write_file(self.token_file, "".join(i.token_file_line() + "\n" for i in identities).encode(), 0o600)

    def write_kubeconfig(self, path, server, identity, namespace="default"):
        """A kubeconfig (JSON, which kubectl and the Python client read as YAML) for `identity`, 0600."""
        ca_data = base64.b64encode(self.ca_cert.read_bytes()).decode()
        config = {
            "apiVersion": "v1", "kind": "Config", "preferences": {},
            "clusters": [{"name": "mcpops-lab", "cluster": {"server": server, "certificate-authority-data": ca_data}}],
            "users": [{"name": identity.user, "user": {"token": identity.token}}],
            "contexts": [{"name": "mcpops-lab", "context": {"cluster": "mcpops-lab", "user": identity.user,
                                                              "namespace": namespace}}],
            "current-context": "mcpops-lab",
        }
        write_file(path, (json.dumps(config, indent=2) + "\n").encode(), 0o600)
        return Path(path)
