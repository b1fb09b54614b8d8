"""`python -m mcpops.lab.prebuild`: build the labs' cached artifacts before the tests that need them ask.

`make test` (scripts/test) starts it in the background while lint and sanity run, so that a fresh machine builds
the fleet image, the compose base image and the Kubernetes binaries off the tests' critical path. Each is cached
outside the checkout, keyed by its recipe, and built under its cache's lock: a test that asks while a build runs
waits on that lock and then finds the result. In the order the tests need them (tests/fleet runs first beside the
rest), one at a time, since two builds on a 2-core machine only slow each other.

A build that fails is reported and the next one goes on; the test that needs it then meets the same error with its
own message. Exits 0 unless asked for something unknown: this is an optimisation, never a verdict.
"""

import importlib
import os
import sys
import time

# (what, module, class): each class has ready() and ensure() (mcpops.lab.recipe_build's contract)
BUILDS = (
    ("fleet image", "mcpops.lab.fleet.image", "Image"),
    ("compose base image", "mcpops.lab.compose.base_image", "BaseImage"),
    ("Kubernetes binaries", "mcpops.lab.kube.build", "KubeBinaries"),
)


def prebuild(builds=BUILDS, out=print):
    """Ensure each build; returns {what: 'cached' | 'built in Ns' | 'failed: ...'}."""
    results = {}
    for what, module, name in builds:
        try:
            artifact = getattr(importlib.import_module(module), name)(out=out)
            if artifact.ready():
                results[what] = "cached"
            else:
                started = time.monotonic()
                artifact.ensure()
                results[what] = f"built in {time.monotonic() - started:.0f}s"
        except Exception as exc:  # noqa: BLE001 (any failure is the test's to report; the next build goes on)
            results[what] = f"failed: {type(exc).__name__}: {exc}"
        out(f"prebuild: {what}: {results[what]}")
    return results


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    wanted = [b for b in BUILDS if not argv or b[0].split()[0] in argv]
    if argv and not wanted:
        print("prebuild: unknown build %s (known: %s)" % (" ".join(argv), ", ".join(b[0].split()[0] for b in BUILDS)),
              file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("prebuild: not root, nothing built (the caches under /var/cache need root; the tests say what they need)")
        return 0
    prebuild(wanted, out=lambda line: print(line, flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
