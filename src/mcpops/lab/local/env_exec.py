"""`python -m mcpops.lab.local.env_exec ENV_FILE -- COMMAND...`: exec COMMAND with ENV_FILE's `KEY=VALUE` lines
added to the environment.

The service lab's supervisord programs start through it, so that their secrets (a DATABASE_URL with its
password) live only in a 0600 file under `<state dir>/secrets/`, never in supervisord.conf, and so that a fault
can change a program's environment (`maintenance`, `crash-loop`) by rewriting that file and restarting it. It
execs (the PID supervisord records is the service's own); an unreadable file is exit 2 with a line saying so.
"""

import os
import sys


def read_env_file(path):
    """{KEY: VALUE} of a file of `KEY=VALUE` lines (blank lines and `#` comments skipped; no quoting)."""
    env = {}
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            key, sep, value = line.partition("=")
            if not sep or not key or not key.replace("_", "").isalnum():
                raise ValueError(f"{path}:{number}: not a KEY=VALUE line")
            env[key] = value
    return env


def render_env_file(env):
    """The text of an env file for env (KEY -> value); a value with a newline is refused."""
    lines = []
    for key, value in env.items():
        value = str(value)
        if "\n" in value or "\n" in key or "=" in key:
            raise ValueError(f"env {key!r}: a key with '=' or a newline, or a value with a newline")
        lines.append(f"{key}={value}\n")
    return "".join(lines)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m mcpops.lab.local.env_exec ENV_FILE -- COMMAND...", file=sys.stderr)
        return 2
    path, command = argv[0], argv[2:]
    try:
        extra = read_env_file(path)
    except (OSError, ValueError) as exc:
        print(f"env_exec: cannot read the env file {path}: {exc}", file=sys.stderr)
        return 2
    env = dict(os.environ)
    env.update(extra)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvpe(command[0], command, env)
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(main())
