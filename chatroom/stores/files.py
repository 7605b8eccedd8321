"""Small files the server keeps (accounts, registered rooms), changed crash-safely and by one writer at a time.

A change takes an exclusive lock on a lock file beside the file, reads the newest version, and replaces it
whole (temporary file, fsync, rename, fsync of the directory): a crash leaves the old file or the new one,
never half of one, and two changes at once (two shells, two server processes) both land. Files are
readable by their owner only, and keep their owner: an administrator's `chatroom-accounts` run as root must not
take the file away from the server's user (every login then failed).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold the lock of `path` (created with its directory if need be) for a read-change-replace."""
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    lock_path = directory / f".{path.name}.lock"
    with open(os.open(lock_path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as lock:
        _keep_owner(path, lock.fileno())
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, even if this process is killed
        _remove_leftovers(path, lock_path.name)
        yield


def replace(path: Path, text: str) -> None:
    """Replace the file whole; call it under `locked(path)`."""
    directory = path.parent
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.tmp-")  # mode 0600
    try:
        _keep_owner(path, descriptor)
        with os.fdopen(descriptor, "w") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory_descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(directory_descriptor)  # the rename itself survives a power cut
    finally:
        os.close(directory_descriptor)


def _keep_owner(path: Path, descriptor: int) -> None:
    """Give the open file `descriptor` the owner of `path`: what root writes stays the server's user's, and a new
    file root writes is its directory owner's. Only root may give a file away: anyone else is refused another
    user's file, which replacing would have taken from them."""
    try:
        status = path.stat()
    except FileNotFoundError:
        if os.geteuid() != 0:
            return  # a new file is its writer's
        status = path.parent.stat()
    if os.geteuid() != 0:
        if status.st_uid != os.geteuid():
            why = f"belongs to user {status.st_uid}: change it as that user (or as root)"
            raise PermissionError(errno.EPERM, why, str(path))
        return
    os.fchown(descriptor, status.st_uid, status.st_gid)


def _remove_leftovers(path: Path, lock_name: str) -> None:
    """Temporary files of writers killed mid-write: under the lock, no write is under way.

    chatroom 0.1 named the accounts file's `.accounts.db.XXXXXXXX`, later versions `.NAME.tmp-XXXXXXXX`:
    both are removed.
    """
    prefix = f".{path.name}."
    with os.scandir(path.parent) as entries:
        for entry in entries:
            if entry.name.startswith(prefix) and entry.name != lock_name and entry.is_file():
                os.unlink(entry.path)


def stamp(path: Path) -> tuple[int, int, int] | None:
    """What changes when the file is replaced (a new inode) or written: to know when to read it again."""
    try:
        status = path.stat()
    except FileNotFoundError:
        return None
    return (status.st_ino, status.st_mtime_ns, status.st_size)


KIB = 1024
MIB = 1024 * KIB
SMALL_FILE = MIB  # a certificate, a key, a --config file: far larger than any real one
DATA_FILE = 64 * MIB  # a file the server writes itself (accounts, rooms): room for a big server's


class UnfitFile(OSError):
    """A file the server will not read: not a regular file, or too large. `strerror` says which, in words."""


def read_bounded(path: Path, most: int) -> bytes:
    """The bytes of a regular file of at most `most` bytes; UnfitFile otherwise, OSError if it cannot be read.

    Read whole on the reactor: /dev/zero, a FIFO or a huge file would freeze the server and fill its memory, so
    anything but a regular file is refused before it is read (opened without blocking, checked on the open file in
    case it was swapped meanwhile), and a file is never read past `most`.
    """
    if path.exists():
        _regular(path, path.stat().st_mode)
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    with os.fdopen(descriptor, "rb") as file:
        _regular(path, os.fstat(descriptor).st_mode)
        data = file.read(most + 1)
    if len(data) > most:
        raise UnfitFile(errno.EFBIG, f"larger than {_size(most)}, more than such a file can need", str(path))
    return data


def _regular(path: Path, mode: int) -> None:
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    if not stat.S_ISREG(mode):
        raise UnfitFile(errno.EINVAL, "not a regular file (a device, a pipe or a socket)", str(path))


def _size(count: int) -> str:
    if count % MIB == 0:
        return f"{count // MIB} MiB"
    return f"{count // KIB} KiB" if count % KIB == 0 else f"{count} bytes"
