# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prometheus text-format metrics for node_exporter's textfile collector, written atomically.

node_exporter reads every `*.prom` file of its directory at each scrape; a file it reads half-written
is an error or, worse, a wrong value. So the text goes to a temp file in the same directory whose name
does not end in `.prom` (`.<name>.<random>.tmp`), is fsynced, then renamed over the target.
"""

from __future__ import annotations

import math
import os
import re

from ansible_collections.mcpops.runbooks.plugins.module_utils._common.atomic_file import fsync_path, replace_file

METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
TYPES = ("gauge", "counter", "untyped")


class TextfileError(Exception):
    pass


def _number(name, value):
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TextfileError("metric %s: value %r is not a number" % (name, value))


def check_metrics(metrics):
    """The metrics as [{name, value, help, type, labels}]; TextfileError naming the first bad one."""
    if not metrics:
        raise TextfileError("metrics is empty: give at least one {name, value}")
    checked = []
    types = {}
    for index, metric in enumerate(metrics):
        if not isinstance(metric, dict) or "name" not in metric or "value" not in metric:
            raise TextfileError("metrics[%d]: expected a dict with name and value, got %r" % (index, metric))
        name = str(metric["name"])
        if not METRIC_NAME.match(name):
            raise TextfileError("metrics[%d]: %r is not a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)" % (index, name))
        kind = metric.get("type") or "gauge"
        if kind not in TYPES:
            raise TextfileError("metric %s: type %r is not one of %s" % (name, kind, ", ".join(TYPES)))
        if types.setdefault(name, kind) != kind:
            raise TextfileError("metric %s: given as both %s and %s" % (name, types[name], kind))
        labels = metric.get("labels") or {}
        if not isinstance(labels, dict):
            raise TextfileError("metric %s: labels must be a dict" % name)
        for label in labels:
            if not LABEL_NAME.match(str(label)) or str(label).startswith("__"):
                raise TextfileError("metric %s: %r is not a label name" % (name, label))
        checked.append({"name": name, "value": _number(name, metric["value"]), "help": str(metric.get("help") or ""),
                        "type": kind, "labels": dict((str(k), str(v)) for k, v in labels.items())})
    return checked


def _format_value(value):
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if value == int(value) and abs(value) < 1e15 else repr(value)


def _escape_label(value):
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def render(metrics):
    """The text format: HELP and TYPE once per metric name, then its samples, names in first-seen order."""
    by_name = {}
    order = []
    for metric in metrics:
        if metric["name"] not in by_name:
            order.append(metric["name"])
            by_name[metric["name"]] = []
        by_name[metric["name"]].append(metric)
    lines = []
    for name in order:
        samples = by_name[name]
        helps = [m["help"] for m in samples if m["help"]]
        if helps:
            lines.append("# HELP %s %s" % (name, helps[0].replace("\\", "\\\\").replace("\n", "\\n")))
        lines.append("# TYPE %s %s" % (name, samples[0]["type"]))
        for m in samples:
            labels = ",".join('%s="%s"' % (k, _escape_label(v)) for k, v in sorted(m["labels"].items()))
            lines.append("%s%s %s" % (name, "{%s}" % labels if labels else "", _format_value(m["value"])))
    return "\n".join(lines) + "\n"


def check_path(path):
    if not path or not str(path).endswith(".prom"):
        raise TextfileError("path %r must end in .prom (node_exporter's textfile collector reads only those)" % path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise TextfileError("the directory of %s does not exist: create it, or point path at node_exporter's "
                            "--collector.textfile.directory" % path)
    return os.path.abspath(path)


def current_text(path):
    try:
        with open(path, "r") as fh:
            return fh.read()
    except (IOError, OSError):
        return None


def write_atomically(path, text, mode=0o644):
    """Temp file (not *.prom) in the same dir, fsync, chmod, rename over path, fsync the dir."""
    replace_file(path, text.encode("utf-8"), mode)
    fsync_path(os.path.dirname(os.path.abspath(path)))


def write_metrics(path, metrics, mode=0o644, check_mode=False):
    """Render and write; returns {changed, path, metrics (names)}. Nothing is written in check mode."""
    path = check_path(path)
    checked = check_metrics(metrics)
    text = render(checked)
    changed = current_text(path) != text
    if changed and not check_mode:
        try:
            write_atomically(path, text, mode)
        except (IOError, OSError) as exc:
            raise TextfileError("writing %s failed: %s; check the directory's owner and free space" % (path, exc))
    names = []
    for m in checked:
        if m["name"] not in names:
            names.append(m["name"])
    return {"changed": changed, "path": path, "metrics": names}
