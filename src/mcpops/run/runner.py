"""`mcpops run`: one runbook through ansible-runner's API, in a private data dir per run.

    runs/<UTC timestamp>-<runbook>/            the run dir (ansible-runner's private data dir)
      artifacts/<ident>/stdout, job_events/    what ansible-runner records
      report.md, report.json                   the incident report (the incident_report callback)

Extra vars never touch the run dir: they go to ansible-playbook through a 0600 file in a private temp
dir that is removed when the run ends, so a secret given with -e is not left on disk. They are data, never
templates: the file tags them `!unsafe` (unsafe_extra_vars_yaml), so `-e "backup_id={{ lookup('pipe', ...) }}"`
reaches the playbook as that literal string, which the runbook's input check then refuses.

The operator's environment reaches the run dir only masked by value (run_masker, recorded_environment):
ansible-runner records the environment it starts ansible-playbook with in artifacts/<ident>/command, so the
credentials in it (PGPASSWORD, a DATABASE_URL's password, AWS_SECRET_ACCESS_KEY, *_TOKEN, ... and the secret extra
vars wherever they occur) are handed to ansible-runner masked, and hidden_env.py puts the real values back in
ansible-playbook's environment; when the run ends every file under the run dir is scrubbed of those values too
(scrub_run_dir: job events, stdout, the report, a fact cache), for what a task printed.
"""

import json
import os
import shlex
import shutil
import stat
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from mcpops.run.plugin_utils import load
from mcpops.run.runbooks import PLAYBOOKS_DIR, REPO
from mcpops.run.tracing import header_secrets, tracing_env

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
        # MCPOPS_OTLP_ENDPOINT set: the run as an OpenTelemetry trace (tracing.py, docs/tracing.md)
        **tracing_env(),
    }


def _private_file(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def unsafe_extra_vars_yaml(extra_vars):
    """The extra vars as a YAML document for `ansible-playbook -e @file`, every value data, never a template.

    The whole mapping is tagged `!unsafe`: ansible-core 2.19 loads everything under that tag, at any depth
    (dict and list items, strings), as not trusted to be a template, so `{{ ... }}` in a value is kept as those
    characters and never run. Each string is not tagged one by one: 2.19 re-resolves the scalar under an
    `!unsafe` tag as if it were plain, so `!unsafe "123"` would load as the int 123, `!unsafe "yes"` as True and
    `!unsafe ""` as None; inside the tagged mapping a quoted string stays a string.
    (tests/unit/mcpops/run/test_runner.py loads the file with Ansible's own loader and checks both.)"""
    import yaml

    class _Dumper(yaml.SafeDumper):
        pass

    class _Unsafe(dict):
        pass

    _Dumper.add_representer(_Unsafe, lambda dumper, data: dumper.represent_mapping("!unsafe", dict(data)))
    return yaml.dump(_Unsafe(extra_vars), Dumper=_Dumper, allow_unicode=True, sort_keys=True, default_flow_style=False)


def run_masker(request):
    """The SecretMasker of one run: the values of the runbook's secret extra vars."""
    masker = load("secret_mask").SecretMasker()
    for name in request.runbook.secret_names():
        if name in request.extra_vars:
            masker.add(request.extra_vars[name])
    masker.add(header_secrets())  # OTEL_EXPORTER_OTLP_HEADERS: the collector's credentials
    return masker


def recorded_environment(environ, masker):
    """Split the environment ansible-playbook runs with into what ansible-runner may record and what it may not.

    Returns (overrides, hidden): overrides {name: masked value} for every variable whose value carries a
    credential (masker.add_environment learns them first, so a credential found under one name is masked under
    every other too), hidden {name: [masked value, real value]} for hidden_env.py."""
    masker.add_environment(environ)
    masked = masker.environment(environ)
    overrides = {name: masked[name] for name, value in environ.items() if masked[name] != value}
    hidden = {name: [overrides[name], environ[name]] for name in overrides}
    return overrides, hidden


def _hidden_env_launcher(vars_dir, hidden, path):
    """A 0700 script in the run's private temp dir that starts ansible-playbook through hidden_env.py, and the
    0600 file it reads the hidden values from (hidden_env.py removes it as soon as it has read it)."""
    env_file = Path(vars_dir) / "hidden_env.json"
    _private_file(env_file, json.dumps(hidden))
    playbook_bin = shutil.which("ansible-playbook", path=path) or "ansible-playbook"
    launcher = Path(vars_dir) / "ansible-playbook"
    command = [sys.executable, "-I", str(Path(__file__).with_name("hidden_env.py")), str(env_file), playbook_bin]
    _private_file(launcher, "#!/bin/sh\nexec %s \"$@\"\n" % " ".join(shlex.quote(arg) for arg in command))
    os.chmod(launcher, 0o700)
    return launcher


def run(request, progress, runs_dir=None, run_dir=None, env=None):
    """Run the runbook; returns (exit status, run dir). run_dir: one made by new_run_dir beforehand (a
    drill names it in its extra vars); env: more environment for ansible-playbook."""
    import ansible_runner

    run_dir = Path(run_dir) if run_dir else new_run_dir(request.runbook.id, runs_dir)
    masker = run_masker(request)
    envvars = runner_env(run_dir, env)
    # Why not post-process the recorded command alone: ansible-runner writes artifacts/<ident>/command, with the
    # whole environment (ours and the one inherited from the operator's shell), before ansible-playbook starts,
    # and it stays there for the whole run, and for good if this process is killed. So ansible-runner is given
    # the environment already masked (envvars override what it inherits) and never sees a credential; a
    # launcher puts the real values back in ansible-playbook's own environment. Without anything to hide,
    # ansible-runner starts ansible-playbook itself, as before.
    overrides, hidden = recorded_environment({**os.environ, **envvars}, masker)
    progress_masker = getattr(progress, "masker", None)
    if progress_masker is not None:
        progress_masker.add(masker.known_values())
    vars_dir = tempfile.mkdtemp(prefix="mcpops-vars-")
    try:
        cmdline = []
        if request.extra_vars:
            vars_file = Path(vars_dir) / "extra_vars.yml"
            _private_file(vars_file, unsafe_extra_vars_yaml(request.extra_vars))
            cmdline += ["-e", "@" + str(vars_file)]
        if request.check:
            cmdline.append("--check")
        where = {"playbook": str(request.runbook.path)}
        if hidden:
            # With `binary`, ansible-runner runs that command as given (its RAW mode): the playbook goes on
            # the command line, the inventory and --limit are still added by ansible-runner.
            where = {"binary": str(_hidden_env_launcher(vars_dir, hidden, envvars["PATH"]))}
            cmdline.append(str(request.runbook.path))
        result = ansible_runner.run(
            private_data_dir=str(run_dir),
            project_dir=str(REPO),
            inventory=str(request.inventory),
            limit=request.limit,
            cmdline=" ".join(shlex.quote(arg) for arg in cmdline) or None,
            envvars={**envvars, **overrides},
            event_handler=progress.on_event,
            quiet=True,
            suppress_env_files=True,
            **where,
        )
    finally:
        shutil.rmtree(vars_dir, ignore_errors=True)
        progress.close()
        mask_recorded_env(run_dir, masker)
        scrub_run_dir(run_dir, masker)
    return exit_status(result.stats, result.rc), run_dir


def mask_recorded_env(run_dir, masker=None):
    """ansible-runner records the whole environment in artifacts/<ident>/command; a secret an operator
    keeps in an environment variable must not stay there (run() already hands it over masked: this is the net
    under that, and masks what ansible-runner added itself)."""
    masker = masker or load("secret_mask").SecretMasker()
    for command_file in Path(run_dir).glob("artifacts/*/command"):
        try:
            recorded = json.loads(command_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        environ = recorded.get("env") or {}
        masker.add_environment(environ)
        recorded["env"] = masker.environment(environ)
        load("report_files").write_atomically(str(command_file), json.dumps(recorded), mode=0o600)


def _encoded(text):
    try:
        return text.encode("utf-8", "surrogateescape")  # as os.environ and argv decoded it
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def _secret_forms(masker):
    """Each known secret as bytes, as it appears raw and as it appears inside a JSON string."""
    mask = load("secret_mask").MASK
    forms = set()
    for secret in masker.known_values():
        if secret == mask:
            continue
        for text in (secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]):
            forms.add(_encoded(text))
    return sorted(forms, key=len, reverse=True)


def _masked_json(value, masker):
    if isinstance(value, dict):
        return {_masked_json(k, masker): _masked_json(v, masker) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked_json(v, masker) for v in value]
    if isinstance(value, str):
        return masker.replace_known(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        masked = masker.replace_known(str(value))  # a secret made of digits: the number goes too
        return value if masked == str(value) else masked
    return value


def scrub_bytes(data, masker, forms=None):
    """data with every known secret replaced: a JSON document through its strings (it stays valid JSON, in the
    same layout, one line or indented), anything else byte for byte."""
    forms = _secret_forms(masker) if forms is None else forms
    if not any(form in data for form in forms):
        return data
    if data.lstrip()[:1] in (b"{", b"["):
        try:
            parsed = json.loads(data.decode("utf-8"))
        except (ValueError, RecursionError):
            parsed = None
        if parsed is not None:
            text = json.dumps(_masked_json(parsed, masker), indent=2 if b"\n " in data.rstrip() else None,
                              ensure_ascii=data.isascii())
            data = _encoded(text + ("\n" if data.endswith(b"\n") else ""))
    mask = load("secret_mask").MASK.encode()
    for form in forms:  # what is left: not JSON, or a secret the JSON layout spelt another way
        data = data.replace(form, mask)
    return data


def scrub_run_dir(run_dir, masker):
    """Every regular file under the run dir rewritten without the known secrets (symlinks are not followed: the
    run dir is this command's, nothing in it should be a link). Returns the files rewritten."""
    forms = _secret_forms(masker)
    rewritten = []
    if not forms:
        return rewritten
    for dirpath, _dirs, files in os.walk(run_dir):
        for name in files:
            path = os.path.join(dirpath, name)
            try:
                st = os.lstat(path)
                if not stat.S_ISREG(st.st_mode):
                    continue
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
                with os.fdopen(fd, "rb") as fh:
                    data = fh.read()
            except OSError:
                continue
            clean = scrub_bytes(data, masker, forms)
            if clean != data:
                load("report_files").write_atomically(path, clean, stat.S_IMODE(st.st_mode))
                rewritten.append(path)
    return rewritten
