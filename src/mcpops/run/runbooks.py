"""The runbooks: every playbook in `playbooks/` whose first play carries `mcpops_runbook` metadata.

The metadata (docs/dev/conventions.md is not the place: common.md fixes its shape) is the one list
`mcpops list`, the confirmation prompt, the incident report and the AWX export read, so nothing keeps a
second copy. Reading it never runs Ansible: the playbook is parsed as YAML and only the first play's
`vars.mcpops_runbook` is looked at.
"""

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]  # the checkout: src/mcpops/run/runbooks.py
PLAYBOOKS_DIR = REPO / "playbooks"

VAR_TYPES = ("str", "int", "float", "bool", "list", "dict")
_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class RunbookError(Exception):
    """A runbook, its metadata or an extra var is not usable; the message is one line."""


class _TolerantLoader(yaml.SafeLoader):
    """safe_load that keeps Ansible's own tags (!unsafe, !vault) as plain values instead of failing."""


def _any_tag(loader, _suffix, node):
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)


_TolerantLoader.add_multi_constructor("!", _any_tag)


@dataclass(frozen=True)
class ExtraVar:
    name: str
    description: str
    default: object = None
    has_default: bool = False
    secret: bool = False
    required: bool = False
    type: str = "str"
    choices: tuple = ()

    def as_dict(self):
        out = {"description": self.description, "type": self.type}
        if self.has_default:
            out["default"] = self.default
        if self.secret:
            out["secret"] = True
        if self.required:
            out["required"] = True
        if self.choices:
            out["choices"] = list(self.choices)
        return out

    def parse(self, text):
        """The value of `-e name=text`, typed as the metadata says; RunbookError when it does not fit."""
        if self.type == "int":
            if not re.fullmatch(r"-?[0-9]+", text.strip()):
                raise RunbookError(f"-e {self.name}: expected a whole number, got {text!r}")
            value = int(text)
        elif self.type == "float":
            try:
                value = float(text)
            except ValueError:
                raise RunbookError(f"-e {self.name}: expected a number, got {text!r}") from None
        elif self.type == "bool":
            lowered = text.strip().lower()
            if lowered not in ("true", "false", "yes", "no", "1", "0"):
                raise RunbookError(f"-e {self.name}: expected true or false, got {text!r}")
            value = lowered in ("true", "yes", "1")
        elif self.type in ("list", "dict"):
            try:
                value = json.loads(text)
            except ValueError:
                raise RunbookError(f"-e {self.name}: expected a JSON {self.type}, e.g. "
                                   + ('\'["a","b"]\'' if self.type == "list" else '\'{"KEY":"value"}\'')) from None
            if not isinstance(value, list if self.type == "list" else dict):
                raise RunbookError(f"-e {self.name}: expected a JSON {self.type}, got {type(value).__name__}")
        else:
            value = text
        if self.choices and value not in self.choices:
            raise RunbookError(f"-e {self.name}: {text!r} is not one of {', '.join(map(str, self.choices))}")
        return value


@dataclass(frozen=True)
class Runbook:
    id: str
    path: Path
    incident: object
    title: str
    purpose: str
    changes: bool
    extra_vars: dict = field(default_factory=dict)
    manual_steps: tuple = ()
    hosts: str = "all"
    auto_remediate: bool = False  # metadata `auto_remediate: allowed`: an alert may run it without approval
    play_hosts: tuple = ()  # every play's hosts pattern, in order (the first is `hosts`)

    def secret_names(self):
        return sorted(name for name, var in self.extra_vars.items() if var.secret)

    def parse_extra_vars(self, pairs):
        """`-e k=v` strings -> {k: typed value}; RunbookError naming the first bad one."""
        values = {}
        for pair in pairs:
            name, sep, text = pair.partition("=")
            if not sep or not name:
                raise RunbookError(f"-e {pair!r}: expected name=value")
            var = self.extra_vars.get(name)
            if var is None:
                known = ", ".join(sorted(self.extra_vars)) or "none"
                raise RunbookError(f"-e {name}: {self.id} has no extra var {name!r} (it takes: {known})")
            values[name] = var.parse(text)
        missing = [name for name, var in sorted(self.extra_vars.items()) if var.required and name not in values]
        if missing:
            raise RunbookError(f"{self.id} needs -e {missing[0]}=<{self.extra_vars[missing[0]].description}>")
        return values

    def as_dict(self):
        return {
            "id": self.id,
            "playbook": str(self.path),
            "incident": self.incident,
            "title": self.title,
            "purpose": self.purpose,
            "changes": self.changes,
            "extra_vars": {name: var.as_dict() for name, var in self.extra_vars.items()},
            "manual_steps": list(self.manual_steps),
            "auto_remediate": self.auto_remediate,
        }


def _extra_var(path, name, spec):
    where = f"{path.name}: mcpops_runbook.extra_vars.{name}"
    if not _VAR_NAME.match(str(name)):
        raise RunbookError(f"{where}: not a variable name")
    if not isinstance(spec, dict) or not isinstance(spec.get("description"), str):
        raise RunbookError(f"{where}: expected a mapping with a description")
    unknown = set(spec) - {"description", "default", "secret", "required", "type", "choices"}
    if unknown:
        raise RunbookError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    var_type = spec.get("type", "str")
    if var_type not in VAR_TYPES:
        raise RunbookError(f"{where}: type must be one of {', '.join(VAR_TYPES)}")
    return ExtraVar(name=name, description=spec["description"], default=spec.get("default"),
                    has_default="default" in spec, secret=bool(spec.get("secret", False)),
                    required=bool(spec.get("required", False)), type=var_type,
                    choices=tuple(spec.get("choices") or ()))


def metadata_of(play_source):
    """The raw `mcpops_runbook` mapping of a parsed playbook, or None."""
    if not isinstance(play_source, list) or not play_source or not isinstance(play_source[0], dict):
        return None
    play_vars = play_source[0].get("vars")
    if not isinstance(play_vars, dict):
        return None
    meta = play_vars.get("mcpops_runbook")
    return meta if isinstance(meta, dict) else None


def load_runbook(path):
    """The Runbook of one playbook file; None when it has no metadata; RunbookError when it is malformed."""
    path = Path(path)
    try:
        source = yaml.load(path.read_text(encoding="utf-8"), Loader=_TolerantLoader)
    except (OSError, yaml.YAMLError) as exc:
        raise RunbookError(f"{path}: cannot read it as YAML ({str(exc).splitlines()[0]})") from None
    meta = metadata_of(source)
    if meta is None:
        return None
    for key in ("id", "title", "purpose"):
        if not isinstance(meta.get(key), str) or not meta[key]:
            raise RunbookError(f"{path.name}: mcpops_runbook.{key} must be a non-empty string")
    if meta["id"] != path.stem:
        raise RunbookError(f"{path.name}: mcpops_runbook.id is {meta['id']!r}, expected the file name {path.stem!r}")
    extra = meta.get("extra_vars") or {}
    steps = meta.get("manual_steps") or []
    if not isinstance(extra, dict) or not isinstance(steps, list):
        raise RunbookError(f"{path.name}: mcpops_runbook.extra_vars must be a mapping and manual_steps a list")
    if meta.get("auto_remediate", "never") not in ("allowed", "never"):
        raise RunbookError(f"{path.name}: mcpops_runbook.auto_remediate must be allowed or never")
    return Runbook(
        id=meta["id"],
        path=path.resolve(),
        incident=meta.get("incident"),
        title=meta["title"],
        purpose=meta["purpose"],
        changes=bool(meta.get("changes", True)),
        extra_vars={name: _extra_var(path, name, spec) for name, spec in extra.items()},
        manual_steps=tuple(str(step) for step in steps),
        hosts=str(source[0].get("hosts", "all")),
        auto_remediate=meta.get("auto_remediate") == "allowed",
        play_hosts=tuple(str(play["hosts"]) for play in source if isinstance(play, dict) and "hosts" in play),
    )


def discover(playbooks_dir=PLAYBOOKS_DIR):
    """Every runbook in playbooks_dir, sorted by id; playbooks without metadata are left out."""
    found = []
    for path in sorted(Path(playbooks_dir).glob("*.yml")):
        if path.is_symlink():  # inc_003_restore.yml -> inc-003-restore.yml: its collection name, not another runbook
            continue
        runbook = load_runbook(path)
        if runbook is not None:
            found.append(runbook)
    return found


def find(name, playbooks_dir=PLAYBOOKS_DIR):
    """The runbook called `name` (its id, file name, or path); RunbookError listing the known ones."""
    candidate = Path(name)
    if candidate.suffix in (".yml", ".yaml") and candidate.is_file():
        runbook = load_runbook(candidate)
        if runbook is None:
            raise RunbookError(f"{name}: this playbook has no mcpops_runbook metadata in its first play's vars")
        return runbook
    path = Path(playbooks_dir) / f"{candidate.stem}.yml"
    runbook = load_runbook(path) if path.is_file() else None
    if runbook is None:
        known = ", ".join(r.id for r in discover(playbooks_dir))
        raise RunbookError(f"unknown runbook {name!r} (known: {known}; see mcpops list)")
    return runbook
