"""The firmware's own boot entries (``Boot####``, ``BootOrder``, ``BootCurrent``, ``BootNext``)
as menu entries.

:func:`bootmenu.system.bootvars.read_state` reads the variables through efivarfs (the directory
is a parameter, so tests use dumps under ``tests/fixtures/efi/``); :func:`firmware_entries` turns
them into :class:`~bootmenu.model.BootEntry` objects (``source`` firmware, ``kind`` efi):

- an ``HD()/File()`` path is matched to a discovered partition by its partition UUID (GPT) or
  disk signature and number (MBR, udev's ``PARTUUID=SSSSSSSS-PP``), and the loader file is
  validated like any other EFI application;
- network (PXE/HTTP), built-in firmware applications (setup, the UEFI shell), whole devices
  (the firmware boots their removable path) and legacy BIOS entries are shown for what they
  are.  None of them can be started by Linux, but every firmware entry can be chosen as
  ``BootNext`` as it is (see :mod:`bootmenu.boot.bootnext`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, MutableMapping, Sequence
from dataclasses import replace
from typing import Final
from uuid import UUID

from bootmenu.errors import PathError
from bootmenu.model import BootEntry, Kind, Source, Volume
from bootmenu.system.bootvars import FirmwareKind, FirmwareOption, FirmwareState, classify, entry_id
from bootmenu.system.fs import VolumeReader, normalize
from bootmenu.validate import inspect_file
from efi import devicepath as dp
from efi.devicepath import HardDrive
from efi.loadoption import (
    LOAD_OPTION_ACTIVE,
    LoadOption,
    boot_variable_name,
)

log = logging.getLogger(__name__)

FIRMWARE_ROOT: Final = "firmware"
# EDK2's BDS puts this GUID in the optional data of the entries it creates by itself
# (gEdkiiBdsAutoCreatedBootOptionGuid … MdeModulePkg BmBoot.c): OVMF's DVD, disk and PXE ones.
EDK2_AUTO_CREATED: Final = UUID("8108ac4e-9f11-4d59-850e-e21a522c59b2")
# Firmware files of EDK2/OVMF's built-in applications (FvFile() GUIDs).
FIRMWARE_APPS: Final = {
    UUID("462caa21-7614-4503-836e-8ab6f4662331"): "firmware setup",  # UiApp
    UUID("7c04a583-9e3e-4f1c-ad65-e05268d0b4d1"): "UEFI shell",  # ShellPkg
    UUID("eec25bdc-67f2-4d95-b1d5-f81b2039d11d"): "firmware boot menu",  # BootManagerMenuApp
}


_WORDS: Final = {
    FirmwareKind.PARTITION: "removable path of a partition",
    FirmwareKind.DEVICE: "removable media",
    FirmwareKind.NETWORK: "network boot",
    FirmwareKind.FIRMWARE_APP: "firmware application",
    FirmwareKind.LEGACY: "legacy BIOS device",
    FirmwareKind.FILE: "file on the boot device",
    FirmwareKind.OTHER: "firmware entry",
}


def partuuid_of(hd: HardDrive) -> str | None:
    """The partition's ``PARTUUID`` as udev/blkid write it: the GPT partition GUID, or for MBR
    ``SSSSSSSS-PP`` (disk signature and partition number in hex); None without a signature."""
    if isinstance(hd.signature, UUID):
        return str(hd.signature)
    if isinstance(hd.signature, int) and hd.signature_type == dp.SIGNATURE_TYPE_MBR:
        return f"{hd.signature:08x}-{hd.partition:02x}"
    return None


def find_volume(hd: HardDrive, volumes: Iterable[Volume]) -> Volume | None:
    """The volume on the partition an ``HD()`` node names."""
    wanted = partuuid_of(hd)
    if wanted is None:
        return None
    return next((v for v in volumes if (v.partuuid or "").lower() == wanted), None)


ImageCache = MutableMapping[tuple[str, str, str], tuple[str, ...]]


def _validate(
    volume: Volume, path: str, host_arch: str | None, cache: ImageCache | None
) -> tuple[str, ...]:
    key = (volume.name, str(volume.path), path.casefold())
    if cache is not None and key in cache:
        return cache[key]
    try:
        info = inspect_file(VolumeReader(volume), path, expect=Kind.EFI.value, host_arch=host_arch)
        problems = tuple(f"{path}: {p}" for p in info.problems)
    except PathError as e:
        problems = (str(e),)
    if cache is not None:
        cache[key] = problems
    return problems


def _title(option: LoadOption, number: int, kind: FirmwareKind) -> str:
    title = " ".join(option.description.split()) or boot_variable_name(number)
    if kind is FirmwareKind.FIRMWARE_APP and option.path is not None:
        app = next(
            (
                FIRMWARE_APPS.get(UUID(bytes_le=n.data[:16]))
                for n in option.path
                if (n.type, n.subtype) == (dp.MEDIA_DEVICE_PATH, dp.MEDIA_PIWG_FW_FILE_DP)
                and len(n.data) >= 16
            ),
            None,
        )
        title += f" [{app or _WORDS[kind]}]"
    elif kind is not FirmwareKind.DISK_FILE:
        title += f" [{_WORDS[kind]}]"
    if not option.attributes & LOAD_OPTION_ACTIVE:
        title += " (disabled)"
    return title


def firmware_entry(
    fw: FirmwareOption,
    volumes: Sequence[Volume],
    *,
    host_arch: str | None = None,
    validate: bool = True,
    cache: ImageCache | None = None,
) -> BootEntry:
    """The menu entry for one ``Boot####``."""
    name = fw.name
    base = BootEntry(
        id=entry_id(fw.number),
        title=name,
        kind=Kind.EFI,
        source=Source.FIRMWARE,
        root=FIRMWARE_ROOT,
        kernel="",
        origin=f"EFI variable {name}",
    )
    option = fw.option
    if option is None:
        return replace(base, problems=(fw.problem or f"{name} is broken",))
    kind = classify(option.path)
    path = option.path
    text = str(path) if path is not None else "no device path"
    problems: list[str] = []
    root, kernel = FIRMWARE_ROOT, ""
    hd = path.hard_drive if path is not None else None
    if path is None:
        problems.append(f"{name} has no device path")
    elif kind in (FirmwareKind.DISK_FILE, FirmwareKind.PARTITION):
        if hd is None:
            problems.append(f"{name}: its HD() node is malformed")
        else:
            volume = find_volume(hd, volumes)
            partuuid = partuuid_of(hd)
            if volume is None:
                problems.append(
                    f"its partition (PARTUUID={partuuid}) is not on any disk bootmenu can see"
                    if partuuid
                    else "its partition has no signature bootmenu can match"
                )
            else:
                root = volume.name
                if kind is FirmwareKind.DISK_FILE and path.file is not None:
                    kernel = normalize(path.file)
                    if validate:
                        problems.extend(_validate(volume, kernel, host_arch, cache))
    return BootEntry(
        id=base.id,
        title=_title(option, fw.number, kind),
        kind=Kind.EFI,
        source=Source.FIRMWARE,
        root=root,
        kernel=kernel,
        problems=tuple(problems),
        origin=f"EFI variable {name}: {text}",
        config_root=FIRMWARE_ROOT,
    )


def firmware_entries(
    state: FirmwareState,
    volumes: Sequence[Volume],
    *,
    host_arch: str | None = None,
    validate: bool = True,
    cache: ImageCache | None = None,
) -> tuple[BootEntry, ...]:
    """Menu entries for the firmware's ``Boot####`` variables, in ``BootOrder`` order."""
    return tuple(
        firmware_entry(fw, volumes, host_arch=host_arch, validate=validate, cache=cache)
        for fw in state.options
    )


def merge(scanned: Sequence[BootEntry], firmware: Sequence[BootEntry]) -> tuple[BootEntry, ...]:
    """The scanned entries followed by the firmware entries that do not start the same file
    as a scanned one (Windows Boot Manager found on the ESP *and* in ``Boot0000``: the scanned
    entry stays; :mod:`bootmenu.boot.bootnext` reuses the firmware's ``Boot####`` for it)."""
    seen = {(e.root, e.kernel.casefold()) for e in scanned if e.kind is Kind.EFI and e.kernel}
    extra = tuple(e for e in firmware if not (e.kernel and (e.root, e.kernel.casefold()) in seen))
    return (*scanned, *extra)
