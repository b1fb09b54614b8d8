"""The `mcpops` command."""

import argparse
import sys


def build_parser():
    parser = argparse.ArgumentParser(prog="mcpops", description="MCP gateway incident runbooks")
    sub = parser.add_subparsers(dest="command", required=True)
    from mcpops.lab import commands as lab_commands

    lab_commands.add_parser(sub)
    from mcpops.lab.fleet import commands as fleet_commands

    fleet_commands.add_parser(sub)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args) or 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
