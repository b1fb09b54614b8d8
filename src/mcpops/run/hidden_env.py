"""Starts ansible-playbook with the environment variables `mcpops run` kept out of ansible-runner's records.

    python -I hidden_env.py <env file> <program> [args...]

ansible-runner records the environment it starts its command with (artifacts/<ident>/command); `mcpops run`
hands it the credentials of the operator's environment masked, and this script, run as that command, puts the
real values back before it execs the program. The env file (0600, in the run's private temp dir) is JSON
`{name: [value as recorded, real value]}`; it is removed as soon as it is read. A recorded value that ansible-runner
changed meanwhile (it appends to some variables) gets the real value in place of the recorded one within it.

Standard library only, and nothing of mcpops: it runs under `python -I` (no PYTHONPATH, no user site).
"""

import json
import os
import sys


def restored(environ, hidden):
    """environ with the hidden values put back."""
    environ = dict(environ)
    for name, (recorded, real) in hidden.items():
        current = environ.get(name)
        if current is None or current == recorded:
            environ[name] = real
        elif recorded and recorded in current:
            environ[name] = current.replace(recorded, real)
    return environ


def main(argv):
    if len(argv) < 2:
        sys.stderr.write("usage: hidden_env.py <env file> <program> [args...]\n")
        return 2
    env_file, program, args = argv[0], argv[1], argv[2:]
    with open(env_file, encoding="utf-8") as handle:
        hidden = json.load(handle)
    os.unlink(env_file)
    environ = restored(os.environ, hidden)
    if os.sep in program:
        os.execve(program, [program] + args, environ)
    os.execvpe(program, [program] + args, environ)
    return 127  # not reached: exec replaced this process or raised


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
