"""The fleet image: one Debian root file system built with debootstrap and cached by its recipe's hash.

The recipe is everything that decides the image's contents (suite, variant, packages, the files we add);
its sha256 names the cache entry, so a changed recipe builds a new image and an unchanged one is reused.
The mirror is not part of the recipe: any Debian mirror yields the same image.

Nothing host-specific is in the image: each host's sshd address, host key, authorized key, gateway
address, admin token and data dir are bind-mounted from the fleet's state dir at boot, and the project's
`src/mcpops` is bind-mounted read-only at /opt/mcpops/src/mcpops (so code changes need no rebuild).
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
# systemd and sshd make it a host; python3 runs the gateway and the Ansible modules; curl, procps and
# iproute2 are what an on-call engineer's shell loop (seed 002) uses on a gateway host. python3-psycopg (3.1) and
# python3-pymysql (1.0) are the datastore clients of the reference lego-mcp, loyalty-api (PostgreSQL) and
# connector-mcp (MySQL/MariaDB), and of the collection's PostgreSQL modules run on a host; python3-redis (4.3) is
# connector-mcp's Redis client (its rate limits); python3-cryptography seals the forensic copies of .data on a host
# (gateway_backup's safety backup with forensic_key_file, forensic_copy).
PACKAGES = ("systemd", "systemd-sysv", "dbus", "openssh-server", "python3", "iproute2", "procps", "curl",
            "python3-psycopg", "python3-pymysql", "python3-redis", "python3-cryptography",
            # named, since debootstrap does not resolve the virtual python3-cffi-backend-api-* cryptography needs
            "python3-cffi-backend")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEFAULT_CACHE = "/var/cache/mcpops-fleet"
BUILD_TIMEOUT = 1800

# Mount points inside a host, filled per host at boot (host.py).
FLEET_ETC = "/etc/mcpops-fleet"          # read-only: sshd.conf, host key, authorized_keys, gateway.listen.env
GATEWAY_ETC = "/etc/onec-mcp-gateway"    # admin_token and gateway.env (INC-006 rotates them)
GATEWAY_DATA = "/var/lib/onec-mcp-gateway"
MCPOPS_SRC = "/opt/mcpops/src"
SERVICE_NAME = "onec-mcp-gateway"

GATEWAY_UNIT = f"""[Unit]
Description=onec-mcp-gateway (the mcpops reference gateway)
After=network.target
# A crash loop ends in "failed" after 3 starts, as supervisor's FATAL does in the local lab.
StartLimitIntervalSec=30
StartLimitBurst=3

[Service]
Type=simple
Environment=PYTHONPATH={MCPOPS_SRC} PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
Environment=ONEC_MCP_DATA_DIR={GATEWAY_DATA}
Environment=ONEC_MCP_HTTP_TOKEN_FILE={GATEWAY_ETC}/admin_token
Environment=ONEC_MCP_ENV_FILE={GATEWAY_ETC}/gateway.env
EnvironmentFile={FLEET_ETC}/gateway.listen.env
ExecStart=/usr/bin/python3 -m mcpops.lab.gateway
Restart=on-failure
RestartSec=1
TimeoutStopSec=15

[Install]
WantedBy=multi-user.target
"""

# The files the recipe adds to the debootstrapped tree (path -> content).
FILES = {
    f"/etc/systemd/system/{SERVICE_NAME}.service": GATEWAY_UNIT,
    # sshd reads the host's own settings (ListenAddress, HostKey, AuthorizedKeysFile) from the bind mount.
    "/etc/ssh/sshd_config.d/00-mcpops-fleet.conf": f"Include {FLEET_ETC}/sshd.conf\n",
    "/etc/systemd/journald.conf.d/mcpops-fleet.conf": "[Journal]\nStorage=volatile\nRuntimeMaxUse=16M\n",
    # The image is never booted without --volatile: an empty machine-id gets a fresh one at each boot.
    "/etc/machine-id": "",
    "/etc/hostname": "fleet\n",
}
LINKS = {
    f"/etc/systemd/system/multi-user.target.wants/{SERVICE_NAME}.service": f"/etc/systemd/system/{SERVICE_NAME}.service",
    # Timers that would wake up a lab host for nothing.
    "/etc/systemd/system/apt-daily.timer": "/dev/null",
    "/etc/systemd/system/apt-daily-upgrade.timer": "/dev/null",
    "/etc/systemd/system/e2scrub_all.timer": "/dev/null",
    "/etc/systemd/system/dpkg-db-backup.timer": "/dev/null",
    "/etc/systemd/system/console-getty.service": "/dev/null",
}
DIRS = (FLEET_ETC, GATEWAY_ETC, GATEWAY_DATA, MCPOPS_SRC + "/mcpops")
RECIPE_VERSION = 1  # bump when build() changes in a way the recipe below does not show


class ImageError(Exception):
    """The image could not be built or found; the message says what was tried."""


def recipe():
    return {"version": RECIPE_VERSION, "suite": SUITE, "variant": VARIANT, "packages": list(PACKAGES),
            "files": FILES, "links": LINKS, "dirs": list(DIRS)}


def recipe_hash(rec=None):
    return recipe_build.recipe_hash(rec or recipe())


def cache_dir():
    return Path(os.environ.get("MCPOPS_FLEET_CACHE") or DEFAULT_CACHE)


def mirror():
    return os.environ.get("MCPOPS_FLEET_MIRROR") or DEFAULT_MIRROR


class Image:
    """The cached image for the current recipe: <cache>/images/<hash>/rootfs, complete once image.json exists."""

    def __init__(self, cache=None, out=None):
        self.cache = Path(cache or cache_dir())
        self.hash = recipe_hash()
        self.dir = self.cache / "images" / self.hash
        self._out = out

    @property
    def rootfs(self):
        return self.dir / "rootfs"

    @property
    def marker(self):
        return self.dir / "image.json"

    def ready(self):
        return self.marker.is_file() and (self.rootfs / "usr/lib/systemd/systemd").exists()

    def ensure(self):
        """Build the image unless the cache holds one for this recipe; returns the rootfs path."""
        if self.ready():
            return self.rootfs
        self.cache.mkdir(parents=True, exist_ok=True)
        with recipe_build.build_lock(self.cache):
            if not self.ready():  # another `fleet up` may have built it while we waited
                self._build()
        return self.rootfs

    def _say(self, line):
        if self._out:
            self._out(line)

    def _build(self):
        work = recipe_build.fresh_work_dir(self.cache / "images", self.hash)
        log = work / "debootstrap.log"
        argv = ["debootstrap", f"--variant={VARIANT}", "--include=" + ",".join(PACKAGES), SUITE,
                str(work / "rootfs"), mirror()]
        self._say(f"building the fleet image {self.hash} (debootstrap {SUITE} from {mirror()}; a few minutes)")
        started = time.monotonic()
        try:
            recipe_build.run_logged(argv, log, BUILD_TIMEOUT, ImageError,
                                    "check that the mirror is reachable (MCPOPS_FLEET_MIRROR to choose another)")
        except ImageError:
            shutil.rmtree(work, ignore_errors=True)
            raise
        self._provision(work / "rootfs")
        (work / "image.json").write_text(json.dumps(
            {"hash": self.hash, "recipe": recipe(), "mirror": mirror(),
             "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
             "build_seconds": round(time.monotonic() - started, 1)}, indent=2, sort_keys=True) + "\n")
        recipe_build.move_into_place(work, self.dir)
        self._say(f"fleet image {self.hash} built in {time.monotonic() - started:.0f}s: {self.rootfs}")

    @staticmethod
    def _provision(root):
        def inside(path):
            return root / path.lstrip("/")

        # debootstrap generated host keys; every host would share them. Each host gets its own at boot.
        for key in inside("/etc/ssh").glob("ssh_host_*"):
            key.unlink()
        for d in DIRS:
            inside(d).mkdir(parents=True, exist_ok=True)
        for path, content in FILES.items():
            target = inside(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                target.unlink()
            target.write_text(content)
        for path, dest in LINKS.items():
            link = inside(path)
            link.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                link.unlink()
            link.symlink_to(dest)
        for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for entry in (root / cache).glob("*"):
                if entry.is_file():
                    entry.unlink()
