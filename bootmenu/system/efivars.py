"""Reading and writing UEFI variables through efivarfs.

This is the one module that touches ``/sys/firmware/efi/efivars``; every function takes the
directory as ``directory=`` so tests can use a temporary directory instead.

Two efivarfs rules shape the code:

- A variable must be written with a single ``write()`` of attributes and data together.
- Since Linux 4.6, variables that are not on the kernel's list of well-known ones (systemd-boot's
  ``Loader*`` variables among them) have the immutable flag (``FS_IMMUTABLE_FL``) set so that
  ``rm -rf /`` cannot delete them. To change or delete one, the flag is cleared first with
  ``FS_IOC_SETFLAGS`` and restored afterwards, as systemd does.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import platform
import struct
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Final
from uuid import UUID

from bootmenu.errors import FormatError
from efi.variables import (
    DEFAULT_ATTRIBUTES,
    EFI_GLOBAL_VARIABLE,
    SYSTEMD_BOOT_VENDOR,
    EfiVariable,
    decode_utf16_string,
    efivarfs_name,
    encode_utf16_string,
)

log = logging.getLogger(__name__)

EFIVARFS: Final = "/sys/firmware/efi/efivars"

# systemd-boot's variables that choose what boots (the Boot Loader Interface).
LOADER_ENTRY_DEFAULT: Final = "LoaderEntryDefault"
LOADER_ENTRY_ONESHOT: Final = "LoaderEntryOneShot"
LOADER_CONFIG_TIMEOUT: Final = "LoaderConfigTimeout"
LOADER_CONFIG_TIMEOUT_ONESHOT: Final = "LoaderConfigTimeoutOneShot"
SYSTEMD_BOOT_SETTINGS: Final = (
    LOADER_CONFIG_TIMEOUT,
    LOADER_CONFIG_TIMEOUT_ONESHOT,
    LOADER_ENTRY_DEFAULT,
    LOADER_ENTRY_ONESHOT,
)
# The partition (its GPT unique GUID) the running loader or UKI was read from: systemd-boot and
# systemd-stub set it (the stub only when no loader did before it).
LOADER_DEVICE_PART_UUID: Final = "LoaderDevicePartUUID"
# systemd-boot deletes these as soon as it has read them.
ONESHOT_VARIABLES: Final = (LOADER_ENTRY_ONESHOT, LOADER_CONFIG_TIMEOUT_ONESHOT)

FS_IMMUTABLE_FL: Final = 0x00000010  # include/uapi/linux/fs.h
# Errors meaning "this filesystem has no inode flags" (tmpfs before Linux 6.0, …).
_NO_FLAGS: Final = frozenset({errno.ENOTTY, errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS})

# The kernel's inode flags are an int even though the ioctl numbers are declared with "long".
_FLAGS: Final = struct.Struct("i")


def _ioc(direction: str, kind: str, number: int, size: int) -> int:
    """The Linux _IOC() encoding; powerpc, mips, sparc and alpha use a different layout."""
    if platform.machine().startswith(("ppc", "powerpc", "mips", "sparc", "alpha")):
        dirs, size_bits = {"r": 2, "w": 4}, 13
    else:
        dirs, size_bits = {"r": 2, "w": 1}, 14
    return (dirs[direction] << (16 + size_bits)) | (size << 16) | (ord(kind) << 8) | number


_LONG: Final = struct.calcsize("l")
FS_IOC_GETFLAGS: Final = _ioc("r", "f", 1, _LONG)
FS_IOC_SETFLAGS: Final = _ioc("w", "f", 2, _LONG)


def available(*, directory: str | os.PathLike[str] = EFIVARFS) -> bool:
    """Whether UEFI variables can be read: efivarfs is mounted (so we booted via UEFI)."""
    return os.path.isdir(directory) and os.access(directory, os.R_OK | os.X_OK)


def read(
    name: str, vendor: UUID, *, directory: str | os.PathLike[str] = EFIVARFS
) -> EfiVariable | None:
    """The variable ``name`` of ``vendor``, or None when it does not exist.

    Raises FormatError when the file is too short to be a variable and OSError when it cannot
    be read.
    """
    filename = efivarfs_name(name, vendor)
    try:
        # efivarfs files report a size, but read until EOF rather than trusting it.
        raw = Path(directory, filename).read_bytes()
    except FileNotFoundError:
        return None
    return EfiVariable.parse(filename, raw)


def get_flags(fd: int) -> int:
    """The inode flags (``FS_*_FL``) of an open file; OSError when the filesystem has none."""
    (flags,) = _FLAGS.unpack(fcntl.ioctl(fd, FS_IOC_GETFLAGS, _FLAGS.pack(0)))
    return int(flags)


def set_flags(fd: int, flags: int) -> None:
    """Set the inode flags of an open file (needs CAP_LINUX_IMMUTABLE for the immutable one)."""
    fcntl.ioctl(fd, FS_IOC_SETFLAGS, _FLAGS.pack(flags))


@contextlib.contextmanager
def _mutable(path: Path) -> Iterator[None]:
    """Clear FS_IMMUTABLE_FL on ``path`` (if it exists and has it) and restore it afterwards."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        yield
        return
    try:
        try:
            flags = get_flags(fd)
        except OSError as e:
            if e.errno not in _NO_FLAGS:
                raise
            flags = 0
        if flags & FS_IMMUTABLE_FL:
            set_flags(fd, flags & ~FS_IMMUTABLE_FL)
        try:
            yield
        finally:
            # Not after a successful delete: the flag of an unlinked inode does not matter.
            if flags & FS_IMMUTABLE_FL and os.path.lexists(path):
                try:
                    set_flags(fd, flags)
                except OSError as e:  # the variable merely stays unprotected
                    log.warning("%s: could not restore the immutable flag: %s", path, e)
    finally:
        os.close(fd)


def write(var: EfiVariable, *, directory: str | os.PathLike[str] = EFIVARFS) -> None:
    """Create or replace a variable, clearing and restoring its immutable flag around the write.

    Raises OSError when the firmware or the kernel refuses (read-only efivarfs, no space in
    NVRAM, a variable that must be authenticated…).
    """
    path = Path(directory, var.filename)
    payload = bytes(var)
    with _mutable(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
        try:
            # One write() call: efivarfs takes attributes and data together or not at all.
            written = os.write(fd, payload)
            # efivarfs replaces the whole variable and sets the file size itself (so no
            # O_TRUNC, as systemd does); an ordinary directory standing in for it needs this.
            if written == len(payload) and os.fstat(fd).st_size > written:
                os.ftruncate(fd, written)
        finally:
            os.close(fd)
    if written != len(payload):
        raise OSError(
            errno.EIO, f"short write ({written} of {len(payload)} bytes) to EFI variable", path
        )
    log.debug("wrote EFI variable %s (%d bytes of data)", var.filename, len(var.data))


def write_string(
    name: str,
    vendor: UUID,
    value: str,
    *,
    attributes: int = DEFAULT_ATTRIBUTES,
    directory: str | os.PathLike[str] = EFIVARFS,
) -> None:
    """Set a string variable the way systemd does (UTF-16LE with a NUL terminator)."""
    write(EfiVariable(name, vendor, attributes, encode_utf16_string(value)), directory=directory)


def delete(name: str, vendor: UUID, *, directory: str | os.PathLike[str] = EFIVARFS) -> bool:
    """Delete a variable; returns False when it did not exist."""
    path = Path(directory, efivarfs_name(name, vendor))
    try:
        with _mutable(path):
            path.unlink()
    except FileNotFoundError:
        return False
    log.debug("deleted EFI variable %s", path.name)
    return True


def systemd_boot_settings(*, directory: str | os.PathLike[str] = EFIVARFS) -> Mapping[str, str]:
    """The systemd-boot variables that are set and readable, by name, as strings.

    Keys are among ``LoaderConfigTimeout``, ``LoaderConfigTimeoutOneShot``,
    ``LoaderEntryDefault`` and ``LoaderEntryOneShot``. Variables that cannot be read or decoded
    are left out with a warning in the log: a broken variable must not stop the boot.
    """
    found: dict[str, str] = {}
    if not available(directory=directory):
        return found
    for name in SYSTEMD_BOOT_SETTINGS:
        try:
            var = read(name, SYSTEMD_BOOT_VENDOR, directory=directory)
            if var is None:
                continue
            value = decode_utf16_string(var.data, what=f"EFI variable {name}")
        except (OSError, FormatError) as e:
            log.warning("EFI variable %s ignored: %s", name, e)
            continue
        if value:
            found[name] = value
    return found


def boot_partuuid(*, directory: str | os.PathLike[str] = EFIVARFS) -> str | None:
    """The PARTUUID (lower case) of the partition bootmenu's UKI was started from
    (``LoaderDevicePartUUID``), or None when it is not set or cannot be read (logged)."""
    if not available(directory=directory):
        return None
    try:
        var = read(LOADER_DEVICE_PART_UUID, SYSTEMD_BOOT_VENDOR, directory=directory)
        if var is None:
            return None
        value = decode_utf16_string(var.data, what=f"EFI variable {LOADER_DEVICE_PART_UUID}")
    except (OSError, FormatError) as e:
        log.warning("EFI variable %s ignored: %s", LOADER_DEVICE_PART_UUID, e)
        return None
    try:
        return str(UUID(value.strip()))
    except ValueError:
        log.warning("EFI variable %s ignored: %r is not a GUID", LOADER_DEVICE_PART_UUID, value)
        return None


def secure_boot_enabled(*, directory: str | os.PathLike[str] = EFIVARFS) -> bool:
    """Whether the firmware's ``SecureBoot`` variable says Secure Boot is on."""
    try:
        var = read("SecureBoot", EFI_GLOBAL_VARIABLE, directory=directory)
    except (OSError, FormatError):
        return False
    return var is not None and var.data[:1] == b"\x01"


def consume_oneshot(*, directory: str | os.PathLike[str] = EFIVARFS) -> tuple[str, ...]:
    """Delete ``LoaderEntryOneShot`` and ``LoaderConfigTimeoutOneShot``, as systemd-boot does once
    it has read them, so that they apply to one boot only. Returns the names deleted.

    Raises OSError when a variable exists but cannot be deleted.
    """
    return tuple(
        name for name in ONESHOT_VARIABLES if delete(name, SYSTEMD_BOOT_VENDOR, directory=directory)
    )
