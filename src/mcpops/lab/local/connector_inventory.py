"""The inventory of a connector lab (`mcpops lab up --service connector-mcp`) as the ConnectorMCP playbooks read it
(docs/dev/connector-contract.md, "Inventory of the lab"): group `connector_backends` (backend-1, backend-2), group
`connector_standby` (backend-3, stopped until a scale-out), and the group vars of the lab's supervisord, nginx,
releases, config file, backups, MariaDB and Redis. The drill (mcpops.drill) and the tests write it.

A password is either read at run time from the lab's own 0600 secret file (secrets="lookup": `{{ lookup(
'ansible.builtin.file', '<lab>/secrets/<name>') }}`, so the inventory file holds no secret; what the drill writes)
or given as its value (secrets="value": what a test that logs in itself wants).
"""

import json
import sys
from pathlib import Path

from mcpops.lab.local.errors import LabError
from mcpops.lab.local.service_catalog import MYSQL, REDIS

GROUP = "connector_backends"
STANDBY_GROUP = "connector_standby"
ROOT_PASSWORD_SECRET = "mysql_root_password"  # connector_topology.ROOT_PASSWORD_SECRET


def secret_lookup(path):
    """A Jinja expression that reads one secret file when a task needs it (the value never in the inventory)."""
    text = str(path)
    if any(c in text for c in "'\"{}\\\n"):
        raise LabError(f"the lab's secret file {text!r} has a character the inventory cannot quote")
    return "{{ lookup('ansible.builtin.file', '%s') }}" % text


def connector_inventory(lab, python=None, secrets="lookup"):
    """{"all": {"vars": ..., "children": {"connector_backends": {"hosts": ...}, "connector_standby": {"hosts": ...}}}}
    of a connector ServiceLab that is up. python: the interpreter whose bin dir has supervisorctl (default this
    one); secrets: "lookup" or "value" (above)."""
    if secrets not in ("lookup", "value"):
        raise ValueError(f"secrets must be lookup or value, not {secrets!r}")

    def secret(name):
        return secret_lookup(lab.secret_file(name)) if secrets == "lookup" else lab.secret(name)

    topo = lab.topology
    info = lab.read_info()
    nginx = topo.nginx()
    mysql = topo.mysql_record()
    redis = lab.datastore_records()[REDIS]
    bin_dir = Path(python or sys.executable).parent
    group_vars = {
        "gateway_platform": "supervisor",
        "gateway_supervisor_config": info["supervisor_config"],
        "gateway_supervisorctl_path": str(bin_dir / "supervisorctl"),
        "connector_lb_url": topo.lb_url,
        "connector_nginx_binary": nginx.binary,
        "connector_nginx_prefix": str(nginx.prefix),
        "connector_nginx_conf": str(nginx.conf),
        "connector_nginx_blocklist": str(nginx.blocklist),
        "connector_nginx_pid_file": str(nginx.pid_file),
        "connector_nginx_upstreams": str(nginx.upstreams_file),
        "connector_config_file": str(topo.config_file),
        "connector_release_dir": str(topo.releases_dir),
        "connector_backup_dir": str(topo.backup_dir),
        "mysql_login_host": "127.0.0.1",
        "mysql_login_port": mysql["port"],
        "mysql_login_user": "root",
        "mysql_login_password": secret(ROOT_PASSWORD_SECRET),
        "mysql_login_db": lab.spec.datastore(MYSQL).database,
        "redis_login_host": "127.0.0.1",
        "redis_login_port": redis["port"],
        "redis_login_db": redis.get("database") or "0",
        "redis_login_password": "",
    }
    # connector_mysql_password: the backends' password (the profile's secret_var)
    group_vars.update({s.var: secret(s.name) for s in lab.spec.secrets})

    def host_vars(program):
        return {
            "ansible_connection": "local",
            "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            "gateway_api_url": lab.program_url(program),
            "gateway_service_name": program,
            "mcp_service": lab.service,
            "mcp_service_overrides": lab.profile_overrides(program),
        }

    hosts = {topo.instance_host(p): host_vars(p) for p in topo.instances}
    standby = {topo.instance_host(p): host_vars(p) for p in topo.standby}
    return {"all": {"vars": group_vars, "children": {GROUP: {"hosts": hosts}, STANDBY_GROUP: {"hosts": standby}}}}


def write_connector_inventory(path, lab, python=None, secrets="lookup"):
    """connector_inventory(...) as a JSON inventory file at path (0600, written atomically); returns the path."""
    from mcpops.lab.gateway.fsutil import atomic_write

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(connector_inventory(lab, python, secrets), indent=2, sort_keys=True) + "\n", 0o600)
    return path
