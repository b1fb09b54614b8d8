# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Opening an application log for reading, never through a link or into a special file, and its lines in batches.

A log path is opened as the backup domain opens a data file (_backup/safe_fs.open_regular: O_NOFOLLOW |
O_NONBLOCK, then fstat): a link as the last part of the path, a FIFO, a socket, a device or a directory is refused,
and no open ever waits (a FIFO with no writer included). The lines are read by _audit/stream.py: 8 MiB reads (1 MiB
for the bytes path, line_blocks), bounded memory whatever the file's size, a line longer than max_line never held
whole past a read (it comes as None). No Ansible here.
"""

from __future__ import annotations

import os

from ansible_collections.mcpops.runbooks.plugins.module_utils._audit.stream import CHUNK_SIZE, blocks_of, iter_line_batches
from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.safe_open import UnsafeFileError, open_regular


# the bytes path's reads (line_blocks, log_ranges): a dozen byte searches go over each block, and a block this
# small stays in a core's cache between them (a 64 MiB log in one process: 8 MiB reads 672 ms, 1 MiB 561 to 604 ms)
BLOCK_SIZE = 1024 * 1024


class LogFileError(Exception):
    """A log path that cannot be read: msg names it and says why; missing tells a file that is not there."""

    def __init__(self, msg, missing=False):
        super(LogFileError, self).__init__(msg)
        self.msg = msg
        self.missing = missing


def open_log(path):
    """A read fd of path, a regular file reached without following a final link; LogFileError otherwise."""
    try:
        fd = open_regular(None, path, path)[0]
    except FileNotFoundError:
        raise LogFileError("log file %s does not exist" % path, missing=True)
    except UnsafeFileError as exc:
        raise LogFileError("log file %s" % exc)
    except OSError as exc:
        raise LogFileError("log file %s cannot be opened: %s" % (path, exc.strerror or exc))
    return fd


def check_log(path):
    """Raise LogFileError unless path opens as a log (the file is closed again)."""
    os.close(open_log(path))


def line_batches(path, max_line, chunk_size=CHUNK_SIZE):
    """(first_line_number, [line bytes or None, ...]) of the log at path; None for a line over max_line bytes that
    did not end within a read (a line that did, and is over max_line, is the caller's to skip). A generator: the
    file is opened at the first batch asked for (LogFileError then), and closed when the batches end or the
    generator is closed."""
    fd = open_log(path)
    # iter_line_batches open()s what it is given; open() takes an fd and closes it when done. Started at once by
    # the yield from, so the fd is never left without an owner.
    yield from iter_line_batches(fd, chunk_size, max_line)


def line_blocks(path, max_line, chunk_size=BLOCK_SIZE):
    """(first_line_number, block, overlong, lines) of the log at path, as _audit/stream.iter_blocks gives them, with
    the block's line count: block is whole lines joined by newlines (None when no line ended in a read: lines 0),
    overlong says a line over max_line bytes that did not end within a read follows and was skipped. Opened and
    closed as line_batches() does."""
    fd = open_log(path)
    with open(fd, "rb", buffering=0) as handle:
        yield from blocks_of(iter(lambda: handle.read(chunk_size), b""), max_line, counted=True)
