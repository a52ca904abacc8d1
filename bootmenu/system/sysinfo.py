"""What the menu's system information screen (``s``) shows, and rebooting into firmware setup.

Reads the firmware type (``/sys/firmware/efi``), the Secure Boot state (the ``SecureBoot`` and
``SetupMode`` EFI variables, through :mod:`bootmenu.system.efivars`), the kernel lockdown mode
(:func:`bootmenu.system.syscalls.lockdown`) and memory (``/proc/meminfo``); disks and
filesystems come from the core's view.  Each reader takes its path so tests can point it
elsewhere; nothing here raises for a missing or odd file: the screen says "unknown" instead.

Reboot into firmware setup: UEFI 2.x defines bit ``EFI_OS_INDICATIONS_BOOT_TO_FW_UI`` (0x1) of
the ``OsIndications`` variable; the firmware says it understands it in ``OsIndicationsSupported``.
:func:`firmware_setup_unavailable` says why it cannot be used, :func:`request_firmware_setup`
sets the bit (the caller then reboots), as ``systemctl reboot --firmware-setup`` does.
"""

from __future__ import annotations

import logging
import os
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from bootmenu.errors import FormatError
from bootmenu.model import Volume
from bootmenu.system import efivars, syscalls
from bootmenu.system.sysfs import EFI_DIR
from efi.variables import DEFAULT_ATTRIBUTES, EFI_GLOBAL_VARIABLE, EfiVariable

if TYPE_CHECKING:
    from bootmenu.model import Device

log = logging.getLogger(__name__)

MEMINFO: Final = Path("/proc/meminfo")
EFI_OS_INDICATIONS_BOOT_TO_FW_UI: Final = 0x0000000000000001
_U64: Final = struct.Struct("<Q")


@dataclass(frozen=True)
class StorageRow:
    """One disk, partition or ``--root`` filesystem as the screen lists it."""

    device: str
    size: int | None
    fstype: str | None
    label: str | None
    state: str  # "usable", "locked", … (DeviceState values), "directory" for --root
    note: str | None = None  # why it is not usable, or where a --root directory is


@dataclass(frozen=True)
class SystemInfo:
    firmware: str  # "UEFI (64-bit)", "BIOS (or firmware without UEFI runtime services)"
    secure_boot: str  # "enabled", "disabled", "setup mode", "unknown (…)", "not applicable"
    lockdown: str  # "none", "integrity", "confidentiality", "not available (…)"
    memory_total: int | None  # bytes
    memory_available: int | None
    firmware_setup: str | None  # None: "reboot into firmware setup" works; else why not
    kernel: str  # the running kernel's release
    machine: str
    storage: tuple[StorageRow, ...] = ()


# --- pure parts ---------------------------------------------------------------------------


def parse_meminfo(text: str) -> tuple[int | None, int | None]:
    """MemTotal and MemAvailable from ``/proc/meminfo`` text, in bytes (None when missing)."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        words = rest.split()
        if not words or not words[0].isdigit():
            continue
        scale = 1024 if len(words) > 1 and words[1].lower() == "kb" else 1
        values[key.strip()] = int(words[0]) * scale
    return values.get("MemTotal"), values.get("MemAvailable", values.get("MemFree"))


def describe_secure_boot(secure_boot: bytes | None, setup_mode: bytes | None) -> str:
    """The Secure Boot state from the data of the SecureBoot and SetupMode variables."""
    if setup_mode is not None and setup_mode[:1] == b"\x01":
        return "setup mode (no platform key enrolled: nothing is enforced)"
    if secure_boot is None:
        return "unknown (the firmware has no SecureBoot variable)"
    if secure_boot[:1] == b"\x01":
        return "enabled"
    if secure_boot[:1] == b"\x00":
        return "disabled"
    return f"unknown (SecureBoot is {secure_boot.hex() or 'empty'})"


def storage_rows(devices: Sequence[Device], volumes: Sequence[Volume]) -> tuple[StorageRow, ...]:
    """Discovered block devices (all of them, also those bootmenu cannot use), or, when there
    are none (``--root``), the filesystems scanned."""
    if devices:
        return tuple(
            StorageRow(d.devnode, d.size, d.fstype, d.label or d.partlabel, d.state.value, d.reason)
            for d in devices
        )
    return tuple(
        StorageRow(v.name, None, v.fstype, v.label, "directory", str(v.path)) for v in volumes
    )


# --- reading the machine ------------------------------------------------------------------


def _read_variable(name: str, directory: str) -> bytes | None:
    try:
        var = efivars.read(name, EFI_GLOBAL_VARIABLE, directory=directory)
    except (OSError, FormatError) as e:
        log.debug("EFI variable %s: %s", name, e)
        return None
    return None if var is None else var.data


def _u64(data: bytes | None) -> int | None:
    if data is None or len(data) < _U64.size:
        return None
    return int(_U64.unpack_from(data, 0)[0])


PRINTK = Path("/proc/sys/kernel/printk")


def console_loglevel(level: int | None = None, *, path: Path | None = None) -> int | None:
    """The kernel's console log level (the first number of ``/proc/sys/kernel/printk``: kernel
    messages more urgent than it are printed on the consoles); with ``level``, set it first.
    Returns the level before; None when it cannot be read or set (logged)."""
    path = PRINTK if path is None else path
    try:
        fields = path.read_text().split()
        before = int(fields[0])
        if level is not None:
            path.write_text(f"{level}\n")
    except (OSError, ValueError, IndexError) as e:
        log.debug("the console log level: %s", e)
        return None
    return before


def init_system(*, environ: Mapping[str, str] | None = None, proc: Path = Path("/proc")) -> str:
    """Who runs the machine: ``"initramfs"`` (bootmenu's own /init: bootmenu may jump itself;
    ``BOOTMENU_INITRAMFS=1``, which /init exports), ``"systemd"`` (PID 1 is systemd: it stops
    the services and unmounts before a kexec or reboot) or ``"other"``."""
    environ = os.environ if environ is None else environ
    flag = environ.get("BOOTMENU_INITRAMFS", "").strip().lower()
    if flag and flag not in ("0", "no", "false"):
        return "initramfs"
    try:
        comm = (proc / "1" / "comm").read_text().strip()
    except OSError:
        return "other"
    return "systemd" if comm == "systemd" else "other"


def firmware_type(efi_dir: Path = EFI_DIR) -> str:
    if not efi_dir.is_dir():
        return "BIOS (or firmware without UEFI runtime services)"
    try:
        bits = (efi_dir / "fw_platform_size").read_text().strip()
    except OSError:
        return "UEFI"
    return f"UEFI ({bits}-bit)" if bits.isdigit() else "UEFI"


def firmware_setup_unavailable(
    *, efi_dir: Path = EFI_DIR, efivars_dir: str = efivars.EFIVARFS
) -> str | None:
    """None when the firmware can be asked to show its setup on the next boot; else why not."""
    if not efi_dir.is_dir():
        return "the machine did not boot through UEFI"
    if not efivars.available(directory=efivars_dir):
        return "EFI variables cannot be read (efivarfs is not mounted)"
    supported = _u64(_read_variable("OsIndicationsSupported", efivars_dir))
    if supported is None:
        return "the firmware does not say it supports OsIndications"
    if not supported & EFI_OS_INDICATIONS_BOOT_TO_FW_UI:
        return "the firmware does not offer booting into its setup (OsIndicationsSupported)"
    return None


def request_firmware_setup(*, efivars_dir: str = efivars.EFIVARFS) -> None:
    """Set the boot-to-firmware-UI bit of ``OsIndications``, keeping the other bits.

    Raises OSError when the variable cannot be written."""
    current = _u64(_read_variable("OsIndications", efivars_dir)) or 0
    data = _U64.pack(current | EFI_OS_INDICATIONS_BOOT_TO_FW_UI)
    efivars.write(
        EfiVariable("OsIndications", EFI_GLOBAL_VARIABLE, DEFAULT_ATTRIBUTES, data),
        directory=efivars_dir,
    )


def collect(
    *,
    devices: Sequence[Device] = (),
    volumes: Sequence[Volume] = (),
    efi_dir: Path = EFI_DIR,
    efivars_dir: str = efivars.EFIVARFS,
    meminfo: Path = MEMINFO,
    lockdown_file: Path = syscalls.LOCKDOWN,
) -> SystemInfo:
    """Everything the system information screen shows."""
    if efi_dir.is_dir():
        secure_boot = describe_secure_boot(
            _read_variable("SecureBoot", efivars_dir), _read_variable("SetupMode", efivars_dir)
        )
    else:
        secure_boot = "not applicable (no UEFI)"
    mode = syscalls.lockdown(lockdown_file)
    if mode is None:
        lockdown = "not available (no lockdown LSM, or securityfs is not mounted)"
    else:
        lockdown = mode
    try:
        total, available = parse_meminfo(meminfo.read_text())
    except OSError:
        total = available = None
    uname = os.uname()
    return SystemInfo(
        firmware=firmware_type(efi_dir),
        secure_boot=secure_boot,
        lockdown=lockdown,
        memory_total=total,
        memory_available=available,
        firmware_setup=firmware_setup_unavailable(efi_dir=efi_dir, efivars_dir=efivars_dir),
        kernel=uname.release,
        machine=uname.machine,
        storage=storage_rows(devices, volumes),
    )
