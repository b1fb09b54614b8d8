"""JSON over HTTP to a lab's gateway on loopback: what the labs, their faults, the drill and the tests use
to ask a gateway something (the collection's own client is plugins/module_utils/_gateway/client.py)."""

import json
import urllib.error
import urllib.request

# A lab gateway is on loopback: an operator's HTTP(S)_PROXY must never see its requests or tokens.
_NO_PROXY_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_json(url, method="GET", token=None, body=None, timeout=3.0, headers=None):
    """(status, parsed JSON or None); status None with the error text when nothing answered. The token and the
    headers (a service's API key among them) are never put into what it returns."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    for name, value in (headers or {}).items():
        req.add_header(name, value)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with _NO_PROXY_OPENER.open(req, timeout=timeout) as resp:
            raw = resp.read()
            status = resp.status
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        status = exc.code
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return None, {"error": str(reason)}
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, {"raw": raw[:200].decode("utf-8", "replace")}
