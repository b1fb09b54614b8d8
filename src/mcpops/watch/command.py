"""The `mcpops watch`, `alert`, `approvals`, `approve` and `deny` commands (argparse wiring; the work is in
watcher.py, dispatch.py and approvals.py)."""

import getpass
import os
import re
import sys
from pathlib import Path

EXIT_USAGE = 4
OPERATOR_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


def _fail(message):
    print(f"mcpops: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _runs_root(args):
    from mcpops.run.runner import runs_root

    return Path(args.runs_dir).resolve() if getattr(args, "runs_dir", None) else runs_root().resolve()


def cmd_watch(args):
    from mcpops.run.runner import UsageError, check_inventory
    from mcpops.watch.watcher import watch

    try:
        inventory = check_inventory(args.inventory)
    except UsageError as exc:
        return _fail(str(exc))
    if args.token_file and not os.path.isfile(args.token_file):
        return _fail(f"--token-file {args.token_file}: no such file")
    return watch(inventory, _runs_root(args), args.host, args.port,
                 os.path.abspath(args.token_file) if args.token_file else None)


def cmd_alert(_args):
    from mcpops.watch.dispatch import main

    return main()


def cmd_approvals(args):
    from mcpops.watch.alert_ledger import Ledger
    from mcpops.watch.approvals import PENDING, Approvals

    root = _runs_root(args)
    found, _expired = Approvals(root).sweep()
    shown = [r for r in found if args.all or r["status"] == PENDING]
    if not shown:
        print(f"no {'' if args.all else 'pending '}approvals in {root / 'approvals'}")
    ledger = Ledger(root)
    for r in shown:
        resolved = (ledger.record(r["fingerprint"]) or {}).get("resolved_at")
        print(f"{r['id']}  {r['status']:8}  {r['runbook']} on {r['host']}  alert {r.get('alertname')}"
              + (f", resolved at {resolved}" if resolved else ""))
        print(f"    check run: {r['check_run']} (status {r['check_status']}); created {r['created_at']}, "
              f"expires {r['expires_at']}")
        if r["decided_by"]:
            print(f"    {r['status']} by {r['decided_by']} at {r['decided_at']}" + (f": run {r['run']}" if r["run"] else ""))
    return 0


def _operator(args):
    by = args.by or os.environ.get("SUDO_USER") or getpass.getuser()
    if not OPERATOR_NAME.fullmatch(by):
        raise ValueError(f"--by {by!r}: a name of letters, digits, . _ @ - (at most 64)")
    return by


def cmd_approve(args):
    from mcpops.run.progress import Progress
    from mcpops.run.runbooks import RunbookError
    from mcpops.watch.approvals import ApprovalError
    from mcpops.watch.dispatch import Dispatcher

    try:
        by = _operator(args)
        status, run_dir = Dispatcher(_runs_root(args), None).approve(args.approval, by, Progress(),
                                                                     inputs=getattr(args, "extra_vars", ()))
    except (ApprovalError, RunbookError, ValueError) as exc:
        return _fail(str(exc))
    print(f"approval {args.approval}: approved by {by}; run dir {run_dir} (status {status})")
    if (run_dir / "report.md").is_file():
        print(f"report: {run_dir / 'report.md'}")
    return status


def cmd_deny(args):
    from mcpops.watch.approvals import ApprovalError
    from mcpops.watch.dispatch import Dispatcher

    try:
        by = _operator(args)
        record = Dispatcher(_runs_root(args), None).deny(args.approval, by)
    except (ApprovalError, ValueError) as exc:
        return _fail(str(exc))
    print(f"approval {args.approval}: denied by {by}; nothing was run. Recorded in {record['check_run']}/report.md")
    return 0


def add_parser(sub):
    p = sub.add_parser("watch", help="start runbooks from Alertmanager's webhook (ansible-rulebook, the collection's "
                                     "rulebook); Ctrl-C stops it")
    p.add_argument("-i", "--inventory", required=True, help="inventory file or directory the alerts' hosts are in")
    p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port to listen on (default 5000)")
    p.add_argument("--token-file", help="a file with the bearer token Alertmanager must send")
    p.add_argument("--runs-dir", help="where run dirs, approvals and the decisions log go (default $MCPOPS_RUNS_DIR, "
                                      "else the checkout's runs/)")
    p.set_defaults(func=cmd_watch)

    p = sub.add_parser("alert", help="(run by the rulebook) handle one alert event read from stdin")
    p.set_defaults(func=cmd_alert)

    p = sub.add_parser("approvals", help="pending approvals of changing runbooks alerts asked for")
    p.add_argument("--all", action="store_true", help="decided and expired ones too")
    p.add_argument("--runs-dir", help="default $MCPOPS_RUNS_DIR, else the checkout's runs/")
    p.set_defaults(func=cmd_approvals)

    for name, func, what in (("approve", cmd_approve, "run the runbook for real with the recorded vars"),
                             ("deny", cmd_deny, "record the denial in the check run's report; nothing runs")):
        p = sub.add_parser(name, help=f"a pending approval: {what}")
        p.add_argument("approval", help="its id (mcpops approvals)")
        p.add_argument("--by", help="who decides (default $SUDO_USER, else the current user)")
        p.add_argument("--runs-dir", help="default $MCPOPS_RUNS_DIR, else the checkout's runs/")
        if name == "approve":
            p.add_argument("-e", "--extra-var", dest="extra_vars", action="append", default=[],
                           metavar="NAME=VALUE", help="an input the alert cannot give (INC-005's rate_limit), as "
                                                      "`mcpops run -e`; never the host, the alert or the operator")
        p.set_defaults(func=func)
