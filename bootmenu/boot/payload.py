"""Starting EFI applications without a firmware reset: kexec into edk2's Universal Payload.

The :class:`Payload` handler (``Method.PAYLOAD``) loads edk2's UEFI Universal Payload (UPL,
built by ``scripts/build-payload``) with ``kexec_load``; the payload rebuilds UEFI boot
services from the machine description bootmenu hands it (a HOB list) and its boot manager
starts the chosen application, whose ``Boot####`` and ``BootNext`` bootmenu's DXE driver in the
payload sets from GUID HOBs before BDS runs.  See ``docs/payload.md`` (with a diagram).

1. :func:`read_machine` reads the machine: ``/sys/firmware/memmap``, ``/proc/cpuinfo``,
   ``/sys/firmware/efi/systab`` (ACPI20=, SMBIOS=) and ``/sys/kernel/boot_params/data``
   (the EFI framebuffer).  The parsers (:func:`parse_memmap`, …) are pure.
2. :func:`plan_segments` places trampoline, relocated image, the FV and the HOB list
   page-aligned in one System RAM range below 4 GiB, leaving :data:`DXE_REGION` free above
   them (the payload carves its DXE memory right above the PHIT range), and builds the bytes.
3. :meth:`Payload.load` calls ``kexec_load`` with those segments; ``Handoff.execute`` then
   reboots with ``LINUX_REBOOT_CMD_KEXEC``.

``efi_handoff = auto`` takes this path when :meth:`Payload.accepts` says it can work (no
lockdown, the payload file exists, an EFI x86-64 machine, the application's disk behind a
controller the payload build drives); otherwise the BootNext handler runs, and its plan says why.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from bootmenu.boot import bootnext, efiapp, handoff, kexec
from bootmenu.config import EfiHandoff
from bootmenu.errors import FormatError, HandoffError
from bootmenu.model import BootEntry, Kind
from bootmenu.system import bootvars, efivars, syscalls
from bootmenu.system.sysfs import SYS_CLASS_BLOCK
from efi import hob, trampoline, upl
from efi.devicepath import hd_file_path
from efi.loadoption import LOAD_OPTION_ACTIVE, LoadOption, boot_variable_name, encode_u16
from efi.variables import DEFAULT_ATTRIBUTES, EFI_GLOBAL_VARIABLE

log = logging.getLogger(__name__)

PAYLOAD_PATHS: Final = (
    Path("/usr/lib/bootmenu/UniversalPayload.elf"),
    Path.home() / ".cache" / "bootmenu" / "payload" / "UniversalPayload.elf",
)
MEMMAP: Final = Path("/sys/firmware/memmap")
CPUINFO: Final = Path("/proc/cpuinfo")
SYSTAB: Final = Path("/sys/firmware/efi/systab")
BOOT_PARAMS: Final = Path("/sys/kernel/boot_params/data")
PAGE: Final = 0x1000
DXE_REGION: Final = 64 << 20  # PcdSystemMemoryUefiRegionSize in UefiPayloadPkg.dsc
LOW_LIMIT: Final = 1 << 20  # never place below 1 MiB (real-mode and BIOS areas)
FOUR_GIB: Final = 1 << 32
# The Boot#### number bootmenu gives the chosen application inside the payload (its variable
# store starts empty, so any number is free).
PAYLOAD_BOOT_NUMBER: Final = 0x0B00
PAYLOAD_MODULE_GUID: Final = hob.BOOTMENU_VARIABLE_GUID
# Disk controllers, by what sysfs shows of the PCI function the disk hangs off: class code
# prefixes and virtio PCI ids.  The payload build's UniversalPayload.json lists the ones it
# drives; without it, edk2 2022.11's X64 payload defaults are assumed.
DEFAULT_CONTROLLERS: Final = frozenset({"ahci", "ide", "nvme", "usb", "sdmmc"})
_CLASS_CONTROLLERS: Final = (
    (0x010601, 0xFFFFFF, "ahci"),
    (0x010100, 0xFFFF00, "ide"),
    (0x010802, 0xFFFFFF, "nvme"),
    (0x0C0300, 0xFFFF00, "usb"),
    (0x080500, 0xFFFF00, "sdmmc"),
)
VIRTIO_VENDOR: Final = 0x1AF4
_VIRTIO_DEVICES: Final = {
    0x1001: "virtio-blk",
    0x1042: "virtio-blk",
    0x1004: "virtio-scsi",
    0x1048: "virtio-scsi",
}
_PCI_ADDRESS: Final = re.compile(r"[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]")
VIDEO_TYPE_EFI: Final = 0x70
VIDEO_CAPABILITY_64BIT_BASE: Final = 1 << 1


# -- the machine ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemoryRange:
    """One ``/sys/firmware/memmap`` entry; ``end`` exclusive."""

    start: int
    end: int
    type: str

    @property
    def size(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class Framebuffer:
    base: int
    size: int
    width: int
    height: int
    stride: int  # pixels per scan line
    pixel_format: int
    masks: tuple[int, int, int, int] = (0, 0, 0, 0)


@dataclass(frozen=True)
class Machine:
    """What the payload is told about the machine."""

    memory: tuple[MemoryRange, ...]
    address_bits: int
    gib_pages: bool
    acpi_rsdp: int | None = None
    smbios: int | None = None
    smbios3: int | None = None
    framebuffer: Framebuffer | None = None
    serial: hob.SerialPortInfo = field(default_factory=hob.SerialPortInfo)

    def describe(self) -> str:
        """One line for the log: what the payload is told besides memory."""
        ram = sum(r.size for r in self.memory if r.type == "System RAM")
        parts = [f"{ram >> 20} MiB RAM in {len(self.memory)} ranges",
                 f"{self.address_bits} address bits"]  # fmt: skip
        if self.acpi_rsdp:
            parts.append(f"ACPI RSDP {self.acpi_rsdp:#x}")
        if self.smbios3 or self.smbios:
            parts.append(f"SMBIOS {(self.smbios3 or self.smbios or 0):#x}")
        fb = self.framebuffer
        if fb is not None:
            parts.append(f"framebuffer {fb.width}x{fb.height} at {fb.base:#x} (GraphicsInfo)")
        else:
            parts.append("no framebuffer")
        return ", ".join(parts)


def parse_memmap(entries: Sequence[tuple[str, str, str]]) -> tuple[MemoryRange, ...]:
    """(start, end, type) as in ``/sys/firmware/memmap/N/`` (hex, ``end`` inclusive)."""
    ranges = []
    for start, end, kind in entries:
        try:
            first, last = int(start.strip(), 16), int(end.strip(), 16)
        except ValueError:
            raise FormatError(f"memmap: bad range {start.strip()}-{end.strip()}") from None
        if last < first:
            raise FormatError(f"memmap: range {first:#x}-{last:#x} ends before it starts")
        ranges.append(MemoryRange(first, last + 1, kind.strip()))
    return tuple(sorted(ranges, key=lambda r: r.start))


def parse_cpuinfo(text: str) -> tuple[int, bool]:
    """(physical address bits, whether 1 GiB pages exist) from ``/proc/cpuinfo``."""
    bits = re.search(r"^address sizes\s*:\s*(\d+) bits physical", text, re.M)
    flags = re.search(r"^flags\s*:(.*)$", text, re.M)
    words = set(flags.group(1).split()) if flags else set()
    return (int(bits.group(1)) if bits else 36), "pdpe1gb" in words


def parse_systab(text: str) -> dict[str, int]:
    """``NAME=0xADDR`` lines of ``/sys/firmware/efi/systab``."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep:
            try:
                out[name.strip()] = int(value.strip(), 16)
            except ValueError:
                continue
    return out


def parse_screen_info(boot_params: bytes) -> Framebuffer | None:
    """The EFI framebuffer from ``struct screen_info`` at the start of ``boot_params``
    (arch/x86 ``struct boot_params``; linux/screen_info.h), None when there is none."""
    if len(boot_params) < 0x40:
        return None
    if boot_params[0x0F] != VIDEO_TYPE_EFI:
        return None
    width, height, depth = struct.unpack_from("<HHH", boot_params, 0x12)
    base, size = struct.unpack_from("<II", boot_params, 0x18)
    (line_length,) = struct.unpack_from("<H", boot_params, 0x24)
    rsize, rpos, gsize, gpos, bsize, bpos, xsize, xpos = boot_params[0x26:0x2E]
    (capabilities, ext_base) = struct.unpack_from("<II", boot_params, 0x36)
    if capabilities & VIDEO_CAPABILITY_64BIT_BASE:
        base |= ext_base << 32
    if not base or not width or not height or depth not in (24, 32):
        return None
    stride = line_length // (depth // 8) if line_length else width

    def mask(size: int, pos: int) -> int:
        return ((1 << size) - 1) << pos if size else 0

    if depth == 32 and (rpos, gpos, bpos) == (16, 8, 0):
        fmt, masks = hob.PixelBlueGreenRedReserved8BitPerColor, (0, 0, 0, 0)
    elif depth == 32 and (rpos, gpos, bpos) == (0, 8, 16):
        fmt, masks = hob.PixelRedGreenBlueReserved8BitPerColor, (0, 0, 0, 0)
    else:
        fmt = hob.PixelBitMask
        masks = (mask(rsize, rpos), mask(gsize, gpos), mask(bsize, bpos), mask(xsize, xpos))
    return Framebuffer(base, size or line_length * height, width, height, stride, fmt, masks)


def read_machine(
    *,
    memmap: Path = MEMMAP,
    cpuinfo: Path = CPUINFO,
    systab: Path = SYSTAB,
    boot_params: Path = BOOT_PARAMS,
) -> Machine:
    """The running machine's description (HandoffError with a sentence when it is missing)."""
    try:
        dirs = sorted((d for d in memmap.iterdir() if d.name.isdigit()), key=lambda d: int(d.name))
        memory = parse_memmap(
            [
                ((d / "start").read_text(), (d / "end").read_text(), (d / "type").read_text())
                for d in dirs
            ]
        )
    except OSError as e:
        raise HandoffError(f"cannot read the firmware memory map ({memmap}): {e}") from None
    except FormatError as e:
        raise HandoffError(str(e)) from None
    try:
        bits, gib_pages = parse_cpuinfo(cpuinfo.read_text())
    except OSError:
        bits, gib_pages = 36, False
    tables: dict[str, int] = {}
    with contextlib.suppress(OSError):
        tables = parse_systab(systab.read_text())
    framebuffer = None
    with contextlib.suppress(OSError):
        framebuffer = parse_screen_info(boot_params.read_bytes())
    return Machine(
        memory=memory,
        address_bits=bits,
        gib_pages=gib_pages,
        acpi_rsdp=tables.get("ACPI20") or tables.get("ACPI"),
        smbios=tables.get("SMBIOS"),
        smbios3=tables.get("SMBIOS3"),
        framebuffer=framebuffer,
    )


# -- the disk's controller --------------------------------------------------------------------


def classify_controller(vendor: int, device: int, pci_class: int) -> str | None:
    """A PCI function's disk controller kind (``ahci``, ``nvme``, ``virtio-blk``…) or None."""
    if vendor == VIRTIO_VENDOR and device in _VIRTIO_DEVICES:
        return _VIRTIO_DEVICES[device]
    for value, mask, name in _CLASS_CONTROLLERS:
        if pci_class & mask == value:
            return name
    return None


def disk_controller(devnode: str, *, sys_block: Path = SYS_CLASS_BLOCK) -> str | None:
    """The controller kind of the disk holding ``devnode`` (``/dev/sda1``): the nearest PCI
    function above it in sysfs (a USB disk: its host controller).  None when unknown."""
    path = Path(os.path.realpath(sys_block / Path(devnode).name))
    for parent in (path, *path.parents):
        if _PCI_ADDRESS.fullmatch(parent.name) and (parent / "class").exists():
            try:
                vendor = int((parent / "vendor").read_text(), 16)
                device = int((parent / "device").read_text(), 16)
                pci_class = int((parent / "class").read_text(), 16)
            except (OSError, ValueError):
                return None
            return classify_controller(vendor, device, pci_class)
    return None


# -- the plan ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadSegment:
    """One ``struct kexec_segment``: ``data`` goes to physical ``address`` (page-aligned,
    ``memsz`` page-rounded)."""

    what: str
    address: int
    data: bytes

    @property
    def memsz(self) -> int:
        return upl.page_round(len(self.data))


@dataclass(frozen=True)
class Layout:
    """Where everything goes; ``entry`` is the kexec entry point (the trampoline)."""

    segments: tuple[LoadSegment, ...]
    entry: int
    phit_bottom: int
    phit_top: int
    dxe_top: int


def _free_ranges(machine: Machine) -> list[MemoryRange]:
    return [
        r
        for r in machine.memory
        if r.type == "System RAM" and r.end > LOW_LIMIT and r.start < FOUR_GIB
    ]


def choose_region(machine: Machine, size: int) -> int:
    """The base of ``size`` bytes (page-aligned) with :data:`DXE_REGION` free above them, in
    the highest System RAM range below 4 GiB that holds both; HandoffError when none does."""
    for r in sorted(_free_ranges(machine), key=lambda r: r.start, reverse=True):
        start = max(r.start, LOW_LIMIT)
        start = (start + PAGE - 1) & ~(PAGE - 1)
        end = min(r.end, FOUR_GIB) & ~(PAGE - 1)
        base = (end - DXE_REGION - size) & ~(PAGE - 1)
        if base >= start:
            return base
    raise HandoffError(
        f"no System RAM range below 4 GiB has room for the payload ({size >> 10} KiB) and its "
        f"{DXE_REGION >> 20} MiB DXE region"
    )


def resource_hobs(machine: Machine) -> list[hob.Hob]:
    """Resource descriptors (and ACPI allocations) from the firmware memory map."""
    out: list[hob.Hob] = []
    for r in machine.memory:
        if r.type == "System RAM":
            out.append(
                hob.ResourceDescriptor(
                    hob.EFI_RESOURCE_SYSTEM_MEMORY, hob.SYSTEM_MEMORY_ATTRIBUTES, r.start, r.size
                )
            )
        elif r.type in ("ACPI Tables", "ACPI Non-volatile Storage"):
            out.append(
                hob.ResourceDescriptor(
                    hob.EFI_RESOURCE_SYSTEM_MEMORY, hob.SYSTEM_MEMORY_ATTRIBUTES, r.start, r.size
                )
            )
            kind = hob.EfiACPIReclaimMemory if r.type == "ACPI Tables" else hob.EfiACPIMemoryNVS
            out.append(hob.MemoryAllocation(r.start, r.size, kind))
        else:
            out.append(
                hob.ResourceDescriptor(
                    hob.EFI_RESOURCE_MEMORY_RESERVED,
                    hob.RESERVED_MEMORY_ATTRIBUTES,
                    r.start,
                    r.size,
                )
            )
    return out


def description_hobs(machine: Machine) -> list[hob.Hob]:
    out: list[hob.Hob] = [machine.serial.hob()]
    if machine.acpi_rsdp:
        out.append(hob.AcpiTable(machine.acpi_rsdp).hob())
    if machine.smbios3:
        out.append(hob.SmbiosTable(machine.smbios3, version3=True).hob())
    elif machine.smbios:
        out.append(hob.SmbiosTable(machine.smbios).hob())
    fb = machine.framebuffer
    if fb is not None:
        out.append(
            hob.GraphicsInfo(
                fb.base, fb.size, fb.width, fb.height, fb.pixel_format, fb.stride, *fb.masks
            ).hob()
        )
    return out


def plan_segments(
    machine: Machine, elf: bytes, variables: Sequence[hob.BootmenuVariable] = ()
) -> Layout:
    """Place and build every segment for the payload ``elf`` on ``machine``."""
    try:
        image = upl.parse_upl(elf)
    except FormatError as e:
        raise HandoffError(str(e)) from None
    fv_section = image.section("uefi_fv")
    if fv_section is None:
        raise HandoffError("the payload has no .upld.uefi_fv section")
    fv = upl.extra_data(elf, fv_section)
    map_top = max((r.end for r in machine.memory), default=FOUR_GIB)
    tramp_size = trampoline.segment_size(map_top, gib_pages=machine.gib_pages)
    fixed: list[hob.Hob] = [hob.Cpu(machine.address_bits), *resource_hobs(machine)]
    extra = [*description_hobs(machine), *(v.hob() for v in variables)]

    def hob_bytes(tramp: int, img: int, fvb: int, hobs_at: int, hob_size: int) -> bytes:
        allocations: list[hob.Hob] = [
            hob.MemoryAllocation(tramp, tramp_size, hob.EfiBootServicesData),
            hob.MemoryAllocationModule(
                img,
                image.image_size,
                hob.EfiBootServicesCode,
                PAYLOAD_MODULE_GUID,
                image.entry_at(img),
            ),
            hob.MemoryAllocation(fvb, upl.page_round(len(fv)), hob.EfiBootServicesData),
            hob.MemoryAllocation(hobs_at, hob_size, hob.EfiBootServicesData),
        ]
        data_hob = hob.ExtraData((hob.ExtraDataEntry("uefi_fv", fvb, len(fv)),)).hob()
        return hob.build_hob_list(
            hobs_at,
            memory_bottom=tramp,
            memory_top=hobs_at + hob_size,
            free_memory_bottom=hobs_at + hob_size,
            free_memory_top=hobs_at + hob_size,
            hobs=[*fixed, *allocations, data_hob, *extra],
        )

    hob_size = upl.page_round(len(hob_bytes(0, 0, 0, 0, 0)))
    sizes = (tramp_size, image.image_size, upl.page_round(len(fv)), hob_size)
    base = choose_region(machine, sum(sizes))
    tramp_at = base
    image_at = tramp_at + sizes[0]
    fv_at = image_at + sizes[1]
    hobs_at = fv_at + sizes[2]
    top = hobs_at + hob_size
    hob_list = hob_bytes(tramp_at, image_at, fv_at, hobs_at, hob_size)
    tramp = trampoline.build(
        tramp_at,
        target=image.entry_at(image_at),
        hob_list=hobs_at,
        map_top=map_top,
        gib_pages=machine.gib_pages,
    )
    segments = (
        LoadSegment("trampoline", tramp_at, tramp.data),
        LoadSegment("payload", image_at, upl.relocate(elf, image, image_at)),
        LoadSegment("uefi_fv", fv_at, fv),
        LoadSegment("hob list", hobs_at, hob_list),
    )
    return Layout(segments, tramp.entry, tramp_at, top, top + DXE_REGION)


# -- choosing the application -----------------------------------------------------------------


def load_options(cmdline: str) -> bytes:
    """The application's load options: UCS-2 with a NUL, as the UEFI Shell and systemd-boot
    pass them (empty: none)."""
    return (cmdline.encode("utf-16-le") + b"\0\0") if cmdline else b""


def boot_variables(
    option: LoadOption, number: int = PAYLOAD_BOOT_NUMBER
) -> tuple[hob.BootmenuVariable, ...]:
    """``Boot####`` and ``BootNext`` for the payload's DXE driver to set."""
    name = boot_variable_name(number)
    vendor = EFI_GLOBAL_VARIABLE
    return (
        hob.BootmenuVariable(name, vendor, DEFAULT_ATTRIBUTES, bytes(option)),
        hob.BootmenuVariable("BootNext", vendor, DEFAULT_ATTRIBUTES, encode_u16(number)),
    )


# -- the handler ------------------------------------------------------------------------------


def find_payload(paths: Sequence[Path] = PAYLOAD_PATHS) -> Path | None:
    for path in paths:
        if path.is_file():
            return path
    return None


def payload_controllers(elf_path: Path) -> frozenset[str]:
    """The controllers the payload build drives, from the ``.json`` its build left beside it."""
    try:
        info: Any = json.loads(elf_path.with_suffix(".json").read_text())
        return frozenset(str(c) for c in info["controllers"])
    except (OSError, ValueError, KeyError, TypeError):
        return DEFAULT_CONTROLLERS


class Payload:
    """EFI applications through kexec into edk2's Universal Payload (no firmware reset)."""

    method: handoff.Method = handoff.Method.PAYLOAD
    kinds: frozenset[Kind] = frozenset({Kind.EFI})
    # The payload is a kexec'd kernel: the jump is kexec's, and a load is undone by unloading.
    reboot_command: int = syscalls.LINUX_REBOOT_CMD_KEXEC

    def __init__(
        self,
        *,
        setting: EfiHandoff = EfiHandoff.AUTO,
        paths: Sequence[Path] = PAYLOAD_PATHS,
        sys_block: Path = SYS_CLASS_BLOCK,
        machine_files: Mapping[str, Path] | None = None,
        efivars_dir: str | os.PathLike[str] = efivars.EFIVARFS,
    ):
        self.setting = setting
        self.efivars_dir = efivars_dir
        # (path, size, mtime) → the payload file's problems, so that the menu's per-entry
        # route does not parse the 2.7 MB ELF again for every entry and every view.
        self._checked: tuple[tuple[str, int, int], tuple[str, ...]] | None = None
        self.paths = tuple(paths)
        self.sys_block = sys_block
        self.machine_files = dict(machine_files or {})

    def accepts(self, entry: BootEntry, env: handoff.Environment) -> str | None:
        if entry.kind not in self.kinds:
            return f"it starts only EFI applications, not {entry.kind.value} entries"
        if self.setting is EfiHandoff.BOOTNEXT:
            return "efi_handoff is bootnext"
        if bootvars.option_number(entry) is not None or not entry.kernel:
            return "firmware entries are started by the firmware"
        if env.locked_down:
            return f"lockdown ({env.lockdown}) forbids kexec_load"
        if not env.efi:
            return "this machine did not start through UEFI"
        if env.host_arch != "x86_64":
            return f"the payload is built for x86_64, this machine is {env.host_arch}"
        if self.setting is EfiHandoff.AUTO and efivars.secure_boot_enabled(
            directory=self.efivars_dir
        ):
            return (
                "Secure Boot is on, and the payload would start the application without the "
                "firmware's signature check (efi_handoff = payload overrides this)"
            )
        path = find_payload(self.paths)
        if path is None:
            return "the EFI payload is not installed (" + ", ".join(map(str, self.paths)) + ")"
        damaged = self.payload_problems(path)
        if damaged:
            return f"the EFI payload {path} cannot be used: {damaged[0]}"
        if not entry.root.startswith("/dev/"):
            return f"{entry.root} is not a disk the payload can read"
        kind = disk_controller(entry.root, sys_block=self.sys_block)
        drives = payload_controllers(path)
        if kind is None:
            return f"cannot tell which controller {entry.root} is attached to"
        if kind not in drives:
            return f"{entry.root} is on a {kind} controller, which the payload has no driver for"
        return None

    def payload_problems(self, path: Path) -> tuple[str, ...]:
        """Why the payload file cannot be started (checked once per file version)."""
        try:
            st = path.stat()
        except OSError as e:
            return (f"{path}: {e.strerror}",)
        key = (str(path), st.st_size, st.st_mtime_ns)
        if self._checked is not None and self._checked[0] == key:
            return self._checked[1]
        try:
            found = upl.problems(path.read_bytes())
        except OSError as e:
            found = (f"{path}: {e.strerror}",)
        self._checked = (key, found)
        return found

    def _read(
        self, entry: BootEntry, reader_for: handoff.ReaderFor, env: handoff.Environment
    ) -> tuple[list[handoff.Segment], list[str], LoadOption | None, bytes | None, Path | None]:
        problems: list[str] = []
        segments: list[handoff.Segment] = []
        path = find_payload(self.paths)
        elf: bytes | None = None
        if path is None:
            problems.append("the EFI payload is not installed")
        else:
            try:
                elf = path.read_bytes()
            except OSError as e:
                problems.append(f"{path}: {e.strerror}")
            if elf is not None:
                problems.extend(f"{path}: {p}" for p in upl.problems(elf))
                segments.append(
                    handoff.Segment("payload", str(path), len(elf), hashlib.sha256(elf).hexdigest())
                )
        app = efiapp.read_application(entry, reader_for, env)
        problems.extend(app.problems)
        if app.segment is None or app.volume is None:
            return segments, problems, None, elf, path
        segments.append(app.segment)
        volume = app.volume
        option: LoadOption | None = None
        try:
            hd = bootnext.partition_hard_drive(
                volume.name, volume.partuuid, sys_block=self.sys_block
            )
            option = LoadOption(
                LOAD_OPTION_ACTIVE,
                entry.title or "bootmenu",
                (hd_file_path(hd, entry.kernel),),
                load_options(entry.cmdline),
            )
        except (HandoffError, ValueError) as e:
            problems.append(str(e))
        return segments, problems, option, elf, path

    def plan(
        self, entry: BootEntry, reader_for: handoff.ReaderFor, env: handoff.Environment
    ) -> handoff.Plan:
        segments, problems, option, _elf, path = self._read(entry, reader_for, env)
        notes = []
        if option is not None:
            notes.append(
                f"the payload starts {boot_variable_name(PAYLOAD_BOOT_NUMBER)} "
                f"({option.path}) through BootNext in its own variable store; the "
                "firmware's variables are not touched"
            )
        return efiapp.application_plan(
            entry,
            handoff.Method.PAYLOAD,
            kernel=segments[-1].source if segments else entry.kernel,
            cmdline=entry.cmdline,
            segments=segments,
            reason=f"kexec into the UEFI payload {path}: the EFI application starts without a "
            "firmware reset",
            problems=problems,
            notes=notes,
        )

    def load(
        self, plan: handoff.Plan, reader_for: handoff.ReaderFor, env: handoff.Environment
    ) -> None:
        entry = plan.entry
        segments, problems, option, elf, _ = self._read(entry, reader_for, env)
        if problems or option is None or elf is None:
            raise HandoffError(f'cannot start "{entry.title}": ' + "; ".join(problems))
        efiapp.require_unchanged(plan, segments, f"{entry.kernel} or the payload")
        machine = read_machine(**self.machine_files)
        log.info("payload: the machine as handed over: %s", machine.describe())
        layout = plan_segments(machine, elf, boot_variables(option))
        if env.dry_run:
            for s in layout.segments:
                log.info("dry run: would load %s at %#x (%d bytes)", s.what, s.address, s.memsz)
            return
        try:
            syscalls.kexec_load(
                layout.entry, [(s.data, s.address, s.memsz) for s in layout.segments]
            )
        except OSError as e:
            raise HandoffError(f"kexec_load refused the payload: {e.strerror or e}") from e

    def undo(self, env: handoff.Environment) -> None:
        kexec.unload(env)
