"""The Loyalty API's compose lab (issue 17): the project of loyalty_project.py on a private Docker Engine, brought up
until /ready answers, broken and repaired (loyalty_faults.py), and torn down leaving nothing: project down, the
database volume's tmpfs unmounted, the lab's dir removed, and the engine stopped by PID when the lab started it.

    lab = LoyaltyLab.start()                   # its own engine (root), images built, project up, /ready
    lab = LoyaltyLab(docker, base_tag).up()    # on an engine someone else owns (the tests' session engine)
    lab.break_("postgres-down"); lab.repair("postgres-down")
    lab.inventory_path                         # for ansible: ansible_connection local, the project, its env file
    lab.down()

Layout of the lab's dir (0700, under /tmp: the engine's socket path must stay short):
    docker-compose.production.yml, .env.production (0600), secrets/ (0700; files the containers read are 0644
    inside it), state/{api,telegram,merchant}/ (each service's faults.json), pgvol/ (a 96 MiB tmpfs, the database
    volume), inventory.yml, lab.json (ports, images).
"""

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql

from mcpops.lab.compose import loyalty_project as project
from mcpops.lab.compose.docker_client import DockerClient
from mcpops.lab.http_client import http_json
from mcpops.lab.loopback import free_port

READY_TIMEOUT = 120.0  # seconds from `up -d` until /ready answers 200 (initdb included) on a loaded 2-core machine
PG_VOLUME_SIZE = "96m"  # PostgreSQL 15's initdb takes about 40 MiB (16 of them the first WAL segment)
METRICS_HEADER = "X-Metrics-Token"
CHAT_ID = "-1001234567890"


class LoyaltyLabError(Exception):
    """The lab could not do what was asked; the message says what was tried and what came back."""


def wait_for(condition, what, timeout, interval=0.3):
    """Poll condition() until it returns something true (returned), or raise LoyaltyLabError after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise LoyaltyLabError(f"{what} within {timeout:.0f}s")
        time.sleep(interval)


class LoyaltyLab:
    def __init__(self, docker, base_tag, directory=None, engine=None):
        self.docker = docker
        self.base_tag = base_tag
        self.engine = engine  # set when the lab started the engine itself: down() stops it
        self.dir = Path(directory or tempfile.mkdtemp(prefix="mcpops-loyalty-", dir="/tmp"))
        self.pgvol = self.dir / "pgvol"
        self.secrets_dir = self.dir / "secrets"
        self.ports = {}
        self.images = {}
        self._mounted = False

    # -- the whole lab ------------------------------------------------------------------------------

    @classmethod
    def start(cls, out=None):
        """A lab on its own private engine: engine started, base image imported (built when not cached), project
        up. down() stops all of it."""
        from mcpops.lab.compose.base_image import BaseImage
        from mcpops.lab.fixtures.docker_engine import DockerEngine

        engine = DockerEngine().start()
        try:
            docker = DockerClient(engine.host, os.path.join(engine.dir, "config"))
            docker.install_compose()
            tag = BaseImage(out=out).import_into(docker)
            return cls(docker, tag, engine=engine).up()
        except BaseException:
            engine.stop()
            raise

    @classmethod
    def attach(cls, directory, docker, engine=None):
        """The lab an earlier process brought up in directory (its lab.json: ports, images; the env file: the base
        image), on the engine docker talks to; LoyaltyLabError when there is none."""
        directory = Path(directory)
        try:
            recorded = json.loads((directory / "lab.json").read_text())
            base_tag = project.parse_env((directory / project.ENV_FILE).read_text())["BASE_IMAGE"]
        except (OSError, ValueError, KeyError) as exc:
            raise LoyaltyLabError(f"no compose lab in {directory}: {exc}") from None
        lab = cls(docker, base_tag, directory=directory, engine=engine)
        lab.ports, lab.images = recorded["ports"], recorded["images"]
        return lab

    def up(self):
        """Images built, files written, the database volume mounted, the project up, migrations deployed through
        `exec -T api`, /ready 200. Returns self."""
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        os.chmod(self.dir, 0o700)
        try:
            self.images = project.build_images(self.docker, self.base_tag, self.dir)
            self._write_files()
            self._mount_pgvol()
            self.compose("up", "-d", "--pull", "never", "postgres", "redis", "telegram-standin", "merchant-webhook")
            self._create_database()
            self.compose("up", "-d", "--pull", "never")
            self.migrate("deploy")
            self.wait_ready()
        except BaseException:
            self.down()
            raise
        return self

    def down(self):
        """Project down (containers, network-less as it is, anonymous volumes), the tmpfs unmounted, the dir removed,
        the engine stopped by PID when the lab started it. Safe to call twice."""
        try:
            if (self.dir / project.COMPOSE_FILE).exists():
                self.compose("down", "--volumes", "--timeout", "5", check=False, timeout=180)
        finally:
            if self._mounted or _is_mount(self.pgvol):
                subprocess.run(["umount", str(self.pgvol)], check=False, capture_output=True)
                self._mounted = False
            shutil.rmtree(self.dir, ignore_errors=True)
            if self.engine is not None:
                self.engine.stop()
                self.engine = None

    # -- files --------------------------------------------------------------------------------------

    @property
    def env_path(self):
        return self.dir / project.ENV_FILE

    @property
    def metrics_token_file(self):
        return self.secrets_dir / "metrics_token"

    @property
    def inventory_path(self):
        return self.dir / "inventory.yml"

    @property
    def url(self):
        return f"http://127.0.0.1:{self.ports['api']}"

    def _write_files(self):
        for name in ("api", "telegram", "merchant"):
            (self.dir / "state" / name).mkdir(parents=True, exist_ok=True)
        self.secrets_dir.mkdir(mode=0o700, exist_ok=True)
        self.pgvol.mkdir(exist_ok=True)
        self.ports = {name: free_port() for name in ("api", "postgres", "redis", "telegram", "merchant")}
        # The containers read these through bind mounts (postgres as its own user): 0644 inside a 0700 dir.
        for name in ("metrics_token", "pg_superuser_password", "telegram_bot_token", "db_password"):
            project.write_secret(self.secrets_dir / name, secrets.token_urlsafe(24), 0o644)
        self.secrets_dir.joinpath("db_password").chmod(0o600)
        (self.dir / project.COMPOSE_FILE).write_text(project.COMPOSE_YAML)
        self.write_env(self.initial_env())
        (self.dir / "lab.json").write_text(json.dumps({"ports": self.ports, "images": self.images,
                                                       "project": project.PROJECT}, indent=2) + "\n")
        self.inventory_path.write_text(self.inventory_text())

    def secret(self, name):
        return (self.secrets_dir / name).read_text().strip()

    def initial_env(self):
        p = self.ports
        return {
            "IMAGE_TAG": project.RELEASES[-1],
            "IMAGE_TAG_PREVIOUS": project.RELEASES[-2],
            "BASE_IMAGE": self.base_tag,
            "STANDIN_IMAGE": project.STANDIN_IMAGE,
            "API_PORT": p["api"], "POSTGRES_PORT": p["postgres"], "REDIS_PORT": p["redis"],
            "TELEGRAM_STANDIN_PORT": p["telegram"], "MERCHANT_STANDIN_PORT": p["merchant"],
            "DATABASE_URL": f"postgresql://loyalty:{self.secret('db_password')}@127.0.0.1:{p['postgres']}/loyalty",
            "REDIS_URL": f"redis://127.0.0.1:{p['redis']}/0",
            "MERCHANT_WEBHOOK_URL": f"http://127.0.0.1:{p['merchant']}/webhooks/loyalty",
            "TELEGRAM_API_URL": f"http://127.0.0.1:{p['telegram']}",
            "TELEGRAM_NOTIFY_BOT_TOKEN": self.secret("telegram_bot_token"),
            "TELEGRAM_NOTIFY_CHAT_ID": CHAT_ID,
            "WORKERS_ENABLED": "1",
            "MAINTENANCE_MODE": "0",
            "READ_ONLY_MODE": "0",
            "ALERT_HTTP_SLOW_THRESHOLD_MS": "1000",
            "OUTBOX_POLL_SECONDS": "1",
            "OUTBOX_MAX_ATTEMPTS": "3",
            "OUTBOX_RETRY_SECONDS": "1",
        }

    def read_env(self):
        return project.parse_env(self.env_path.read_text())

    def write_env(self, values):
        project.write_secret(self.env_path, project.render_env(values).rstrip("\n"), 0o600)

    def set_env(self, **changes):
        """Change .env.production's values (the others kept, in order); returns the old values of those changed."""
        values = self.read_env()
        old = {name: values.get(name) for name in changes}
        values.update({name: str(value) for name, value in changes.items()})
        self.write_env(values)
        return old

    def inventory_text(self):
        host = {
            "ansible_connection": "local",
            # the controller's Python (psycopg, the collection's module_utils): the host is this machine
            "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            "mcp_service": "loyalty-api",
            "mcp_service_overrides": {
                "api": {"default_url": self.url},
                "datastores": {"postgres": {"host": "127.0.0.1", "port": self.ports["postgres"]},
                               "redis": {"host": "127.0.0.1", "port": self.ports["redis"]}}},
            # secrets by lookup, so the inventory file never holds one
            "loyalty_metrics_token": "{{ lookup('ansible.builtin.file', '%s') }}" % self.metrics_token_file,
            "loyalty_db_password": "{{ lookup('ansible.builtin.file', '%s') }}" % (self.secrets_dir / "db_password"),
            # db-connection-exhaustion's DBA login (pg_login_*): the superuser, whose reserved slots PostgreSQL keeps
            # when the application's role holds every other
            "pg_login_host": "127.0.0.1", "pg_login_port": self.ports["postgres"], "pg_login_user": "postgres",
            "pg_login_db": "loyalty",
            "pg_login_password": "{{ lookup('ansible.builtin.file', '%s') }}" % (self.secrets_dir
                                                                                / "pg_superuser_password"),
            "loyalty_metrics_token_file": str(self.metrics_token_file),
            # the gateway_service role's docker_compose names (roles/gateway_service/defaults/main.yml)
            "gateway_platform": "docker_compose",
            "gateway_compose_project_src": str(self.dir),
            "gateway_compose_files": [project.COMPOSE_FILE],
            "gateway_compose_env_files": [project.ENV_FILE],
            "gateway_compose_docker_host": self.docker.host,
            "gateway_compose_docker_cli": self.docker.cli,
            "gateway_compose_image_var": "IMAGE_TAG",
            # DOCKER_CONFIG for a play's environment: the private config dir holding the compose v2 plugin
            "gateway_compose_docker_config": self.docker.config_dir,
            "compose_project_name": project.PROJECT,
        }
        # JSON is YAML: no YAML library needed, and no quoting mistakes. The host is in the runbooks' default group
        # (loyalty_api) too, so that `mcpops run` and `mcpops drill` need no -e loyalty_hosts.
        return json.dumps({"all": {"hosts": {"loyalty-compose": host},
                                   "children": {"loyalty_api": {"hosts": {"loyalty-compose": {}}}}}},
                          indent=2) + "\n"

    # -- the database volume ------------------------------------------------------------------------

    def _mount_pgvol(self):
        """A small tmpfs on ./pgvol owned by the image's postgres user: the database volume, full for real (ENOSPC)
        when the disk-full fault fills it, and no other file system ever touched."""
        if _is_mount(self.pgvol):
            return
        opts = f"size={PG_VOLUME_SIZE},mode=0700,uid={project.PG_UID},gid={project.PG_GID}"
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "mcpops-loyalty-pgvol", str(self.pgvol)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise LoyaltyLabError(f"cannot mount the database volume's tmpfs on {self.pgvol}: {proc.stderr.strip()}")
        self._mounted = True

    def _create_database(self):
        password = self.secret("pg_superuser_password")

        def superuser():
            try:
                return psycopg.connect(host="127.0.0.1", port=self.ports["postgres"], user="postgres",
                                       password=password, dbname="postgres", connect_timeout=2, autocommit=True)
            except psycopg.Error:
                return None

        conn = wait_for(superuser, f"postgres did not accept the superuser on 127.0.0.1:{self.ports['postgres']}",
                        READY_TIMEOUT)
        with conn:
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'loyalty'").fetchone():
                conn.execute(sql.SQL("CREATE ROLE loyalty LOGIN PASSWORD {}").format(
                    sql.Literal(self.secret("db_password"))))
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = 'loyalty'").fetchone():
                conn.execute("CREATE DATABASE loyalty OWNER loyalty")

    def db(self, superuser=False):
        """A psycopg connection (autocommit) to the loyalty database, as loyalty or as the superuser."""
        user, secret = ("postgres", "pg_superuser_password") if superuser else ("loyalty", "db_password")
        return psycopg.connect(host="127.0.0.1", port=self.ports["postgres"], user=user, password=self.secret(secret),
                               dbname="loyalty", connect_timeout=3, autocommit=True)

    # -- compose and the API ------------------------------------------------------------------------

    def compose(self, *args, check=True, timeout=300):
        return self.docker.compose(self.dir, *args, env_file=project.ENV_FILE, files=(project.COMPOSE_FILE,),
                                   check=check, timeout=timeout)

    def exec_api(self, *argv, service="api", check=False, timeout=120):
        """`compose exec -T <service> <argv>`: how the seed runs its tools in a container."""
        return self.compose("exec", "-T", service, *argv, check=check, timeout=timeout)

    def migrate(self, command="status"):
        """loyalty_migrations <command> --json inside the api container: (exit code, parsed JSON or None)."""
        proc = self.exec_api("python3", "-m", "mcpops.lab.services.loyalty_migrations", command, "--json")
        if command == "deploy" and proc.returncode != 0:
            raise LoyaltyLabError(f"migrate deploy exited {proc.returncode}: {(proc.stderr or proc.stdout)[-800:]}")
        try:
            return proc.returncode, json.loads(proc.stdout)
        except ValueError:
            return proc.returncode, None

    def outbox(self, command="status"):
        """loyalty_outbox <command> --json inside the worker container: the parsed result."""
        proc = self.exec_api("python3", "-m", "mcpops.lab.services.loyalty_outbox", command, "--json",
                             service="worker", check=True)
        return json.loads(proc.stdout)

    def states(self):
        """{service: (state, last exit code)} of every container of the project: `compose ps --all` for the state,
        `docker inspect` for the exit code (compose's own ExitCode says 0 while a container is restarting)."""
        out = self.compose("ps", "--all", "--format", "json").stdout
        rows = []
        for line in out.splitlines():  # compose 2.21+: one object a line; older: one array
            line = line.strip()
            if line:
                parsed = json.loads(line)
                rows.extend(parsed if isinstance(parsed, list) else [parsed])
        if not rows:
            return {}
        codes = self.docker.run("inspect", "--format", "{{.Id}} {{.State.ExitCode}}", *[r["ID"] for r in rows],
                                check=False).stdout.split("\n")
        exit_codes = {}
        for line in codes:
            if line.strip():
                full_id, code = line.split()
                exit_codes[full_id] = int(code)
        return {row["Service"]: (row["State"], next((c for i, c in exit_codes.items() if i.startswith(row["ID"])),
                                                    None)) for row in rows}

    def logs(self, service, tail=50):
        return self.compose("logs", "--no-color", "--tail", str(tail), service, check=False).stdout

    def get(self, path, **kw):
        return http_json(self.url + path, **kw)

    def call(self, method, path, body=None):
        return http_json(self.url + path, method=method, body=body)

    def metrics(self):
        """The /metrics text with the token (None when the API does not answer 200)."""
        import urllib.request

        req = urllib.request.Request(self.url + "/metrics", headers={METRICS_HEADER: self.secret("metrics_token")})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(req, timeout=5) as resp:
                return resp.read().decode("utf-8")
        except OSError:
            return None

    def wait_ready(self, timeout=READY_TIMEOUT):
        def answer():
            return self.get("/ready")[0] == 200

        try:
            wait_for(answer, f"{self.url}/ready did not answer 200", timeout)
        except LoyaltyLabError as exc:
            raise LoyaltyLabError(f"{exc}; last api log lines:\n{self.logs('api', 15)}") from None

    def standin(self, which, path):
        port = self.ports["telegram" if which == "telegram" else "merchant"]
        return http_json(f"http://127.0.0.1:{port}{path}")

    # -- faults -------------------------------------------------------------------------------------

    def break_(self, fault):
        from mcpops.lab.compose import loyalty_faults

        return loyalty_faults.inject(self, fault)

    def repair(self, fault):
        from mcpops.lab.compose import loyalty_faults

        return loyalty_faults.repair(self, fault)


def _is_mount(path):
    with contextlib.suppress(OSError):
        with open("/proc/self/mountinfo") as handle:
            return any(line.split()[4] == str(path) for line in handle)
    return False
