"""The Telegram Bot API stand-in of a CCTelegram fleet (mcpops.lab.services telegram-api), on the controller side:

    <fleet state>/secrets/telegram_bot_token   the bot token (0600, dir 0700): made once, kept across ups
    <fleet state>/telegram/                    its state dir: messages.jsonl (each accepted message, no token),
                                               telegram-api.log (its output: routes, never the token)

`up` starts it on a free port of 127.0.0.1 (the hosts share this machine's network, so they reach it there) and
fleet.json records it ("controller": {"telegram": {pid, port, marker, log}}); `down` stops it by that PID.
"""

import json
import os
import secrets
import sys
from pathlib import Path

from mcpops.lab.fleet import controller_process
from mcpops.lab.gateway.fsutil import atomic_write

TOKEN_SECRET = "telegram_bot_token"
SERVICE = "telegram-api"


def token_file(state_dir):
    return Path(state_dir) / "secrets" / TOKEN_SECRET


def state_dir(fleet_state):
    return Path(fleet_state) / "telegram"


def messages_file(fleet_state):
    return state_dir(fleet_state) / "messages.jsonl"


def ensure_token(fleet_state):
    """The bot token's file (0600 in secrets/, 0700), made once: a Bot API token's shape, <bot id>:<35 chars>."""
    path = token_file(fleet_state)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    if not path.exists():
        atomic_write(path, "7000000001:" + secrets.token_urlsafe(26)[:35] + "\n", 0o600)
    os.chmod(path, 0o600)
    return path


def url(record):
    return f"http://127.0.0.1:{record['port']}"


def start(fleet_state, port):
    """Start the stand-in on 127.0.0.1:port; its record (no token)."""
    token = ensure_token(fleet_state)
    home = state_dir(fleet_state)
    home.mkdir(mode=0o755, parents=True, exist_ok=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": str(Path(__file__).resolve().parents[3]),  # src/: the stand-in runs from this checkout
           "MCPOPS_SERVICE_LISTEN": f"127.0.0.1:{port}", "MCPOPS_SERVICE_STATE_DIR": str(home),
           "TELEGRAM_BOT_TOKEN_FILE": str(token), "TELEGRAM_MESSAGES_FILE": str(messages_file(fleet_state))}
    return controller_process.start(SERVICE, [sys.executable, "-m", "mcpops.lab.services", SERVICE],
                                    str(home / f"{SERVICE}.log"), f"http://127.0.0.1:{port}/health",
                                    marker=str(home), env=env)


def messages(fleet_state):
    """The messages the stand-in accepted, oldest first ([] when none)."""
    try:
        lines = messages_file(fleet_state).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in lines if line.strip()]
