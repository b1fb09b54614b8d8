"""The docker CLI bound to one private daemon: DOCKER_HOST names its socket and DOCKER_CONFIG a private config dir
holding the compose v2 plugin, so neither the system's daemon nor the user's ~/.docker is ever used.

The CLI is Debian's (docker.io's /usr/bin/docker, the daemon's own version) when present, else the first `docker`
on PATH; either negotiates the API version with the daemon.
"""

import os
import shutil
import subprocess

from mcpops.lab.compose import compose_plugin

DEBIAN_CLI = "/usr/bin/docker"


class DockerCliError(Exception):
    pass


def find_docker_cli():
    if os.access(DEBIAN_CLI, os.X_OK):
        return DEBIAN_CLI
    path = shutil.which("docker")
    if not path:
        raise DockerCliError("the docker CLI was not found: install the Debian package docker.io "
                             "(scripts/bootstrap does when root)")
    return path


class DockerClient:
    """`docker` and `docker compose` against the daemon at host (unix://...), with config_dir as DOCKER_CONFIG.
    install_compose() links the compose plugin there (compose_plugin.install_plugin)."""

    def __init__(self, host, config_dir, cli=None):
        self.host = host
        self.config_dir = str(config_dir)
        self.cli = cli or find_docker_cli()
        os.makedirs(self.config_dir, mode=0o700, exist_ok=True)

    def install_compose(self, binary=None):
        return compose_plugin.install_plugin(self.config_dir, binary)

    def env(self, base=None):
        """The environment a docker command (or ansible driving one) runs with: ours, and no other daemon's."""
        env = dict(os.environ if base is None else base)
        for name in ("DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"):
            env.pop(name, None)
        env.update(DOCKER_HOST=self.host, DOCKER_CONFIG=self.config_dir)
        return env

    def run(self, *args, timeout=300, check=True, cwd=None):
        """A CompletedProcess (text) of `docker <args>`; a DockerCliError naming the command and its stderr when it
        fails and check is set."""
        argv = [self.cli] + [str(a) for a in args]
        try:
            proc = subprocess.run(argv, env=self.env(), cwd=cwd, capture_output=True, text=True, timeout=timeout,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise DockerCliError(f"`{' '.join(argv)}` did not finish within {timeout}s") from None
        if check and proc.returncode != 0:
            raise DockerCliError(f"`{' '.join(argv)}` exited {proc.returncode}: "
                                 f"{(proc.stderr or proc.stdout).strip()[-1500:]}")
        return proc

    def compose(self, project_dir, *args, env_file=".env.production", files=("docker-compose.production.yml",),
                timeout=300, check=True):
        """`docker compose --env-file <env_file> -f <file>... <args>` in project_dir (the seed's shape)."""
        head = ["compose"]
        if env_file:
            head += ["--env-file", env_file]
        for name in files:
            head += ["-f", name]
        return self.run(*head, *args, timeout=timeout, check=check, cwd=project_dir)

    def image_exists(self, ref):
        return self.run("image", "inspect", "--format", "{{.Id}}", ref, check=False).returncode == 0
