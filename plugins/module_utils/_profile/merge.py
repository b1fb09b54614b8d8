# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Overrides laid over a service profile: dicts merge key by key, lists and scalars are replaced whole."""

from __future__ import annotations

from collections.abc import Mapping


def _copy(value):
    """A plain copy (dict, list, scalar) so that the result never shares a container with its inputs."""
    if isinstance(value, Mapping):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_copy(item) for item in value]
    return value


def merge(base, overrides):
    """A new dict: base with overrides over it. Neither input is changed.

    A dict over a dict merges key by key, recursively; anything else replaces what was there, lists
    included (a list has no key to merge by: `health.checks` given in overrides is the whole new list),
    and null too (`metrics: null` removes a profile's metrics). overrides None or {} gives a copy of base.
    """
    if not isinstance(base, Mapping):
        raise TypeError("merge: base must be a mapping, not %s" % type(base).__name__)
    if overrides is None:
        return _copy(base)
    if not isinstance(overrides, Mapping):
        raise TypeError("merge: overrides must be a mapping, not %s" % type(overrides).__name__)
    merged = _copy(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = _copy(value)
    return merged
