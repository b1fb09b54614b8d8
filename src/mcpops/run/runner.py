"""`mcpops run`: one runbook through ansible-runner's API, in a private data dir per run.

    runs/<UTC timestamp>-<runbook>/            the run dir (ansible-runner's private data dir)
      artifacts/<ident>/stdout, job_events/    what ansible-runner records
      report.md, report.json                   the incident report (the incident_report callback)

Extra vars never touch the run dir: they go to ansible-playbook through a 0600 file in a private temp
dir that is removed when the run ends, so a secret given with -e is not left on disk.
"""

import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from mcpops.run.plugin_utils import load
from mcpops.run.runbooks import PLAYBOOKS_DIR, REPO

EXIT_OK = 0
EXIT_ERROR = 1        # ansible-playbook itself failed (no play recap): see the run dir's stdout
EXIT_FAILED = 2       # some host failed
EXIT_UNREACHABLE = 3  # some host was unreachable
EXIT_USAGE = 4        # nothing ran: a usage error, or the run was not confirmed


class UsageError(Exception):
    """Nothing ran; the message is one line saying what is wrong."""


@dataclass
class RunRequest:
    runbook: object
    inventory: Path
    limit: str = None
    check: bool = False
    extra_vars: dict = field(default_factory=dict)
    yes: bool = False


def runs_root():
    """$MCPOPS_RUNS_DIR, else the checkout's runs/: the run_dir lookup's and the incident report's rule."""
    return Path(load("run_dir").runs_dir(str(PLAYBOOKS_DIR)))


def check_inventory(path):
    inventory = Path(path).expanduser()
    if not inventory.exists():
        raise UsageError(f"inventory {path}: no such file or directory")
    return inventory.resolve()


def target_hosts(request):
    """The inventory hosts the runbook's first play would run on (its hosts pattern, then --limit)."""
    import jinja2

    os.environ.setdefault("ANSIBLE_CONFIG", str(REPO / "ansible.cfg"))
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader

    try:
        pattern = jinja2.Environment().from_string(request.runbook.hosts).render(**request.extra_vars)
    except jinja2.TemplateError:
        pattern = "all"
    inventory = InventoryManager(loader=DataLoader(), sources=[str(request.inventory)])
    if request.limit:
        inventory.subset(request.limit)
    return [host.name for host in inventory.get_hosts(pattern)]


def confirm(request, stdin=None, out=None):
    """A runbook that changes things runs only after a `yes` typed at a terminal, or with --yes/--check."""
    if not request.runbook.changes or request.check or request.yes:
        return
    stdin = stdin or sys.stdin
    out = out or sys.stderr
    if not stdin.isatty():
        raise UsageError(f"{request.runbook.id} changes things and there is no terminal to confirm on: "
                         "pass --yes (or --check to see what it would do)")
    hosts = target_hosts(request)
    if not hosts:
        raise UsageError(f"no host of {request.inventory} matches {request.runbook.hosts!r}"
                         + (f" with --limit {request.limit}" if request.limit else ""))
    out.write(f"{request.runbook.id} ({request.runbook.title}) will change {len(hosts)} host(s): {', '.join(hosts)}\n"
              "Type yes to run it: ")
    out.flush()
    if stdin.readline().strip().lower() != "yes":
        raise UsageError("not confirmed: nothing was run")


def new_run_dir(runbook_id, root=None):
    root = Path(root or runs_root())
    name = load("run_dir").run_dir_name(runbook_id)
    for n in range(1, 1000):
        candidate = root / (name + (f"-{n}" if n > 1 else ""))
        try:
            candidate.mkdir(parents=True, mode=0o700)
            return candidate
        except FileExistsError:
            continue
    raise UsageError(f"cannot make a run dir under {root}")


def exit_status(stats, rc):
    """0 all ok, 2 some host failed, 3 some host unreachable (wins over failed), 1 no recap at all."""
    if not stats:
        return EXIT_ERROR if rc else EXIT_OK
    if stats.get("dark"):
        return EXIT_UNREACHABLE
    if stats.get("failures"):
        return EXIT_FAILED
    return EXIT_OK if rc == 0 else EXIT_ERROR


def runner_env(run_dir, extra=None):
    return {
        **(extra or {}),  # e.g. a drill's MCPOPS_LAB_DIR; never a secret (ansible-runner records the env)
        # ansible-playbook from the same install as this command, first.
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        load("run_dir").REPORT_DIR_ENV: str(run_dir),
        # ansible-runner turns host key checking off unless told; keep the project's setting (on).
        "ANSIBLE_HOST_KEY_CHECKING": os.environ.get("ANSIBLE_HOST_KEY_CHECKING", "True"),
        "ANSIBLE_NOCOLOR": "1",
    }


def run(request, progress, runs_dir=None, run_dir=None, env=None):
    """Run the runbook; returns (exit status, run dir). run_dir: one made by new_run_dir beforehand (a
    drill names it in its extra vars); env: more environment for ansible-playbook."""
    import ansible_runner

    run_dir = Path(run_dir) if run_dir else new_run_dir(request.runbook.id, runs_dir)
    vars_dir = tempfile.mkdtemp(prefix="mcpops-vars-")
    try:
        cmdline = []
        if request.extra_vars:
            vars_file = Path(vars_dir) / "extra_vars.json"
            fd = os.open(vars_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump(request.extra_vars, fh)
            cmdline.append(f"-e @{vars_file}")
        if request.check:
            cmdline.append("--check")
        result = ansible_runner.run(
            private_data_dir=str(run_dir),
            project_dir=str(REPO),
            playbook=str(request.runbook.path),
            inventory=str(request.inventory),
            limit=request.limit,
            cmdline=" ".join(cmdline) or None,
            envvars=runner_env(run_dir, env),
            event_handler=progress.on_event,
            quiet=True,
            suppress_env_files=True,
        )
    finally:
        shutil.rmtree(vars_dir, ignore_errors=True)
        progress.close()
        mask_recorded_env(run_dir)
    return exit_status(result.stats, result.rc), run_dir


def mask_recorded_env(run_dir):
    """ansible-runner records the whole environment in artifacts/<ident>/command; a secret an operator
    keeps in an environment variable must not stay there."""
    masker = load("secret_mask").SecretMasker()
    for command_file in Path(run_dir).glob("artifacts/*/command"):
        try:
            recorded = json.loads(command_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        recorded["env"] = masker.value(recorded.get("env") or {})
        load("report_files").write_atomically(str(command_file), json.dumps(recorded), mode=0o600)
