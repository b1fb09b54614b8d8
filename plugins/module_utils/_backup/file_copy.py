# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Copy one file into a new one in one read (read -> sha256 -> write): what a backup's create does for every
data file, and a restore's staging for every backup file (data_swap)."""

from __future__ import annotations

import hashlib
import os

from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.safe_fs import (
    MODE_BITS,
    has_more,
    read_chunks,
    write_all,
)

COPY_CHUNK = 256 * 1024


def copy_file(src_dir, src_rel, dst_dir, dst_rel, expect=None):
    """Copy src_dir/src_rel to a NEW file dst_dir/dst_rel (safe_fs.Dir both; missing directories on the
    way are made), in one read (read -> sha256 -> write), no fsync; (size, sha256 hex).

    The source must be a regular file (a link or a special file is refused, never opened); only the
    bytes it had when it was opened are copied, with its permission bits (never setuid, setgid or
    sticky) and times. The destination is created O_EXCL | O_NOFOLLOW. expect=(size, sha256): a
    source of another size is not read at all, and one that grew while it was read is not finished;
    both return (size, None).
    """
    fd, st = src_dir.open_file(src_rel)
    try:
        if expect is not None and st.st_size != expect[0]:
            return st.st_size, None
        out = dst_dir.create_file(dst_rel, 0o600, create_dirs=True)
        try:
            digest = hashlib.sha256()
            size = 0
            for view in read_chunks(fd, st.st_size, COPY_CHUNK):
                write_all(out, view)
                digest.update(view)
                size += len(view)
            if expect is not None and size == st.st_size and has_more(fd):
                return os.fstat(fd).st_size, None
            os.fchmod(out, st.st_mode & MODE_BITS)
            os.utime(out, ns=(st.st_atime_ns, st.st_mtime_ns))
        finally:
            os.close(out)
    finally:
        os.close(fd)
    return size, digest.hexdigest()
