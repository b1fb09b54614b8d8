"""A container's environment as a kubelet hands it to the process: literal `value`s, `valueFrom.secretKeyRef` and
`valueFrom.configMapKeyRef` read from the API server, and `envFrom` (a whole Secret or ConfigMap). The lab node agent
needs it only for the reference service it runs for a served pod (lego-mcp's DATABASE_URL lives in a Secret, as on
a cluster); a pod's faults still read the literal values (node_pod_status.container_env).

The agent reads only what RBAC grants it: its own role has no secrets (node_identity); the LEGO lab grants its
two objects by name (mcpops.lab.lego.stack). A reference that cannot be resolved (the object or its key missing or
not granted, not `optional`) leaves the variable out and is named in the returned list: a kubelet would hold the
container in CreateContainerConfigError; the agent says so in an event instead. Secret values
never leave the returned dict (no log line, no event names a value)."""

import base64

from mcpops.lab.kube.node_api import ApiError


def _read(api, namespace, kind, name, cache):
    """The object's data (Secret values decoded), or None when it does not exist."""
    key = (kind, name)
    if key not in cache:
        path = f"/api/v1/namespaces/{namespace}/{'secrets' if kind == 'secret' else 'configmaps'}/{name}"
        try:
            obj = api.get(path)
        except ApiError as exc:
            if exc.status not in (403, 404):  # gone, or not granted to this node: unresolved, as a kubelet's
                raise
            obj = None
        if obj is None:
            cache[key] = None
        elif kind == "secret":
            cache[key] = {k: base64.b64decode(v).decode("utf-8", "replace") for k, v in (obj.get("data") or {}).items()}
        else:
            cache[key] = dict(obj.get("data") or {})
    return cache[key]


def resolved_env(api, namespace, container):
    """(env dict, unresolved) of one container spec: envFrom first, then env in order (later wins, as a kubelet's)."""
    cache, env, unresolved = {}, {}, []
    for source in container.get("envFrom") or []:
        for kind, field in (("secret", "secretRef"), ("configmap", "configMapRef")):
            ref = source.get(field)
            if not ref:
                continue
            data = _read(api, namespace, kind, ref.get("name", ""), cache)
            if data is None:
                if not ref.get("optional"):
                    unresolved.append(f"envFrom {kind} {ref.get('name')}")
                continue
            prefix = source.get("prefix", "")
            env.update({prefix + k: v for k, v in data.items()})
    for entry in container.get("env") or []:
        name = entry.get("name")
        if not name:
            continue
        source = entry.get("valueFrom")
        if not source:
            env[name] = entry.get("value", "")
            continue
        for kind, field in (("secret", "secretKeyRef"), ("configmap", "configMapKeyRef")):
            ref = source.get(field)
            if not ref:
                continue
            data = _read(api, namespace, kind, ref.get("name", ""), cache)
            if data is not None and ref.get("key") in data:
                env[name] = data[ref["key"]]
            elif not ref.get("optional"):
                unresolved.append(f"{name} ({kind} {ref.get('name')} key {ref.get('key')})")
    return env, unresolved
