"""How the lab reaches "the dashboard": there is no kube-proxy and no ingress, and a Service has no endpoints (pod IPs
are loopback), so a client lists the Ready pods of `app=dashboard` and calls each pod's own IP on port 8000, where
the node agent runs the reference service for it. Playbooks do the same with kubernetes.core.k8s_info (podIP)."""

import json
import socket
import urllib.error
import urllib.request

NAMESPACE = "lego-mcp"
SELECTOR = "app=dashboard"
PORT = 8000


def pods(plane, selector=SELECTOR, namespace=NAMESPACE):
    """The pods of the selector, as API objects (kubectl get -o json)."""
    return json.loads(plane.kubectl("-n", namespace, "get", "pods", "-l", selector, "-o", "json").stdout)["items"]


def is_ready(pod):
    conditions = (pod.get("status") or {}).get("conditions") or []
    return not pod["metadata"].get("deletionTimestamp") and any(
        c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def ready_urls(pod_list, port=PORT):
    """http://<pod IP>:<port> of each Ready pod, by pod name."""
    return {p["metadata"]["name"]: f"http://{p['status']['podIP']}:{port}" for p in pod_list
            if is_ready(p) and (p.get("status") or {}).get("podIP")}


def get_json(url, timeout=10.0):
    """(status, parsed body or None) of GET url, never through a proxy; (None, error text) when nothing answers."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as answer:
            return answer.status, json.loads(answer.read().decode() or "null")
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.loads(exc.read().decode() or "null")
        except ValueError:
            return exc.code, None
    except (OSError, ValueError, socket.timeout) as exc:
        return None, str(exc)


def health(url):
    return get_json(url + "/health")
