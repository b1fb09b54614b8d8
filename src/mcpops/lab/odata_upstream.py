"""The lab's 1C OData upstream (INC-004): an HTTPS publication with the lab's own test CA.

It listens where the lab's production profiles point (`odataUrl` in the data dir's profiles.json:
127.0.0.1:8443 as seeded, or the lab's `--upstream`) and answers `GET <odataUrl>/$metadata` for every
profile. Its state lives in `<lab state dir>/upstream/`: `ca/` (the test CA, made with `cryptography` on first use, keys 0600,
never committed), `ca.crt` (the root to trust), `server.crt` / `server.key`, `mode` (healthy, slow,
failing) and the server's spec and ready files (its PID). The faults upstream-slow, upstream-down and
cert-expiring change it live; `mcpops lab down` stops it by its PID.
"""

import json
import urllib.parse
from pathlib import Path

from mcpops.lab.seed import DEFAULT_ODATA_ADDRESS
from mcpops.lab.tls_server import MODES, TlsServerProcess

_HOST, _, _PORT = DEFAULT_ODATA_ADDRESS.rpartition(":")
DEFAULT_ADDRESS = (_HOST, int(_PORT))
SLOW_SECONDS = 30  # beyond the 5-10 s timeouts of the probes


class UpstreamError(Exception):
    pass


def production_address(data_dir):
    """(host, port) the production profiles' odataUrl point at, or the seeded default."""
    try:
        profiles = json.loads((Path(data_dir) / "profiles.json").read_text())["profiles"]
    except (OSError, ValueError, KeyError, TypeError):
        return DEFAULT_ADDRESS
    for profile in profiles:
        url = urllib.parse.urlsplit(str(profile.get("odataUrl") or ""))
        if profile.get("environment") == "production" and url.scheme == "https" and url.hostname:
            return url.hostname, url.port or 443
    return DEFAULT_ADDRESS


class LabUpstream:
    def __init__(self, state_dir, data_dir=None):
        self.dir = Path(state_dir) / "upstream"
        self.data_dir = Path(data_dir) if data_dir else Path(state_dir) / "data"

    @property
    def ca_file(self):
        return self.dir / "ca.crt"

    @property
    def cert_file(self):
        return self.dir / "server.crt"

    @property
    def key_file(self):
        return self.dir / "server.key"

    @property
    def mode_file(self):
        return self.dir / "mode"

    def _ca(self):
        from mcpops.lab.test_ca import TestCA

        if (self.dir / "ca" / "root.key").exists():
            return TestCA.load(self.dir / "ca")
        ca = TestCA(name="mcpops lab upstream root")
        ca.save(self.dir / "ca")
        ca.write_root(self.ca_file)
        return ca

    def issue(self, days=90):
        """A new server certificate (full chain) for the upstream's address; returns its serial."""
        host, _ = production_address(self.data_dir)
        issued = self._ca().issue([host, "localhost"], days=days)
        issued.write(self.cert_file, self.key_file)
        return issued.serial

    def server(self):
        return TlsServerProcess.attach(self.dir)

    def ensure(self):
        """Start the upstream when it is not running; returns (TlsServerProcess, started)."""
        running = self.server()
        if running:
            return running, False
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not self.cert_file.exists():
            self.issue()
        if not self.mode_file.exists():
            self.mode_file.write_text("healthy\n")
        host, port = production_address(self.data_dir)
        server = TlsServerProcess(self.dir, [{"name": "odata", "host": host, "port": port, "kind": "odata",
                                              "cert": str(self.cert_file), "key": str(self.key_file),
                                              "mode_file": str(self.mode_file), "slow_seconds": SLOW_SECONDS}])
        try:
            server.start()
        except RuntimeError as exc:
            raise UpstreamError("cannot start the lab OData upstream on %s:%d: %s" % (host, port, exc)) from exc
        return server, True

    def set_mode(self, mode):
        if mode not in MODES:
            raise UpstreamError("unknown upstream mode %r (%s)" % (mode, ", ".join(MODES)))
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.mode_file.with_name(".mode.tmp")
        tmp.write_text(mode + "\n")
        tmp.replace(self.mode_file)

    def reissue(self, days):
        """Serve a new certificate valid `days` more days (the running server reloads on SIGHUP)."""
        server, _ = self.ensure()
        serial = self.issue(days=days)
        server.reload()
        return serial

    def stop(self):
        server = self.server()
        if server:
            server.stop()
            return server.pid
        return None
