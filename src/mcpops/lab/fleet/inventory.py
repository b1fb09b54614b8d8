"""`inventories/fleet/`, written by `mcpops fleet up` for the running fleet.

hosts.yml lists the hosts with their loopback address; group_vars/gateways.yml carries the same names as
`inventories/lab` (and `production.example`), so a playbook runs unchanged on either. Secrets are read
from the fleet's 0600 files with lookups at run time; no secret is written into the inventory. A fleet booted
with `--service cctelegram-mcp` gets CCTelegram's group vars instead (mcp_service, the unit, the API on :8080
and the API key, read from each host's 0600 key file); one booted with `--service lego-mcp|loyalty-api|connector-mcp`
gets that service's (reference_group_vars): its unit and port, its secrets read from 0600 files, the profile
overrides that point at each host and at the fleet's shared datastores, and their logins (pg_login_*, ...).
"""

import json
import os
import secrets
from pathlib import Path

from mcpops.lab.fleet import image, reference_services as reference, services
from mcpops.lab.fleet.host import GATEWAY_PORT
from mcpops.lab.gateway.fsutil import atomic_write

GROUP_VARS = """---
# Written by `mcpops fleet up` (mcpops.lab.fleet.inventory); regenerated at every up. The fleet's state
# dir (mcpops_fleet_dir) is set in hosts.yml; tokens are read from its 0600 files, never copied here.
gateway_platform: systemd
gateway_service_name: {service}
gateway_data_dir: {data}
# Each host's own gateway, as seen from the host itself (the modules run there; the network is shared).
gateway_api_url: "http://{{{{ ansible_host }}}}:{port}"
gateway_validate_certs: true
gateway_max_schema_version: 3
gateway_admin_token: "{{{{ lookup('ansible.builtin.file', mcpops_fleet_dir ~ '/hosts/' ~ inventory_hostname ~ '/etc-gateway/admin_token') }}}}"
gateway_mcp_token: "{{{{ lookup('ansible.builtin.file', mcpops_fleet_dir ~ '/hosts/' ~ inventory_hostname ~ '/secrets/mcp_token') }}}}"
gateway_admin_token_file: {etc}/admin_token
# Forensic copies of .data are sealed with the fleet's key (issue 24): the same 0600 key on each host (bind-mounted
# from hosts/<name>/etc-gateway/) and on the controller (secrets/forensic.key, for triage bundles and opening).
mcpops_forensic_key_file: {etc}/forensic.key
mcpops_forensic_controller_key_file: "{{{{ mcpops_fleet_dir }}}}/secrets/forensic.key"
gateway_env_file: {etc}/gateway.env
# Every change a runbook makes is audited under the fleet's break-glass account (roles/operator_identity).
mcpops_break_glass_account: fleet-break-glass
# INC-001's foreground debug on a scratch copy of the data dir: the host's copy of the reference gateway.
gateway_foreground_argv: [/usr/bin/python3, -m, mcpops.lab.gateway]
gateway_foreground_chdir: {src}
# INC-001's second sample of a crash loop: the fleet's unit gives up within seconds (RestartSec=1,
# StartLimitBurst=3) and the restart's own wait ends when it has, so the runbook's 5 s would only be waited out.
gateway_debug_sample_seconds: 1

# Real SSH as root with the fleet's own key; host keys pinned in the fleet's known_hosts.
ansible_user: root
ansible_python_interpreter: /usr/bin/python3
ansible_ssh_private_key_file: "{{{{ mcpops_fleet_dir }}}}/ssh/id_ed25519"
ansible_ssh_common_args: >-
  -o UserKnownHostsFile={{{{ mcpops_fleet_dir }}}}/ssh/known_hosts -o GlobalKnownHostsFile=/dev/null
  -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes -o BatchMode=yes
"""


CCTELEGRAM_GROUP_VARS = """---
# Written by `mcpops fleet up --service cctelegram-mcp` (mcpops.lab.fleet.inventory); regenerated at every up.
# The fleet's state dir (mcpops_fleet_dir) is set in hosts.yml; each host's API key is read from its 0600 file
# there, never copied here.
mcp_service: {service}
gateway_platform: systemd
gateway_service_name: {unit}
# Each host's own cctelegram-mcp, as seen from the host itself (the modules run there; the network is shared).
gateway_api_url: "http://{{{{ ansible_host }}}}:{port}"
gateway_validate_certs: true
cctelegram_api_key: "{{{{ lookup('ansible.builtin.file', mcpops_fleet_dir ~ '/hosts/' ~ inventory_hostname ~ '/etc-cctelegram/api_key') }}}}"
# The profile's defaults name 127.0.0.1; each host serves on its own address.
mcp_service_overrides:
  api: {{default_url: "http://{{{{ ansible_host }}}}:{port}"}}
  metrics: {{url: "http://{{{{ ansible_host }}}}:{metrics_port}"}}

# Real SSH as root with the fleet's own key; host keys pinned in the fleet's known_hosts.
ansible_user: root
ansible_python_interpreter: /usr/bin/python3
ansible_ssh_private_key_file: "{{{{ mcpops_fleet_dir }}}}/ssh/id_ed25519"
ansible_ssh_common_args: >-
  -o UserKnownHostsFile={{{{ mcpops_fleet_dir }}}}/ssh/known_hosts -o GlobalKnownHostsFile=/dev/null
  -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes -o BatchMode=yes
"""


_SSH_VARS = """
# Real SSH as root with the fleet's own key; host keys pinned in the fleet's known_hosts.
ansible_user: root
ansible_python_interpreter: /usr/bin/python3
ansible_ssh_private_key_file: "{{ mcpops_fleet_dir }}/ssh/id_ed25519"
ansible_ssh_common_args: >-
  -o UserKnownHostsFile={{ mcpops_fleet_dir }}/ssh/known_hosts -o GlobalKnownHostsFile=/dev/null
  -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes -o BatchMode=yes
"""


def _lookup(path_expr):
    """A file lookup, read on the controller at run time: the secret stays in its 0600 file."""
    return "\"{{ lookup('ansible.builtin.file', mcpops_fleet_dir ~ %s) }}\"" % path_expr


# The login variables of each datastore kind (the names the runbooks and tests use), and which login fields go in.
_LOGIN_VARS = {"postgres": "pg_login", "mysql": "mysql_login", "redis": "redis_login"}


def reference_group_vars(service, logins=None):
    """The group vars of a lego-mcp, loyalty-api or connector-mcp fleet. logins: FleetLab.datastore_logins()."""
    lay = reference.layout(service)
    logins = logins or {}
    lines = ["---",
             f"# Written by `mcpops fleet up --service {service}` (mcpops.lab.fleet.inventory); regenerated at "
             "every up.",
             "# The fleet's state dir (mcpops_fleet_dir) is set in hosts.yml; every secret is read from its 0600 file",
             f"# there (a host's under hosts/<name>/etc-{service}/, the shared datastores' under secrets/), never "
             "copied here.",
             f"mcp_service: {service}",
             "gateway_platform: systemd",
             f"gateway_service_name: {lay.unit}",
             "# Each host's own service, as seen from the host itself (the modules run there; the network is shared).",
             f'gateway_api_url: "http://{{{{ ansible_host }}}}:{lay.port}"',
             "gateway_validate_certs: true",
             "# The profile's secret_var names."]
    for secret in lay.spec.secrets:
        where = ("'/secrets/db_password'" if secret.name == "db_password" else
                 f"'/hosts/' ~ inventory_hostname ~ '/etc-{service}/{secret.name}'")
        lines.append(f"{secret.var}: {_lookup(where)}")
    lines += ["# The profile's defaults name 127.0.0.1 and the seed's ports; each host serves on its own address, the",
              "# fleet's shared datastores listen on 127.0.0.1 (the hosts share this machine's network) on ports of "
              "their own,",
              "# the service's log is a file under /var/log on each host, and it runs as a systemd unit.",
              "mcp_service_overrides:",
              f'  api: {{default_url: "http://{{{{ ansible_host }}}}:{lay.port}"}}']
    if logins:
        lines.append("  datastores:")
        lines += [f"    {kind}: {{host: {login['host']}, port: {login['port']}}}" for kind, login in logins.items()]
    lines.append(f"  logs: {{source: file, unit: {lay.unit}, path: {lay.log_path}}}")
    # How it runs here: one systemd unit a host, nothing beside it (loyalty-api's compose worker is not run).
    lines.append(f"  runtime: {{platform: systemd, unit: {lay.unit}, depends_on: []}}")
    if logins:
        lines.append("# How a runbook logs in to the fleet's shared datastores (from a host: 127.0.0.1 is this "
                     "machine).")
    for kind, login in logins.items():
        prefix = _LOGIN_VARS[kind]
        lines += [f"{prefix}_host: {login['host']}", f"{prefix}_port: {login['port']}"]
        if login.get("user"):
            lines.append(f"{prefix}_user: {login['user']}")
        if login.get("secret"):
            lines.append(f"{prefix}_password: {_lookup(repr('/secrets/' + login['secret']))}")
        lines.append(f"{prefix}_db: {json.dumps(str(login['database'] or '0'))}")
    return "\n".join(lines) + "\n" + _SSH_VARS


def group_vars(service=services.DEFAULT, logins=None):
    if service in reference.SERVICES:
        return reference_group_vars(service, logins)
    if service == services.CCTELEGRAM:
        return CCTELEGRAM_GROUP_VARS.format(service=service, unit=services.MCP_UNIT, port=services.API_PORT,
                                            metrics_port=services.METRICS_PORT)
    return GROUP_VARS.format(service=image.SERVICE_NAME, data=image.GATEWAY_DATA, port=GATEWAY_PORT,
                             etc=image.GATEWAY_ETC, src=image.MCPOPS_SRC)


def hosts_yml(state_dir, hosts, standby=()):
    # JSON is YAML: quoting by json.dumps keeps any path safe.
    lines = ["---", "# Written by `mcpops fleet up` for the fleet in %s; regenerated at every up." % state_dir,
             "all:", "  vars:", "    mcpops_fleet_dir: %s" % json.dumps(str(state_dir)),
             "  children:", "    gateways:", "      hosts:"]
    for host in hosts:
        lines += ["        %s:" % host.name, "          ansible_host: %s" % host.address]
    if standby:  # booted, units stopped, not behind the load balancer: not in gateways until a scale-up
        lines += ["    %s:" % STANDBY_GROUP, "      hosts:"]
        for host in standby:
            lines += ["        %s:" % host.name, "          ansible_host: %s" % host.address]
    return "\n".join(lines) + "\n"


STANDBY_GROUP = "cctelegram_standby"
# Every group_vars file `write` may write (`down --purge` removes them; a fleet of another service, the stale ones).
GROUP_VARS_FILES = ("group_vars/gateways.yml", "group_vars/all.yml", f"group_vars/{STANDBY_GROUP}.yml")

CONTROLLER_VARS_HEADER = """---
# Written by `mcpops fleet up --service cctelegram-mcp` (mcpops.lab.fleet.inventory); regenerated at every up.
# The controller side of the fleet, on this machine's 127.0.0.1 (plays reach it with `delegate_to: localhost`): the
# nginx load balancer (a private instance: validate with `nginx -t -p <prefix>/ -c <conf>`, reload with
# `nginx -s reload -p <prefix>/ -c <conf>`), Prometheus, the Telegram Bot API stand-in. The bot token stays in its
# 0600 file (read by a lookup at run time), never copied here.
"""


def controller_yml(controller_vars):
    """group_vars/all.yml of a CCTelegram fleet: controller_vars {name: value} (strings, JSON-quoted), and the bot
    token as a lookup of its file."""
    lines = [CONTROLLER_VARS_HEADER.rstrip("\n")]
    for name, value in controller_vars.items():
        lines.append(f"{name}: {json.dumps(value)}")
    lines.append("cctelegram_telegram_bot_token: " + _lookup(repr("/secrets/telegram_bot_token")))
    # The key a client of the load balancer sends: the fleet's one key (every instance's api_key file holds it).
    lines.append("cctelegram_lb_api_key: " + _lookup(repr("/secrets/cctelegram_api_key")))
    return "\n".join(lines) + "\n"


FORENSIC_KEY = "forensic.key"


def write_forensic_keys(state_dir, hosts):
    """The fleet's forensic key: made once in <state>/secrets/forensic.key (0600, dir 0700), copied 0600 into each
    host's etc-gateway/ (bind-mounted at /etc/onec-mcp-gateway). Kept across ups: what it sealed stays openable."""
    secrets_dir = Path(state_dir) / "secrets"
    secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(secrets_dir, 0o700)
    key_file = secrets_dir / FORENSIC_KEY
    if not key_file.exists():
        atomic_write(key_file, secrets.token_hex(32) + "\n", 0o600)
    key = key_file.read_text()
    for host in hosts:
        etc = Path(state_dir) / "hosts" / host.name / "etc-gateway"
        if etc.is_dir():
            atomic_write(etc / FORENSIC_KEY, key, 0o600)
    return key_file


def write(inventory_dir, state_dir, hosts, service=services.DEFAULT, logins=None, standby=(), controller_vars=None):
    """hosts.yml and group_vars/: gateways.yml; a CCTelegram fleet also all.yml (controller_vars: its load
    balancer, Prometheus and Telegram stand-in) and, with standby hosts, cctelegram_standby.yml (the gateways'
    vars: a scale-up's health checks and ssh work on a standby as on the others)."""
    write_forensic_keys(state_dir, [*hosts, *standby])
    inventory_dir = Path(inventory_dir)
    (inventory_dir / "group_vars").mkdir(parents=True, exist_ok=True)
    atomic_write(inventory_dir / "hosts.yml", hosts_yml(state_dir, hosts, standby), 0o644)
    text = group_vars(service, logins)
    wanted = {"group_vars/gateways.yml": text}
    if controller_vars is not None:
        wanted["group_vars/all.yml"] = controller_yml(controller_vars)
    if standby:
        wanted[f"group_vars/{STANDBY_GROUP}.yml"] = text
    for name in GROUP_VARS_FILES:
        if name in wanted:
            atomic_write(inventory_dir / name, wanted[name], 0o644)
        elif name != "group_vars/gateways.yml":
            (inventory_dir / name).unlink(missing_ok=True)  # a previous CCTelegram fleet's
    return inventory_dir
