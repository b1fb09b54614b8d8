"""`mcpops lab up|status|break|repair|down --platform kubernetes`: the LEGO MCP lab (a control plane of its own, the
node agent, PostgreSQL, the HSM, the dashboard) through mcpops.lab.lego.recorded_lab, which keeps it running between
commands. The argparse wiring is mcpops.lab.local.commands'; these are the subcommands' bodies for this platform.
No secret is printed: the DB password and the API key stay in the inventory's 0600 secrets.yml."""

import json
import sys

EXIT_ERROR = 1
EXIT_UNKNOWN_FAULT = 4
PLATFORM = "kubernetes"
SERVICE = "lego-mcp"


def _lab(args):
    from mcpops.lab.lego.recorded_lab import RecordedLegoLab

    return RecordedLegoLab(getattr(args, "dir", None), out=print)


def _run(fn):
    def wrapper(args):
        from mcpops.lab.fixtures.pg_cluster import PgClusterError
        from mcpops.lab.kube.errors import KubeLabError
        from mcpops.lab.lego.faults import FAULTS
        from mcpops.lab.lego.hsm_process import LegoError

        if getattr(args, "service", None) not in (None, SERVICE):
            print(f"mcpops lab: error: the {PLATFORM} lab runs {SERVICE}, not {args.service}", file=sys.stderr)
            return EXIT_UNKNOWN_FAULT
        if getattr(args, "listen", None) or getattr(args, "upstream", None):
            print(f"mcpops lab: error: --listen and --upstream are the local lab's; the {PLATFORM} lab chooses free "
                  "ports on 127.0.0.1", file=sys.stderr)
            return EXIT_UNKNOWN_FAULT
        fault = getattr(args, "fault", None)
        if fault is not None and fault not in FAULTS:
            print(f"mcpops lab: unknown fault {fault!r} on the {PLATFORM} lab; known: {', '.join(FAULTS)}",
                  file=sys.stderr)
            return EXIT_UNKNOWN_FAULT
        try:
            return fn(args)
        except (LegoError, KubeLabError, PgClusterError) as exc:
            print(f"mcpops lab: error: {exc}", file=sys.stderr)
            return EXIT_ERROR

    return wrapper


def _pids(found):
    return ", ".join(f"{name} {pid}" for name, pid in found.items() if pid)


@_run
def cmd_up(args):
    r = _lab(args).up()
    print(f"lab up{'' if r['started'] else ' (already running)'}: {SERVICE} on Kubernetes {r['apiserver']}, dashboard "
          f"pods {', '.join(r['dashboard'])}; PostgreSQL {r['postgres']}, HSM {r['hsm']}; pids {_pids(r['pids'])}; "
          f"kubeconfig {r['kubeconfig']}; inventory {r['inventory']} (state {r['state_dir']})")
    return 0


@_run
def cmd_down(args):
    r = _lab(args).down()
    if not r["stopped"] and not r["removed"]:
        print("lab down: nothing was running")
        return 0
    stopped = f"stopped {', '.join(str(p) for p in r['stopped'])}" if r["stopped"] else "nothing was running"
    print(f"lab down: {stopped}; removed {', '.join(r['removed'])}")
    return 0


@_run
def cmd_status(args):
    s = _lab(args).status()
    if args.json:
        print(json.dumps(s, indent=2, sort_keys=True))
        return 0 if s["healthy"] else 1

    def row(label, value):
        print(f"{label + ':':<26}{value}")

    row("state dir", s["state_dir"])
    if not s["recorded"]:
        print(f"{PLATFORM} lab: not running (`mcpops lab up --platform {PLATFORM}`)")
        return 1
    row("api server", s["apiserver"])
    for name in ("etcd", "kube-apiserver", "kube-controller-manager", "node-agent", "postgres", "hsm",
                 "session-holder"):
        pid = s["pids"].get(name)
        if pid or name != "session-holder":
            row(name, f"pid {pid}" if pid else "not running")
    for name, deployment in s["deployments"].items():
        row(name, "no deployment" if deployment is None else
            f"{deployment['ready']}/{deployment['replicas']} ready, image {deployment['image']}")
    for pod, status in s["pods"].items():
        row(pod, f"/health {status if status is not None else 'no answer'}")
    if s.get("compromised"):
        row("compromised", s["compromised"])
    row("inventory", s["inventory"])
    row("healthy", "yes" if s["healthy"] else f"no ({s['problem']})")
    return 0 if s["healthy"] else 1


@_run
def cmd_break(args):
    print(_lab(args).break_(args.fault))
    return 0


@_run
def cmd_repair(args):
    print(_lab(args).repair(args.fault))
    return 0
