# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The service profiles on the controller: the builtin ones in the collection's profiles/, overrides, validation.

    load("cctelegram-mcp", overrides={"api": {"default_url": "https://cc.internal"}})   builtin + overrides
    load(None, profile={...})                                                         a new service's own profile
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import yaml

from ansible_collections.mcpops.runbooks.plugins.module_utils._profile.merge import merge
from ansible_collections.mcpops.runbooks.plugins.module_utils._profile.schema import NAME, ProfileError, validate

CUSTOM_SOURCE = "custom profile"


def builtin_dir():
    """<collection root>/profiles (this file is <collection root>/plugins/plugin_utils/service_profiles.py)."""
    return os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "profiles")


def builtin_names():
    """The names of the builtin profiles, sorted: profiles/<name>.yml."""
    names = (entry[:-len(".yml")] for entry in os.listdir(builtin_dir()) if entry.endswith(".yml"))
    return sorted(name for name in names if NAME.match(name))


def _read_builtin(name):
    """profiles/<name>.yml as a dict. The name is matched before anything on disk is touched: it never makes a path
    outside profiles/ (``../x``) and never opens anything but a builtin profile."""
    if not isinstance(name, str) or not NAME.match(name):
        raise ProfileError(repr(name) if isinstance(name, str) else "(no name)", "",
                           "not a profile name (lowercase letters, digits and -, e.g. cctelegram-mcp)")
    names = builtin_names()
    if name not in names:
        raise ProfileError(name, "", "no such builtin profile (builtin: %s); a service of your own gives its whole "
                           "profile instead" % ", ".join(names))
    path = os.path.join(builtin_dir(), name + ".yml")
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError) as exc:
        raise ProfileError(name, "", "cannot read %s: %s" % (path, exc)) from None
    if not isinstance(data, Mapping):
        raise ProfileError(name, "", "%s does not hold a mapping of fields" % path)
    return data, "profiles/%s.yml" % name


def load(name, overrides=None, profile=None):
    """The validated profile: a builtin one by name, or the given full profile when it is not empty (then the name
    argument is not used: the profile's own name field is its name); overrides merged over it first.

    Raises ProfileError naming the profile and the bad field."""
    if profile:
        if not isinstance(profile, Mapping):
            raise ProfileError("(%s)" % CUSTOM_SOURCE, "", "must be a mapping of fields, not a %s"
                               % type(profile).__name__)
        base, source = profile, CUSTOM_SOURCE
    else:
        base, source = _read_builtin(name)
    if overrides is not None and not isinstance(overrides, Mapping):
        label = base.get("name") if isinstance(base.get("name"), str) else "(%s)" % source
        raise ProfileError(label, "", "overrides must be a mapping of fields to change, not a %s"
                           % type(overrides).__name__)
    return validate(merge(base, overrides), source=source if not overrides else source + " with overrides")
