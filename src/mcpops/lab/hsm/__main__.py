"""`python -m mcpops.lab.hsm init --state-dir DIR` (a SoftHSM2 token with its PINs and signing key) or
`python -m mcpops.lab.hsm serve` (the lab HSM service, configured from the environment)."""

import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m mcpops.lab.hsm")
    sub = parser.add_subparsers(dest="command", required=True)
    init = sub.add_parser("init", help="make a private SoftHSM2 token, its PIN files and a P-256 signing key")
    init.add_argument("--state-dir", required=True)
    sub.add_parser("serve", help="run the lab HSM service (see mcpops.lab.hsm.hsm_service for its environment)")
    args = parser.parse_args(argv)
    if args.command == "init":
        from .softhsm_token import TokenError, init_token

        try:
            files = init_token(args.state_dir)
        except TokenError as exc:
            sys.stderr.write("lab-hsm init: %s\n" % exc)
            return 1
        print("token ready: SOFTHSM2_CONF=%s public key %s" % (files.conf, files.public_key))
        return 0
    from .hsm_service import main as serve

    return serve()


if __name__ == "__main__":
    sys.exit(main())
