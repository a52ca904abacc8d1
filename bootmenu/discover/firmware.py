"""The firmware's own boot entries (``Boot####``, ``BootOrder``, ``BootCurrent``, ``BootNext``)
as menu entries.

:func:`read_state` reads the variables through efivarfs (the directory is a parameter, so
tests use dumps under ``tests/fixtures/efi/``); :func:`firmware_entries` turns them into
:class:`~bootmenu.model.BootEntry` objects (``source`` firmware, ``kind`` efi):

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
import os
import re
from collections.abc import Iterable, MutableMapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Final
from uuid import UUID

from bootmenu.errors import FormatError, PathError
from bootmenu.model import BootEntry, Kind, Source
from bootmenu.system import efivars
from bootmenu.system.fs import MAX_IMAGE_SIZE, Volume, VolumeReader, normalize
from bootmenu.validate import inspect_image
from efi import devicepath as dp
from efi.devicepath import DevicePath, HardDrive
from efi.loadoption import (
    LOAD_OPTION_ACTIVE,
    LoadOption,
    boot_variable_name,
    parse_boot_variable_name,
    parse_load_option,
    parse_u16,
    parse_u16_list,
)
from efi.variables import EFI_GLOBAL_VARIABLE, split_efivarfs_name

log = logging.getLogger(__name__)

ID_PREFIX: Final = "firmware:"
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


class FirmwareKind(StrEnum):
    """What a firmware boot entry starts."""

    DISK_FILE = "disk-file"  # HD()/File(): a loader on a partition
    PARTITION = "partition"  # HD() alone: the partition's removable-path loader
    DEVICE = "device"  # a whole disk, DVD or USB stick: its removable-path loader
    NETWORK = "network"  # PXE or HTTP boot
    FIRMWARE_APP = "firmware-app"  # an application inside the firmware (setup, shell)
    LEGACY = "legacy"  # a BIOS (CSM) boot device
    FILE = "file"  # File() without a device: relative to the firmware's boot device
    OTHER = "other"


_WORDS: Final = {
    FirmwareKind.PARTITION: "removable path of a partition",
    FirmwareKind.DEVICE: "removable media",
    FirmwareKind.NETWORK: "network boot",
    FirmwareKind.FIRMWARE_APP: "firmware application",
    FirmwareKind.LEGACY: "legacy BIOS device",
    FirmwareKind.FILE: "file on the boot device",
    FirmwareKind.OTHER: "firmware entry",
}


def classify(path: DevicePath | None) -> FirmwareKind:
    """What the device path of a load option points at."""
    if path is None:
        return FirmwareKind.OTHER
    has_file = path.has(dp.MEDIA_DEVICE_PATH, dp.MEDIA_FILEPATH_DP)
    if path.has(dp.MEDIA_DEVICE_PATH, dp.MEDIA_HARDDRIVE_DP):
        return FirmwareKind.DISK_FILE if has_file else FirmwareKind.PARTITION
    if path.has(dp.MEDIA_DEVICE_PATH, dp.MEDIA_PIWG_FW_FILE_DP):
        return FirmwareKind.FIRMWARE_APP
    if path.has(dp.BBS_DEVICE_PATH):
        return FirmwareKind.LEGACY
    network = (dp.MSG_MAC_ADDR_DP, dp.MSG_IPv4_DP, dp.MSG_IPv6_DP, dp.MSG_URI_DP)
    if any(n.type == dp.MESSAGING_DEVICE_PATH and n.subtype in network for n in path):
        return FirmwareKind.NETWORK
    if has_file and len(path.nodes) == sum(
        1 for n in path if (n.type, n.subtype) == (dp.MEDIA_DEVICE_PATH, dp.MEDIA_FILEPATH_DP)
    ):
        return FirmwareKind.FILE
    if path.nodes and all(
        n.type in (dp.HARDWARE_DEVICE_PATH, dp.ACPI_DEVICE_PATH, dp.MESSAGING_DEVICE_PATH)
        or (n.type, n.subtype) == (dp.MEDIA_DEVICE_PATH, dp.MEDIA_CDROM_DP)
        for n in path
    ):
        return FirmwareKind.DEVICE
    return FirmwareKind.OTHER


@dataclass(frozen=True)
class FirmwareOption:
    """One ``Boot####`` variable: its number, decoded option (None when it could not be
    read), and what went wrong."""

    number: int
    option: LoadOption | None
    problem: str | None = None

    @property
    def name(self) -> str:
        return boot_variable_name(self.number)

    @property
    def kind(self) -> FirmwareKind:
        return classify(self.option.path if self.option else None)


@dataclass(frozen=True)
class FirmwareState:
    """The firmware boot manager's variables: every ``Boot####`` (``BootOrder`` ones first,
    in that order, then the others by number), ``BootOrder``, ``BootCurrent``, ``BootNext``."""

    options: tuple[FirmwareOption, ...] = ()
    boot_order: tuple[int, ...] = ()
    boot_current: int | None = None
    boot_next: int | None = None
    warnings: tuple[str, ...] = ()

    def option(self, number: int) -> FirmwareOption | None:
        return next((o for o in self.options if o.number == number), None)


def _read_number(name: str, directory: str | os.PathLike[str], warnings: list[str]) -> int | None:
    try:
        var = efivars.read(name, EFI_GLOBAL_VARIABLE, directory=directory)
        return None if var is None else parse_u16(var.data, what=f"EFI variable {name}")
    except (OSError, FormatError) as e:
        warnings.append(f"EFI variable {name} ignored: {e}")
        return None


def boot_numbers(directory: str | os.PathLike[str] = efivars.EFIVARFS) -> tuple[int, ...]:
    """The numbers of the ``Boot####`` variables that exist, in order."""
    numbers = []
    for filename in os.listdir(directory):
        try:
            name, vendor = split_efivarfs_name(filename)
        except FormatError:
            continue
        number = parse_boot_variable_name(name)
        if vendor == EFI_GLOBAL_VARIABLE and number is not None:
            numbers.append(number)
    return tuple(sorted(numbers))


def read_state(directory: str | os.PathLike[str] = efivars.EFIVARFS) -> FirmwareState:
    """Read the boot manager's variables.  A variable that cannot be read or decoded is a
    warning (or an option with a problem), never an exception."""
    warnings: list[str] = []
    if not efivars.available(directory=directory):
        return FirmwareState()
    order: tuple[int, ...] = ()
    try:
        var = efivars.read("BootOrder", EFI_GLOBAL_VARIABLE, directory=directory)
        if var is not None:
            order = parse_u16_list(var.data, what="EFI variable BootOrder")
    except (OSError, FormatError) as e:
        warnings.append(f"EFI variable BootOrder ignored: {e}")
    try:
        numbers = boot_numbers(directory)
    except OSError as e:
        warnings.append(f"the EFI variables cannot be listed: {e.strerror}")
        numbers = ()
    options: list[FirmwareOption] = []
    for number in (*dict.fromkeys(n for n in order if n in numbers), *numbers):
        if any(o.number == number for o in options):
            continue
        name = boot_variable_name(number)
        try:
            var = efivars.read(name, EFI_GLOBAL_VARIABLE, directory=directory)
            if var is None:
                continue
            option = parse_load_option(var.data, what=f"EFI variable {name}")
            options.append(FirmwareOption(number, option))
        except (OSError, FormatError) as e:
            options.append(FirmwareOption(number, None, f"{name} cannot be read: {e}"))
    missing = [boot_variable_name(n) for n in order if n not in numbers]
    if missing:
        warnings.append(f"BootOrder names entries that do not exist: {', '.join(missing)}")
    return FirmwareState(
        options=tuple(options),
        boot_order=order,
        boot_current=_read_number("BootCurrent", directory, warnings),
        boot_next=_read_number("BootNext", directory, warnings),
        warnings=tuple(warnings),
    )


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


def entry_id(number: int) -> str:
    return ID_PREFIX + boot_variable_name(number)


def option_number(entry: BootEntry) -> int | None:
    """The ``Boot####`` number of a firmware entry (None for any other entry)."""
    if entry.source is not Source.FIRMWARE:
        return None
    match = re.fullmatch(re.escape(ID_PREFIX) + r"(Boot[0-9A-F]{4})(@.*)?", entry.id)
    return parse_boot_variable_name(match.group(1)) if match else None


ImageCache = MutableMapping[tuple[str, str, str], tuple[str, ...]]


def _validate(
    volume: Volume, path: str, host_arch: str | None, cache: ImageCache | None
) -> tuple[str, ...]:
    key = (volume.name, str(volume.path), path.casefold())
    if cache is not None and key in cache:
        return cache[key]
    try:
        data = VolumeReader(volume).read(path, limit=MAX_IMAGE_SIZE)
        info = inspect_image(data, expect=Kind.EFI.value, host_arch=host_arch)
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
