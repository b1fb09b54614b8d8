# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""audit_scan's redacted export: the window's lines, redacted, written atomically with mode 0600.

ExportWriter streams lines into a temp file in the destination's directory (mode 0600 from the start),
then fsync + rename + fsync of the directory: a reader sees the old export or the new one, never half
of one. When the new content is the same as the file already there (same sha256, mode 0600) the file is
left alone and changed is False. In check mode nothing is written: the content is only hashed, so
changed still says whether a real run would replace the file. No Ansible here.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile


class ExportError(Exception):
    def __init__(self, msg):
        super(ExportError, self).__init__(msg)
        self.msg = msg


def _file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while True:
            block = handle.read(1024 * 1024)
            if not block:
                return digest.hexdigest()
            digest.update(block)


class ExportWriter:
    """write(line bytes without newline) for each line, then finish() -> {path, lines, changed, written}."""

    def __init__(self, path, redact, check_mode=False, buffer_lines=4096):
        self.path = os.path.abspath(path)
        self.redact = redact
        self.check_mode = check_mode
        self.lines = 0
        self.digest = hashlib.sha256()
        self.pending = []
        self.buffer_lines = buffer_lines
        self.tmp = None
        self.handle = None
        directory = os.path.dirname(self.path)
        if not os.path.isdir(directory):
            raise ExportError("export_path %s: directory %s does not exist; create it first" % (self.path, directory))
        if os.path.isdir(self.path):
            raise ExportError("export_path %s is a directory; give a file name" % self.path)
        if not check_mode:
            try:
                fd, self.tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(self.path), suffix=".tmp", dir=directory)
                os.fchmod(fd, 0o600)
                self.handle = os.fdopen(fd, "wb", 1024 * 1024)
            except OSError as exc:
                raise ExportError("export_path %s: cannot write in %s: %s" % (self.path, directory, exc))

    def write(self, line):
        self.pending.append(self.redact(line))
        if len(self.pending) >= self.buffer_lines:
            self._flush()

    def _flush(self):
        if not self.pending:
            return
        data = b"\n".join(self.pending) + b"\n"
        self.lines += len(self.pending)
        self.pending = []
        self.digest.update(data)
        if self.handle is not None:
            self.handle.write(data)

    def abort(self):
        if self.handle is not None:
            self.handle.close()
            self.handle = None
        if self.tmp and os.path.exists(self.tmp):
            os.unlink(self.tmp)

    def finish(self):
        try:
            self._flush()
            new_sha = self.digest.hexdigest()
            same = False
            if os.path.isfile(self.path):
                same = (_file_sha256(self.path) == new_sha
                        and stat.S_IMODE(os.stat(self.path).st_mode) == 0o600)
            if self.check_mode:
                return {"path": self.path, "lines": self.lines, "sha256": new_sha, "changed": not same, "written": False}
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self.handle.close()
            self.handle = None
            if same:
                os.unlink(self.tmp)
                return {"path": self.path, "lines": self.lines, "sha256": new_sha, "changed": False, "written": False}
            os.rename(self.tmp, self.path)
            self.tmp = None
            dir_fd = os.open(os.path.dirname(self.path), os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
            return {"path": self.path, "lines": self.lines, "sha256": new_sha, "changed": True, "written": True}
        except OSError as exc:
            self.abort()
            raise ExportError("export_path %s: writing the export failed: %s" % (self.path, exc))
