"""The lab node agent's API client: JSON over HTTPS to the lab API server with a bearer token, standard library
only (the agent is a lab daemon, and the lab imports nothing beyond the standard library it can avoid).

A kubeconfig as the control plane writes it (JSON: one cluster with `certificate-authority-data`, one user with a
`token`) is all it reads. Errors are `ApiError` with the status and the server's message, never the token.
"""

import base64
import json
import os
import ssl
import tempfile
import urllib.error
import urllib.parse
import urllib.request

TIMEOUT = 10.0


class ApiError(Exception):
    """An API call failed: `status` is the HTTP status (None when nothing answered), `reason` the Status reason."""

    def __init__(self, message, status=None, reason=None):
        super().__init__(message)
        self.status = status
        self.reason = reason


class ApiClient:
    """`get`, `post`, `patch`, `put`, `delete` of API paths (`/api/v1/nodes`); each returns the decoded JSON body."""

    def __init__(self, server, token, ca_pem):
        self.server = server.rstrip("/")
        self._token = token
        self.ca_pem = ca_pem
        context = ssl.create_default_context(cadata=ca_pem)
        # loopback only, so never a proxy, whatever the environment says
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                                   urllib.request.HTTPSHandler(context=context))

    def __repr__(self):  # the token stays out of reprs and assertion messages
        return f"ApiClient({self.server!r})"

    @classmethod
    def from_kubeconfig(cls, path):
        config = json.loads(open(path, encoding="utf-8").read())
        context_name = config["current-context"]
        context = next(c["context"] for c in config["contexts"] if c["name"] == context_name)
        cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
        user = next(u["user"] for u in config["users"] if u["name"] == context["user"])
        ca_pem = base64.b64decode(cluster["certificate-authority-data"]).decode()
        return cls(cluster["server"], user["token"], ca_pem)

    def get(self, path, **query):
        return self.request("GET", path, query=query)

    def post(self, path, body):
        return self.request("POST", path, body)

    def put(self, path, body):
        return self.request("PUT", path, body)

    def patch(self, path, body, kind="merge"):
        return self.request("PATCH", path, body, content_type=f"application/{kind}-patch+json")

    def delete(self, path, body=None):
        return self.request("DELETE", path, body)

    def request(self, method, path, body=None, query=None, content_type="application/json"):
        url = self.server + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with self._opener.open(request, timeout=TIMEOUT) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            status = _status_body(exc)
            raise ApiError(f"{method} {path}: {exc.code} {status.get('message') or exc.reason}",
                           status=exc.code, reason=status.get("reason")) from None
        except (OSError, ValueError) as exc:
            raise ApiError(f"{method} {path}: no answer from {self.server}: {exc}") from None


def _status_body(exc):
    try:
        return json.loads(exc.read() or b"{}")
    except (OSError, ValueError):
        return {}


def write_kubeconfig(path, server, ca_pem, user, token, namespace="default"):
    """A kubeconfig (JSON) for one token user, 0600, written whole: a temp file in the same dir renamed into place."""
    config = {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": "mcpops-lab", "cluster": {
            "server": server, "certificate-authority-data": base64.b64encode(ca_pem.encode()).decode()}}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": "mcpops-lab", "context": {"cluster": "mcpops-lab", "user": user,
                                                          "namespace": namespace}}],
        "current-context": "mcpops-lab",
    }
    directory = os.path.dirname(os.path.abspath(path))
    with tempfile.NamedTemporaryFile("w", dir=directory, delete=False, prefix=".kubeconfig-") as tmp:
        os.fchmod(tmp.fileno(), 0o600)
        tmp.write(json.dumps(config, indent=2) + "\n")
    os.replace(tmp.name, path)
    return path
