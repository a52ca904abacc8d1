"""The firmware boot manager's variables: ``Boot####``, ``BootOrder``, ``BootCurrent`` and
``BootNext``, read through efivarfs (:mod:`bootmenu.system.efivars`) and decoded with the
``efi`` codecs.

:func:`read_state` never raises for a variable that is missing or cannot be decoded: it
becomes a warning (or an option with a problem).  Discovery turns the state into menu entries
(:mod:`bootmenu.discover.firmware`); the BootNext hand-off (:mod:`bootmenu.boot.bootnext`) reads
it again to reuse or add an entry.  :func:`entry_id` and :func:`option_number` are the one place
that knows how a firmware entry's id names its variable.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from bootmenu.errors import FormatError
from bootmenu.model import BootEntry, Source
from bootmenu.system import efivars
from efi import devicepath as dp
from efi.devicepath import DevicePath
from efi.loadoption import (
    LoadOption,
    boot_variable_name,
    parse_boot_variable_name,
    parse_load_option,
    parse_u16,
    parse_u16_list,
)
from efi.variables import EFI_GLOBAL_VARIABLE, split_efivarfs_name

ID_PREFIX: Final = "firmware:"


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


def entry_id(number: int) -> str:
    return ID_PREFIX + boot_variable_name(number)


def option_number(entry: BootEntry) -> int | None:
    """The ``Boot####`` number of a firmware entry (None for any other entry)."""
    if entry.source is not Source.FIRMWARE:
        return None
    match = re.fullmatch(re.escape(ID_PREFIX) + r"(Boot[0-9A-F]{4})(@.*)?", entry.id)
    return parse_boot_variable_name(match.group(1)) if match else None
