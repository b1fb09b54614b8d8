"""Root file systems built once and cached by their recipe's hash: the one build discipline of the fleet image
(mcpops.lab.fleet.image) and the compose base image (mcpops.lab.compose.base_image).

A recipe is a JSON-able dict of everything that decides what is built; its sha256 names the cache entry. A build works
in `<parent>/.build-<hash>-<pid>/`, under a flock of `<cache>/.build.lock` so that two sessions never build the same
entry twice, and is renamed into place once complete; a build that was interrupted leaves only a `.build-*` dir, which
the next build removes.
"""

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess


def recipe_hash(recipe):
    """The first 16 hex digits of the sha256 of the recipe's canonical JSON."""
    text = json.dumps(recipe, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@contextlib.contextmanager
def build_lock(cache):
    """Held while a build runs: one builder per cache at a time, across processes."""
    fd = os.open(cache / ".build.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def fresh_work_dir(parent, digest):
    """A new `<parent>/.build-<digest>-<pid>/`, after removing what interrupted builds of the same digest left."""
    for stale in parent.glob(f".build-{digest}-*"):
        shutil.rmtree(stale, ignore_errors=True)
    work = parent / f".build-{digest}-{os.getpid()}"
    work.mkdir(parents=True)
    return work


def move_into_place(work, final):
    """The complete build at `work` becomes `final` (a half-built entry there, one without its marker, goes)."""
    shutil.rmtree(final, ignore_errors=True)
    os.rename(work, final)


def run_logged(argv, log, timeout, error, hint=""):
    """Run argv with its output in the file `log`; `error` (an exception class) with the last lines when it fails."""
    try:
        with open(log, "wb") as fh:
            proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT,
                                  timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise error(f"`{' '.join(argv)}` did not finish within {timeout}s") from None
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-8:]
        raise error(f"`{' '.join(argv)}` exited {proc.returncode}; last lines:\n" + "\n".join(tail)
                    + (f"\n{hint}" if hint else ""))
