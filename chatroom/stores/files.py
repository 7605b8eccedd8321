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

_LOCK = os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # a FIFO is refused, not waited on


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold the lock of `path` (created with its directory if need be) for a read-change-replace."""
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    lock_path = directory / f".{path.name}.lock"
    owner = _owner(path)
    # Never through a link, nor to anything but a file: a server's user could plant a link to /etc/shadow in its
    # own directory, for root's `chatroom-accounts` to give it away. Only a lock made here is given to the owner.
    try:
        descriptor = os.open(lock_path, _LOCK | os.O_CREAT | os.O_EXCL, 0o600)
        created = True
    except FileExistsError:
        descriptor = os.open(lock_path, _LOCK)
        created = False
    with open(descriptor, "w") as lock:
        _regular(lock_path, os.fstat(descriptor).st_mode)
        if created and owner is not None:
            os.fchown(descriptor, *owner)
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, even if this process is killed
        _remove_leftovers(path, lock_path.name)
        yield


def replace(path: Path, text: str) -> None:
    """Replace the file whole; call it under `locked(path)`."""
    directory = path.parent
    owner = _owner(path)
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.tmp-")  # mode 0600
    try:
        if owner is not None:
            os.fchown(descriptor, *owner)
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


def _owner(path: Path) -> tuple[int, int] | None:
    """Whom root gives what it writes for `path`: its owner (of the link itself, if it is one), or its directory's
    while it has none, so that it stays the server's user's. None for anyone else, whose files are their own; they
    are refused another user's file, which replacing would take from them."""
    try:
        status = os.lstat(path)
    except FileNotFoundError:
        if os.geteuid() != 0:
            return None  # a new file is its writer's
        status = path.parent.stat()
    if os.geteuid() == 0:
        return status.st_uid, status.st_gid
    if status.st_uid != os.geteuid():
        why = f"belongs to user {status.st_uid}: change it as that user (or as root)"
        raise PermissionError(errno.EPERM, why, str(path))
    return None


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
