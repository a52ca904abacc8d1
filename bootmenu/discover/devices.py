"""Block devices as udev describes them, and what bootmenu makes of each (pure).

:func:`classify` turns a block device's udev properties (and a few sysfs facts) into a
:class:`~bootmenu.model.Device` with a :class:`~bootmenu.model.DeviceState`: ``usable`` (a
filesystem bootmenu mounts), ``locked`` (encrypted), ``unsupported`` (LVM, RAID and ZFS
members…), ``skipped`` (swap, empty, a partitioned whole disk, loop/zram/RAM disks…),
``unknown`` (a filesystem bootmenu cannot read); ``failed`` (mounting or scanning went wrong)
is set by :class:`~bootmenu.discover.monitor.Discovery`, never here.  Also: the order of
devices in the machine (:func:`sys_path_key`, :func:`natural_key`), udev's escapes
(:func:`udev_decode`), ``UUID=``/``LABEL=``… specs (:func:`matches`) and where a device is
already mounted (:func:`find_mount`).  No udev, no I/O: the monitor calls these.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Final

from bootmenu.model import Device, DeviceKind, DeviceState
from bootmenu.system.mounts import MountInfo, mount_options

# MBR partition types of extended partitions (containers for logical partitions).
EXTENDED_TYPES = frozenset({"0x5", "0xf", "0x85"})


# Partitions that carry no filesystem by design, by GPT type GUID or MBR type.
_NO_FS_PARTITIONS: Mapping[str, str] = {
    "21686148-6449-6e6f-744e-656564454649": "a BIOS boot partition (it holds GRUB's core image, "
    "no filesystem)",
    "e3c9e316-0b5c-4db8-817d-f92df00215ae": "a Microsoft reserved partition (no filesystem)",
    "0x82": "marked as Linux swap, but no swap signature was found",
}


# blkid types that are parts of something larger, with what to tell the user.
_MEMBERS: Mapping[str, str] = {
    "LVM2_member": "an LVM physical volume; its logical volumes appear once the volume group "
    "is activated",
    "linux_raid_member": "a member of a Linux software RAID (md) array; the assembled array "
    "is scanned instead",
    "zfs_member": "part of a ZFS pool, which bootmenu cannot read",
    "mpath_member": "a path of a multipath device; the multipath device is scanned instead",
    "bcache": "a bcache device; the assembled bcache device is scanned instead",
    "ceph_bluestore": "a Ceph BlueStore device, which bootmenu cannot read",
    "VMFS_volume_member": "part of a VMware VMFS volume, which bootmenu cannot read",
    "drbd": "a DRBD device, which bootmenu cannot read directly",
    "DM_integrity": "a dm-integrity device; the opened device is scanned instead",
    "DM_verity_hash": "dm-verity hash data, not a filesystem",
}


_LOCKED: Mapping[str, str] = {
    "crypto_LUKS": "encrypted with LUKS",
    "BitLocker": "encrypted with BitLocker (a Windows volume)",
}


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that puts ``/dev/loop2`` before ``/dev/loop10`` and ``sda`` before ``sdb``."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", text) if part
    )


_PCI_FUNCTION = re.compile(r"[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]")


def sys_path_key(path: str) -> tuple[tuple[tuple[int, int | str], ...], ...]:
    """Sort key for sysfs device paths: PCI functions (fixed-width hex, ``0000:00:1f.2``) in
    address order, other components in natural order (``ata2`` before ``ata10``)."""
    return tuple(
        ((-1, part),) if _PCI_FUNCTION.fullmatch(part) else natural_key(part)
        for part in path.strip("/").split("/")
    )


def udev_decode(value: str) -> str:
    """Undo udev's ``\\xNN`` encoding (``EFI\\x20System`` -> ``EFI System``)."""
    if "\\x" not in value:
        return value
    raw = re.sub(
        rb"\\x([0-9a-fA-F]{2})",
        lambda m: bytes([int(m[1], 16)]),
        value.encode("utf-8", "surrogateescape"),
    )
    return raw.decode("utf-8", "replace")


def int_or_none(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


# Every udev property classify() and removable_media() read, and DEVLINKS (the device's
# names).  Discovery fetches these one by one (one libudev call each) instead of every
# property a device has (three per property, some 30 per partition): under TCG that walk was
# half of the time a partition took to discover.  tests/unit/test_discover_classify.py checks
# that classify() reads nothing else.
UDEV_PROPERTIES: Final = (
    "DEVNAME", "DEVTYPE", "DEVLINKS", "MAJOR", "MINOR", "PARTN",
    "ID_FS_TYPE", "ID_FS_USAGE", "ID_FS_VERSION", "ID_FS_UUID", "ID_FS_LABEL", "ID_FS_LABEL_ENC",
    "ID_PART_TABLE_TYPE", "ID_PART_ENTRY_SCHEME", "ID_PART_ENTRY_TYPE", "ID_PART_ENTRY_UUID",
    "ID_PART_ENTRY_NAME", "ID_PART_ENTRY_NUMBER",
    "ID_BUS", "ID_PATH", "ID_CDROM", "ID_DRIVE_FLASH_SD",
    "DM_NAME", "DM_SUSPENDED", "DM_UDEV_DISABLE_OTHER_RULES_FLAG",
)  # fmt: skip


def _nonempty(value: str | None) -> str | None:
    return value if value else None


def removable_media(
    properties: Mapping[str, str],
    devnode: str,
    *,
    removable: bool = False,
    mmc_type: str | None = None,
) -> str | None:
    """What kind of removable media a block device is on, as the menu names it, or None for a
    fixed disk: a CD/DVD drive, anything on USB (sticks, card readers, USB hard disks: sysfs's
    ``removable`` is often 0 for them), an SD card (an ``mmcblk`` device whose card is not
    soldered eMMC: sysfs ``device/type`` is ``SD``), or a disk whose sysfs ``removable`` is 1."""
    short = devnode.removeprefix("/dev/")
    if re.fullmatch(r"sr\d+", short) or properties.get("ID_CDROM") == "1":
        return "CD/DVD"
    if properties.get("ID_BUS") == "usb" or "-usb-" in properties.get("ID_PATH", ""):
        return "USB"
    if re.match(r"mmcblk\d+", short) and (mmc_type or "SD") != "MMC":
        return "SD card"
    if properties.get("ID_DRIVE_FLASH_SD") == "1":
        return "SD card"
    if removable:
        return "removable disk"
    return None


def classify(
    properties: Mapping[str, str],
    *,
    sys_path: str = "",
    size: int | None = None,
    removable: bool = False,
    has_partitions: bool = False,
    disk: str | None = None,
    backing_file: str | None = None,
    driver: str | None = None,
    mmc_type: str | None = None,
    removable_filesystems: Collection[str] | None = None,
) -> Device:
    """Describe a block device from its udev properties (``udevadm info --query=property``)
    and a few sysfs facts: ``size`` in bytes, ``removable`` (of its disk), ``has_partitions``
    (a disk with partition devices), ``disk`` (the parent disk's devnode, for a partition),
    ``backing_file`` (of a loop device, or of a loop partition's disk), ``driver`` (of its
    controller) and ``mmc_type`` (sysfs ``device/type`` of an ``mmcblk`` disk).

    A filesystem on removable media (:func:`removable_media`) whose type is not in
    ``removable_filesystems`` (None: any type) is ``unsupported``: a stick's filesystem is
    untrusted input to a kernel driver, so only the types the owner lists are mounted."""
    p = properties
    name = p.get("DEVNAME", "") or os.path.basename(sys_path)
    devnode = name if name.startswith("/") else f"/dev/{name}"
    short = devnode.removeprefix("/dev/")
    kind = DeviceKind.PARTITION if p.get("DEVTYPE") == "partition" else DeviceKind.DISK
    fstype = _nonempty(p.get("ID_FS_TYPE"))
    usage = p.get("ID_FS_USAGE", "")
    parttype = _nonempty(p.get("ID_PART_ENTRY_TYPE", "").lower())
    table = _nonempty(p.get("ID_PART_ENTRY_SCHEME") or p.get("ID_PART_TABLE_TYPE"))
    label = p.get("ID_FS_LABEL_ENC") or p.get("ID_FS_LABEL")
    partlabel = p.get("ID_PART_ENTRY_NAME")
    major, minor = int_or_none(p.get("MAJOR")), int_or_none(p.get("MINOR"))
    base = Device(
        devnode=devnode,
        sys_path=sys_path,
        disk=disk or devnode,
        kind=kind,
        state=DeviceState.USABLE,
        fstype=fstype,
        fsversion=_nonempty(p.get("ID_FS_VERSION")),
        uuid=_nonempty(p.get("ID_FS_UUID")),
        label=_nonempty(udev_decode(label)) if label else None,
        partuuid=_nonempty(p.get("ID_PART_ENTRY_UUID", "").lower()),
        partlabel=_nonempty(udev_decode(partlabel)) if partlabel else None,
        parttype=parttype,
        partnumber=int_or_none(p.get("ID_PART_ENTRY_NUMBER") or p.get("PARTN")),
        table=table,
        size=size,
        removable=removable,
        bus=_nonempty(p.get("ID_BUS")),
        id_path=_nonempty(p.get("ID_PATH")),
        driver=driver,
        devnum=(major, minor) if major is not None and minor is not None else None,
        backing_file=backing_file or None,
        media=removable_media(p, devnode, removable=removable, mmc_type=mmc_type),
    )

    def verdict(state: DeviceState, reason: str | None = None) -> Device:
        return replace(base, state=state, reason=reason)

    skipped = DeviceState.SKIPPED
    # Devices that are not disks at all.
    if kind == DeviceKind.DISK:
        if re.fullmatch(r"zram\d+", short):
            return verdict(skipped, f"{short} is compressed memory (swap or scratch space)")
        if re.fullmatch(r"ram\d+", short):
            return verdict(skipped, f"{short} is a RAM disk")
        if re.fullmatch(r"loop\d+", short) and not backing_file and not size:
            return verdict(skipped, f"{short} is a loop device with no file attached")
        if short.startswith("dm-"):
            dm_name = p.get("DM_NAME", short)
            if p.get("DM_SUSPENDED") == "1":
                return verdict(skipped, f"the device-mapper device {dm_name} is suspended")
            if p.get("DM_UDEV_DISABLE_OTHER_RULES_FLAG") == "1":
                return verdict(
                    skipped,
                    f"the device-mapper device {dm_name} is internal to LVM or device-mapper "
                    "and not meant to be read",
                )
    if size == 0:
        return verdict(skipped, "the device is empty (no medium)")
    if table == "dos" and parttype in EXTENDED_TYPES and kind == DeviceKind.PARTITION:
        return verdict(skipped, "an extended partition (a container for logical partitions)")
    if kind == DeviceKind.DISK and (has_partitions or (table and not fstype)):
        return verdict(skipped, "the disk is partitioned; its partitions are listed on their own")
    if fstype is None:
        known = _NO_FS_PARTITIONS.get(parttype or "")
        return verdict(skipped, known or "no filesystem was found on it")
    if fstype == "swap":
        return verdict(skipped, "swap space")
    if fstype == "swsuspend":
        return verdict(skipped, "swap space holding a hibernated system")
    if usage == "crypto" or fstype in _LOCKED:
        what = _LOCKED.get(fstype, f"encrypted ({fstype})")
        if fstype == "crypto_LUKS" and base.fsversion:
            what = f"encrypted with LUKS{base.fsversion}"
        return verdict(DeviceState.LOCKED, what)
    if fstype in _MEMBERS:
        return verdict(DeviceState.UNSUPPORTED, _MEMBERS[fstype])
    if usage == "raid" or fstype.endswith("_raid_member"):
        return verdict(
            DeviceState.UNSUPPORTED, f"a member of a RAID set ({fstype}), not a filesystem"
        )
    if usage == "other":
        return verdict(DeviceState.UNSUPPORTED, f"{fstype} data, not a filesystem")
    if mount_options(fstype) is None:
        return verdict(DeviceState.UNKNOWN, f"bootmenu cannot read {fstype} filesystems")
    if base.media and removable_filesystems is not None and fstype not in removable_filesystems:
        allowed = ", ".join(removable_filesystems) or "none"
        return verdict(
            DeviceState.UNSUPPORTED,
            f"{fstype} on {base.media} media is not mounted: only {allowed} are mounted from "
            "removable media (removable_filesystems)",
        )
    return base


def find_mount(
    device: Device, mounts: Iterable[MountInfo], *, exclude: Path | None = None
) -> MountInfo | None:
    """Where ``device``'s whole filesystem is already mounted (not by us: mounts under
    ``exclude`` are ignored), matching major:minor or, for btrfs whose mounts show an anonymous
    device number, the source device; None when it is not mounted, or only a subdirectory."""
    for m in mounts:
        if m.root != "/":
            continue
        if exclude is not None and Path(m.mountpoint).is_relative_to(exclude):
            continue
        if (device.devnum is not None and m.devnum == device.devnum) or m.source == device.devnode:
            return m
    return None


SPEC_PREFIXES = ("UUID=", "PARTUUID=", "LABEL=", "PARTLABEL=")


def matches(spec: str, device: Device, *, links: Iterable[str] = ()) -> bool:
    """Whether ``device`` is the one ``spec`` names: ``UUID=``, ``PARTUUID=``, ``LABEL=``,
    ``PARTLABEL=`` or a device path (its devnode, or one of its udev ``links``)."""
    key, sep, value = spec.partition("=")
    if sep and f"{key}=" in SPEC_PREFIXES:
        value = value.strip('"')
        if key == "UUID":
            return device.uuid is not None and device.uuid.lower() == value.lower()
        if key == "PARTUUID":
            return device.partuuid is not None and device.partuuid == value.lower()
        if key == "LABEL":
            return device.label == value
        return device.partlabel == value
    return spec == device.devnode or spec in links


def trusted(
    devices: Iterable[Device],
    *,
    boot_partuuid: str | None,
    specs: Iterable[str] = (),
) -> tuple[frozenset[str], tuple[str, ...]]:
    """The devnodes of the filesystems the owner trusts, and warnings.

    Trusted are every partition of the disk bootmenu was started from (the partition whose
    PARTUUID systemd-stub put in ``LoaderDevicePartUUID``: ``boot_partuuid``) and the devices
    ``specs`` name (``disk_config_from``). A name two devices answer to trusts neither: a
    stick can copy a label, a UUID or even a PARTUUID, and the owner's one must not lose to it.
    """
    devices = list(devices)
    found: set[str] = set()
    warnings: list[str] = []
    if boot_partuuid:
        wanted = boot_partuuid.lower()
        boot = [d for d in devices if d.partuuid == wanted]
        if len(boot) == 1:
            found.update(d.devnode for d in devices if d.disk == boot[0].disk)
        elif len(boot) > 1:
            names = ", ".join(d.devnode for d in boot)
            warnings.append(
                f"the partition bootmenu was started from (PARTUUID={wanted}, "
                f"LoaderDevicePartUUID) is on more than one device ({names}): none is trusted"
            )
    for spec in specs:
        named = [d for d in devices if matches(spec, d)]
        if len(named) == 1:
            found.add(named[0].devnode)
        elif len(named) > 1:
            names = ", ".join(d.devnode for d in named)
            warnings.append(
                f"disk_config_from: {spec} names more than one device ({names}): none is trusted"
            )
    return frozenset(found), tuple(warnings)
