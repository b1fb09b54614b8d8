"""The compose lab's base image: a Debian root file system built with debootstrap, kept as a tar cached by its
recipe's hash outside the checkout, and `docker import`ed into a daemon as `mcpops-lab/base:<hash>`. Never pulled.

The recipe is everything that decides the image's contents (suite, variant, packages, the files we add, the image
config given to `docker import`); its sha256 names the cache entry, so a changed recipe builds a new tar and an
unchanged one is reused. The mirror is not part of the recipe: any Debian mirror yields the same image. The approach
(and the mirror setting) is the fleet image's (mcpops.lab.fleet.image); the fleet keeps a booted root tree, the
compose lab a tar, the one thing `docker import` takes.

Layout: <cache>/<hash>/rootfs.tar and image.json (the recipe, the mirror, the build time), complete once image.json
exists; a build works in <cache>/.build-<hash>-<pid>/ and is renamed into place, under a flock of <cache>/.build.lock
so that two test sessions never build the same image twice.
"""

import contextlib
import json
import os
import shutil
import time
from pathlib import Path

from mcpops.lab import recipe_build

SUITE = "bookworm"
VARIANT = "minbase"
# What the compose services run: python3 and python3-psycopg (3.1) for the loyalty-api reference service
# (mcpops.lab.services.loyalty_api: PostgreSQL through psycopg, Redis through its own RESP client), postgresql
# (15: the server, initdb, pg_isready, pg_dump, psql) and redis-server; procps so that `docker compose exec`
# can show what runs in a container.
PACKAGES = ("python3", "python3-psycopg", "postgresql", "redis-server", "procps")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEFAULT_CACHE = "/var/cache/mcpops-compose"
REPOSITORY = "mcpops-lab/base"
BUILD_TIMEOUT = 1800

# PostgreSQL in the foreground as a compose service's command, run as the image's postgres user: a cluster in
# $PGDATA made on the first start (its superuser's password from $POSTGRES_PASSWORD_FILE when given: TCP logins
# need it), listening on $PGLISTEN:$PGPORT, its unix socket in /tmp (the image has no /run/postgresql).
POSTGRES_ENTRYPOINT = """#!/bin/sh
set -eu
: "${PGDATA:=/var/lib/postgresql/data}" "${PGPORT:=5432}" "${PGLISTEN:=127.0.0.1}"
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  mkdir -p "$PGDATA"
  if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
    "$bin/initdb" -D "$PGDATA" -U postgres --auth-local=peer --auth-host=scram-sha-256 \\
      --pwfile="$POSTGRES_PASSWORD_FILE" >/dev/null
  else
    "$bin/initdb" -D "$PGDATA" -U postgres --auth-local=peer --auth-host=reject >/dev/null
  fi
fi
exec "$bin/postgres" -D "$PGDATA" -p "$PGPORT" -c listen_addresses="$PGLISTEN" -c unix_socket_directories=/tmp
"""

# The files the recipe adds to the debootstrapped tree: path -> (mode, content).
FILES = {
    "/usr/local/bin/mcpops-postgres": (0o755, POSTGRES_ENTRYPOINT),
    "/etc/hostname": (0o644, "mcpops-lab\n"),
}
# `docker import --change` lines: a rootfs tar carries no image config of its own.
IMAGE_CHANGES = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    'CMD ["/bin/bash"]',
)
# Left out of the tar: docker provides /dev, /proc, /sys, /run; the apt caches are only downloads.
TAR_EXCLUDES = ("./dev/*", "./proc/*", "./sys/*", "./run/*", "./tmp/*", "./var/cache/apt/archives/*.deb",
                "./var/lib/apt/lists/*")
RECIPE_VERSION = 1  # bump when build() changes in a way the recipe below does not show


class BaseImageError(Exception):
    """The image could not be built or imported; the message says what was tried."""


def recipe():
    return {"version": RECIPE_VERSION, "suite": SUITE, "variant": VARIANT, "packages": list(PACKAGES),
            "files": {path: [mode, content] for path, (mode, content) in FILES.items()},
            "changes": list(IMAGE_CHANGES), "excludes": list(TAR_EXCLUDES)}


def recipe_hash(rec=None):
    return recipe_build.recipe_hash(rec or recipe())


def cache_dir():
    return Path(os.environ.get("MCPOPS_COMPOSE_CACHE") or DEFAULT_CACHE)


def mirror():
    """The Debian mirror: MCPOPS_COMPOSE_MIRROR, else the fleet image's MCPOPS_FLEET_MIRROR, else deb.debian.org."""
    return os.environ.get("MCPOPS_COMPOSE_MIRROR") or os.environ.get("MCPOPS_FLEET_MIRROR") or DEFAULT_MIRROR


class BaseImage:
    """The cached base image of the current recipe. `ensure()` builds its tar unless cached; `import_into(docker)`
    makes it `mcpops-lab/base:<hash>` in a daemon unless that daemon has it already."""

    def __init__(self, cache=None, out=None):
        self.cache = Path(cache or cache_dir())
        self.hash = recipe_hash()
        self.dir = self.cache / self.hash
        self._out = out

    @property
    def tag(self):
        return f"{REPOSITORY}:{self.hash}"

    @property
    def tar(self):
        return self.dir / "rootfs.tar"

    @property
    def marker(self):
        return self.dir / "image.json"

    def ready(self):
        return self.marker.is_file() and self.tar.is_file()

    def info(self):
        """What image.json says about the cached build (recipe, mirror, build seconds); {} when not built."""
        try:
            return json.loads(self.marker.read_text())
        except (OSError, ValueError):
            return {}

    def ensure(self):
        """Build the tar unless the cache holds one for this recipe; returns its path."""
        if self.ready():
            return self.tar
        if os.geteuid() != 0:
            raise BaseImageError(f"the compose base image {self.hash} is not cached in {self.cache} and building it "
                                 "needs root (debootstrap)")
        if not shutil.which("debootstrap", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin"):
            raise BaseImageError("debootstrap not found: install the Debian package debootstrap "
                                 "(scripts/bootstrap does when root)")
        self.cache.mkdir(parents=True, exist_ok=True)
        with recipe_build.build_lock(self.cache):
            if not self.ready():  # another session may have built it while we waited
                self._build()
        return self.tar

    def import_into(self, docker):
        """Import the cached tar into the daemon `docker` (a compose.docker_client.DockerClient) as self.tag,
        unless the daemon has that tag already. Returns the tag."""
        if docker.image_exists(self.tag):
            return self.tag
        tar = self.ensure()
        args = ["import"]
        for change in IMAGE_CHANGES:
            args += ["--change", change]
        args += ["--change", f"LABEL org.mcpops.recipe={self.hash}", str(tar), self.tag]
        docker.run(*args, timeout=600)
        return self.tag

    def _say(self, line):
        if self._out:
            self._out(line)

    def _build(self):
        work = recipe_build.fresh_work_dir(self.cache, self.hash)
        root = work / "rootfs"
        log = work / "debootstrap.log"
        argv = ["debootstrap", f"--variant={VARIANT}", "--include=" + ",".join(PACKAGES), SUITE, str(root),
                mirror()]
        self._say(f"building the compose base image {self.hash} (debootstrap {SUITE} from {mirror()}; a few minutes)")
        started = time.monotonic()
        try:
            recipe_build.run_logged(argv, log, BUILD_TIMEOUT, BaseImageError,
                                    "check that the mirror is reachable (MCPOPS_COMPOSE_MIRROR to choose another)")
            _provision(root)
            argv = ["tar", "--numeric-owner", "--xattrs", "-C", str(root), "-cf", str(work / "rootfs.tar")]
            argv += [f"--exclude={pattern}" for pattern in TAR_EXCLUDES] + ["."]
            recipe_build.run_logged(argv, work / "tar.log", BUILD_TIMEOUT, BaseImageError)
        except BaseImageError:
            shutil.rmtree(work, ignore_errors=True)
            raise
        shutil.rmtree(root)  # the tar is what is kept
        (work / "image.json").write_text(json.dumps(
            {"hash": self.hash, "tag": self.tag, "recipe": recipe(), "mirror": mirror(),
             "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
             "build_seconds": round(time.monotonic() - started, 1)}, indent=2, sort_keys=True) + "\n")
        recipe_build.move_into_place(work, self.dir)
        self._say(f"compose base image {self.hash} built in {time.monotonic() - started:.0f}s: {self.tar}")


def _provision(root):
    for path, (mode, content) in FILES.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            target.unlink()
        target.write_text(content)
        target.chmod(mode)
    # postgresql-common made a "main" cluster at install: a service makes its own in $PGDATA, so the image
    # carries none (nor its fixed system identifier).
    for pattern in ("etc/postgresql/*/main", "var/lib/postgresql/*/main"):
        for cluster in root.glob(pattern):
            shutil.rmtree(cluster)
