"""Raw system calls bootmenu needs and Python's standard library lacks.

Thin wrappers: each checks the C return value for ``< 0`` and raises
``OSError(errno, os.strerror(errno), what)``. Callers turn those into sentences.

Nothing here decides policy; see :mod:`bootmenu.system.mounts` for read-only mounting and the boot
code for when to kexec.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import platform
import struct
from collections.abc import Sequence
from pathlib import Path

# <linux/kexec.h>
KEXEC_FILE_UNLOAD = 0x00000001
KEXEC_FILE_ON_CRASH = 0x00000002
KEXEC_FILE_NO_INITRAMFS = 0x00000004

# __NR_kexec_file_load per architecture (platform.machine() names). asm-generic is 294.
SYS_KEXEC_FILE_LOAD = {
    "x86_64": 320,
    "aarch64": 294,
    "riscv64": 294,
    "loongarch64": 294,
    "ppc64le": 382,
    "ppc64": 382,
    "s390x": 381,
}

# <linux/reboot.h>; libc's reboot(3) passes the two magic numbers for us.
LINUX_REBOOT_MAGIC1 = 0xFEE1DEAD
LINUX_REBOOT_MAGIC2 = 672274793
LINUX_REBOOT_CMD_RESTART = 0x01234567
LINUX_REBOOT_CMD_HALT = 0xCDEF0123
LINUX_REBOOT_CMD_POWER_OFF = 0x4321FEDC
LINUX_REBOOT_CMD_KEXEC = 0x45584543

# <linux/mount.h>
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_BIND = 4096
MS_REC = 16384
MS_SILENT = 32768
MS_PRIVATE = 1 << 18
MNT_FORCE = 1
MNT_DETACH = 2
MNT_EXPIRE = 4
UMOUNT_NOFOLLOW = 8

# <linux/fs.h>: _IO(0x12, 93) and _IO(0x12, 94); the argument is a pointer to int.
BLKROSET = 0x125D
BLKROGET = 0x125E

KEXEC_LOADED = Path("/sys/kernel/kexec_loaded")
LOCKDOWN = Path("/sys/kernel/security/lockdown")

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.mount.argtypes = [
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_ulong,
    ctypes.c_char_p,
]
_libc.mount.restype = ctypes.c_int
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.umount2.restype = ctypes.c_int
_libc.reboot.argtypes = [ctypes.c_int]
_libc.reboot.restype = ctypes.c_int


def _raise(what: str | None) -> None:
    err = ctypes.get_errno()
    raise OSError(err, os.strerror(err), what)


def _kexec_file_load_nr() -> int:
    machine = platform.machine()
    try:
        return SYS_KEXEC_FILE_LOAD[machine]
    except KeyError:
        raise OSError(
            errno.ENOSYS, f"kexec_file_load is not known on {machine}", "kexec_file_load"
        ) from None


def kexec_file_load(kernel_fd: int, initrd_fd: int | None, cmdline: str, flags: int = 0) -> None:
    """Load a kernel (and initrd) for a later ``reboot(LINUX_REBOOT_CMD_KEXEC)``.

    The kernel reads both files itself and checks the kernel's signature when lockdown or
    KEXEC_SIG_FORCE demand it. ``initrd_fd=None`` adds KEXEC_FILE_NO_INITRAMFS. The command line
    is passed with its terminating NUL, as the kernel requires.
    """
    data = cmdline.encode()
    if b"\0" in data:
        raise ValueError("kernel command line contains a NUL character")
    if initrd_fd is None:
        flags |= KEXEC_FILE_NO_INITRAMFS
        initrd_fd = -1
    ret = _libc.syscall(
        ctypes.c_long(_kexec_file_load_nr()),
        ctypes.c_long(kernel_fd),
        ctypes.c_long(initrd_fd),
        ctypes.c_ulong(len(data) + 1),
        ctypes.c_char_p(data),
        ctypes.c_ulong(flags),
    )
    if ret < 0:
        _raise("kexec_file_load")


# __NR_kexec_load per architecture (only x86_64 is used: the EFI payload).
SYS_KEXEC_LOAD = {"x86_64": 246, "aarch64": 104, "riscv64": 104}
KEXEC_ARCH_DEFAULT = 0
KEXEC_SEGMENT_MAX = 16


class _KexecSegment(ctypes.Structure):
    # <linux/kexec.h> struct kexec_segment
    _fields_ = [
        ("buf", ctypes.c_void_p),
        ("bufsz", ctypes.c_size_t),
        ("mem", ctypes.c_void_p),
        ("memsz", ctypes.c_size_t),
    ]


def kexec_load(entry: int, segments: list[tuple[bytes, int, int]], flags: int = 0) -> None:
    """kexec_load(2): load raw ``segments`` — (data, physical address, memory size), each
    page-aligned — for a later ``reboot(LINUX_REBOOT_CMD_KEXEC)`` that jumps to ``entry``.
    Refused (EPERM) under lockdown."""
    machine = platform.machine()
    if machine not in SYS_KEXEC_LOAD:
        raise OSError(errno.ENOSYS, f"kexec_load is not known on {machine}", "kexec_load")
    if len(segments) > KEXEC_SEGMENT_MAX:
        raise ValueError(f"kexec_load takes at most {KEXEC_SEGMENT_MAX} segments")
    buffers = [ctypes.create_string_buffer(data, len(data)) for data, _, _ in segments]
    array = (_KexecSegment * len(segments))(
        *(
            _KexecSegment(ctypes.cast(buf, ctypes.c_void_p), len(data), mem, memsz)
            for buf, (data, mem, memsz) in zip(buffers, segments, strict=True)
        )
    )
    ret = _libc.syscall(
        ctypes.c_long(SYS_KEXEC_LOAD[machine]),
        ctypes.c_ulong(entry),
        ctypes.c_ulong(len(segments)),
        array,
        ctypes.c_ulong(flags | KEXEC_ARCH_DEFAULT),
    )
    if ret < 0:
        _raise("kexec_load")


def kexec_unload() -> None:
    """Forget a kernel loaded with :func:`kexec_file_load`."""
    ret = _libc.syscall(
        ctypes.c_long(_kexec_file_load_nr()),
        ctypes.c_long(-1),
        ctypes.c_long(-1),
        ctypes.c_ulong(0),
        ctypes.c_char_p(None),
        ctypes.c_ulong(KEXEC_FILE_UNLOAD),
    )
    if ret < 0:
        _raise("kexec_file_load")


def kexec_loaded(path: Path = KEXEC_LOADED) -> bool:
    """Whether a kernel is loaded for kexec. False when the kernel has no kexec at all."""
    try:
        return path.read_text().strip() == "1"
    except FileNotFoundError:
        return False


def reboot(cmd: int) -> None:
    """reboot(2): restart, power off, or jump into the kexec-loaded kernel. Call :func:`sync`
    first; on success (except for CAD switches) this does not return."""
    if _libc.reboot(cmd) < 0:
        _raise("reboot")


def mount(
    source: str | Path, target: str | Path, fstype: str | None, flags: int, data: str | None
) -> None:
    """mount(2). ``data`` is the filesystem's option string (``"noload"``)."""
    ret = _libc.mount(
        os.fsencode(source),
        os.fsencode(target),
        fstype.encode() if fstype is not None else None,
        flags,
        data.encode() if data else None,
    )
    if ret < 0:
        _raise(os.fspath(source))


def umount(target: str | Path, flags: int = 0) -> None:
    """umount2(2); ``flags`` may be MNT_DETACH, MNT_FORCE, UMOUNT_NOFOLLOW."""
    if _libc.umount2(os.fsencode(target), flags) < 0:
        _raise(os.fspath(target))


def set_block_readonly(dev: str | Path, ro: bool = True) -> None:
    """Set or clear the block layer's read-only flag of ``dev`` (BLKROSET).

    Filesystems check this flag when mounting and then refuse journal replay and other
    writes; ``write(2)`` to the device node fails with EPERM. It applies to this device and
    the partitions of it, not to its parent disk. The flag stays set until cleared, even across
    a loop device's detach and re-attach.
    """
    fd = os.open(dev, os.O_RDONLY | os.O_CLOEXEC)
    try:
        fcntl.ioctl(fd, BLKROSET, struct.pack("i", 1 if ro else 0))
    except OSError as e:
        raise OSError(e.errno, e.strerror, os.fspath(dev)) from None
    finally:
        os.close(fd)


def block_readonly(dev: str | Path) -> bool:
    """Whether the block device ``dev`` is read-only (BLKROGET)."""
    fd = os.open(dev, os.O_RDONLY | os.O_CLOEXEC)
    try:
        out = fcntl.ioctl(fd, BLKROGET, struct.pack("i", 0))
    except OSError as e:
        raise OSError(e.errno, e.strerror, os.fspath(dev)) from None
    finally:
        os.close(fd)
    (value,) = struct.unpack("i", out)
    return bool(value)


def memfd(name: str, data: bytes | Sequence[bytes]) -> int:
    """An anonymous in-memory file holding ``data`` (or its parts one after the other: several
    initrds are written in turn, never joined into one more copy in memory), positioned at 0,
    for kexec_file_load.

    The returned descriptor is read-only and close-on-exec, and the file is sealed: the kernel's
    ``kernel_read_file`` refuses (ETXTBSY) a file that anyone still has open for writing, so the
    writable descriptor used to fill it is closed before returning. The caller closes the result.
    """
    wfd = os.memfd_create(name, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    try:
        for part in [data] if isinstance(data, bytes) else data:
            view = memoryview(part)
            while view:
                written = os.write(wfd, view)
                view = view[written:]
        fcntl.fcntl(
            wfd,
            fcntl.F_ADD_SEALS,
            fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE | fcntl.F_SEAL_SEAL,
        )
        rfd = os.open(f"/proc/self/fd/{wfd}", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(wfd)
    return rfd


def lockdown(path: Path = LOCKDOWN) -> str | None:
    """The kernel lockdown mode ("none", "integrity", "confidentiality"), or None when the
    kernel has no lockdown LSM (or securityfs is not mounted)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    for word in text.split():
        if word.startswith("[") and word.endswith("]"):
            return word[1:-1]
    return None


def sync() -> None:
    """sync(2): flush every filesystem before reboot or kexec."""
    os.sync()
