"""A private SoftHSM2 token: its own softhsm2.conf and token dir under a state dir, never the system's.

`SOFTHSM2_CONF` names the conf for every process that loads libsofthsm2 (softhsm2-util, the HSM service). The SO
PIN and the user PIN are random, kept in 0600 files, and reach softhsm2-util through a pseudo-terminal, as an
operator types them: never on a command line (`ps` shows those), never in a log. The signing key pair (EC P-256)
is generated inside the token; only its public key leaves it (public.pem).
"""

import os
import pty
import secrets
import select
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

MODULE_PATHS = ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
                "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so")
TOKEN_LABEL = "lego-mcp-audit"
KEY_LABEL = "audit-signing"
INIT_TIMEOUT = 30


class TokenError(Exception):
    pass


def find_module(environ=os.environ):
    """The SoftHSM2 PKCS#11 library: HSM_PKCS11_MODULE when set, else Debian's path."""
    given = environ.get("HSM_PKCS11_MODULE")
    for path in ([given] if given else MODULE_PATHS):
        if os.path.exists(path):
            return path
    raise TokenError("no SoftHSM2 PKCS#11 library (looked at %s): apt-get install softhsm2"
                     % ", ".join([given] if given else MODULE_PATHS))


@dataclass(frozen=True)
class TokenFiles:
    """Where a token's files live under its state dir."""

    state_dir: Path

    @property
    def conf(self):
        return self.state_dir / "softhsm2.conf"

    @property
    def token_dir(self):
        return self.state_dir / "tokens"

    @property
    def so_pin_file(self):
        return self.state_dir / "so.pin"

    @property
    def user_pin_file(self):
        return self.state_dir / "user.pin"

    @property
    def public_key(self):
        return self.state_dir / "public.pem"

    def environ(self):
        return {"SOFTHSM2_CONF": str(self.conf)}


def write_secret(path, text):
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(str(path), 0o600)


def write_conf(files):
    files.token_dir.mkdir(parents=True, exist_ok=True)
    files.conf.write_text("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n"
                          "slots.removable = false\n" % files.token_dir)


def answer_prompts(argv, answers, env, timeout=INIT_TIMEOUT):
    """Run argv on a pseudo-terminal and type one answer at each 'PIN:' prompt; (rc, transcript). softhsm2-util
    reads PINs from a terminal only, and the terminal echoes '*' for them, so the transcript holds no PIN."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    pending, transcript = list(answers), b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            transcript += chunk
            asked = transcript.count(b"PIN:")
            if pending and asked > len(answers) - len(pending):
                os.write(master, pending.pop(0).encode() + b"\n")
        else:
            proc.kill()
            raise TokenError("%s did not finish within %d s" % (argv[0], timeout))
        return proc.wait(timeout=timeout), transcript.decode("utf-8", "replace")
    finally:
        os.close(master)


def init_token(state_dir, label=TOKEN_LABEL, key_label=KEY_LABEL, environ=os.environ):
    """A new token in state_dir: conf, PIN files, the token, a P-256 key pair in it, public.pem. Returns TokenFiles.
    Refuses when the token dir already holds a token (a second init would make a second token)."""
    files = TokenFiles(Path(state_dir).resolve())
    files.state_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(str(files.state_dir), 0o700)
    if files.token_dir.exists() and any(files.token_dir.iterdir()):
        raise TokenError("%s already holds a token" % files.token_dir)
    write_conf(files)
    so_pin, user_pin = secrets.token_hex(8), secrets.token_hex(8)
    write_secret(files.so_pin_file, so_pin)
    write_secret(files.user_pin_file, user_pin)
    env = dict(environ, **files.environ())
    rc, transcript = answer_prompts(["softhsm2-util", "--init-token", "--free", "--label", label],
                                    [so_pin, so_pin, user_pin, user_pin], env)
    if rc != 0:
        raise TokenError("softhsm2-util --init-token failed (rc %d): %s" % (rc, transcript.strip()[-300:]))
    public_pem = generate_key_pair(find_module(environ), env["SOFTHSM2_CONF"], label, user_pin, key_label)
    files.public_key.write_bytes(public_pem)
    return files


def generate_key_pair(module_path, conf, label, user_pin, key_label):
    """An EC P-256 key pair stored in the token (the private half never leaves it); the public key as PEM. Runs in
    a child process, so that this process never holds libsofthsm2 initialised with another token dir."""
    code = ("import sys; from mcpops.lab.hsm.pkcs11_signer import generate_in_token; "
            "sys.stdout.write(generate_in_token(sys.argv[1], sys.argv[2], sys.argv[3], sys.stdin.read().strip()))")
    env = dict(os.environ, SOFTHSM2_CONF=conf)
    proc = subprocess.run([_python(), "-c", code, module_path, label, key_label], input=user_pin, env=env,
                          capture_output=True, text=True, timeout=INIT_TIMEOUT)
    if proc.returncode != 0:
        raise TokenError("cannot generate the signing key in token %s: %s" % (label, proc.stderr.strip()[-300:]))
    return proc.stdout.encode()


def _python():
    import sys

    return sys.executable


def read_pin(path):
    with open(path, "r", encoding="utf-8") as handle:
        return handle.read().strip()
