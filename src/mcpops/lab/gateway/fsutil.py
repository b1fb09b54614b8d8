"""Small file-system helpers: atomic writes, single-write appends, timestamps, data-file walking."""

import datetime as _dt
import json
import os
import tempfile

from . import BACKUPS_DIR


def utcnow():
    return _dt.datetime.now(_dt.timezone.utc)


def iso_ms(when=None):
    """`2026-11-23T10:00:00.123Z` (audit/usage timestamps)."""
    when = when or utcnow()
    return when.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (when.microsecond // 1000)


def iso_s(when=None):
    """`2026-11-23T10:00:00Z` (record timestamps)."""
    when = when or utcnow()
    return when.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_ts(value):
    """Parse an ISO-8601 timestamp (with `Z` or an offset) into an aware datetime; ValueError if bad."""
    if not isinstance(value, str) or not value:
        raise ValueError("not a timestamp")
    text = value.strip()
    if text.endswith("Z") or text.endswith("z"):
        text = text[:-1] + "+00:00"
    when = _dt.datetime.fromisoformat(text)
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    return when


def fsync_dir(path):
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path, data, mode=0o644):
    """Write `data` (bytes, or str as UTF-8) to a temp file next to `path`, fsync it, then os.replace it
    into place. The temp file is 0600 from its creation (mkstemp) until chmod'ed to `mode`, so a secret
    is never readable by others on the way. The one atomic writer of src/mcpops: the labs, the seed and
    the fixtures use it too."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix="-" + os.path.basename(path), dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_dir(directory)


def json_bytes(obj, newline=True):
    # indent=2 would switch json to its pure-Python encoder: 10x slower on a 5,000-token store.
    return (json.dumps(obj, separators=(",", ":")) + ("\n" if newline else "")).encode("utf-8")


def atomic_write_json(path, obj, mode=0o644):
    atomic_write(path, json_bytes(obj), mode)


def append_line(path, obj):
    """Append one JSON object as one line with a single os.write on an O_APPEND descriptor."""
    line = (json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def is_data_name(top_level_name):
    """Top-level names starting with `.` and `backups` are never data (conventions.md)."""
    return not top_level_name.startswith(".") and top_level_name != BACKUPS_DIR


def iter_data_files(data_dir):
    """Yield (relative POSIX path, absolute path) of every data file under data_dir, sorted."""
    out = []
    try:
        names = sorted(os.listdir(data_dir))
    except FileNotFoundError:
        return []
    for name in names:
        if not is_data_name(name):
            continue
        full = os.path.join(data_dir, name)
        if os.path.isdir(full) and not os.path.islink(full):
            for root, dirs, files in os.walk(full):
                dirs.sort()
                for fname in sorted(files):
                    abs_path = os.path.join(root, fname)
                    rel = os.path.relpath(abs_path, data_dir).replace(os.sep, "/")
                    out.append((rel, abs_path))
        elif os.path.isfile(full):
            out.append((name, full))
    out.sort()
    return out
