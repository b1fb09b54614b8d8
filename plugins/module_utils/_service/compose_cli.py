# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The seed's `docker compose --env-file .env.production -f docker-compose.production.yml ...` as argv, and one
read-only compose command run with a timeout: (rc, stdout, stderr), never an exception.

project_argv(params) uses the docker_compose_v2 names (project_src, files, env_files, docker_cli); a relative file is
the project dir's (compose resolves a relative --env-file against the working dir, not the project dir).
command_env(params) points the CLI at the daemon (docker_host) and at the config dir holding the compose plugin
(docker_config); both are left as the environment has them when not given."""

from __future__ import annotations

import os
import subprocess


def _in_project(project_src, path):
    return path if os.path.isabs(path) else os.path.join(project_src, path)


def project_argv(params):
    """[docker, compose, --project-directory, SRC, --env-file=..., --file=...]."""
    src = params["project_src"]
    argv = [params.get("docker_cli") or "docker", "compose", "--project-directory", src]
    argv += ["--env-file=" + _in_project(src, path) for path in params.get("env_files") or []]
    argv += ["--file=" + _in_project(src, path) for path in params.get("files") or []]
    return argv


def command_env(params, base=None):
    """The environment of a compose command: base (os.environ) with DOCKER_HOST / DOCKER_CONFIG when given, and the C
    locale (the same messages on every host)."""
    env = dict(os.environ if base is None else base, LC_ALL="C", LANG="C")
    if params.get("docker_host"):
        env["DOCKER_HOST"] = params["docker_host"]
    if params.get("docker_config"):
        env["DOCKER_CONFIG"] = params["docker_config"]
    return env


def run_command(argv, env, timeout):
    """(rc, stdout, stderr) of argv (no shell, stdin closed); a missing CLI is rc 127 and a timeout rc None, each
    with stderr saying so."""
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, env=env, timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired:
        return None, "", "timed out after %ss" % timeout
    except OSError as exc:
        return 127, "", "%s: %s" % (argv[0], exc.strerror or exc)
    return proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")
