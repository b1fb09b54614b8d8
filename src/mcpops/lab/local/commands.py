"""`mcpops lab up|down|status|break <fault>|seed`: argparse wiring over LocalLab (the 1C gateway) and ServiceLab (the
other reference services, `up --service <name>`; the state dir's lab.json records which, so `down`, `status` and
`break` need no --service). With `--platform compose`, up, down, status, break and repair are the Loyalty API's compose
lab's (mcpops.lab.compose.commands: a private dockerd and the compose project, kept running between commands)."""

import argparse
import json
import sys

EXIT_ERROR = 1
EXIT_UNKNOWN_FAULT = 4
COMPOSE = "compose"
KUBERNETES = "kubernetes"  # the LEGO MCP lab on its own control plane (mcpops.lab.lego.commands)


def _lab(args):
    from mcpops.lab.local.errors import LabError
    from mcpops.lab.local.lab import LocalLab, default_state_dir
    from mcpops.lab.local.service_catalog import ONEC_GATEWAY
    from mcpops.lab.local.service_lab import ServiceLab, recorded_service

    recorded = recorded_service(args.dir or default_state_dir())
    service = getattr(args, "service", None) or recorded or ONEC_GATEWAY
    if service == ONEC_GATEWAY:
        if recorded and recorded != ONEC_GATEWAY:
            raise LabError(f"the lab in {args.dir or default_state_dir()} runs {recorded}, not {ONEC_GATEWAY}: "
                           f"`mcpops lab down --purge` first, or choose another --dir")
        return LocalLab(args.dir, listen=getattr(args, "listen", None), upstream=getattr(args, "upstream", None),
                        out=print)
    if getattr(args, "upstream", None):
        raise LabError(f"--upstream is for the {ONEC_GATEWAY} lab, not {service}")
    return ServiceLab(args.dir, service, listen=getattr(args, "listen", None), out=print)


def _is_service_lab(lab):
    return hasattr(lab, "service")


def _run(fn):
    def wrapper(args):
        from mcpops.lab.local.errors import LabError, UnknownFault

        try:
            return fn(args)
        except UnknownFault as exc:
            print(f"mcpops lab: {exc}", file=sys.stderr)
            return EXIT_UNKNOWN_FAULT
        except LabError as exc:
            print(f"mcpops lab: error: {exc}", file=sys.stderr)
            return EXIT_ERROR

    return wrapper


@_run
def cmd_up(args):
    lab = _lab(args)
    r = lab.up()
    if _is_service_lab(lab):
        programs = ", ".join(f"{name} pid {pid}" for name, pid in r["programs"].items())
        stores = "".join(f", {kind} pid {d['pid']} on 127.0.0.1:{d['port']}" for kind, d in r["datastores"].items())
        topology = r.get("topology")
        lb = f", nginx pid {topology['nginx_pid']} on {topology['lb_url']}" if topology else ""
        print(f"lab up{'' if r['started'] else ' (already running)'}: {r['service']} {r['api_url']} {programs}{stores}"
              f"{lb} supervisord pid {r['supervisord_pid']} (state {r['state_dir']})")
        return 0
    print(f"lab up{'' if r['started'] else ' (already running)'}: {r['api_url']} gateway pid {r['gateway_pid']} supervisord pid {r['supervisord_pid']}"
          f" (state {r['state_dir']})")
    return 0


@_run
def cmd_down(args):
    r = _lab(args).down(purge=args.purge)
    stopped = ", ".join(str(p) for p in r["stopped"]) or "nothing was running"
    print(f"lab down: stopped {stopped}" + ("; state dir removed" if r.get("purged") else ""))
    return 0


def _print_service_status(s):
    def probe(check):
        if check["status"] is not None:
            return str(check["status"])
        return f"no answer ({(check['body'] or {}).get('error')})"

    print(f"state dir:   {s['state_dir']}")
    print(f"service:     {s['service']} {s['api_url'] or ''}".rstrip())
    print(f"supervisord: {'pid ' + str(s['supervisord_pid']) if s['supervisord_pid'] else 'not running'}")
    for name, p in s["programs"].items():
        print(f"{name}: {p['state']}" + (f" pid {p['pid']}" if p["pid"] else "") + (" (standby)" if p.get("standby") else ""))
    for kind, d in s["datastores"].items():
        print(f"{kind}: " + (f"running pid {d['pid']}" if d["running"] else "not running") + f" on 127.0.0.1:{d['port']}")
    topology = s.get("topology")
    if topology:
        nginx = topology["nginx"]
        print("nginx:       " + (f"running pid {nginx['pid']}" if nginx["running"] else
                                  "not running" + (f" (recorded pid {nginx['recorded_pid']} is gone)"
                                                   if nginx["recorded_pid"] else ""))
              + f" on {topology['lb_url']} ({nginx['conf']})")
        print(f"{'lb:':<12} {topology['lb_check']['path']} {probe(topology['lb_check'])}")
        releases = topology["releases"]
        print(f"releases:    current {releases['current']}, previous {releases['previous'] or '-'}")
        if topology["filler_pid"]:
            print(f"filler:      session holder pid {topology['filler_pid']} (mysql-max-connections)")
    for role, check in s["checks"].items():
        print(f"{role + ':':<12} {check['path']} {probe(check)}")
    if s["env_overrides"] or s["faults_json"]:
        print(f"faults:      {json.dumps({'faults.json': s['faults_json'], 'env': s['env_overrides']}, sort_keys=True)}")
    print(f"healthy:     {'yes' if s['healthy'] else 'no'}")


@_run
def cmd_status(args):
    lab = _lab(args)
    s = lab.status()
    if args.json:
        print(json.dumps(s, indent=2, sort_keys=True))
    elif _is_service_lab(lab):
        _print_service_status(s)
    else:
        def probe(p):
            if not p:
                return "-"
            return str(p["status"]) if p["status"] is not None else f"no answer ({p['body'].get('error')})"

        print(f"state dir:   {s['state_dir']}")
        print(f"supervisord: {'pid ' + str(s['supervisord_pid']) if s['supervisord_pid'] else 'not running'}")
        print(f"{s['service_name']}: {s['state']}" + (f" pid {s['gateway_pid']}" if s["gateway_pid"] else ""))
        print(f"healthz:     {probe(s['healthz'])}")
        print(f"readyz:      {probe(s['readyz'])}")
        print(f"healthy:     {'yes' if s['healthy'] else 'no'}")
    return 0 if s["healthy"] else 1


@_run
def cmd_break(args):
    print(_lab(args).break_(args.fault))
    return 0


@_run
def cmd_seed(args):
    from mcpops.lab.local.errors import LabError

    lab = _lab(args)
    if _is_service_lab(lab):
        raise LabError(f"`mcpops lab seed` seeds the 1C gateway's data dir; the lab in {lab.state_dir} runs {lab.service}")
    r = lab.seed(force=args.force)
    print(f"lab seed: seeded {r['data_dir']} (ops token {r['mcp_token_id']})")
    return 0


def _on_platform(local, name):
    """The subcommand: the compose lab's body (mcpops.lab.compose.commands.<name>) with --platform compose, else
    the local lab's."""
    def dispatch(args):
        if getattr(args, "platform", None) == COMPOSE:
            from mcpops.lab.compose import commands as compose_commands

            return getattr(compose_commands, name)(args)
        if getattr(args, "platform", None) == KUBERNETES:
            from mcpops.lab.lego import commands as kube_commands

            return getattr(kube_commands, name)(args)
        return local(args)

    return dispatch


@_run
def cmd_repair_local(args):
    from mcpops.lab.compose.loyalty_faults import FAULTS as COMPOSE_FAULTS
    from mcpops.lab.lego.faults import FAULTS as KUBE_FAULTS
    from mcpops.lab.local import faults

    if args.fault not in faults.FAULTS:  # another lab's fault: name that lab's flag, before any lab is looked at
        where = [flag for flag, names in ((COMPOSE, COMPOSE_FAULTS), (KUBERNETES, KUBE_FAULTS)) if args.fault in names]
        if where:
            print(f"mcpops lab: {args.fault} is a fault of the {' and '.join(where)} lab: `mcpops lab repair "
                  f"{args.fault} --platform {where[0]}` (a local service lab's faults are undone by "
                  f"`mcpops lab break healthy`)", file=sys.stderr)
            return EXIT_UNKNOWN_FAULT
    lab = _lab(args)
    if _is_service_lab(lab):
        print(f"mcpops lab: error: the {lab.service} lab's faults are undone by `mcpops lab break healthy`; "
              f"`repair` is the 1C gateway's, the compose lab's (--platform {COMPOSE}) and the kubernetes lab's "
              f"(--platform {KUBERNETES})", file=sys.stderr)
        return EXIT_UNKNOWN_FAULT
    print(f"lab repair: {faults.repair(lab, args.fault)}")
    return 0


def add_parser(subparsers):
    from mcpops.lab.compose.loyalty_faults import FAULTS as COMPOSE_FAULTS
    from mcpops.lab.lego.faults import FAULTS as KUBE_FAULTS
    from mcpops.lab.local.faults import FAULTS, REPAIRS as LOCAL_REPAIRS
    from mcpops.lab.local.lab import DEFAULT_LISTEN, DEFAULT_UPSTREAM
    from mcpops.lab.local.service_catalog import ONEC_GATEWAY, SERVICE_NAMES, SERVICES

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--dir", default=argparse.SUPPRESS,
                        help="lab state dir (default: $MCPOPS_LAB_DIR or ./.lab)")

    lab = subparsers.add_parser("lab", help="the local lab: a reference service (default the 1C gateway) under supervisord")
    lab.add_argument("--dir", default=None, help="lab state dir (default: $MCPOPS_LAB_DIR or ./.lab)")
    sub = lab.add_subparsers(dest="lab_command", required=True)
    platform = argparse.ArgumentParser(add_help=False)
    platform.add_argument("--platform", choices=("local", COMPOSE, KUBERNETES), default=None,
                          help="local (default): the reference service under supervisord; compose: the Loyalty API's "
                               "compose lab (root: a private dockerd; state in --dir, else $MCPOPS_COMPOSE_LAB_DIR or "
                               "./.lab-compose); kubernetes: the LEGO MCP lab on a control plane of its own (root; "
                               "state in --dir, else $MCPOPS_KUBE_LAB_DIR or ./.lab-kubernetes)")

    p = sub.add_parser("up", parents=[common, platform], help="start the lab (idempotent)")
    p.add_argument("--service", default=None, choices=SERVICE_NAMES,
                   help=f"the reference service to run (default: the one the state dir records, else {ONEC_GATEWAY}); "
                        f"the others start their own private datastores")
    p.add_argument("--listen", default=None,
                   help=f"host:port on loopback (default {DEFAULT_LISTEN}; for --service, its profile's port: "
                        + ", ".join(f"{name} {spec.default_port}" for name, spec in SERVICES.items()) + ")")
    p.add_argument("--upstream", default=None,
                   help=f"host:port on loopback the seeded profiles' odataUrl point at, where INC-004's faults start "
                        f"the lab upstream (default {DEFAULT_UPSTREAM}; used when the lab seeds its data dir)")
    p.set_defaults(func=_on_platform(cmd_up, "cmd_up"))

    p = sub.add_parser("down", parents=[common, platform], help="stop everything the lab started (idempotent)")
    p.add_argument("--purge", action="store_true", help="also remove the state dir")
    p.set_defaults(func=_on_platform(cmd_down, "cmd_down"))

    p = sub.add_parser("status", parents=[common, platform], help="supervisor state, pid, /healthz and /readyz")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_on_platform(cmd_status, "cmd_status"))

    service_faults = "; ".join(f"{name}: {', '.join(spec.faults)}" for name, spec in SERVICES.items())
    p = sub.add_parser("break", parents=[common, platform],
                       help=f"inject a fault: {', '.join(FAULTS)} (on a service lab: {service_faults}; "
                            f"--platform compose: {', '.join(COMPOSE_FAULTS)}; --platform kubernetes: "
                            f"{', '.join(KUBE_FAULTS)})")
    p.add_argument("fault", metavar="fault", help=f"{ONEC_GATEWAY}: {', '.join(FAULTS)}; {service_faults}")
    p.set_defaults(func=_on_platform(cmd_break, "cmd_break"))

    p = sub.add_parser("repair", parents=[common, platform],
                       help="undo a fault the way an operator would (on compose it waits for /ready, on kubernetes "
                            "until the dashboard is healthy); a service lab's faults are undone by `break healthy`")
    p.add_argument("fault", metavar="fault", help=f"{ONEC_GATEWAY}: {', '.join(LOCAL_REPAIRS)} (its runbooks repair "
                                                  f"the others); compose: {', '.join(COMPOSE_FAULTS)}; kubernetes: "
                                                  f"{', '.join(KUBE_FAULTS)}")
    p.set_defaults(func=_on_platform(cmd_repair_local, "cmd_repair"))

    p = sub.add_parser("seed", parents=[common], help="(re)seed the data dir; refuses while the gateway runs")
    p.add_argument("--force", action="store_true", help="reseed a data dir that already holds data")
    p.add_argument("--upstream", default=None, help=f"host:port the profiles' odataUrl point at (default {DEFAULT_UPSTREAM})")
    p.set_defaults(func=cmd_seed)
    return lab
