# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one way the backup domain reaches a file under a data dir: one name at a time from a directory fd, never through a link, never opening a special file.

Threat model (docs/dev/conventions.md, "Hostile data dirs"): whoever may write the gateway's data dir may
put anything there, links and FIFOs included, while the modules run as root. So below the top directory
(the path the operator gave, trusted as given) every name is reached with ``openat`` relative to its
parent's fd: a directory with ``O_DIRECTORY | O_NOFOLLOW``, a file with ``O_NOFOLLOW | O_NONBLOCK`` (a FIFO
opened so never blocks) and then ``fstat``: anything that is not a regular file or a directory is refused
with an :class:`UnsafeFileError` that says what it is ("a link", "not a regular file (a FIFO)") and never
anything about where a link points, what size or content the target has. Nothing here calls ``readlink``
or a ``stat`` that follows links.

Writes create files with ``O_CREAT | O_EXCL | O_NOFOLLOW`` (never through an existing name), renames and
removals are ``renameat`` / ``unlinkat`` on names in a directory opened this way, and a removed tree is
walked the same way (a link inside it is removed, never followed).

Opening one file this way, and UnsafeFileError, are safe_open's (exported here too).
"""

from __future__ import annotations

import contextlib
import os
import stat

from ansible_collections.mcpops.runbooks.plugins.module_utils._backup.safe_open import (
    O_CLOEXEC,
    UnsafeFileError,
    classify_failed_open,
    kind_of,
    open_regular,
)

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | O_CLOEXEC
CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_NOCTTY | O_CLOEXEC
# A copied file keeps its permission bits, never setuid, setgid or sticky: a root-owned copy of an
# attacker's file must not become a setuid program.
MODE_BITS = 0o777
# Walks (listing data files, removing a tree) hold one fd per level: deeper trees are refused.
MAX_TREE_DEPTH = 64
CHUNK = 256 * 1024


class TreeTooDeepError(UnsafeFileError):
    """A directory tree nested deeper than MAX_TREE_DEPTH: refused (each level would hold an fd)."""

    def __init__(self, label, depth):
        super(TreeTooDeepError, self).__init__(
            label, "a directory", "a directory", "nested deeper than %d directories; refused" % depth
        )

    @property
    def hostile(self):
        return True


def split_rel(rel):
    """The names of a relative path; anything that could leave the tree is a ValueError."""
    parts = rel.split("/") if isinstance(rel, str) else None
    if not parts or any(part in ("", ".", "..") or "\x00" in part for part in parts):
        raise ValueError("not a relative path inside the tree: %r" % (rel if len(str(rel)) < 80 else str(rel)[:77] + "...",))
    return parts


def read_chunks(fd, limit, chunk=CHUNK):
    """Yield memoryviews of at most limit bytes read from fd through one reused buffer (a view is valid
    until the next one is asked for)."""
    buf = bytearray(min(chunk, max(limit, 1)))
    view = memoryview(buf)
    left = limit
    while left > 0:
        count = os.readv(fd, [view[:min(len(buf), left)]])
        if not count:
            return
        left -= count
        yield view[:count]


def has_more(fd):
    """True when fd has at least one more byte (the file grew past what was read)."""
    return bool(os.read(fd, 1))


def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class Dir(object):
    """A directory reached without following a link, as an fd; the names below it are reached the same way.

    Use it as a context manager (it closes its fd). label is the path the messages show.
    """

    def __init__(self, fd, label):
        self.fd = fd
        self.label = label

    @classmethod
    def open(cls, path):
        """The top of a tree: the path the operator gave, trusted as given (a link in it is the operator's)."""
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | O_CLOEXEC)
        return cls(fd, path)

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def path(self, rel=None):
        """The label of rel under this directory."""
        return self.label if not rel else os.path.join(self.label, *rel.split("/"))

    # -- reaching names ---------------------------------------------------------
    def subdir(self, rel, create=False, mode=0o700):
        """The directory rel below this one; each name on the way must be a real directory (created with
        mode when create and missing). FileNotFoundError when missing, UnsafeFileError when a link or not
        a directory."""
        fd, label, opened = self.fd, self.label, None
        try:
            for part in split_rel(rel):
                label = os.path.join(label, part)
                if create:
                    try:
                        os.mkdir(part, mode, dir_fd=fd)
                    except FileExistsError:
                        pass
                try:
                    new = os.open(part, DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    classify_failed_open(exc, fd, part, label, "a directory")
                if opened is not None:
                    os.close(opened)
                opened = fd = new
        except BaseException:
            if opened is not None:
                os.close(opened)
            raise
        return Dir(opened, label)

    @contextlib.contextmanager
    def parent_of(self, rel, create=False, mode=0o777):
        """(Dir, name): the directory holding rel's last name (this one for a single name); create: the
        missing directories on the way are made with mode (less the umask)."""
        parts = split_rel(rel)
        if len(parts) == 1:
            yield self, parts[0]
            return
        with self.subdir("/".join(parts[:-1]), create=create, mode=mode) as parent:
            yield parent, parts[-1]

    def lstat(self, rel):
        """lstat of rel (never following it), or None when it (or a directory on the way) is missing.
        A link or special file on the way is refused."""
        try:
            with self.parent_of(rel) as (parent, name):
                return os.stat(name, dir_fd=parent.fd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def kind(self, rel):
        """kind_of(rel) ("a link", "a directory", ...) or None when missing."""
        st = self.lstat(rel)
        return None if st is None else kind_of(st.st_mode)

    def exists(self, rel):
        return self.lstat(rel) is not None

    def open_file(self, rel):
        """(fd, fstat) of rel, a regular file (see open_regular). The caller closes fd."""
        with self.parent_of(rel) as (parent, name):
            return open_regular(parent.fd, name, self.path(rel))

    def read_bytes(self, rel, cap):
        """The bytes of the regular file rel, refused (FileTooLargeError) when larger than cap; never more
        than cap bytes are read, whatever the file does meanwhile."""
        fd, st = self.open_file(rel)
        try:
            if st.st_size > cap:
                raise FileTooLargeError(self.path(rel), st.st_size, cap)
            parts = [bytes(view) for view in read_chunks(fd, cap + 1)]
        finally:
            os.close(fd)
        data = b"".join(parts)
        if len(data) > cap:
            raise FileTooLargeError(self.path(rel), len(data), cap)
        return data

    def create_file(self, rel, mode=0o600, replace=False, create_dirs=False):
        """fd of a new regular file rel (O_CREAT | O_EXCL | O_NOFOLLOW: never an existing name, never through
        a link). replace: an existing non-directory name is unlinked first (the name, not what a link
        points at). The caller closes fd."""
        with self.parent_of(rel, create=create_dirs) as (parent, name):
            if replace:
                parent.unlink_if_present(name)
            try:
                fd = os.open(name, CREATE_FLAGS, mode, dir_fd=parent.fd)
            except OSError as exc:
                exc.filename = exc.filename or self.path(rel)
                raise
            try:
                os.fchmod(fd, mode)
            except BaseException:
                os.close(fd)
                raise
            return fd

    def replace_file(self, name, data, mode=0o644):
        """This directory's name replaced by data (bytes): a new name.tmp (O_EXCL | O_NOFOLLOW), fsync, rename;
        the tmp file is removed when anything fails. The caller fsyncs this directory when the rename must last."""
        tmp = name + ".tmp"
        fd = self.create_file(tmp, mode, replace=True)
        try:
            try:
                write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            self.rename(tmp, self, name)
        except BaseException:
            try:
                self.unlink_if_present(tmp)
            except (OSError, UnsafeFileError):
                pass
            raise

    # -- this directory's own names ------------------------------------------------
    def names(self):
        """The names in this directory, sorted."""
        return sorted(os.listdir(self.fd))

    def mkdir(self, name, mode=0o700):
        try:
            os.mkdir(name, mode, dir_fd=self.fd)
        except OSError as exc:
            exc.filename = self.path(name)
            raise

    def unlink(self, name):
        """unlinkat: remove the name itself (a link is removed, never what it points at)."""
        try:
            os.unlink(name, dir_fd=self.fd)
        except OSError as exc:
            exc.filename = self.path(name)
            raise

    def unlink_if_present(self, name):
        """Remove name when it is not a directory (a link is removed itself); a directory is refused."""
        st = self.lstat(name)
        if st is None:
            return False
        if stat.S_ISDIR(st.st_mode):
            raise UnsafeFileError(self.path(name), "a directory")
        os.unlink(name, dir_fd=self.fd)
        return True

    def rename(self, name, dst, dst_name):
        """renameat(self/name -> dst/dst_name): moves the name itself (a link stays a link, never followed)."""
        try:
            os.rename(name, dst_name, src_dir_fd=self.fd, dst_dir_fd=dst.fd)
        except OSError as exc:
            exc.filename, exc.filename2 = self.path(name), dst.path(dst_name)
            raise

    def fsync(self):
        os.fsync(self.fd)

    def remove(self, rel, max_depth=MAX_TREE_DEPTH):
        """Remove rel whatever it is: a file, a link or a special file is unlinked (never followed or
        opened), a directory is emptied the same way, depth-first and iteratively, then removed.
        False when it was missing."""
        with self.parent_of(rel) as (parent, name):
            st = parent.lstat(name)
            if st is None:
                return False
            if not stat.S_ISDIR(st.st_mode):
                os.unlink(name, dir_fd=parent.fd)
                return True
            top = parent.subdir(name)
            stack = [(parent, name, top, iter(top.names()))]
            try:
                while stack:
                    holder, dname, current, entries = stack[-1]
                    entry = next(entries, None)
                    if entry is None:
                        stack.pop()
                        current.close()
                        os.rmdir(dname, dir_fd=holder.fd)
                        continue
                    try:
                        est = os.stat(entry, dir_fd=current.fd, follow_symlinks=False)
                        if not stat.S_ISDIR(est.st_mode):
                            os.unlink(entry, dir_fd=current.fd)
                            continue
                    except FileNotFoundError:
                        continue
                    if len(stack) >= max_depth:
                        raise TreeTooDeepError(self.path(rel), max_depth)
                    sub = current.subdir(entry)
                    stack.append((current, entry, sub, iter(sub.names())))
            finally:
                for _holder, _name, current, _entries in stack:
                    current.close()
            return True

    def walk(self, max_depth=MAX_TREE_DEPTH):
        """Yield (rel, lstat) of every name below this directory, depth-first in sorted order, directories
        before what they hold; iterative, one fd per level, refused beyond max_depth levels."""
        stack = [(self, iter(self.names()), "")]
        try:
            while stack:
                current, names, prefix = stack[-1]
                name = next(names, None)
                if name is None:
                    stack.pop()
                    if current is not self:
                        current.close()
                    continue
                rel = prefix + name
                try:
                    st = os.stat(name, dir_fd=current.fd, follow_symlinks=False)
                except FileNotFoundError:
                    continue  # gone since the listing (a writer's temp file): it is not there
                if stat.S_ISDIR(st.st_mode):
                    if len(stack) > max_depth:
                        raise TreeTooDeepError(self.path(rel), max_depth)
                    try:
                        sub = current.subdir(name)
                    except FileNotFoundError:
                        continue
                    stack.append((sub, iter(sub.names()), rel + "/"))
                    yield rel, st
                else:
                    yield rel, st
        finally:
            for current, _names, _prefix in stack:
                if current is not self:
                    current.close()

    def regular_files(self, max_depth=MAX_TREE_DEPTH):
        """[(rel, lstat)] of every regular file below, sorted by rel; a link or a special file anywhere
        below is refused (UnsafeFileError), never skipped quietly."""
        found = []
        for rel, st in self.walk(max_depth):
            if stat.S_ISREG(st.st_mode):
                found.append((rel, st))
            elif not stat.S_ISDIR(st.st_mode):
                raise UnsafeFileError(self.path(rel), kind_of(st.st_mode))
        return sorted(found, key=lambda item: item[0])

    def fsync_tree(self, files):
        """fsync every regular file in files (relative paths), then every directory below (deepest
        first), then this one. Write everything first, then this: the kernel batches the flushes."""
        for rel in files:
            fd, _st = self.open_file(rel)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        dirs = [rel for rel, st in self.walk() if stat.S_ISDIR(st.st_mode)]
        for rel in sorted(dirs, key=lambda r: r.count("/"), reverse=True):
            with self.subdir(rel) as sub:
                sub.fsync()
        self.fsync()


class FileTooLargeError(Exception):
    """A file larger than the cap it may have: refused before it is read."""

    def __init__(self, label, size, cap):
        super(FileTooLargeError, self).__init__(
            "%s: %d bytes, more than the %s a file of this kind may have; not read" % (label, size, human_bytes(cap))
        )
        self.label = label
        self.size = size
        self.cap = cap


def human_bytes(count):
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= size and count % size == 0:
            return "%d %s" % (count // size, unit)
    return "%d bytes" % count


@contextlib.contextmanager
def opened(where):
    """A Dir as given, or the Dir of a path the caller trusts as given (closed afterwards)."""
    if isinstance(where, Dir):
        yield where
        return
    with Dir.open(where) as top:
        yield top
