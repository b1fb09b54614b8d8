"""A localhost inventory for the LEGO playbooks against the LEGO lab: `hosts.yml` (one host, the controller,
`ansible_connection: local`), `group_vars/gateways/lego.yml` (no secrets: kubeconfig, namespace, deployments,
manifests, PostgreSQL, HSM, how to reach the dashboard) and `group_vars/gateways/secrets.yml` (0600: the DB password
and the API key, the names the lego-mcp profile's `secret_var` and the runbooks use)."""

import json
import os
import sys
from pathlib import Path

from mcpops.lab.lego import dashboard
from mcpops.lab.lego.stack import DB_NAME, DB_USER, HSM_CONFIGMAP, NAMESPACE, SECRET_NAME

HOST = "lego-controller"


def _write(path, data, mode=0o644):
    """YAML written as JSON (a YAML subset), atomically, with its mode from the start."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(str(tmp), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write("---\n" + json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    return path


def group_vars(stack):
    """The non-secret variables the LEGO playbooks read."""
    return {
        "mcp_service": "lego-mcp",
        "mcp_service_overrides": {"datastores": {"postgres": {
            "kind": "postgresql", "host": "127.0.0.1", "port": stack.pg.port, "database": DB_NAME, "user": DB_USER,
            "secret_var": "lego_db_password"}}},
        # roles/gateway_service, kubernetes backend
        "gateway_platform": "kubernetes",
        "gateway_k8s_kubeconfig": str(stack.plane.kubeconfig),
        "gateway_k8s_namespace": NAMESPACE,
        "gateway_k8s_deployment": "dashboard",
        # the LEGO stack (seed 001)
        "lego_kubeconfig": str(stack.plane.kubeconfig),
        "lego_kubectl": str(stack.plane.binaries.kubectl),
        "lego_namespace": NAMESPACE,
        "lego_deployments": {"dashboard": "dashboard", "celery_worker": "celery-worker"},
        "lego_replica_statefulset": "postgresql-replica",
        "lego_secret_name": SECRET_NAME,
        "lego_hsm_configmap": HSM_CONFIGMAP,
        "lego_manifests_base": str(stack.manifests / "base"),
        "lego_manifests_emergency": str(stack.manifests / "emergency"),
        # the dashboard: no Service routing in the lab; call each Ready pod of the selector on its podIP
        "lego_dashboard_selector": dashboard.SELECTOR,
        "lego_dashboard_port": dashboard.PORT,
        "lego_dashboard_scheme": "http",
        # PostgreSQL (the private cluster on loopback; the password is in secrets.yml)
        "lego_db_host": "127.0.0.1",
        "lego_db_port": stack.pg.port,
        "lego_db_name": DB_NAME,
        "lego_db_user": DB_USER,
        # the HSM (seed: https://hsm.internal:12345)
        "lego_hsm_url": stack.hsm.url,
        "lego_hsm_ca_file": str(stack.hsm.ca_file),
    }


def write_inventory(stack, directory):
    """Write the inventory under `directory`; returns its hosts.yml path."""
    directory = Path(directory)
    hosts = {"all": {"children": {"gateways": {"hosts": {HOST: {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}}}
    _write(directory / "group_vars" / "gateways" / "lego.yml", group_vars(stack))
    _write(directory / "group_vars" / "gateways" / "secrets.yml",
           {"lego_db_password": stack.db_password, "lego_api_key": stack.api_key}, mode=0o600)
    return _write(directory / "hosts.yml", hosts)
