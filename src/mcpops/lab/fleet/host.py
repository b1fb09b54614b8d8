"""One fleet host: its files in the fleet's state dir, its systemd-nspawn process, commands run inside it.

    <fleet state dir>/hosts/<name>/
      fleet/          -> /etc/mcpops-fleet (read-only): sshd.conf, ssh_host_ed25519_key(.pub),
                         authorized_keys, gateway.listen.env, hostname
      etc-gateway/    -> /etc/onec-mcp-gateway: admin_token, gateway.env (0600)
      data/           -> /var/lib/onec-mcp-gateway: the gateway's data dir, seeded at the first up
      secrets/        controller side only: mcp_token (the seeded ops token's secret)
      etc-cctelegram/ -> /etc/cctelegram (0700), a CCTelegram host only: api_key (0600); its unit files are in
                         fleet/units/ (services.py)
      etc-<service>/  -> /etc/<service> (0700, read-only), a lego-mcp, loyalty-api or connector-mcp host only:
                         <service>.env (0600: the datastore URLs), loyalty-api's metrics_token (0600)
      log-<service>/  -> the service's log dir (/var/log/lego-mcp, /var/log/loyalty-api, /var/log/connectormcp);
                         its unit file in fleet/units/ (reference_services.py)
      console.log     what systemd-nspawn printed (the boot log)

The host's root file system is the shared image with a tmpfs overlay (--volatile=overlay): whatever a
host changes outside those bind mounts is gone at its next boot.
"""

import os
import secrets as _secrets
import signal
import subprocess
import time
from pathlib import Path

from mcpops.lab import pids
from mcpops.lab.fleet import image, services
from mcpops.lab.gateway.fsutil import atomic_write

FIRST_OCTET = 10  # host i (1-based) listens on <net>.(10+i)
MAX_HOSTS = 200
DEFAULT_NET = "127.0.0"  # the first three octets of the hosts' loopback addresses
GATEWAY_PORT = 3000
STOP_TIMEOUT = 60.0  # an orderly poweroff of a container; SIGKILL after that
KILL_TIMEOUT = 10.0


class HostError(Exception):
    """A host operation failed; the message says what was tried and what came back."""


def keygen(path, comment):
    """An ed25519 key pair at path and path.pub (kept when it exists)."""
    path = Path(path)
    if path.exists() and Path(str(path) + ".pub").exists():
        return
    for stale in (path, Path(str(path) + ".pub")):
        stale.unlink(missing_ok=True)
    proc = subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise HostError(f"ssh-keygen -t ed25519 -f {path} exited {proc.returncode}: {proc.stderr.strip()}")


def check_net(net):
    """net as the first three octets of a loopback /24 ("127.0.0", "127.0.1"), or HostError."""
    parts = str(net).split(".")
    if len(parts) != 3 or parts[0] != "127" or not all(p.isdigit() and 0 <= int(p) <= 255 for p in parts[1:]):
        raise HostError(f"fleet network {net!r}: give the first three octets of a loopback /24, e.g. 127.0.1")
    return ".".join(str(int(p)) for p in parts)


class FleetHost:
    def __init__(self, state_dir, index, net=DEFAULT_NET, service=services.DEFAULT):
        if not 1 <= index <= MAX_HOSTS:
            raise HostError(f"host index {index} out of range 1..{MAX_HOSTS}")
        if service not in services.SERVICES:
            raise HostError(f"service {service!r}: one of {', '.join(services.SERVICES)}")
        self.index = index
        self.service = service
        self.unit = services.UNIT[service]  # the main systemd unit: onec-mcp-gateway or cctelegram-mcp
        self.name = f"fleet{index}"
        self.address = f"{check_net(net)}.{FIRST_OCTET + index}"
        self.dir = Path(state_dir) / "hosts" / self.name

    # ------------------------------------------------------------------ paths

    @property
    def fleet_etc(self):
        return self.dir / "fleet"

    @property
    def gateway_etc(self):
        return self.dir / "etc-gateway"

    @property
    def data_dir(self):
        return self.dir / "data"

    @property
    def secrets_dir(self):
        return self.dir / "secrets"

    @property
    def host_key(self):
        return self.fleet_etc / "ssh_host_ed25519_key"

    @property
    def admin_token_file(self):
        return self.gateway_etc / "admin_token"

    @property
    def mcp_token_file(self):
        return self.secrets_dir / "mcp_token"

    @property
    def cctelegram_etc(self):
        return self.dir / "etc-cctelegram"

    @property
    def api_key_file(self):
        return self.cctelegram_etc / "api_key"

    @property
    def console_log(self):
        return self.dir / "console.log"

    @property
    def api_url(self):
        return f"http://{self.address}:{services.PORT[self.service]}"

    def api_key(self):
        return self.api_key_file.read_text().strip()

    def admin_token(self):
        return self.admin_token_file.read_text().strip()

    def mcp_token(self):
        return self.mcp_token_file.read_text().strip()

    def known_hosts_line(self):
        key_type, key = Path(str(self.host_key) + ".pub").read_text().split()[:2]
        return f"{self.address} {key_type} {key}\n"

    # ------------------------------------------------------------------ files

    def prepare(self, client_public_key, telegram_url=None, bot_token=None, standby=False, api_key=None):
        """Host key, sshd and gateway settings, admin token; seeds the data dir when it is empty. A CCTelegram host
        is also given the Telegram stand-in's URL and bot token, and whether it is a standby (services.prepare)."""
        for d, mode in ((self.dir, 0o755), (self.fleet_etc, 0o755), (self.gateway_etc, 0o700),
                        (self.data_dir, 0o755), (self.secrets_dir, 0o700)):
            d.mkdir(mode=mode, parents=True, exist_ok=True)
            os.chmod(d, mode)
        keygen(self.host_key, f"{self.name} host key")
        os.chmod(self.host_key, 0o600)  # sshd refuses a host key others can read
        atomic_write(self.fleet_etc / "sshd.conf",
                     f"# {self.name}: written by `mcpops fleet up`\n"
                     f"ListenAddress {self.address}\n"
                     f"HostKey {image.FLEET_ETC}/ssh_host_ed25519_key\n"
                     f"AuthorizedKeysFile {image.FLEET_ETC}/authorized_keys\n"
                     "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
                     "KbdInteractiveAuthentication no\nUseDNS no\n", 0o644)
        atomic_write(self.fleet_etc / "authorized_keys", client_public_key, 0o644)
        atomic_write(self.fleet_etc / "hostname", self.name + "\n", 0o644)  # systemd reads /etc/hostname at boot
        atomic_write(self.fleet_etc / "gateway.listen.env", f"ONEC_MCP_LISTEN={self.address}:{GATEWAY_PORT}\n", 0o644)
        if not self.admin_token_file.exists():
            atomic_write(self.admin_token_file, _secrets.token_urlsafe(32) + "\n", 0o600)
        if not any(not p.name.startswith(".") for p in self.data_dir.iterdir()):
            self._seed()
        elif not (self.gateway_etc / "gateway.env").exists():
            atomic_write(self.gateway_etc / "gateway.env", "", 0o600)
        if self.service == services.CCTELEGRAM:
            services.prepare(self, telegram_url=telegram_url, bot_token=bot_token, standby=standby, api_key=api_key)
        elif self.service in services.reference.SERVICES:
            services.reference.prepare(self, lambda: _secrets.token_urlsafe(32))

    def _seed(self):
        from mcpops.lab.seed import seed_data_dir

        # Each host its own data: a different seed gives different token ids, audit lines and secrets.
        result = seed_data_dir(str(self.data_dir), rng_seed=self.index)
        atomic_write(self.mcp_token_file, result["ops_token_secret"] + "\n", 0o600)
        atomic_write(self.gateway_etc / "gateway.env",
                     "".join(f"{k}={v}\n" for k, v in sorted(result["password_env"].items())), 0o600)

    # ------------------------------------------------------------------ the nspawn process

    def nspawn_argv(self, rootfs, mcpops_src):
        return [
            "systemd-nspawn", "--quiet", "-D", str(rootfs), "-M", self.name, "--hostname", self.name,
            "-b", "--volatile=overlay", "--register=no", "--keep-unit", "--console=read-only",
            f"--bind-ro={self.fleet_etc}:{image.FLEET_ETC}",
            f"--bind-ro={self.fleet_etc}/hostname:/etc/hostname",
            f"--bind={self.gateway_etc}:{image.GATEWAY_ETC}",
            f"--bind={self.data_dir}:{image.GATEWAY_DATA}",
            f"--bind-ro={mcpops_src}:{image.MCPOPS_SRC}/mcpops",
            *(services.nspawn_binds(self) if self.service != services.ONEC else ()),
        ]

    def start(self, rootfs, mcpops_src):
        """Boot the host; returns the systemd-nspawn PID (the host's record)."""
        with open(self.console_log, "ab") as log:
            proc = subprocess.Popen(self.nspawn_argv(rootfs, mcpops_src), stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                    close_fds=True)
        return proc.pid

    def is_ours(self, pid):
        """pid is alive and is the systemd-nspawn of this host (checked before any signal)."""
        if not pid or not pids.pid_alive(int(pid)):
            return False
        args = pids.cmdline(int(pid))
        return bool(args) and os.path.basename(args[0]) == "systemd-nspawn" and self.name in args \
            and f"--bind={self.data_dir}:{image.GATEWAY_DATA}" in args

    def leader_pid(self, nspawn_pid):
        """The host's PID 1 (as seen from here): the child of systemd-nspawn in another PID namespace."""
        try:
            own = os.readlink("/proc/self/ns/pid")
            children = Path(f"/proc/{nspawn_pid}/task/{nspawn_pid}/children").read_text().split()
        except OSError:
            return None
        for child in children:
            try:
                if os.readlink(f"/proc/{child}/ns/pid") != own:
                    return int(child)
            except OSError:
                continue
        return None

    def stop(self, nspawn_pid, timeout=STOP_TIMEOUT):
        """Power the host off: SIGTERM makes systemd-nspawn shut the host down in order; SIGKILL after
        timeout (and the host's PID 1 with it, which ends every process of the host)."""
        if not self.is_ours(nspawn_pid):
            return False
        leader = self.leader_pid(nspawn_pid)
        pids.signal_pid(nspawn_pid, signal.SIGTERM)
        if pids.wait_gone([nspawn_pid], timeout):
            for pid in (leader, nspawn_pid):
                if pid and pids.pid_alive(pid):
                    pids.signal_pid(pid, signal.SIGKILL)
            left = pids.wait_gone([p for p in (leader, nspawn_pid) if p], KILL_TIMEOUT)
            if left:
                raise HostError(f"{self.name}: PIDs {left} survived SIGTERM and SIGKILL")
        return True

    def run(self, nspawn_pid, argv, timeout=60, check=True):
        """Run argv inside the host (its mount, PID, UTS and IPC namespaces) with nsenter; works while
        its sshd is stopped."""
        leader = self.leader_pid(nspawn_pid) if self.is_ours(nspawn_pid) else None
        if not leader:
            raise HostError(f"{self.name} is not running (no systemd-nspawn PID {nspawn_pid}); `mcpops fleet up`")
        cmd = ["nsenter", "-t", str(leader), "-m", "-u", "-i", "-p", "--", *argv]
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "SYSTEMD_PAGER": "",
               "SYSTEMD_COLORS": "0"}
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env,
                              timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise HostError(f"{self.name}: `{' '.join(argv)}` exited {proc.returncode}: "
                            f"{(proc.stderr or proc.stdout).strip()[-500:]}")
        return proc

    def unit_state(self, nspawn_pid, unit=None):
        """systemctl show's ActiveState, SubState, MainPID, NRestarts of a unit (default: the host's main unit)."""
        proc = self.run(nspawn_pid, ["systemctl", "show", unit or self.unit,
                                     "--property=ActiveState,SubState,MainPID,NRestarts,Result"])
        return dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)

    def wait_unit(self, nspawn_pid, wanted, timeout=60.0, unit=None):
        """Wait until the unit's ActiveState is one of wanted; returns the last state read."""
        deadline = time.monotonic() + timeout
        state = {}
        while time.monotonic() < deadline:
            state = self.unit_state(nspawn_pid, unit)
            if state.get("ActiveState") in wanted:
                return state
            time.sleep(0.5)
        raise HostError(f"{self.name}: {unit or self.unit} is {state.get('ActiveState')}/{state.get('SubState')} after "
                        f"{timeout:.0f}s, not {'/'.join(wanted)}")
