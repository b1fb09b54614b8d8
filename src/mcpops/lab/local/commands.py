"""`mcpops lab up|down|status|break <fault>|seed`: argparse wiring over LocalLab."""

import argparse
import json
import sys

EXIT_ERROR = 1
EXIT_UNKNOWN_FAULT = 4


def _lab(args):
    from mcpops.lab.local.lab import LocalLab

    return LocalLab(args.dir, listen=getattr(args, "listen", None), upstream=getattr(args, "upstream", None), out=print)


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
    r = _lab(args).up()
    print(f"lab up{'' if r['started'] else ' (already running)'}: {r['api_url']} gateway pid {r['gateway_pid']} supervisord pid {r['supervisord_pid']}"
          f" (state {r['state_dir']})")
    return 0


@_run
def cmd_down(args):
    r = _lab(args).down(purge=args.purge)
    stopped = ", ".join(str(p) for p in r["stopped"]) or "nothing was running"
    print(f"lab down: stopped {stopped}" + ("; state dir removed" if r.get("purged") else ""))
    return 0


@_run
def cmd_status(args):
    s = _lab(args).status()
    if args.json:
        print(json.dumps(s, indent=2, sort_keys=True))
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
    r = _lab(args).seed(force=args.force)
    print(f"lab seed: seeded {r['data_dir']} (ops token {r['mcp_token_id']})")
    return 0


def add_parser(subparsers):
    from mcpops.lab.local.faults import FAULTS
    from mcpops.lab.local.lab import DEFAULT_LISTEN, DEFAULT_UPSTREAM

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--dir", default=argparse.SUPPRESS,
                        help="lab state dir (default: $MCPOPS_LAB_DIR or ./.lab)")

    lab = subparsers.add_parser("lab", help="the local lab: the reference gateway under supervisord")
    lab.add_argument("--dir", default=None, help="lab state dir (default: $MCPOPS_LAB_DIR or ./.lab)")
    sub = lab.add_subparsers(dest="lab_command", required=True)

    p = sub.add_parser("up", parents=[common], help="start the lab (idempotent)")
    p.add_argument("--listen", default=None, help=f"host:port on loopback (default {DEFAULT_LISTEN})")
    p.add_argument("--upstream", default=None,
                   help=f"host:port on loopback the seeded profiles' odataUrl point at, where INC-004's faults start "
                        f"the lab upstream (default {DEFAULT_UPSTREAM}; used when the lab seeds its data dir)")
    p.set_defaults(func=cmd_up)

    p = sub.add_parser("down", parents=[common], help="stop everything the lab started (idempotent)")
    p.add_argument("--purge", action="store_true", help="also remove the state dir")
    p.set_defaults(func=cmd_down)

    p = sub.add_parser("status", parents=[common], help="supervisor state, pid, /healthz and /readyz")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("break", parents=[common],
                       help=f"inject a fault: {', '.join(FAULTS)}")
    p.add_argument("fault", metavar="fault", help=", ".join(FAULTS))
    p.set_defaults(func=cmd_break)

    p = sub.add_parser("seed", parents=[common], help="(re)seed the data dir; refuses while the gateway runs")
    p.add_argument("--force", action="store_true", help="reseed a data dir that already holds data")
    p.add_argument("--upstream", default=None, help=f"host:port the profiles' odataUrl point at (default {DEFAULT_UPSTREAM})")
    p.set_defaults(func=cmd_seed)
    return lab
