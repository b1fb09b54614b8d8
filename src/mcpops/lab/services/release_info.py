"""The release a backend runs: `<CONNECTOR_RELEASE_DIR>/release.json` {"version": "1.0.0", "defect": null}, read
once at start (a deploy or a rollback moves the `current` link and restarts the instance). A non-null `defect` (a
string, or true) is a bad release: the backend fails its API with it (connector_mcp.py says how)."""

import json
import os
from dataclasses import dataclass

RELEASE_FILE = "release.json"
MAX_BYTES = 64 * 1024


class ReleaseError(Exception):
    pass


@dataclass(frozen=True)
class Release:
    version: str
    defect: str = ""  # "" for a good release
    path: str = ""

    @property
    def defective(self):
        return bool(self.defect)


def parse_release(data, path=""):
    if not isinstance(data, dict):
        raise ReleaseError("%s must hold a JSON object" % (path or RELEASE_FILE))
    version = data.get("version")
    if not isinstance(version, str) or not version.strip() or len(version) > 64:
        raise ReleaseError("%s: version must be a non-empty string (at most 64 characters)" % (path or RELEASE_FILE))
    defect = data.get("defect")
    if defect is None or defect is False:
        text = ""
    elif defect is True:
        text = "defect"
    elif isinstance(defect, str):
        text = defect.strip()[:200] or "defect"
    else:
        raise ReleaseError("%s: defect must be null, true or a string" % (path or RELEASE_FILE))
    return Release(version=version.strip(), defect=text, path=path)


def read_release(release_dir):
    """The Release in release_dir/release.json (the dir may be a symlink: `releases/current`); ReleaseError naming
    the file and what is wrong."""
    path = os.path.join(release_dir, RELEASE_FILE)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ReleaseError("cannot read %s: %s" % (path, exc.strerror or exc.__class__.__name__))
    if len(raw) > MAX_BYTES:
        raise ReleaseError("%s is over %d bytes" % (path, MAX_BYTES))
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise ReleaseError("%s is not valid JSON" % path)
    return parse_release(data, path)
