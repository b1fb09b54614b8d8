"""`mcpops lab up|status|break|repair|down --platform compose`: the Loyalty API's compose lab (private dockerd, the
compose project) through mcpops.lab.compose.recorded_lab, which keeps it running between commands. The argparse
wiring is mcpops.lab.local.commands'; these are the subcommands' bodies for the compose platform."""

import json
import sys

EXIT_ERROR = 1
EXIT_UNKNOWN_FAULT = 4
PLATFORM = "compose"


def _lab(args):
    from mcpops.lab.compose.recorded_lab import RecordedComposeLab

    return RecordedComposeLab(getattr(args, "dir", None), out=print)


def _run(fn):
    def wrapper(args):
        from mcpops.lab.compose.base_image import BaseImageError
        from mcpops.lab.compose.docker_client import DockerCliError
        from mcpops.lab.compose.loyalty_faults import UnknownFault
        from mcpops.lab.compose.loyalty_lab import LoyaltyLabError
        from mcpops.lab.fixtures.docker_engine import DockerEngineError

        if getattr(args, "service", None) not in (None, "loyalty-api"):
            print(f"mcpops lab: error: the compose lab runs loyalty-api, not {args.service}", file=sys.stderr)
            return EXIT_UNKNOWN_FAULT
        if getattr(args, "listen", None) or getattr(args, "upstream", None):
            print("mcpops lab: error: --listen and --upstream are the local lab's; the compose lab chooses free ports "
                  "on 127.0.0.1", file=sys.stderr)
            return EXIT_UNKNOWN_FAULT
        try:
            return fn(args)
        except UnknownFault as exc:
            print(f"mcpops lab: {exc}", file=sys.stderr)
            return EXIT_UNKNOWN_FAULT
        except (LoyaltyLabError, DockerCliError, DockerEngineError, BaseImageError) as exc:
            print(f"mcpops lab: error: {exc}", file=sys.stderr)
            return EXIT_ERROR

    return wrapper


@_run
def cmd_up(args):
    r = _lab(args).up()
    print(f"lab up{'' if r['started'] else ' (already running)'}: loyalty-api {r['url']} (compose project in "
          f"{r['lab_dir']}), dockerd pid {r['engine_pid']}; inventory {r['inventory']} (state {r['state_dir']})")
    return 0


@_run
def cmd_down(args):
    r = _lab(args).down()
    if not r["stopped"] and not r["removed"]:
        print("lab down: nothing was running")
        return 0
    stopped = f"stopped dockerd {', '.join(str(p) for p in r['stopped'])}" if r["stopped"] else "dockerd was gone"
    print(f"lab down: {stopped}; removed {', '.join(r['removed'])}")
    return 0


@_run
def cmd_status(args):
    s = _lab(args).status()
    if args.json:
        print(json.dumps(s, indent=2, sort_keys=True))
        return 0 if s["healthy"] else 1
    def row(label, value):
        print(f"{label + ':':<18}{value}")

    row("state dir", s["state_dir"])
    if not s["recorded"]:
        print("compose lab: not running (`mcpops lab up --platform compose`)")
        return 1
    row("dockerd", (f"pid {s['engine_pid']}" + ("" if s["engine_answers"] else " (not answering)"))
        if s["engine_pid"] else "not running (the record is stale: `mcpops lab down --platform compose`)")
    row("project", s["lab_dir"])
    for name, service in s["services"].items():
        row(name, service["state"] + (f" (last exit {service['exit_code']})" if service["state"] != "running" else ""))
    for path, status in s["checks"].items():
        row(path, status if status is not None else "no answer")
    row("healthy", "yes" if s["healthy"] else "no")
    return 0 if s["healthy"] else 1


@_run
def cmd_break(args):
    print(_lab(args).break_(args.fault))
    return 0


@_run
def cmd_repair(args):
    print(_lab(args).repair(args.fault))
    return 0
