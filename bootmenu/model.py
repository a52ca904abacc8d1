"""The data that crosses layers: boot entries and image reports.

Everything here is a frozen dataclass or a ``StrEnum`` whose value is the JSON value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
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
