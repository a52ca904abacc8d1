"""``bootmenu install`` and ``bootmenu remove``: bootmenu's UKI on the ESP, and its Boot#### entry.

From a running Linux (docs/install.md):

1. The EFI System Partition is found: ``--esp DIR``, else the first of ``/efi``, ``/boot/efi``
   and ``/boot`` that is a mounted FAT filesystem on a GPT partition of the ESP type, else the one
   ESP partition of the machine's disks, mounted for the time of the command.
2. The UKI is checked (a PE image with a ``.linux`` section, for this machine's architecture;
   refused unsigned while Secure Boot is on), then copied to ``\\EFI\\bootmenu\\bootmenu.efi``
   (written beside it and renamed over it; skipped when the file is already the same) and, with
   ``--systemd-boot``, also to ``\\EFI\\Linux\\bootmenu.efi`` where systemd-boot lists UKIs.
3. A ``Boot####`` entry "bootmenu" with the path ``HD(…)/File(\\EFI\\bootmenu\\bootmenu.efi)``
   (as efibootmgr writes it; no optional data, which systemd-stub would take for a command line)
   is created, or the existing one that starts that file is kept. It is added last to
   ``BootOrder`` (``--first``: put first; ``--once``: not added, ``BootNext`` set to it so that
   the firmware tries it on the next boot only). No other entry is changed.

``remove`` deletes exactly that: the ``Boot####`` entries that start
``\\EFI\\bootmenu\\bootmenu.efi`` on the ESP, their numbers in ``BootOrder`` and ``BootNext``,
and the copied files.  Both are idempotent; ``--dry-run`` says what would be done and changes
nothing.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

from bootmenu import arch
from bootmenu.boot import bootnext
from bootmenu.errors import BootmenuError, FormatError, HandoffError
from bootmenu.formats import gpt
from bootmenu.system import bootvars, disks, efivars, syscalls
from bootmenu.system.mounts import MOUNTINFO, parse_mountinfo
from bootmenu.units import size_text
from bootmenu.validate import inspect_pe
from efi.devicepath import DevicePath, hd_file_path
from efi.loadoption import LOAD_OPTION_ACTIVE, LoadOption, boot_variable_name, encode_u16_list
from efi.loadoption import encode_u16 as encode_number
from efi.variables import EFI_GLOBAL_VARIABLE, EfiVariable

ESP_MOUNTPOINTS: Final = ("/efi", "/boot/efi", "/boot")
INSTALL_PATH: Final = "/EFI/bootmenu/bootmenu.efi"
SYSTEMD_BOOT_PATH: Final = "/EFI/Linux/bootmenu.efi"
TITLE: Final = "bootmenu"
FAT_TYPES: Final = frozenset({"vfat", "msdos"})
# Room left on the ESP beyond the UKI (other loaders update their files there too).
SPARE: Final = 1 << 20


class InstallError(BootmenuError):
    """Why bootmenu cannot be installed or removed, as a sentence."""


class Placement(StrEnum):
    LAST = "last"  # added last to BootOrder
    FIRST = "first"  # first in BootOrder
    ONCE = "once"  # not in BootOrder; BootNext tries it once


@dataclass(frozen=True)
class Esp:
    mountpoint: Path
    devnode: str
    partuuid: str | None
    mounted_here: bool = False  # mounted by this command (unmounted when it ends)


# -- the ESP -----------------------------------------------------------------------------------


def gpt_partitions(disk: str) -> tuple[gpt.Partition, ...]:
    """The partitions the GPT of ``disk`` lists.  DeviceError when it cannot be read,
    FormatError when it has no GPT."""
    block = disks.block_size(disk)
    header = gpt.parse_header(disks.read_device(disk, block, block))
    return gpt.parse_entries(
        disks.read_device(disk, header.entries_lba * block, header.entries_bytes), header
    )


def partition_entry(devnode: str) -> gpt.Partition | None:
    """The GPT entry of the partition ``devnode``, or None (not a partition, not on a GPT
    disk, or the disk cannot be read)."""
    where = disks.partition_of(devnode)
    if where is None:
        return None
    try:
        parts = gpt_partitions(where.disk)
    except (BootmenuError, FormatError):
        return None
    return next((p for p in parts if p.number == where.number), None)


def _esp_type(devnode: str) -> gpt.Partition | None:
    entry = partition_entry(devnode)
    return entry if entry is not None and entry.type == gpt.ESP_TYPE else None


def find_esp(explicit: Path | None = None, *, mountinfo: Path = MOUNTINFO) -> Esp | None:
    """The mounted ESP (see the module), or None when none is mounted.  InstallError when
    ``explicit`` is not a mounted FAT filesystem."""
    mounts = parse_mountinfo(mountinfo.read_text())
    places = [explicit] if explicit is not None else [Path(p) for p in ESP_MOUNTPOINTS]
    for place in places:
        target = str(place.resolve())
        mount = next((m for m in reversed(mounts) if m.mountpoint == target), None)
        if mount is None or mount.root != "/":
            if explicit is not None:
                raise InstallError(f"{explicit} is not the mount point of a filesystem")
            continue
        if mount.fstype not in FAT_TYPES:
            if explicit is not None:
                raise InstallError(
                    f"{explicit} is a {mount.fstype} filesystem; an ESP is FAT (vfat)"
                )
            continue
        entry = _esp_type(mount.source)
        if entry is None and explicit is None:
            continue  # a FAT /boot that is not an ESP
        partuuid = str(entry.uuid) if entry is not None else None
        return Esp(Path(target), mount.source, partuuid)
    return None


def unmounted_esps() -> list[tuple[str, gpt.Partition]]:
    """ESP partitions on the machine's disks (devnode, GPT entry)."""
    found = []
    for disk in disks.whole_disks():
        try:
            parts = gpt_partitions(disk)
        except (BootmenuError, FormatError):
            continue
        for p in parts:
            if p.type == gpt.ESP_TYPE:
                sep = "p" if disk[-1].isdigit() else ""
                found.append((f"{disk}{sep}{p.number}", p))
    return found


@contextlib.contextmanager
def esp(explicit: Path | None = None, *, dry_run: bool = False) -> Iterator[Esp]:
    """The ESP to work on, mounted for the time of the block when it was not mounted."""
    found = find_esp(explicit)
    if found is not None:
        yield found
        return
    candidates = unmounted_esps()
    if not candidates:
        raise InstallError(
            "no EFI System Partition was found: none is mounted at /efi, /boot/efi or /boot, "
            "and no disk has a GPT partition of the ESP type (is this a UEFI machine? give the "
            "ESP's mount point with --esp)"
        )
    if len(candidates) > 1:
        names = ", ".join(d for d, _ in candidates)
        raise InstallError(f"the machine has several ESPs ({names}): mount one and give --esp")
    devnode, entry = candidates[0]
    with tempfile.TemporaryDirectory(prefix="bootmenu-esp-") as scratch:
        if dry_run:
            yield Esp(Path(scratch), devnode, str(entry.uuid), mounted_here=True)
            return
        try:
            syscalls.mount(devnode, scratch, "vfat", syscalls.MS_NOSUID | syscalls.MS_NODEV, None)
        except OSError as e:
            raise InstallError(f"{devnode} (the ESP) cannot be mounted: {e.strerror}") from e
        try:
            yield Esp(Path(scratch), devnode, str(entry.uuid), mounted_here=True)
        finally:
            syscalls.umount(scratch)


# -- files -------------------------------------------------------------------------------------


def check_uki(data: bytes, *, host_arch: str | None, efivars_dir: str) -> None:
    """InstallError unless ``data`` is a UKI this machine can start."""
    try:
        info = inspect_pe(data)
    except FormatError as e:
        raise InstallError(f"the file is not an EFI image: {e}") from e
    if info.kind != "uki":
        raise InstallError("the file is not a UKI (a PE image with a .linux section)")
    host = host_arch or arch.host()
    if info.architecture and info.architecture != host:
        raise InstallError(f"the UKI is built for {info.architecture}, this machine is {host}")
    if info.problems:
        raise InstallError(f"the UKI cannot start: {info.problems[0]}")
    if not info.signed and efivars.secure_boot_enabled(directory=efivars_dir):
        raise InstallError(
            "Secure Boot is on and the UKI is not signed, so the firmware would refuse to start "
            "it: sign it with a key the firmware trusts (sbsign), or turn Secure Boot off"
        )


def _on_esp(esp_: Esp, path: str) -> Path:
    return esp_.mountpoint / path.lstrip("/")


def _same_file(path: Path, data: bytes) -> bool:
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False


def _copy(data: bytes, target: Path) -> None:
    """Write ``target`` beside itself, flush it, and rename it over (never half a file)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    new = target.with_name(target.name + ".new")
    with open(new, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(new, target)


def _free(mountpoint: Path) -> int:
    st = os.statvfs(mountpoint)
    return st.f_bavail * st.f_frsize


# -- the Boot#### entry ------------------------------------------------------------------------


def _path(esp_: Esp) -> DevicePath:
    try:
        hd = bootnext.partition_hard_drive(esp_.devnode, esp_.partuuid)
    except HandoffError as e:
        raise InstallError(str(e)) from e
    return hd_file_path(hd, INSTALL_PATH)


def ours(state: bootvars.FirmwareState, path: DevicePath) -> list[int]:
    """The Boot#### numbers that start bootmenu's installed file on this ESP."""
    return [
        fw.number
        for fw in state.options
        if fw.option is not None and bootnext.same_target(path, fw.option.path)
    ]


def _write(name: str, data: bytes, directory: str) -> None:
    try:
        efivars.write(
            EfiVariable(name, EFI_GLOBAL_VARIABLE, bootnext.VARIABLE_ATTRIBUTES, data),
            directory=directory,
        )
    except OSError as e:
        raise InstallError(f"the firmware refused to write {name}: {e.strerror or e}") from e


def _order(order: Sequence[int], number: int, placement: Placement) -> list[int]:
    if placement is Placement.FIRST:
        return [number, *(n for n in order if n != number)]
    if placement is Placement.LAST and number not in order:
        return [*order, number]
    return list(order)


# -- the commands ------------------------------------------------------------------------------


def install(
    uki: Path,
    esp_: Esp,
    *,
    placement: Placement = Placement.LAST,
    systemd_boot: bool = False,
    efivars_dir: str = efivars.EFIVARFS,
    host_arch: str | None = None,
    dry_run: bool = False,
) -> list[str]:
    """Install ``uki`` on ``esp_`` (see the module); returns what was done, line by line."""
    try:
        data = uki.read_bytes()
    except OSError as e:
        raise InstallError(f"{uki}: cannot be read: {e.strerror}") from e
    check_uki(data, host_arch=host_arch, efivars_dir=efivars_dir)
    problem = bootnext.writable(efivars_dir)
    if problem is not None:
        raise InstallError(f"the boot entry cannot be created: {problem}")
    would = "would " if dry_run else ""
    done: list[str] = [f"ESP: {esp_.devnode} at {esp_.mountpoint}"]
    targets = [INSTALL_PATH, *([SYSTEMD_BOOT_PATH] if systemd_boot else [])]
    copies = [t for t in targets if not _same_file(_on_esp(esp_, t), data)]
    needed = len(data) * len(copies)
    if copies and _free(esp_.mountpoint) < needed + SPARE:
        raise InstallError(
            f"the ESP ({esp_.mountpoint}) has {size_text(_free(esp_.mountpoint))} free; "
            f"bootmenu needs {size_text(needed + SPARE)}"
        )
    for target in targets:
        if target in copies:
            if not dry_run:
                _copy(data, _on_esp(esp_, target))
            done.append(f"{would}copy {uki} to {target} ({size_text(len(data))})")
        else:
            done.append(f"{target} is already this UKI")
    path = _path(esp_)
    state = bootvars.read_state(efivars_dir)
    numbers = ours(state, path)
    if numbers:
        number = numbers[0]
        done.append(f"{boot_variable_name(number)} already starts it ({path})")
    else:
        number = bootnext.free_number(state)
        option = LoadOption(LOAD_OPTION_ACTIVE, TITLE, (path,), b"")
        if not dry_run:
            _write(boot_variable_name(number), bytes(option), efivars_dir)
        done.append(f'{would}create {boot_variable_name(number)} "{TITLE}": {path}')
    order = _order(state.boot_order, number, placement)
    name = boot_variable_name(number)
    if order != list(state.boot_order):
        if not dry_run:
            _write("BootOrder", encode_u16_list(order), efivars_dir)
        where = "first" if placement is Placement.FIRST else "last"
        done.append(f"{would}put {name} {where} in BootOrder")
    elif placement is not Placement.ONCE:
        done.append(f"BootOrder already has {name} where asked")
    if placement is Placement.ONCE:
        if not dry_run:
            _write("BootNext", encode_number(number), efivars_dir)
        done.append(f"{would}set BootNext to {name}: the firmware starts bootmenu on the next boot")
        done.append(f"once it works: bootmenu install --first {uki}")
    elif placement is Placement.LAST and order and order[0] != number:
        done.append(f"to start bootmenu first: bootmenu install --first {uki}")
    return done


def remove(esp_: Esp, *, efivars_dir: str = efivars.EFIVARFS, dry_run: bool = False) -> list[str]:
    """Remove what :func:`install` made on ``esp_`` and in the EFI variables."""
    would = "would " if dry_run else ""
    done: list[str] = [f"ESP: {esp_.devnode} at {esp_.mountpoint}"]
    path = _path(esp_)
    state = bootvars.read_state(efivars_dir)
    numbers = ours(state, path)
    if numbers:
        problem = bootnext.writable(efivars_dir)
        if problem is not None:
            raise InstallError(f"the boot entries cannot be removed: {problem}")
    for number in numbers:
        name = boot_variable_name(number)
        if not dry_run:
            try:
                efivars.delete(name, EFI_GLOBAL_VARIABLE, directory=efivars_dir)
            except OSError as e:
                raise InstallError(f"the firmware refused to delete {name}: {e.strerror}") from e
        done.append(f"{would}delete {name}")
    order = [n for n in state.boot_order if n not in numbers]
    if order != list(state.boot_order):
        if not dry_run:
            _write("BootOrder", encode_u16_list(order), efivars_dir)
        done.append(f"{would}take them out of BootOrder")
    if state.boot_next in numbers:
        if not dry_run:
            efivars.delete("BootNext", EFI_GLOBAL_VARIABLE, directory=efivars_dir)
        done.append(f"{would}delete BootNext")
    for target in (INSTALL_PATH, SYSTEMD_BOOT_PATH):
        file = _on_esp(esp_, target)
        if file.is_file():
            if not dry_run:
                file.unlink()
            done.append(f"{would}delete {target}")
    folder = _on_esp(esp_, "/EFI/bootmenu")
    if not dry_run and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
    if len(done) == 1:
        done.append("bootmenu is not installed here: nothing to remove")
    return done
