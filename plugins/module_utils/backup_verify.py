# -*- coding: utf-8 -*-
# Copyright: mcpops-runbooks engineers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Verification of a backup (or a staged copy) against its manifest.

Each problem is one string that starts with its name, so that a report, a
test and an operator can all tell them apart:
``missing_manifest``, ``bad_manifest``, ``missing_file``, ``size_mismatch``,
``sha256_mismatch``, ``invalid_json``, ``bad_jsonl_line``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from ansible_collections.mcpops.runbooks.plugins.module_utils.backup_manifest import (
    ManifestError,
    file_digest,
    read_manifest,
)

PROBLEM_NAMES = (
    "missing_manifest",
    "bad_manifest",
    "missing_file",
    "size_mismatch",
    "sha256_mismatch",
    "invalid_json",
    "bad_jsonl_line",
)


def problem_name(problem):
    return problem.split(":", 1)[0]


def json_problem(path, label):
    """None when the .json file parses, else an invalid_json problem with line and column."""
    try:
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8")
    except UnicodeDecodeError as exc:
        return "invalid_json: %s: not UTF-8 at byte %d" % (label, exc.start)
    try:
        json.loads(text)
    except ValueError as exc:
        return "invalid_json: %s: line %d col %d: %s" % (label, exc.lineno, exc.colno, exc.msg)
    return None


def jsonl_problems(path, label, limit=5):
    """bad_jsonl_line problems (file and line number), at most limit of them; streams the file."""
    problems = []
    bad = 0
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue  # a trailing empty line is not an event
            try:
                json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as exc:
                bad += 1
                if len(problems) < limit:
                    reason = getattr(exc, "msg", None) or str(exc)
                    problems.append("bad_jsonl_line: %s: line %d: %s" % (label, number, reason))
    if bad > limit:
        problems.append("bad_jsonl_line: %s: %d more bad lines not listed" % (label, bad - limit))
    return problems


def content_problems(path, label):
    """Parse checks by file type: every .json parses, every .jsonl line parses."""
    if label.endswith(".jsonl"):
        return jsonl_problems(path, label)
    if label.endswith(".json"):
        found = json_problem(path, label)
        return [found] if found else []
    return []


def verify_files(base_dir, files, check_content=True):
    """Problems of the files under base_dir against manifest entries [{path, size, sha256}]."""
    problems = []
    for item in files:
        rel = item["path"]
        full = os.path.join(base_dir, *rel.split("/"))
        if not os.path.isfile(full):
            problems.append("missing_file: %s: listed in the manifest, not in the backup" % rel)
            continue
        size, sha = file_digest(full)
        if size != item["size"]:
            problems.append("size_mismatch: %s: manifest says %d bytes, file has %d" % (rel, item["size"], size))
        elif sha != item["sha256"].lower():
            problems.append("sha256_mismatch: %s: manifest says %s, file has %s" % (rel, item["sha256"], sha))
        if check_content:
            problems.extend(content_problems(full, rel))
    return problems


def verify_backup_dir(backup_dir):
    """(manifest or None, problems) for backups/<id>; an empty list means the backup is valid."""
    try:
        manifest = read_manifest(backup_dir)
    except ManifestError as exc:
        return None, [str(exc)]
    return manifest, verify_files(os.path.join(backup_dir, "data"), manifest["files"])
