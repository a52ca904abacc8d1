"""Whole disks and where partitions are on them, from sysfs and the disk itself (read-only).

``bootmenu install`` finds the EFI System Partition with these, without udev: which disk a
partition is on and its number (sysfs), and the bytes of the disk's GPT, read through a
read-only descriptor (parsed by :mod:`bootmenu.formats.gpt`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from bootmenu.errors import DeviceError
from bootmenu.system.sysfs import SECTOR, SYS_CLASS_BLOCK


@dataclass(frozen=True)
class PartitionOf:
    """Where a partition is: its disk's devnode and its number on it."""

    disk: str
    number: int


def partition_of(devnode: str, *, sys_block: Path = SYS_CLASS_BLOCK) -> PartitionOf | None:
    """The disk and number of the partition ``devnode``; None when it is not a partition."""
    where = sys_block / Path(devnode).name
    try:
        number = int((where / "partition").read_text())
    except (OSError, ValueError):
        return None
    disk = Path(os.path.realpath(where)).parent.name
    return PartitionOf(f"/dev/{disk}", number)


def whole_disks(*, sys_block: Path = SYS_CLASS_BLOCK) -> list[str]:
    """The devnodes of the machine's disks that can hold a partition table (not loop, RAM,
    zram or device-mapper devices), in name order."""
    names = []
    try:
        entries = sorted(sys_block.iterdir())
    except OSError:
        return []
    for entry in entries:
        name = entry.name
        if name.startswith(("loop", "ram", "zram", "dm-", "sr", "md")):
            continue
        if (entry / "partition").exists():
            continue
        names.append(f"/dev/{name}")
    return names


def block_size(disk: str, *, sys_block: Path = SYS_CLASS_BLOCK) -> int:
    """The logical block size of ``disk`` (the unit of its partition table's LBAs)."""
    try:
        return int((sys_block / Path(disk).name / "queue" / "logical_block_size").read_text())
    except (OSError, ValueError):
        return SECTOR


def read_device(devnode: str, offset: int, size: int) -> bytes:
    """``size`` bytes at ``offset`` of a block device, through a read-only descriptor.
    DeviceError when it cannot be read."""
    try:
        fd = os.open(devnode, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise DeviceError(f"{devnode}: cannot open it to read: {e.strerror}") from e
    try:
        return os.pread(fd, size, offset)
    except OSError as e:
        raise DeviceError(f"{devnode}: cannot read it: {e.strerror}") from e
    finally:
        os.close(fd)
