"""`python -m mcpops.lab.services <service>`: run one reference service until SIGTERM (exit 0); a bad or missing
environment variable exits 2 with one line naming it."""

import argparse
import importlib
import sys

from . import SERVICES, VERSION


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m mcpops.lab.services",
                                     description="Run one of the lab's reference services (configured from the "
                                                 "environment; see each module's docstring).")
    parser.add_argument("service", nargs="?", help="one of: %s" % ", ".join(SERVICES))
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    args = parser.parse_args(argv)
    if args.version:
        print(VERSION)
        return 0
    if args.service not in SERVICES:
        sys.stderr.write("mcpops.lab.services: unknown service %r: use one of %s\n"
                         % (args.service, ", ".join(SERVICES)))
        return 2
    module = importlib.import_module("%s.%s" % (__package__, SERVICES[args.service]))
    return module.main()


if __name__ == "__main__":
    sys.exit(main())
