"""`mcpops fleet up --hosts N [--service S] | down | status | break HOST FAULT`: argparse wiring over FleetLab."""

import argparse
import json
import sys

EXIT_ERROR = 1
EXIT_UNKNOWN_FAULT = 4


def _fleet(args):
    from mcpops.lab.fleet.lab import FleetLab

    return FleetLab(args.dir, inventory_dir=getattr(args, "inventory", None), out=print, net=getattr(args, "net", None),
                    service=getattr(args, "service", None))


def _run(fn):
    def wrapper(args):
        from mcpops.lab.fleet.errors import FleetError, UnknownFault
        from mcpops.lab.fleet.host import HostError
        from mcpops.lab.fleet.image import ImageError

        try:
            return fn(args)
        except UnknownFault as exc:
            print(f"mcpops fleet: {exc}", file=sys.stderr)
            return EXIT_UNKNOWN_FAULT
        except (FleetError, HostError, ImageError) as exc:
            print(f"mcpops fleet: error: {exc}", file=sys.stderr)
            return EXIT_ERROR

    return wrapper


@_run
def cmd_up(args):
    from mcpops.lab.fleet import services

    fleet = _fleet(args)
    r = fleet.up(args.hosts, standby=args.standby)
    if fleet.service in services.reference.SERVICES:
        ports = f"{services.UNIT[fleet.service]} :{services.PORT[fleet.service]}"
    else:
        ports = ("gateway :3000" if fleet.service == services.ONEC else
                 f"{services.MCP_UNIT} :{services.API_PORT}, metrics :{services.METRICS_PORT}, "
                 f"{services.BRIDGE_UNIT} :{services.BRIDGE_PORT}")
    for h in r["hosts"]:
        print(f"{h['name']}: {h['address']} (ssh :22, {ports}) systemd-nspawn pid {h['pid']}"
              + (f", backup {h['backup']}" if h["backup"] else "")
              + (", standby (units stopped)" if h["standby"] else ""))
    for name, d in (r.get("controller") or {}).items():
        print(f"{name}: pid {d['pid']} on 127.0.0.1:{d['port']} (controller side)")
    if r.get("datastores"):
        print("datastores, shared by the hosts: " + ", ".join(
            f"{kind} pid {d['pid']} on 127.0.0.1:{d['port']}" for kind, d in r["datastores"].items()))
    print(f"fleet up: {len(r['hosts'])} hosts ({len(r['started'])} booted now); inventory {r['inventory_dir']}")
    return 0


@_run
def cmd_down(args):
    r = _fleet(args).down(purge=args.purge)
    stopped = ", ".join(str(p) for p in r["stopped"]) or "nothing was running"
    print(f"fleet down: stopped {stopped}" + ("; state dir removed" if r["purged"] else ""))
    return 0


@_run
def cmd_status(args):
    s = _fleet(args).status()
    if args.json:
        print(json.dumps(s, indent=2, sort_keys=True))
    elif not s["hosts"]:
        print(f"no fleet in {s['state_dir']}")
    else:
        for h in s["hosts"]:
            print(f"{h['name']:<8} {h['address']:<12} " + (
                f"pid {h['pid']}  sshd {'up' if h['sshd'] else 'down'}  {h.get('unit', 'onec-mcp-gateway')} "
                f"{h['gateway']}  {'health' if 'unit' in h else 'healthz'} {h['healthz']}"
                + ("  (standby)" if h.get("standby") else "") if h["running"]
                else "powered off"))
        for name, pid in (s.get("controller") or {}).items():
            print(f"{name:<8} " + (f"pid {pid}" if pid else "stopped") + "  (controller side)")
        for kind, d in (s.get("datastores") or {}).items():
            print(f"{kind:<8} 127.0.0.1:{d['port']:<6} " + (f"pid {d['pid']}" if d["running"] else "stopped")
                  + "  (shared by the hosts)")
    return 0 if s["healthy"] else 1


@_run
def cmd_break(args):
    print(_fleet(args).break_(args.host, args.fault))
    return 0


def add_parser(subparsers):
    from mcpops.lab.fleet import services
    from mcpops.lab.fleet.cctelegram_controller import FAULTS as LB_FAULTS, LB
    from mcpops.lab.fleet.faults import CCTELEGRAM_FAULTS, FAULTS, REFERENCE_FAULTS

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--dir", default=argparse.SUPPRESS,
                        help="fleet state dir (default: $MCPOPS_FLEET_DIR or ./.fleet)")
    fleet = subparsers.add_parser("fleet", help="the fleet lab (root): Debian hosts under systemd-nspawn")
    fleet.add_argument("--dir", default=None, help="fleet state dir (default: $MCPOPS_FLEET_DIR or ./.fleet)")
    sub = fleet.add_subparsers(dest="fleet_command", required=True)

    p = sub.add_parser("up", parents=[common], help="build the image if needed and boot N hosts (idempotent)")
    p.add_argument("--hosts", type=int, required=True, help="how many hosts (127.0.0.11 ...)")
    p.add_argument("--net", default=None,
                   help="the hosts' loopback /24, e.g. 127.0.1 for 127.0.1.11 ... (default: $MCPOPS_FLEET_NET "
                        "or 127.0.0); a second fleet can run beside the first on another")
    p.add_argument("--inventory", default=None, help="where to write the inventory (default inventories/fleet)")
    p.add_argument("--service", default=None, choices=services.SERVICES,
                   help="what the hosts run: the 1C gateway (onec-gateway), cctelegram-mcp with its bridge, or "
                        "lego-mcp, loyalty-api or connector-mcp on datastores the fleet shares (PostgreSQL, Redis, "
                        "MariaDB on 127.0.0.1; `down` stops them) (default: what the fleet ran last, else "
                        "onec-gateway)")
    p.add_argument("--standby", type=int, default=None,
                   help=f"{services.CCTELEGRAM} only: this many more hosts as standby (booted, units stopped and "
                        "disabled, not behind the load balancer), for a scale-up (default: as many as the fleet "
                        "had with the same --hosts, else 0)")
    p.set_defaults(func=cmd_up)

    p = sub.add_parser("down", parents=[common], help="power off every host by its recorded PID (idempotent)")
    p.add_argument("--purge", action="store_true", help="also remove the state dir and the written inventory")
    p.set_defaults(func=cmd_down)

    p = sub.add_parser("status", parents=[common], help="each host: PID, sshd, gateway unit, /healthz")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)

    faults = (f"{', '.join(FAULTS)}; on a {services.CCTELEGRAM} fleet: {', '.join(CCTELEGRAM_FAULTS)}, and "
              f"`{LB} {', '.join(LB_FAULTS)}` (a burst through the load balancer from one client)"
              + "".join(f"; on a {service} fleet: {', '.join(names)}" for service, names in REFERENCE_FAULTS.items()))
    p = sub.add_parser("break", parents=[common], help=f"inject a fault into one host: {faults}")
    p.add_argument("host", help=f"host name (fleet1 ...) or address; `{LB}`: the load balancer")
    p.add_argument("fault", help=faults)
    p.set_defaults(func=cmd_break)
    return fleet
