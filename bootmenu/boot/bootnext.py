"""Starting EFI applications through the firmware: a ``Boot####`` entry, ``BootNext``, reboot.

Linux has left UEFI boot services, so Windows Boot Manager, Haiku's loader, shim or any other
EFI application cannot be kexec'd.  The :class:`BootNext` handler hands them to the firmware's
own boot manager instead (which also keeps Secure Boot's chain of trust):

1. For an entry found on a disk it uses an existing ``Boot####`` that starts the same file on
   the same partition (the firmware's own Windows entry, or one bootmenu made earlier), or
   creates one: attributes ``LOAD_OPTION_ACTIVE``, the path ``HD(…)/File(…)`` exactly as
   efibootmgr writes it, and :data:`TAG` as its optional data so that it is recognisably
   ours.  A firmware entry (``Boot####`` shown in the menu) is used as it is.
2. It sets ``BootNext`` (attributes NV|BS|RT, one u16), never touches ``BootOrder``, and
   deletes the entries carrying :data:`TAG` other than the one being used.
3. :meth:`bootmenu.boot.handoff.Handoff.execute` calls the core's ``before_jump`` and reboots with
   ``reboot(LINUX_REBOOT_CMD_RESTART)`` (:attr:`BootNext.reboot_command`); the firmware starts
   the entry once and deletes ``BootNext``.

("Reboot into firmware setup", ``OsIndications``, lives in :mod:`bootmenu.system.sysinfo`.)  The
``efi_handoff`` setting chooses the way EFI
applications start: ``bootnext`` always uses this handler; ``auto`` and ``payload`` try the
UEFI payload first (:mod:`bootmenu.boot.payload`, no firmware reset) and come here when it cannot be
used, and the plan's notes say why ("not payload: …").  See ``docs/efi.md``.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from uuid import UUID

from bootmenu.boot import efiapp, handoff
from bootmenu.config import EfiHandoff
from bootmenu.errors import HandoffError
from bootmenu.model import BootEntry, Kind
from bootmenu.system import bootvars, efivars, syscalls
from bootmenu.system.fs import normalize
from bootmenu.system.sysfs import SECTOR, SYS_CLASS_BLOCK
from efi.devicepath import DevicePath, HardDrive, hd_file_path
from efi.loadoption import (
    LOAD_OPTION_ACTIVE,
    MAX_OPTION_NUMBER,
    LoadOption,
    boot_variable_name,
    encode_u16,
)
from efi.variables import DEFAULT_ATTRIBUTES, EFI_GLOBAL_VARIABLE, EfiVariable

log = logging.getLogger(__name__)

# Marks the Boot#### entries bootmenu creates: this GUID (little-endian, as EFI stores GUIDs)
# followed by the ASCII word "bootmenu", in the load option's optional data.  The loader gets
# it as its load options; EFI applications ignore load options they do not understand.
TAG_GUID: Final = UUID("db1afb36-009f-43bb-8896-d52064df6175")
TAG: Final = TAG_GUID.bytes_le + b"bootmenu"
# Boot####, BootNext and OsIndications: non-volatile, boot service and runtime access.
VARIABLE_ATTRIBUTES: Final = DEFAULT_ATTRIBUTES
_MBR_PARTUUID: Final = re.compile(r"([0-9a-fA-F]{8})-([0-9a-fA-F]{2})")


def is_ours(option: LoadOption) -> bool:
    return option.optional_data.startswith(TAG)


def writable(directory: str | os.PathLike[str]) -> str | None:
    """None when EFI variables can be written in ``directory``, else why not (a sentence)."""
    if not os.path.isdir(directory):
        return f"the EFI variables are not available (efivarfs is not mounted at {directory})"
    try:
        if os.statvfs(directory).f_flag & os.ST_RDONLY:
            return "the EFI variables are read-only (efivarfs is mounted read-only)"
    except OSError as e:
        return f"the EFI variables cannot be checked: {e.strerror}"
    if not os.access(directory, os.W_OK):
        return "bootmenu may not write the EFI variables"
    return None


# -- where a file is, as the firmware names it -------------------------------------------------


def hard_drive(partuuid: str, number: int, start: int, size: int) -> HardDrive:
    """The ``HD()`` node for a partition; ``start``/``size`` in the disk's logical blocks.

    ``partuuid`` is udev's: a GPT partition GUID, or ``SSSSSSSS-PP`` on an MBR disk.
    Raises ValueError for anything else (an MBR disk without a signature cannot be named).
    """
    match = _MBR_PARTUUID.fullmatch(partuuid)
    if match:
        signature = int(match.group(1), 16)
        if signature == 0:
            raise ValueError("the MBR disk has no disk signature")
        return HardDrive.mbr(number, start, size, signature)
    return HardDrive.gpt(number, start, size, UUID(partuuid))


def partition_hard_drive(
    devnode: str, partuuid: str | None, *, sys_block: Path = SYS_CLASS_BLOCK
) -> HardDrive:
    """The ``HD()`` node for the partition ``devnode`` (``/dev/vda1``), from sysfs like
    efibootmgr: its number, start and size, converted to the disk's logical block size."""
    name = Path(devnode).name
    where = sys_block / name
    if not partuuid:
        raise HandoffError(f"{devnode} has no partition UUID, so the firmware cannot find it")
    try:
        number = int((where / "partition").read_text())
        start = int((where / "start").read_text())
        size = int((where / "size").read_text())
        disk = Path(os.path.realpath(where)).parent.name
        block_file = sys_block / disk / "queue" / "logical_block_size"
        block = int(block_file.read_text()) if block_file.exists() else SECTOR
    except FileNotFoundError:
        raise HandoffError(f"{devnode} is not a partition of a disk") from None
    except (OSError, ValueError) as e:
        raise HandoffError(f"{devnode}: cannot read its partition from sysfs: {e}") from None
    factor = max(block // SECTOR, 1)
    try:
        return hard_drive(partuuid, number, start // factor, size // factor)
    except ValueError as e:
        raise HandoffError(f"{devnode}: {e}") from None


# -- choosing the Boot#### entry ---------------------------------------------------------------


def same_target(path: DevicePath, other: DevicePath | None) -> bool:
    """Whether two device paths start the same file on the same partition."""
    if other is None:
        return False
    hd, other_hd = path.hard_drive, other.hard_drive
    if hd is None or other_hd is None or not hd.same_partition(other_hd):
        return False
    mine, theirs = path.file, other.file
    return (
        mine is not None
        and theirs is not None
        and normalize(mine).casefold() == normalize(theirs).casefold()
    )


def find_identical(state: bootvars.FirmwareState, path: DevicePath) -> int | None:
    """An active ``Boot####`` that starts ``path``'s file: ours first, then the firmware's."""
    matches = [
        fw
        for fw in state.options
        if fw.option is not None
        and fw.option.attributes & LOAD_OPTION_ACTIVE
        and same_target(path, fw.option.path)
    ]
    matches.sort(key=lambda fw: (not (fw.option is not None and is_ours(fw.option)), fw.number))
    return matches[0].number if matches else None


def free_number(state: bootvars.FirmwareState) -> int:
    used = {fw.number for fw in state.options} | set(state.boot_order)
    for number in range(MAX_OPTION_NUMBER + 1):
        if number not in used:
            return number
    raise HandoffError("the firmware has no free Boot#### number left")


def stale_numbers(state: bootvars.FirmwareState, keep: int) -> tuple[int, ...]:
    """Our tagged entries other than ``keep``."""
    return tuple(
        fw.number
        for fw in state.options
        if fw.number != keep and fw.option is not None and is_ours(fw.option)
    )


def new_option(title: str, path: DevicePath) -> LoadOption:
    description = "".join(c for c in title if c != "\0" and ord(c) <= 0xFFFF) or "bootmenu"
    return LoadOption(LOAD_OPTION_ACTIVE, description, (path,), TAG)


@dataclass(frozen=True)
class Target:
    """What a boot through BootNext will use: ``number`` of the ``Boot####`` (None: a new
    one is created at load time), the option to write, and the path."""

    number: int | None
    option: LoadOption | None
    path: DevicePath | None
    firmware_entry: bool = False

    def describe(self) -> str:
        name = boot_variable_name(self.number) if self.number is not None else "a new Boot####"
        return f"{name} ({self.path})" if self.path is not None else name


# -- the handler -------------------------------------------------------------------------------


class BootNext:
    """EFI applications (and firmware entries) through BootNext and a firmware reboot."""

    method: handoff.Method = handoff.Method.BOOTNEXT
    kinds: frozenset[Kind] = frozenset({Kind.EFI})
    reboot_command: int = syscalls.LINUX_REBOOT_CMD_RESTART

    def __init__(
        self,
        *,
        directory: str | os.PathLike[str] = efivars.EFIVARFS,
        setting: EfiHandoff = EfiHandoff.AUTO,
        sys_block: Path = SYS_CLASS_BLOCK,
    ):
        self.directory = directory
        self.setting = setting
        self.sys_block = sys_block
        self._set_next: bool = False

    # Problems an EFI entry has on this machine before anything is read: also used by the
    # core to mark entries in the menu.
    def unavailable(self, env_efi: bool) -> str | None:
        if not env_efi:
            return (
                "this machine did not start through UEFI, so there is no firmware boot manager "
                "to hand EFI applications to"
            )
        reason = writable(self.directory)
        if reason is not None:
            return f"{reason}, so BootNext cannot be set"
        return None

    def accepts(self, entry: BootEntry, env: handoff.Environment) -> str | None:
        if entry.kind not in self.kinds:
            return f"it starts only EFI applications, not {entry.kind.value} entries"
        return self.unavailable(env.efi)

    def _state(self) -> bootvars.FirmwareState:
        return bootvars.read_state(self.directory)

    def _target(self, entry: BootEntry, state: bootvars.FirmwareState, volume_name: str,
                partuuid: str | None) -> Target:  # fmt: skip
        number = bootvars.option_number(entry)
        if number is not None:
            fw = state.option(number)
            if fw is None:
                raise HandoffError(f"the firmware entry {boot_variable_name(number)} is gone")
            path = fw.option.path if fw.option is not None else None
            return Target(number, None, path, firmware_entry=True)
        hd = partition_hard_drive(volume_name, partuuid, sys_block=self.sys_block)
        try:
            path = hd_file_path(hd, entry.kernel)
        except ValueError as e:
            raise HandoffError(f"{entry.kernel}: {e}") from None
        existing = find_identical(state, path)
        if existing is not None:
            return Target(existing, None, path)
        return Target(None, new_option(entry.title, path), path)

    def _read(
        self, entry: BootEntry, reader_for: handoff.ReaderFor, env: handoff.Environment
    ) -> tuple[list[handoff.Segment], list[str], str, str | None]:
        """The loader's segment (size, SHA-256), problems, the volume name and PARTUUID."""
        app = efiapp.read_application(entry, reader_for, env)
        segments = [app.segment] if app.segment is not None else []
        if app.volume is None:
            return segments, list(app.problems), entry.root, None
        return segments, list(app.problems), app.volume.name, app.volume.partuuid

    def plan(
        self, entry: BootEntry, reader_for: handoff.ReaderFor, env: handoff.Environment
    ) -> handoff.Plan:
        segments, problems, volume_name, partuuid = self._read(entry, reader_for, env)
        notes: list[str] = []
        reason = self.unavailable(env.efi)
        if reason is not None:
            problems.append(reason)
        target: Target | None = None
        if not problems:
            try:
                target = self._target(entry, self._state(), volume_name, partuuid)
            except HandoffError as e:
                problems.append(str(e))
        if target is not None:
            if target.firmware_entry:
                notes.append(f"the firmware starts its own entry {target.describe()}")
            elif target.number is not None:
                notes.append(f"uses the existing entry {target.describe()}")
            else:
                notes.append(f"creates {target.describe()}, marked as bootmenu's")
            notes.append("BootOrder is not changed; the firmware deletes BootNext once used")
        kernel = segments[0].source if segments else (target.describe() if target else "")
        return efiapp.application_plan(
            entry,
            handoff.Method.BOOTNEXT,
            kernel=kernel,
            cmdline="",
            segments=segments,
            reason="BootNext: the firmware starts the EFI application once after a reboot "
            "(kexec cannot start EFI applications)",
            problems=problems,
            notes=notes,
        )

    def load(
        self, plan: handoff.Plan, reader_for: handoff.ReaderFor, env: handoff.Environment
    ) -> None:
        entry = plan.entry
        segments, problems, volume_name, partuuid = self._read(entry, reader_for, env)
        if problems:
            raise HandoffError(f'cannot start "{entry.title}": ' + "; ".join(problems))
        efiapp.require_unchanged(plan, segments, entry.kernel)
        state = self._state()
        target = self._target(entry, state, volume_name, partuuid)
        number = target.number
        if number is None:
            number = free_number(state)
        name = boot_variable_name(number)
        if env.dry_run:
            if target.option is not None:
                log.info("dry run: would create %s: %s", name, target.path)
            log.info("dry run: would set BootNext to %s and reboot", name)
            return
        try:
            if target.option is not None:
                efivars.write(
                    EfiVariable(name, EFI_GLOBAL_VARIABLE, VARIABLE_ATTRIBUTES,
                                bytes(target.option)),
                    directory=self.directory,
                )  # fmt: skip
                log.info("created %s: %s", name, target.path)
            efivars.write(
                EfiVariable("BootNext", EFI_GLOBAL_VARIABLE, VARIABLE_ATTRIBUTES,
                            encode_u16(number)),
                directory=self.directory,
            )  # fmt: skip
        except OSError as e:
            raise HandoffError(f"the firmware refused the EFI variables: {e.strerror or e}") from e
        self._set_next = True
        log.info("BootNext is %s (%s)", name, entry.title)
        for stale in stale_numbers(state, number):
            stale_name = boot_variable_name(stale)
            try:
                efivars.delete(stale_name, EFI_GLOBAL_VARIABLE, directory=self.directory)
                log.info("deleted bootmenu's old entry %s", stale_name)
            except OSError as e:
                log.warning("cannot delete bootmenu's old entry %s: %s", stale_name, e.strerror)

    def undo(self, env: handoff.Environment) -> None:
        """Delete the BootNext this handler set (the jump did not happen; never raises)."""
        if not self._set_next or env.dry_run:
            return
        self._set_next = False
        try:
            efivars.delete("BootNext", EFI_GLOBAL_VARIABLE, directory=self.directory)
        except OSError as e:
            log.warning("cannot delete BootNext: %s", e.strerror)
