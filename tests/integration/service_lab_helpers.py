"""The service lab as the tests use it: start one reference service (cctelegram-mcp, lego-mcp, loyalty-api,
connector-mcp) with its datastores on free loopback ports, and the inventory vars of that lab as a host of the
`gateways` group (supervisor, local connection). Inventories are written with local_lab_helpers.write_inventory."""

import sys
from pathlib import Path

from loopback import free_port
from mcpops.lab.local.service_catalog import MYSQL, POSTGRES, REDIS
from mcpops.lab.local.service_lab import ServiceLab

BIN = Path(sys.executable).parent


def make_service_lab(path, service):
    """A ServiceLab of service in path, up and healthy (its liveness check answers) on a free port."""
    lab = ServiceLab(path, service, listen="127.0.0.1:%d" % free_port())
    try:
        lab.up()
    except BaseException:
        lab.down()  # up stops what it started when it fails; this is for an interrupt in between
        raise
    return lab


def service_host_vars(lab):
    """The inventory vars of one service lab: connection, mcp_service and the profile overrides that point at the
    lab (its URL, ports, log files), the supervisor platform, the service's secrets under the variable names its
    profile's secret_var gives, and the datastores' login vars."""
    info = lab.read_info()
    host_vars = {
        "ansible_connection": "local",
        "ansible_python_interpreter": "{{ ansible_playbook_python }}",
        "mcp_service": lab.service,
        "mcp_service_overrides": lab.profile_overrides(),
        "gateway_api_url": info["api_url"],
        "gateway_platform": "supervisor",
        "gateway_supervisor_config": info["supervisor_config"],
        "gateway_supervisorctl_path": str(BIN / "supervisorctl"),
        "gateway_service_name": info["service_name"],
    }
    host_vars.update(lab.secret_vars())
    stores = lab.datastore_records()
    if POSTGRES in stores:
        login = lab.datastore_login(POSTGRES)
        host_vars.update({"pg_login_host": login["host"], "pg_login_port": login["port"],
                          "pg_login_user": login["user"], "pg_login_password": login["password"],
                          "pg_login_db": login["database"]})
    if MYSQL in stores:
        login = lab.datastore_login(MYSQL)
        host_vars.update({"mysql_login_host": login["host"], "mysql_login_port": login["port"],
                          "mysql_login_user": login["user"], "mysql_login_password": login["password"],
                          "mysql_login_db": login["database"]})
    if REDIS in stores:
        login = lab.datastore_login(REDIS)
        host_vars.update({"redis_login_host": login["host"], "redis_login_port": login["port"],
                          "redis_login_db": login["database"]})
    return host_vars
