"""The mount option table: every journaling filesystem is mounted without recovery.

Sources for each option: Documentation/filesystems/{ext4,xfs,f2fs,nilfs2}.rst, btrfs(5)
("rescue=nologreplay", Linux 5.9), ntfs3 log_replay() (skips replay on read-only mounts),
reiserfs journal_read() (refuses replay on a read-only device).
"""

from __future__ import annotations

import pytest

from bootmenu.system import syscalls
from bootmenu.system.mounts import READ_ONLY_FLAGS, mount_options, supported_types


@pytest.mark.parametrize(
    ("fstype", "expected"),
    [
        ("ext4", ("ext4", "noload")),
        ("ext3", ("ext4", "noload")),
        ("ext2", ("ext2", "")),
        ("xfs", ("xfs", "norecovery,nouuid")),
        ("btrfs", ("btrfs", "rescue=nologreplay")),
        ("f2fs", ("f2fs", "norecovery")),
        ("nilfs2", ("nilfs2", "norecovery")),
        ("vfat", ("vfat", "shortname=mixed,utf8")),
        ("ntfs", ("ntfs3", "")),
        ("exfat", ("exfat", "")),
        ("iso9660", ("iso9660", "")),
        ("udf", ("udf", "")),
        ("squashfs", ("squashfs", "")),
        ("erofs", ("erofs", "")),
        ("befs", ("befs", "")),
        ("reiserfs", ("reiserfs", "")),
        ("hfsplus", ("hfsplus", "")),
    ],
)
def test_table(fstype: str, expected: tuple[str, str]) -> None:
    assert mount_options(fstype) == expected


@pytest.mark.parametrize(
    "fstype",
    [
        "swap",
        "LVM2_member",
        "crypto_LUKS",
        "linux_raid_member",
        "zfs_member",
        "BitLocker",
        "",
        "EXT4",
    ],
)
def test_not_mounted(fstype: str) -> None:
    assert mount_options(fstype) is None


@pytest.mark.parametrize("fstype", ["ext3", "ext4", "xfs", "btrfs", "f2fs", "nilfs2"])
def test_every_journal_with_an_off_switch_uses_it(fstype: str) -> None:
    options = mount_options(fstype)
    assert options is not None
    words = set(options[1].split(","))
    assert words & {"noload", "norecovery", "rescue=nologreplay"}, fstype


def test_no_option_asks_for_writes() -> None:
    for fstype in supported_types():
        options = mount_options(fstype)
        assert options is not None
        for word in options[1].split(","):
            assert word not in {"rw", "remount", "recovery", "discard", "errors=remount-ro"}, fstype


def test_read_only_flags() -> None:
    assert READ_ONLY_FLAGS == 0xF  # MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC
    assert READ_ONLY_FLAGS & syscalls.MS_RDONLY


def test_supported_types_is_sorted_and_complete() -> None:
    types = supported_types()
    assert list(types) == sorted(types)
    assert {"ext4", "vfat", "xfs", "btrfs", "iso9660"} <= set(types)
