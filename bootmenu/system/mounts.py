"""Read-only mounting that never writes to the disk.

A plain ``mount -o ro`` is not enough: ext3/4, XFS, btrfs, f2fs, nilfs2 and reiserfs replay
their journal (or log) on a read-only mount when the filesystem was not unmounted cleanly, and
ext4 may even process its orphan list. That rewrites a disk the user only wanted to boot from,
possibly one that belongs to a hibernated system. Two layers keep the disk unchanged:

1. The filesystem's own "do not recover" option (:func:`mount_options`): ``noload`` for
   ext3/ext4, ``norecovery`` for XFS, f2fs and nilfs2, ``rescue=nologreplay`` for btrfs.
2. BLKROSET on the device before mounting. Every journaling filesystem checks the block
   device's read-only flag at mount time and then refuses recovery (ext4: "write access
   unavailable, cannot proceed"; reiserfs: "device is readonly, unable to replay log") instead of
   writing, and skips orphan cleanup. It is the only protection for reiserfs, which has no
   replay-off option. ``write(2)`` to the device node then fails with EPERM.

The flag is set on the device that is mounted (the partition), not on its parent disk: setting it
on a whole disk makes all its partitions read-only too, which is more than we mean to promise
and would get in the way of tools that legitimately write elsewhere on the disk. The flag is
cleared again after a clean unmount if it was clear before; after a lazy detach it stays set.

With the journal not replayed, the mounted filesystem shows the state of its last checkpoint: a
file written just before a crash may be missing or stale. That is the price of not writing.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Final

from bootmenu.errors import DeviceError
from bootmenu.system import syscalls

log = logging.getLogger("bootmenu.system.mounts")

RUN_DIR: Final = Path("/run/bootmenu")

#: Flags for every mount: read-only, and nothing on it may become a device, setuid or run.
READ_ONLY_FLAGS: Final = (
    syscalls.MS_RDONLY | syscalls.MS_NOSUID | syscalls.MS_NODEV | syscalls.MS_NOEXEC
)

# blkid/udev ID_FS_TYPE -> (type for mount(2), option string). Types not listed are not mounted
# (swap, LVM2_member, crypto_LUKS, linux_raid_member, zfs_member, BitLocker, ...).
_OPTIONS: Final[Mapping[str, tuple[str, str]]] = {
    # No journal: nothing to replay.
    "ext2": ("ext2", ""),
    # "noload": do not load the journal, so do not replay it. Mounted by the ext4 driver, which
    # reads ext3 and is the only driver for it in current kernels.
    "ext3": ("ext4", "noload"),
    "ext4": ("ext4", "noload"),
    # "norecovery" (requires ro): no log recovery. "nouuid": allow two filesystems with the same
    # UUID (a disk and its clone) to be mounted at once.
    "xfs": ("xfs", "norecovery,nouuid"),
    # Do not replay the fsync log tree (requires ro). Linux 5.9+; older kernels call it
    # "nologreplay" and reject "rescue=" with EINVAL.
    "btrfs": ("btrfs", "rescue=nologreplay"),
    # No journal. Read-only mounts do not set the FAT dirty bit. Long names as UTF-8.
    "vfat": ("vfat", "shortname=mixed,utf8"),
    # exFAT sets its VolumeDirty flag only on read-write mounts.
    "exfat": ("exfat", ""),
    # ntfs3 skips $LogFile replay on read-only mounts (blkid calls NTFS "ntfs").
    "ntfs": ("ntfs3", ""),
    "ntfs3": ("ntfs3", ""),
    # f2fs: "norecovery" = ro + disable_roll_forward; on a read-only device it would rather fail
    # with EROFS than recover.
    "f2fs": ("f2fs", "norecovery"),
    # nilfs2: without "norecovery" it writes even on read-only mounts after an unclean shutdown.
    "nilfs2": ("nilfs2", "norecovery"),
    # reiserfs has no replay-off option ("nolog" only stops new journal writes); the BLKROSET
    # flag makes it refuse the replay (EROFS) instead of writing.
    "reiserfs": ("reiserfs", ""),
    # JFS replays its log only in fsck.jfs; the kernel mounts a dirty JFS read-only as is.
    "jfs": ("jfs", ""),
    # Linux does not replay HFS+ journals; a journaled volume is mounted read-only as is.
    "hfsplus": ("hfsplus", ""),
    "hfs": ("hfs", ""),
    # Read-only formats or drivers.
    "iso9660": ("iso9660", ""),
    "udf": ("udf", ""),
    "squashfs": ("squashfs", ""),
    "erofs": ("erofs", ""),
    "befs": ("befs", ""),
}


def mount_options(fstype: str) -> tuple[str, str] | None:
    """The filesystem type to pass to mount(2) and the option string that keeps a read-only
    mount from writing, for a blkid type name; None when bootmenu does not mount that type."""
    return _OPTIONS.get(fstype)


def supported_types() -> tuple[str, ...]:
    """The blkid type names :func:`mount_options` knows, sorted."""
    return tuple(sorted(_OPTIONS))


@dataclass(frozen=True)
class _Mount:
    device: Path
    rdev: int
    mountpoint: Path
    was_readonly: bool


_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]")


def _dir_name(name: str) -> str:
    cleaned = _UNSAFE.sub("_", name).lstrip(".")
    return cleaned[:64] or "fs"


class Mounter:
    """Mounts block devices read-only under a private directory and unmounts them again.

    Use as a context manager; leaving it unmounts everything. The private directory is created
    (mode 0700, by ``mkdtemp``) under ``base``, by default ``/run/bootmenu``.
    """

    def __init__(self, base: str | Path | None = None):
        parent = Path(base) if base is not None else RUN_DIR
        parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.base = Path(tempfile.mkdtemp(prefix="mnt-", dir=parent))
        self._mounts: list[_Mount] = []

    def __enter__(self) -> Mounter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.unmount_all()

    @property
    def mountpoints(self) -> tuple[Path, ...]:
        """Current mountpoints, oldest first."""
        return tuple(m.mountpoint for m in self._mounts)

    def mount(self, device: str | Path, fstype: str, *, name: str) -> Path:
        """Mount ``device`` (a filesystem of blkid type ``fstype``) read-only, nosuid, nodev,
        noexec, with the type's no-recovery option, after setting the device's block-layer
        read-only flag. ``name`` (sanitized, made unique) names the mountpoint directory.

        Raises DeviceError with a sentence such as
        ``"/dev/vda2: cannot mount ext4 read-only: Invalid argument"``.
        """
        device = Path(device)
        options = mount_options(fstype)
        if options is None:
            raise DeviceError(
                f"{device}: bootmenu does not mount {fstype or 'unknown'} filesystems"
            )
        kernel_type, data = options
        try:
            st = os.stat(device)
        except OSError as e:
            raise DeviceError(f"{device}: {e.strerror}") from e
        if not stat.S_ISBLK(st.st_mode):
            raise DeviceError(f"{device}: not a block device")

        earlier = [m for m in self._mounts if m.rdev == st.st_rdev]
        try:
            was_readonly = earlier[0].was_readonly if earlier else syscalls.block_readonly(device)
            syscalls.set_block_readonly(device, True)
        except OSError as e:
            raise DeviceError(f"{device}: cannot make the device read-only: {e.strerror}") from e

        mountpoint = self._new_dir(name)
        try:
            syscalls.mount(device, mountpoint, kernel_type, READ_ONLY_FLAGS, data)
        except OSError as e:
            mountpoint.rmdir()
            if not earlier:
                self._restore(device, was_readonly)
            reason = e.strerror
            if e.errno == errno.ENODEV:
                reason = f"this kernel has no {kernel_type} driver"
            raise DeviceError(f"{device}: cannot mount {fstype} read-only: {reason}") from e
        log.debug("mounted %s (%s, %s) on %s", device, kernel_type, data or "-", mountpoint)
        self._mounts.append(_Mount(device, st.st_rdev, mountpoint, was_readonly))
        return mountpoint

    def unmount(self, mountpoint: Path) -> None:
        """Unmount one filesystem mounted by this Mounter and remove its directory."""
        record = self._find(mountpoint)
        try:
            syscalls.umount(record.mountpoint)
        except OSError as e:
            raise DeviceError(f"{record.mountpoint}: cannot unmount: {e.strerror}") from e
        self._forget(record, detached=False)

    def unmount_all(self) -> None:
        """Unmount everything, newest first, then remove the private directory.

        A busy filesystem is detached lazily (MNT_DETACH) as a last resort: it disappears from
        the tree now and is released when its last file is closed. Raises DeviceError at the end
        if something could not be unmounted at all.
        """
        failures: list[str] = []
        for record in reversed(self._mounts):
            detached = False
            try:
                syscalls.umount(record.mountpoint)
            except OSError as e:
                if e.errno != errno.EINVAL:  # EINVAL: no longer mounted; nothing to do
                    log.warning("%s: %s; detaching it lazily", record.mountpoint, e.strerror)
                    try:
                        syscalls.umount(record.mountpoint, syscalls.MNT_DETACH)
                        detached = True
                    except OSError as e2:
                        failures.append(f"{record.mountpoint}: cannot unmount: {e2.strerror}")
                        continue
            self._forget(record, detached=detached)
        try:
            self.base.rmdir()
        except FileNotFoundError:
            pass
        except OSError as e:
            failures.append(f"{self.base}: cannot remove: {e.strerror}")
        if failures:
            raise DeviceError("; ".join(failures))

    def _find(self, mountpoint: Path) -> _Mount:
        for record in self._mounts:
            if record.mountpoint == Path(mountpoint):
                return record
        raise DeviceError(f"{mountpoint}: not mounted by bootmenu")

    def _forget(self, record: _Mount, *, detached: bool) -> None:
        self._mounts.remove(record)
        try:
            record.mountpoint.rmdir()
        except OSError as e:
            log.warning("%s: cannot remove: %s", record.mountpoint, e.strerror)
        if detached:
            return  # the filesystem may still be alive: leave the device read-only
        if not any(m.rdev == record.rdev for m in self._mounts):
            self._restore(record.device, record.was_readonly)

    def _restore(self, device: Path, was_readonly: bool) -> None:
        if was_readonly:
            return
        try:
            syscalls.set_block_readonly(device, False)
        except OSError as e:
            log.warning("%s: cannot clear the read-only flag: %s", device, e.strerror)

    def _new_dir(self, name: str) -> Path:
        stem = _dir_name(name)
        for n in range(1, 1000):
            path = self.base / (stem if n == 1 else f"{stem}-{n}")
            try:
                path.mkdir(mode=0o700)
            except FileExistsError:
                continue
            return path
        raise DeviceError(f"{self.base}: too many mounts named {name!r}")


# What the kernel says is mounted where (parse_mountinfo reads it; tests give their own text).
MOUNTINFO: Final = Path("/proc/self/mountinfo")


@dataclass(frozen=True)
class MountInfo:
    """One line of ``/proc/self/mountinfo``."""

    devnum: tuple[int, int]
    root: str  # the directory of the filesystem that is mounted ("/" for all of it)
    mountpoint: str
    fstype: str
    source: str


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as ``\\ooo``."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), field)


def parse_mountinfo(text: str) -> tuple[MountInfo, ...]:
    """The mounts listed in ``/proc/<pid>/mountinfo``; malformed lines are skipped."""
    found = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if not sep or len(fields) < 5 or len(tail) < 2:
            continue
        major, _, minor = fields[2].partition(":")
        if not (major.isdigit() and minor.isdigit()):
            continue
        found.append(
            MountInfo(
                devnum=(int(major), int(minor)),
                root=_unescape(fields[3]),
                mountpoint=_unescape(fields[4]),
                fstype=tail[0],
                source=_unescape(tail[1]),
            )
        )
    return tuple(found)
