"""kube-apiserver and kube-controller-manager built from Debian's `kubernetes` source package, and kubectl from
Debian's `kubernetes-client`, cached outside the checkout by the hash of the source version and this recipe.

The build fetches the source with `apt-get source` through a private apt configuration (its own sources dir, lists
and caches under the build dir: the system's apt config, lists and caches are untouched), runs `make gen_openapi`
(the one generated file 1.20's tarball lacks), then `GO111MODULE=off go build` of the two commands with Debian's
golang-go in a GOPATH that links k8s.io/kubernetes to the source, as debian/rules does. kubectl is not built: the
`kubernetes-client` .deb of the same source version is unpacked (not installed: a system may have another kubectl).

Layout: <cache>/<hash>/bin/{kube-apiserver,kube-controller-manager,kubectl} and build.json (the recipe, the mirror,
the Go version, the build seconds), complete once build.json exists. The discipline is recipe_build's: a build
works in <cache>/.build-<hash>-<pid>/ under a flock of <cache>/.build.lock and is renamed into place.
"""

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from mcpops.lab import recipe_build
from mcpops.lab.kube.errors import KubeLabError

SUITE = "bookworm"
SOURCE_PACKAGE = "kubernetes"
# bookworm's only kubernetes (1.20.2 despite its name); pinned so that the cache key is known without the network
SOURCE_VERSION = "1.20.5+really1.20.2-1.1+deb12u1"
CLIENT_PACKAGE = "kubernetes-client"
GIT_VERSION = "v1.20.2"  # what the binaries report (`kubectl version`); the Debian build says the same
COMMANDS = ("kube-apiserver", "kube-controller-manager")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEFAULT_CACHE = "/var/cache/mcpops-kube"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
# the build's tools and the Debian package each comes from
TOOLS = {"apt-get": "apt", "dpkg-source": "dpkg-dev", "dpkg-deb": "dpkg", "go": "golang-go", "make": "make",
         "rsync": "rsync", "bash": "bash"}
STEP_TIMEOUT = 3600
PROGRESS_EVERY = 30  # seconds between progress lines of a long step
RECIPE_VERSION = 1  # bump when _build() changes in a way the recipe below does not show


def version_ldflags():
    """-X flags that give the binaries their version, as hack/lib/version.sh would in a git checkout."""
    major, minor = GIT_VERSION.lstrip("v").split(".")[:2]
    # the API server's /version reads client-go's copy, kube-controller-manager component-base's: set both
    packages = ("k8s.io/kubernetes/vendor/k8s.io/client-go/pkg/version",
                "k8s.io/kubernetes/vendor/k8s.io/component-base/version")
    return " ".join(f"-X {package}.{name}={value}" for package in packages for name, value in
                    (("gitVersion", GIT_VERSION), ("gitMajor", major), ("gitMinor", minor),
                     ("gitTreeState", "archive")))


def recipe():
    return {"version": RECIPE_VERSION, "suite": SUITE, "source": [SOURCE_PACKAGE, SOURCE_VERSION],
            "client": [CLIENT_PACKAGE, SOURCE_VERSION], "commands": list(COMMANDS), "ldflags": version_ldflags(),
            "generate": ["make", "gen_openapi"], "env": {"GO111MODULE": "off", "CGO_ENABLED": "0"}}


def recipe_hash(rec=None):
    return recipe_build.recipe_hash(rec or recipe())


def cache_dir():
    return Path(os.environ.get("MCPOPS_KUBE_CACHE") or DEFAULT_CACHE)


def mirror():
    """The Debian mirror: MCPOPS_KUBE_MIRROR (a snapshot.debian.org URL once bookworm moves on), else deb.debian.org."""
    return os.environ.get("MCPOPS_KUBE_MIRROR") or DEFAULT_MIRROR


def missing_tools():
    """The build's tools not on PATH, as {tool: Debian package}."""
    return {tool: package for tool, package in TOOLS.items() if not shutil.which(tool)}


class KubeBinaries:
    """The cached binaries of the current recipe: `ensure()` builds them unless cached, then `.apiserver`,
    `.controller_manager` and `.kubectl` are their paths."""

    def __init__(self, cache=None, out=print):
        self.cache = Path(cache or cache_dir())
        self.hash = recipe_hash()
        self.dir = self.cache / self.hash
        self._out = out

    @property
    def bin(self):
        return self.dir / "bin"

    @property
    def apiserver(self):
        return self.bin / "kube-apiserver"

    @property
    def controller_manager(self):
        return self.bin / "kube-controller-manager"

    @property
    def kubectl(self):
        return self.bin / "kubectl"

    @property
    def marker(self):
        return self.dir / "build.json"

    def ready(self):
        return self.marker.is_file() and all(os.access(p, os.X_OK)
                                             for p in (self.apiserver, self.controller_manager, self.kubectl))

    def info(self):
        """What build.json says (recipe, mirror, go version, build seconds); {} when not built."""
        try:
            return json.loads(self.marker.read_text())
        except (OSError, ValueError):
            return {}

    def ensure(self):
        """Build unless the cache holds this recipe's binaries; returns self."""
        if self.ready():
            return self
        missing = missing_tools()
        if missing:
            raise KubeLabError("building the Kubernetes control plane needs " + ", ".join(sorted(missing))
                               + ": install the Debian packages " + " ".join(sorted(set(missing.values())))
                               + " (scripts/bootstrap does when root)")
        try:
            self.cache.mkdir(parents=True, exist_ok=True)
            if not os.access(self.cache, os.W_OK):
                raise PermissionError(self.cache)
        except PermissionError:
            raise KubeLabError(f"the Kubernetes binaries {self.hash} are not cached in {self.cache} and it is not "
                               "writable: build once as root, or set MCPOPS_KUBE_CACHE to a writable dir") from None
        with recipe_build.build_lock(self.cache):
            if not self.ready():  # another session may have built them while we waited
                self._build()
        return self

    def _say(self, line):
        if self._out:
            self._out(line)

    def _build(self):
        work = recipe_build.fresh_work_dir(self.cache, self.hash)
        started = time.monotonic()
        self._say(f"building kube-apiserver and kube-controller-manager {GIT_VERSION} from Debian's {SOURCE_PACKAGE} "
                  f"{SOURCE_VERSION} into {self.dir} (once; several minutes)")
        try:
            apt = PrivateApt(work / "apt", mirror())
            self._step("apt-get update (private lists)", apt.argv("update"), work / "apt-update.log", work)
            src = work / "src"
            src.mkdir()
            self._step(f"apt-get source {SOURCE_PACKAGE}={SOURCE_VERSION}",
                       apt.argv("source", "--download-only", f"{SOURCE_PACKAGE}={SOURCE_VERSION}"),
                       work / "apt-source.log", src, hint=_version_hint(apt))
            tree = src / "kubernetes"
            dsc = next(src.glob("*.dsc"))
            # --no-check: apt checked every file against the signed Release's hashes already
            self._step("dpkg-source -x", ["dpkg-source", "-x", "--no-check", str(dsc), str(tree)],
                       work / "dpkg-source.log", src)
            self._step(f"apt-get download {CLIENT_PACKAGE}={SOURCE_VERSION}",
                       apt.argv("download", f"{CLIENT_PACKAGE}={SOURCE_VERSION}"), work / "apt-download.log", src)
            bin_dir = work / "bin"
            bin_dir.mkdir()
            self._unpack_kubectl(next(src.glob(f"{CLIENT_PACKAGE}_*.deb")), work, bin_dir)
            env = _go_env(work, tree)
            self._step("make gen_openapi", ["make", "gen_openapi"], work / "gen-openapi.log", tree, env=env)
            gotree = Path(env["GOPATH"]) / "src" / "k8s.io" / "kubernetes"
            self._step("go build " + " ".join(COMMANDS),
                       ["go", "build", "-v", "-ldflags", version_ldflags(), "-o", str(bin_dir) + "/"]
                       + [f"./cmd/{command}" for command in COMMANDS],
                       work / "go-build.log", gotree, env=env,
                       hint="Debian's golang-go must build Kubernetes 1.20 in GOPATH mode (bookworm's 1.19 does)")
            go_version = subprocess.run(["go", "version"], capture_output=True, text=True, check=False,
                                        env=env).stdout.strip()
        except (KubeLabError, StopIteration) as exc:
            if isinstance(exc, StopIteration):
                exc = KubeLabError(f"apt-get left no .dsc/.deb in {work / 'src'}; its logs are in {work}")
            self._say(f"the build failed; its logs stay in {work}")
            raise exc from None
        for scratch in ("src", "gopath", "gocache", "home", "apt"):
            shutil.rmtree(work / scratch, ignore_errors=True)
        seconds = round(time.monotonic() - started, 1)
        (work / "build.json").write_text(json.dumps(
            {"hash": self.hash, "recipe": recipe(), "mirror": mirror(), "go": go_version,
             "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "build_seconds": seconds},
            indent=2, sort_keys=True) + "\n")
        recipe_build.move_into_place(work, self.dir)
        self._say(f"Kubernetes binaries built in {seconds:.0f}s: {self.bin}")

    def _unpack_kubectl(self, deb, work, bin_dir):
        unpacked = work / "client"
        self._step(f"dpkg-deb -x {deb.name}", ["dpkg-deb", "-x", str(deb), str(unpacked)], work / "dpkg-deb.log", work)
        shutil.copy2(unpacked / "usr" / "bin" / "kubectl", bin_dir / "kubectl")
        shutil.rmtree(unpacked)

    def _step(self, what, argv, log, cwd, env=None, hint=""):
        """Run one build step with its output in `log`, a progress line every PROGRESS_EVERY seconds."""
        self._say(f"  {what} ...")
        started = time.monotonic()
        # PWD as well as the cwd: go resolves a GOPATH through the link only when $PWD names it (else `vendor/` is
        # not found: "cannot find package k8s.io/component-base/...")
        env = dict(env or os.environ, PWD=str(cwd))
        with open(log, "wb") as fh:
            proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=fh,
                                    stderr=subprocess.STDOUT)
        try:
            while True:
                try:
                    proc.wait(PROGRESS_EVERY)
                    break
                except subprocess.TimeoutExpired:
                    elapsed = time.monotonic() - started
                    if elapsed > STEP_TIMEOUT:
                        raise KubeLabError(f"`{what}` did not finish within {STEP_TIMEOUT}s; log {log}") from None
                    lines = _log_lines(log)
                    self._say(f"  {what}: {elapsed:.0f}s, {len(lines)} lines of output"
                              + (f", last: {lines[-1][:100]}" if lines else ""))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if proc.returncode != 0:
            tail = "\n".join(_log_lines(log)[-12:])
            raise KubeLabError(f"`{what}` exited {proc.returncode} (log {log}); last lines:\n{tail}"
                               + (f"\n{hint}" if hint else ""))
        self._say(f"  {what}: done in {time.monotonic() - started:.0f}s")


def _log_lines(log):
    try:
        return Path(log).read_text(errors="replace").splitlines()
    except OSError:
        return []


def _go_env(work, tree):
    """The environment of the generate and build steps: a GOPATH where k8s.io/kubernetes is the source tree
    (debian/rules' layout), GOPATH mode, no cgo, caches and HOME inside the build dir."""
    gopath = work / "gopath"
    (gopath / "src" / "k8s.io").mkdir(parents=True)
    (gopath / "src" / "k8s.io" / "kubernetes").symlink_to(tree)
    env = {key: value for key, value in os.environ.items() if not key.startswith("GO")}
    env.update({"GOPATH": str(gopath), "GOCACHE": str(work / "gocache"), "HOME": str(work / "home"),
                "GO111MODULE": "off", "CGO_ENABLED": "0", "GOFLAGS": "", "GOTOOLCHAIN": "local"})
    (work / "home").mkdir()
    return env


def _version_hint(apt):
    return (f"{SOURCE_PACKAGE} {SOURCE_VERSION} must be in {apt.mirror} {SUITE}: when bookworm has moved on, set "
            "MCPOPS_KUBE_MIRROR to a snapshot (http://snapshot.debian.org/archive/debian/20250520T000000Z), or "
            "update SOURCE_VERSION in src/mcpops/lab/kube/build.py (`apt-cache showsrc kubernetes`)")


class PrivateApt:
    """apt-get with its own sources, lists and caches under `root`: the system's apt configuration is read for
    everything else but nothing of it is written."""

    def __init__(self, root, mirror_url):
        self.root = Path(root)
        self.mirror = mirror_url
        for sub in ("sources.list.d", "lists/partial", "cache/archives/partial"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        # Check-Valid-Until: no, so that a snapshot mirror's old Release file is accepted; its signature still is not
        (self.root / "sources.list.d" / "debian.sources").write_text(
            f"Types: deb deb-src\nURIs: {mirror_url}\nSuites: {SUITE}\nComponents: main\n"
            f"Signed-By: {KEYRING}\nCheck-Valid-Until: no\n")

    def argv(self, *args):
        options = {"Dir::Etc::SourceList": "/dev/null", "Dir::Etc::SourceParts": self.root / "sources.list.d",
                   "Dir::State::Lists": self.root / "lists", "Dir::Cache": self.root / "cache",
                   "APT::Sandbox::User": "root", "Acquire::Languages": "none"}
        argv = ["apt-get", "-q"]
        for key, value in options.items():
            argv += ["-o", f"{key}={value}"]
        return argv + list(args)
