"""The status file of a lab process that holds a fault open (the session holders of the local, compose and LEGO labs):
{"pid": its PID, ...fields}, 0600, replaced whole so that the fault's command never reads half of it."""

import json
import os


def write_status(path, **fields):
    tmp = f"{path}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(dict(fields, pid=os.getpid()), handle)
    os.replace(tmp, path)
