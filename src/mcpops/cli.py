"""The `mcpops` command: `list`, `run`, `report`, `drill`, `lab` / `fleet` (the labs), and `watch`, `alert`,
`approvals`, `approve`, `deny` (from the webhook to the runbook)."""

import argparse
import json
import sys

EXIT_USAGE = 4


class _Parser(argparse.ArgumentParser):
    """argparse with the project's usage exit status (4) and a one-line error."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _fail(message):
    print(f"mcpops: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def cmd_list(args):
    from mcpops.run.runbooks import RunbookError, discover

    try:
        runbooks = discover()
    except RunbookError as exc:
        return _fail(str(exc))
    if args.json:
        print(json.dumps([r.as_dict() for r in runbooks], indent=2))
        return 0
    for r in runbooks:
        print(f"{r.id}  [{r.incident or 'maintenance'}] {'changes' if r.changes else 'read-only'}")
        print(f"    {r.purpose}")
        for name, var in r.extra_vars.items():
            notes = [var.type] if var.type != "str" else []
            if var.has_default:
                notes.append(f"default {var.default}")
            if var.required:
                notes.append("required")
            if var.secret:
                notes.append("secret")
            print(f"    -e {name}=...  {var.description}" + (f" ({', '.join(notes)})" if notes else ""))
    return 0


def cmd_run(args):
    from mcpops.run import runner
    from mcpops.run.progress import Progress
    from mcpops.run.runbooks import RunbookError, find

    # Everything an operator can get wrong is checked here, before anything runs.
    try:
        runbook = find(args.runbook)
        request = runner.RunRequest(
            runbook=runbook,
            inventory=runner.check_inventory(args.inventory),
            limit=args.limit,
            check=args.check,
            extra_vars=runbook.parse_extra_vars(args.extra_vars),
            yes=args.yes,
        )
        runner.confirm(request)
    except (RunbookError, runner.UsageError) as exc:
        return _fail(str(exc))

    status, run_dir = runner.run(request, Progress())
    words = {0: "ok", 1: "ansible-playbook failed (see the run dir's artifacts/*/stdout)",
             2: "some host failed", 3: "some host was unreachable"}
    print(f"{runbook.id}: {words.get(status, status)}; run dir {run_dir}")
    for play in _not_reached(run_dir):
        print(f"not reached: {', '.join(play['hosts'])}: the play \"{play['play']}\" stopped before any task ran "
              "on them; they were left as they were")
    if (run_dir / "report.md").is_file():
        print(f"report: {run_dir / 'report.md'}")
    return status


def _not_reached(run_dir):
    """The report's hosts that a stopped play never reached (the progress view shows results, not those)."""
    try:
        return json.loads((run_dir / "report.json").read_text()).get("not_reached") or []
    except (OSError, ValueError, AttributeError):
        return []


def cmd_report(args):
    from mcpops.run.report import ReportError, rerender

    try:
        path, markdown = rerender(args.run_dir)
    except ReportError as exc:
        return _fail(str(exc))
    sys.stdout.write(markdown)
    print(f"\n(written to {path})", file=sys.stderr)
    return 0


def build_parser():
    parser = _Parser(prog="mcpops", description="MCP gateway incident runbooks")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("list", help="every runbook: purpose, incident, whether it changes anything, extra vars")
    p.add_argument("--json", action="store_true", help="the runbooks' metadata as JSON")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("run", help="run a runbook through ansible-runner (a run dir under runs/)")
    p.add_argument("runbook", help="its id (mcpops list), e.g. inc-003-restore")
    p.add_argument("-i", "--inventory", required=True, help="inventory file or directory")
    p.add_argument("-l", "--limit", help="further limit the hosts (Ansible pattern)")
    p.add_argument("-C", "--check", action="store_true", help="check mode: report what would change, change nothing")
    p.add_argument("-e", "--extra-var", dest="extra_vars", action="append", default=[], metavar="NAME=VALUE",
                   help="an extra var the runbook declares (repeatable)")
    p.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("report", help="re-render the incident report (report.md) of a past run")
    p.add_argument("run_dir", help="the run's dir, e.g. runs/20261124T020000Z-inc-003-restore")
    p.set_defaults(func=cmd_report)

    from mcpops.drill import command as drill_command

    drill_command.add_parser(sub)
    from mcpops.lab.local import commands as lab_commands

    lab_commands.add_parser(sub)
    from mcpops.lab.fleet import commands as fleet_commands

    fleet_commands.add_parser(sub)
    from mcpops.watch import command as watch_command

    watch_command.add_parser(sub)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args) or 0
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `mcpops list | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
