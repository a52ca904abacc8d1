"""The data that crosses layers: boot entries and image reports.

Everything here is a frozen dataclass or a ``StrEnum`` whose value is the JSON value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any


class Kind(StrEnum):
    """How an entry is started."""

    LINUX = "linux"  # a Linux kernel (bzImage / EFI stub) plus initrds and a command line
    UKI = "uki"  # a Unified Kernel Image (type 2): kernel, initrd and cmdline in one PE
    MULTIBOOT = "multiboot"  # a Multiboot 1/2 kernel with modules (Xen, Fiwix, …)
    EFI = "efi"  # an EFI application (Windows Boot Manager, Haiku, shim, …)


class Source(StrEnum):
    """Where an entry was found."""

    BLS = "bls"
    UKI = "uki"
    GRUB = "grub"
    SYSLINUX = "syslinux"
    EFI_REMOVABLE = "efi-removable"
    WINDOWS = "windows"
    HAIKU = "haiku"
    MULTIBOOT = "multiboot"
    FIRMWARE = "firmware"
    CUSTOM = "custom"


@dataclass(frozen=True)
class Module:
    """A Multiboot module: a file and the command line it is given."""

    path: str
    cmdline: str = ""


@dataclass(frozen=True)
class BootEntry:
    """One thing that can be booted.

    ``root`` names the filesystem the kernel lives on (a ``--root`` directory, or later a
    discovered partition); ``kernel``, ``initrd`` and module paths are paths inside that
    filesystem with a leading ``/``.  An entry with ``problems`` is not bootable; each problem is
    a sentence shown to the user.
    """

    id: str
    title: str
    kind: Kind
    source: Source
    root: str
    kernel: str
    initrd: tuple[str, ...] = ()
    cmdline: str = ""
    modules: tuple[Module, ...] = ()
    version: str | None = None
    default: bool = False
    tries_left: int | None = None
    tries_done: int | None = None
    architecture: str | None = None
    problems: tuple[str, ...] = ()
    # Where the entry was defined (config file path inside ``config_root``), for the user.
    origin: str | None = None
    config_root: str | None = None
    devicetree: str | None = None
    sort_key: str | None = None
    machine_id: str | None = None
    # Multiboot protocol version (1 or 2) for Kind.MULTIBOOT.
    multiboot: int | None = None

    @property
    def bootable(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        """The JSON object documented for ``bootmenu list --json``."""
        return {
            "id": self.id,
            "title": self.title,
            "kind": self.kind.value,
            "source": self.source.value,
            "root": self.root,
            "kernel": self.kernel,
            "initrd": list(self.initrd),
            "cmdline": self.cmdline,
            "modules": [{"path": m.path, "cmdline": m.cmdline} for m in self.modules],
            "version": self.version,
            "default": self.default,
            "tries_left": self.tries_left,
            "tries_done": self.tries_done,
            "architecture": self.architecture,
            "bootable": self.bootable,
            "problems": list(self.problems),
            "origin": self.origin,
        }


@dataclass(frozen=True)
class ImageInfo:
    """What a validator found in one image file (kernel, EFI application, initrd…).

    ``format`` names the container (``pe``, ``bzimage``, ``elf``, ``initrd``…); ``kind`` says how
    it would be booted (a :class:`Kind` value, ``"initrd"``, or None when it cannot be told);
    ``architecture`` is a Linux machine name; ``signed`` is None where signatures do not apply.
    ``problems`` are sentences; ``details`` is a JSON-serialisable mapping for ``inspect``.
    """

    format: str
    kind: str | None
    architecture: str | None
    signed: bool | None = None
    problems: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)


# Filesystems whose names are case-insensitive (FAT, the ESP, and ISO 9660 with Joliet).
CASE_INSENSITIVE_FS = frozenset(
    {"vfat", "msdos", "fat", "exfat", "iso9660", "udf", "ntfs", "ntfs3"}
)


@dataclass(frozen=True)
class Volume:
    """A filesystem bootmenu reads: ``name`` is how it is shown (``--root`` directory or device),
    ``path`` where its root directory is visible to us."""

    name: str
    path: Path
    fstype: str | None = None
    uuid: str | None = None
    label: str | None = None
    partuuid: str | None = None
    partlabel: str | None = None
    # GPT partition type GUID, lower case (the ESP is c12a7328-f81f-11d2-ba4b-00a0c93ec93b).
    parttype: str | None = None
    # The whole disk the filesystem is on (its devnode; None for a --root directory).
    disk: str | None = None
    # What kind of removable media it is on ("USB", "SD card", "CD/DVD", "removable disk"), or
    # None for a fixed disk: automatic boot never chooses those (autoboot_removable).
    media: str | None = None
    # Whether the owner trusts this volume's disk: the disk bootmenu was started from, one named
    # by disk_config_from, or a --root directory. Only those may supply settings
    # (/bootmenu.toml), and only their entries may boot files of another disk automatically.
    trusted: bool = False

    @property
    def shown_name(self) -> str:
        """How the menu names it: its label, else its name."""
        return self.label or self.partlabel or self.name

    @property
    def case_insensitive(self) -> bool:
        return (self.fstype or "").lower() in CASE_INSENSITIVE_FS


class DeviceKind(StrEnum):
    DISK = "disk"
    PARTITION = "partition"


class DeviceState(StrEnum):
    """What bootmenu does with a block device."""

    USABLE = "usable"  # a filesystem bootmenu mounts and scans
    LOCKED = "locked"  # encrypted (LUKS, BitLocker): shown as locked
    UNSUPPORTED = "unsupported"  # part of a volume manager, RAID or pool
    SKIPPED = "skipped"  # nothing to look at: swap, empty, partitioned disk, RAM disk…
    UNKNOWN = "unknown"  # a filesystem type bootmenu cannot mount
    FAILED = "failed"  # usable, but mounting or scanning it failed (reason says how)


@dataclass(frozen=True)
class Device:
    """One block device as udev describes it, and what bootmenu makes of it."""

    devnode: str
    sys_path: str
    # The whole disk this device is on: the parent disk of a partition, or the device itself.
    disk: str
    kind: DeviceKind
    state: DeviceState
    # A sentence saying why the device is not usable (None when it is).
    reason: str | None = None
    fstype: str | None = None
    fsversion: str | None = None
    uuid: str | None = None
    label: str | None = None
    partuuid: str | None = None
    partlabel: str | None = None
    # GPT type GUID in lower case, or the MBR type as blkid writes it ("0xef").
    parttype: str | None = None
    partnumber: int | None = None
    # The partition table: "gpt" or "dos" (for a partition, the table it is in).
    table: str | None = None
    size: int | None = None  # bytes
    removable: bool = False
    # Removable media the device is on, as the menu names it ("USB", "SD card", "CD/DVD",
    # "removable disk"); None for a fixed disk. Wider than ``removable`` (sysfs), which USB
    # hard disks and SD card readers often do not set.
    media: str | None = None
    bus: str | None = None  # ID_BUS: "ata", "scsi", "usb", "nvme"…
    id_path: str | None = None  # ID_PATH: "pci-0000:00:1f.2-ata-1"
    driver: str | None = None  # the driver of the nearest controller: "ahci", "nvme", "virtio_blk"
    devnum: tuple[int, int] | None = None  # (major, minor)
    # The file behind a loop device (for its partitions: behind their disk).
    backing_file: str | None = None

    @property
    def name(self) -> str:
        return self.devnode.removeprefix("/dev/")

    def volume(self, path: Path) -> Volume:
        """The :class:`Volume` for this device's filesystem, visible at ``path``."""
        return Volume(
            name=self.devnode,
            path=path,
            fstype=self.fstype,
            uuid=self.uuid,
            label=self.label,
            partuuid=self.partuuid,
            partlabel=self.partlabel,
            parttype=self.parttype,
            disk=self.disk,
            media=self.media,
        )


@dataclass(frozen=True)
class DiskBootConfig:
    """What one boot configuration on a disk says about the menu (its own timeout and default).

    bootmenu's own configuration decides first; these apply where it sets nothing.
    """

    volume: str
    source: Source
    origin: str
    timeout: float | None
    default_id: str | None
