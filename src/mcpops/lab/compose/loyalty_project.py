"""The Loyalty API's compose project in the seed's shape (seed 003): `docker-compose.production.yml` and
`.env.production` in one dir, run as `docker compose --env-file .env.production -f docker-compose.production.yml ...`,
and the app images it names, built here FROM the base image (never pulled, no network: COPY only).

Services, all `network_mode: host` on 127.0.0.1 and `init: true`:
- api: the loyalty-api reference service (mcpops.lab.services.loyalty_api), MIGRATE_ON_START=0: the schema is
  `exec -T api python3 -m mcpops.lab.services.loyalty_migrations deploy`'s, as the seed's `prisma migrate deploy`;
- worker: mcpops.lab.services.loyalty_worker (outbox -> merchant webhook, Telegram notifications);
- postgres: PostgreSQL 15 of the base image (`mcpops-postgres`), its data dir on ./pgvol (the lab mounts a small
  tmpfs there, so that "disk full" is a real ENOSPC on the database volume and nothing else);
- redis: redis-server of the base image, no persistence;
- telegram-standin, merchant-webhook: our stand-ins for the Telegram Bot API and a merchant's webhook receiver
  (mcpops.lab.services.loyalty_standins), from their own image so that a bad release of the API never breaks them.

Images: `mcpops-lab/loyalty-api:${IMAGE_TAG}` (api and worker); RELEASES are healthy (the newest is current, the one
before it, IMAGE_TAG_PREVIOUS, the previous image a rollback goes back to: the gateway_service role's
`gateway_compose_image_var: IMAGE_TAG` convention), BAD_RELEASE is a broken build (a module missing: the api dies at
start).
"""

import os
import shutil
from pathlib import Path

import mcpops

PROJECT = "loyalty"
COMPOSE_FILE = "docker-compose.production.yml"
ENV_FILE = ".env.production"
REPOSITORY = "mcpops-lab/loyalty-api"
STANDIN_IMAGE = "mcpops-lab/loyalty-standins:1.0.0"
RELEASES = ("1.3.0", "1.4.0")
BAD_RELEASE = "1.5.0"
BAD_RELEASE_MISSING = "resp.py"  # what the bad build lacks: the api's Redis client (ImportError at start)
PG_UID, PG_GID = 101, 103  # the base image's postgres user (debootstrap's Debian postgresql package)
SERVICES = ("api", "worker", "postgres", "redis", "telegram-standin", "merchant-webhook")

COMPOSE_YAML = """\
# The Loyalty API (seed 003) in the lab: written by mcpops.lab.compose.loyalty_project; the stand-ins are ours.
name: %(project)s

x-app: &app
  image: %(repository)s:${IMAGE_TAG}
  network_mode: host
  init: true
  restart: unless-stopped
  stop_grace_period: 5s
  env_file: [%(env_file)s]

x-base: &base
  image: ${BASE_IMAGE}
  network_mode: host
  init: true
  restart: unless-stopped
  stop_grace_period: 5s

x-standin: &standin
  image: ${STANDIN_IMAGE}
  network_mode: host
  init: true
  restart: unless-stopped
  stop_grace_period: 2s

services:
  api:
    <<: *app
    command: ["python3", "-m", "mcpops.lab.services", "loyalty-api"]
    environment:
      MCPOPS_SERVICE_LISTEN: 127.0.0.1:${API_PORT}
      MCPOPS_SERVICE_STATE_DIR: /state
      METRICS_TOKEN_FILE: /run/secrets/metrics_token
      MIGRATE_ON_START: "0"
    volumes: ["./state/api:/state"]
    secrets: [metrics_token]
    depends_on: [postgres, redis]

  worker:
    <<: *app
    command: ["python3", "-m", "mcpops.lab.services.loyalty_worker"]
    depends_on: [postgres]

  postgres:
    <<: *base
    user: postgres
    command: ["/usr/local/bin/mcpops-postgres"]
    environment:
      PGPORT: ${POSTGRES_PORT}
      PGLISTEN: 127.0.0.1
      PGDATA: /var/lib/postgresql/data/pgdata
      POSTGRES_PASSWORD_FILE: /run/secrets/pg_superuser_password
    volumes: ["./pgvol:/var/lib/postgresql/data"]
    secrets: [pg_superuser_password]

  redis:
    <<: *base
    user: redis
    command: ["redis-server", "--port", "${REDIS_PORT}", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]

  telegram-standin:
    <<: *standin
    command: ["python3", "-m", "mcpops.lab.services.loyalty_standins", "telegram"]
    environment:
      MCPOPS_SERVICE_LISTEN: 127.0.0.1:${TELEGRAM_STANDIN_PORT}
      MCPOPS_SERVICE_STATE_DIR: /state
      TELEGRAM_STANDIN_TOKEN_FILE: /run/secrets/telegram_bot_token
    volumes: ["./state/telegram:/state"]
    secrets: [telegram_bot_token]

  merchant-webhook:
    <<: *standin
    command: ["python3", "-m", "mcpops.lab.services.loyalty_standins", "merchant"]
    environment:
      MCPOPS_SERVICE_LISTEN: 127.0.0.1:${MERCHANT_STANDIN_PORT}
      MCPOPS_SERVICE_STATE_DIR: /state
    volumes: ["./state/merchant:/state"]

secrets:
  metrics_token:
    file: ./secrets/metrics_token
  pg_superuser_password:
    file: ./secrets/pg_superuser_password
  telegram_bot_token:
    file: ./secrets/telegram_bot_token
""" % {"project": PROJECT, "env_file": ENV_FILE, "repository": REPOSITORY}

DOCKERFILE = """\
FROM %(base)s
COPY mcpops /app/mcpops
ENV PYTHONPATH=/app PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 APP_VERSION=%(release)s
LABEL org.mcpops.release=%(release)s
WORKDIR /app
CMD ["python3", "-m", "mcpops.lab.services", "loyalty-api"]
"""


def image(release):
    return f"{REPOSITORY}:{release}"


def services_source():
    """The dir of mcpops.lab.services in this checkout (what the images carry)."""
    return Path(mcpops.__file__).parent / "lab" / "services"


def build_context(directory, base_tag, release, leave_out=()):
    """A `docker build` context in directory: the mcpops package's services (minus leave_out) and a Dockerfile FROM
    base_tag. Returns the directory."""
    directory = Path(directory)
    shutil.rmtree(directory, ignore_errors=True)
    target = directory / "mcpops" / "lab" / "services"
    target.mkdir(parents=True)
    package = Path(mcpops.__file__).parent
    shutil.copy2(package / "__init__.py", directory / "mcpops" / "__init__.py")
    shutil.copy2(package / "lab" / "__init__.py", directory / "mcpops" / "lab" / "__init__.py")
    for source in sorted(services_source().glob("*.py")):
        if source.name not in leave_out:
            shutil.copy2(source, target / source.name)
    (directory / "Dockerfile").write_text(DOCKERFILE % {"base": base_tag, "release": release})
    return directory


def build_images(docker, base_tag, work_dir):
    """Build the healthy releases, the bad one and the stand-ins' image into docker's daemon; {release: tag}."""
    built = {}
    plan = [(r, image(r), ()) for r in RELEASES] + [(BAD_RELEASE, image(BAD_RELEASE), (BAD_RELEASE_MISSING,)),
                                                     ("standins", STANDIN_IMAGE, ())]
    for release, tag, leave_out in plan:
        context = build_context(Path(work_dir) / f"build-{release}", base_tag,
                                RELEASES[-1] if release == "standins" else release, leave_out)
        docker.run("build", "--quiet", "--tag", tag, str(context), timeout=300)
        shutil.rmtree(context, ignore_errors=True)
        built[release] = tag
    return built


def render_env(values):
    """`.env.production` text from {name: value} (compose's env file: KEY=VALUE a line, no quoting needed: the
    values the lab writes have no spaces, quotes or #)."""
    lines = ["# The Loyalty API's environment (seed 003), written by the compose lab; edit and `up -d` to apply."]
    lines += [f"{name}={value}" for name, value in values.items()]
    return "\n".join(lines) + "\n"


def parse_env(text):
    """{name: value} of an env file's KEY=VALUE lines (comments and blank lines skipped), in order."""
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.partition("=")
        values[name.strip()] = value.strip()
    return values


def write_secret(path, value, mode=0o600):
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    os.chmod(tmp, mode)
    os.replace(tmp, path)
