"""The connector-mcp lab as the tests use it (docs/dev/connector-contract.md): two backend instances under the lab's
supervisord behind a private nginx, a private MariaDB and Redis, the releases dir and the CONNECTOR_CONFIG file; and
the inventory of that lab as the contract's "Inventory of the lab" names it (a dict ready for YAML or JSON:
local_lab_helpers.write_inventory writes a `gateways` group; write_connector_inventory writes this one)."""

import json
import sys
from pathlib import Path

from loopback import free_port
from mcpops.lab.local.service_catalog import CONNECTOR_MCP, MYSQL, REDIS
from mcpops.lab.local.service_lab import ServiceLab

BIN = Path(sys.executable).parent
GROUP = "connector_backends"
STANDBY_GROUP = "connector_standby"  # the standby instance (backend-3): stopped, in no upstream, until a scale-out


def make_connector_lab(path):
    """A connector-mcp ServiceLab in path, up: both instances healthy and nginx answering, on free ports."""
    lab = ServiceLab(path, CONNECTOR_MCP, listen="127.0.0.1:%d" % free_port())
    try:
        lab.up()
    except BaseException:
        lab.down()  # up stops what it started when it fails; this is for an interrupt in between
        raise
    return lab


def connector_inventory(lab):
    """{"all": {"vars": ..., "children": {"connector_backends": {"hosts": {"backend-1": ..., "backend-2": ...}},
    "connector_standby": {"hosts": {"backend-3": ...}}}}}: the group vars and host vars the contract names (plus
    ansible_python_interpreter, so that modules run with the Python that has PyMySQL and redis-py). backend-3, the
    standby instance, is in connector_standby only, never in connector_backends."""
    topo = lab.topology
    info = lab.read_info()
    nginx = topo.nginx()
    root = topo.mysql_record()
    redis = lab.datastore_records()[REDIS]
    group_vars = {
        "gateway_platform": "supervisor",
        "gateway_supervisor_config": info["supervisor_config"],
        "gateway_supervisorctl_path": str(BIN / "supervisorctl"),
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
        "mysql_login_port": root["port"],
        "mysql_login_user": "root",
        "mysql_login_password": lab.secret("mysql_root_password"),
        "mysql_login_db": lab.spec.datastore(MYSQL).database,
        "redis_login_host": "127.0.0.1",
        "redis_login_port": redis["port"],
        "redis_login_db": redis.get("database") or "0",
        "redis_login_password": "",
    }
    group_vars.update(lab.secret_vars())  # connector_mysql_password: the backends' password (the profile's secret_var)

    def host_vars(program):
        return {
            "ansible_connection": "local",
            "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            "gateway_api_url": lab.program_url(program),
            "gateway_service_name": program,
            "mcp_service": CONNECTOR_MCP,
            "mcp_service_overrides": lab.profile_overrides(program),
        }

    hosts = {topo.instance_host(program): host_vars(program) for program in topo.instances}
    standby = {topo.instance_host(program): host_vars(program) for program in topo.standby}
    return {"all": {"vars": group_vars, "children": {GROUP: {"hosts": hosts}, STANDBY_GROUP: {"hosts": standby}}}}


def write_connector_inventory(path, lab):
    """connector_inventory(lab) as a JSON inventory file at path (JSON is YAML; no yaml module needed)."""
    Path(path).write_text(json.dumps(connector_inventory(lab), indent=2, sort_keys=True))
    return Path(path)
