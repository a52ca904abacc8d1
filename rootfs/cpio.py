"""A reproducible writer of "newc" cpio archives, the format the kernel unpacks an initramfs from.

Pure: entries in, bytes out (through a ``write`` callable). Entries are written sorted by
name (so a directory precedes what is in it), owned by uid/gid 0, all with the same mtime,
with inode numbers counted from 1 in that order and no hard links: the same entries always
give the same bytes. Format (the kernel's Documentation/driver-api/early-userspace/
buffer-format.rst): a 110-byte ASCII header "070701" + 13 fields of 8 hex digits, the name
with its NUL, padded to a multiple of 4, then the data, padded to a multiple of 4; the archive
ends with an entry named "TRAILER!!!".
"""

from __future__ import annotations

import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass

NEWC_MAGIC = b"070701"
TRAILER = "TRAILER!!!"
HEADER_SIZE = 110
_MAX_FIELD = 0xFFFFFFFF


@dataclass(frozen=True)
class Entry:
    """One member: ``name`` without a leading "/", ``mode`` with its file type bits; ``data``
    is a file's contents or a symlink's target; ``rdev`` (major, minor) of a device node."""

    name: str
    mode: int
    data: bytes = b""
    rdev: tuple[int, int] = (0, 0)

    @staticmethod
    def directory(name: str, perm: int = 0o755) -> Entry:
        return Entry(name, stat.S_IFDIR | perm)

    @staticmethod
    def file(name: str, data: bytes, perm: int = 0o644) -> Entry:
        return Entry(name, stat.S_IFREG | perm, data)

    @staticmethod
    def symlink(name: str, target: str) -> Entry:
        return Entry(name, stat.S_IFLNK | 0o777, target.encode())

    @staticmethod
    def chardev(name: str, major: int, minor: int, perm: int = 0o600) -> Entry:
        return Entry(name, stat.S_IFCHR | perm, rdev=(major, minor))


def _pad(n: int) -> bytes:
    return b"\0" * (-n % 4)


def header(
    *,
    ino: int,
    mode: int,
    nlink: int,
    mtime: int,
    filesize: int,
    rdev: tuple[int, int],
    namesize: int,
) -> bytes:
    fields = (ino, mode, 0, 0, nlink, mtime, filesize, 0, 0, rdev[0], rdev[1], namesize, 0)
    for value in fields:
        if not 0 <= value <= _MAX_FIELD:
            raise ValueError(f"cpio header field out of range: {value}")
    return NEWC_MAGIC + b"".join(b"%08X" % v for v in fields)


def _check(entry: Entry) -> None:
    name = entry.name
    if not name or name.startswith("/") or name.endswith("/") or "\0" in name:
        raise ValueError(f"cpio entry name {name!r}: must be a relative path")
    if any(part in ("", ".", "..") for part in name.split("/")):
        raise ValueError(f"cpio entry name {name!r}: empty, '.' or '..' component")
    kind = stat.S_IFMT(entry.mode)
    if kind not in (stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK, stat.S_IFCHR, stat.S_IFBLK):
        raise ValueError(f"cpio entry {name!r}: unsupported file type {kind:#o}")
    if kind in (stat.S_IFDIR, stat.S_IFCHR, stat.S_IFBLK) and entry.data:
        raise ValueError(f"cpio entry {name!r}: only files and symlinks have data")


def write_archive(entries: Iterable[Entry], write: Callable[[bytes], object], *, mtime: int) -> int:
    """Write the archive of ``entries`` through ``write``; returns the number of bytes.

    Raises ValueError for a duplicate name, a name whose parent directory is not in the
    archive, or an entry the kernel cannot create."""
    ordered = sorted(entries, key=lambda e: e.name.encode())
    names: dict[str, int] = {}
    for entry in ordered:
        _check(entry)
        if entry.name in names:
            raise ValueError(f"cpio entry {entry.name!r} appears twice")
        parent = entry.name.rpartition("/")[0]
        if parent and not stat.S_ISDIR(names.get(parent, 0)):
            raise ValueError(
                f"cpio entry {entry.name!r}: its directory {parent!r} is not before it"
            )
        names[entry.name] = entry.mode
    total = 0

    def emit(data: bytes) -> None:
        nonlocal total
        if data:
            write(data)
            total += len(data)

    for ino, entry in enumerate([*ordered, Entry(TRAILER, 0)], start=1):
        name = entry.name.encode() + b"\0"
        is_trailer = entry.name == TRAILER and entry.mode == 0
        head = header(
            ino=0 if is_trailer else ino,
            mode=entry.mode,
            nlink=(2 if stat.S_ISDIR(entry.mode) else 1) if not is_trailer else 1,
            mtime=0 if is_trailer else mtime,
            filesize=len(entry.data),
            rdev=entry.rdev,
            namesize=len(name),
        )
        emit(head + name + _pad(HEADER_SIZE + len(name)))
        emit(entry.data + _pad(len(entry.data)))
    return total
