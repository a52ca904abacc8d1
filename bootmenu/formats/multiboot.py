"""Multiboot 1 and Multiboot 2 kernel headers (the GNU Multiboot specifications 0.6.96 and 2.0).

A Multiboot 1 header is a 4-aligned structure in the first 8192 bytes of the file, a
Multiboot 2 header an 8-aligned one in the first 32768 bytes; both are found by their magic
number and a checksum that makes the first words sum to zero.

Besides checking the headers against the specifications, :func:`inspect_multiboot` reports what
the kexec-tools loaders bootmenu hands these kernels to would refuse
(``kexec/arch/i386/kexec-multiboot-x86.c`` and ``kexec-mb2-x86.c``, Debian's kexec-tools
2.0.25): both accept only 32-bit x86 ELF files, the Multiboot 1 loader refuses the a.out kludge
and every "required feature" flag except page alignment and memory information, and
kexec-tools probes for a Multiboot 2 header before a Multiboot 1 header.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, TypeVar

from bootmenu.errors import FormatError
from bootmenu.formats.elf import EM_386, EM_486, ElfImage, elf_details, is_elf, parse_elf
from bootmenu.model import ImageInfo

# --- Multiboot 1 -------------------------------------------------------------------------
MULTIBOOT_SEARCH = 8192
MULTIBOOT_HEADER_ALIGN = 4
MULTIBOOT_HEADER_MAGIC = 0x1BADB002
MULTIBOOT_BOOTLOADER_MAGIC = 0x2BADB002

MULTIBOOT_PAGE_ALIGN = 0x00000001
MULTIBOOT_MEMORY_INFO = 0x00000002
MULTIBOOT_VIDEO_MODE = 0x00000004
MULTIBOOT_AOUT_KLUDGE = 0x00010000
# Bits 0-15 are "required features": a boot loader that does not know one must refuse.
MULTIBOOT_REQUIRED_MASK = 0x0000FFFF
# The required bits kexec-tools refuses (everything but PAGE_ALIGN and MEMORY_INFO).
KEXEC_MULTIBOOT_UNSUPPORTED = 0x0000FFFC

_MB1_BASE_SIZE = 12  # magic, flags, checksum
_MB1_AOUT_END = 32  # + header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr
_MB1_VIDEO_END = 48  # + mode_type, width, height, depth

# --- Multiboot 2 -------------------------------------------------------------------------
MULTIBOOT2_SEARCH = 32768
MULTIBOOT2_HEADER_ALIGN = 8
MULTIBOOT2_HEADER_MAGIC = 0xE85250D6
MULTIBOOT2_BOOTLOADER_MAGIC = 0x36D76289
MULTIBOOT_TAG_ALIGN = 8
MULTIBOOT_HEADER_TAG_OPTIONAL = 1

MULTIBOOT_ARCHITECTURE_I386 = 0
MULTIBOOT_ARCHITECTURE_MIPS32 = 4
_MB2_ARCHITECTURES = {MULTIBOOT_ARCHITECTURE_I386: "i386", MULTIBOOT_ARCHITECTURE_MIPS32: "mips"}

_MB2_BASE_SIZE = 16  # magic, architecture, header_length, checksum
_MB2_TAG_SIZE = 8  # type (u16), flags (u16), size (u32)

MULTIBOOT_HEADER_TAG_END = 0
MULTIBOOT_HEADER_TAG_INFORMATION_REQUEST = 1
MULTIBOOT_HEADER_TAG_ADDRESS = 2
MULTIBOOT_HEADER_TAG_ENTRY_ADDRESS = 3
MULTIBOOT_HEADER_TAG_CONSOLE_FLAGS = 4
MULTIBOOT_HEADER_TAG_FRAMEBUFFER = 5
MULTIBOOT_HEADER_TAG_MODULE_ALIGN = 6
MULTIBOOT_HEADER_TAG_EFI_BS = 7
MULTIBOOT_HEADER_TAG_ENTRY_ADDRESS_EFI32 = 8
MULTIBOOT_HEADER_TAG_ENTRY_ADDRESS_EFI64 = 9
MULTIBOOT_HEADER_TAG_RELOCATABLE = 10

HEADER_TAG_NAMES = {
    MULTIBOOT_HEADER_TAG_END: "end",
    MULTIBOOT_HEADER_TAG_INFORMATION_REQUEST: "information request",
    MULTIBOOT_HEADER_TAG_ADDRESS: "address",
    MULTIBOOT_HEADER_TAG_ENTRY_ADDRESS: "entry address",
    MULTIBOOT_HEADER_TAG_CONSOLE_FLAGS: "console flags",
    MULTIBOOT_HEADER_TAG_FRAMEBUFFER: "framebuffer",
    MULTIBOOT_HEADER_TAG_MODULE_ALIGN: "module alignment",
    MULTIBOOT_HEADER_TAG_EFI_BS: "EFI boot services",
    MULTIBOOT_HEADER_TAG_ENTRY_ADDRESS_EFI32: "EFI i386 entry address",
    MULTIBOOT_HEADER_TAG_ENTRY_ADDRESS_EFI64: "EFI amd64 entry address",
    MULTIBOOT_HEADER_TAG_RELOCATABLE: "relocatable",
}

# Boot information tag types a kernel may ask for in an information request tag.
MULTIBOOT_TAG_TYPE_CMDLINE = 1
MULTIBOOT_TAG_TYPE_BOOT_LOADER_NAME = 2
MULTIBOOT_TAG_TYPE_MODULE = 3
MULTIBOOT_TAG_TYPE_BASIC_MEMINFO = 4
MULTIBOOT_TAG_TYPE_MMAP = 6
MULTIBOOT_TAG_TYPE_FRAMEBUFFER = 8
MULTIBOOT_TAG_TYPE_LOAD_BASE_ADDR = 21

INFO_TAG_NAMES = {
    1: "command line",
    2: "boot loader name",
    3: "modules",
    4: "basic memory information",
    5: "BIOS boot device",
    6: "memory map",
    7: "VBE information",
    8: "framebuffer information",
    9: "ELF sections",
    10: "APM table",
    11: "EFI 32-bit system table",
    12: "EFI 64-bit system table",
    13: "SMBIOS tables",
    14: "ACPI 1.0 RSDP",
    15: "ACPI 2.0 RSDP",
    16: "network information",
    17: "EFI memory map",
    18: "EFI boot services not terminated",
    19: "EFI 32-bit image handle",
    20: "EFI 64-bit image handle",
    21: "image load base address",
}

# What kexec-tools' multiboot2_make_mbi() always puts in the boot information.
_KEXEC_MB2_SUPPLIED = frozenset(
    {
        MULTIBOOT_TAG_TYPE_CMDLINE,
        MULTIBOOT_TAG_TYPE_BOOT_LOADER_NAME,
        MULTIBOOT_TAG_TYPE_MODULE,
        MULTIBOOT_TAG_TYPE_BASIC_MEMINFO,
        MULTIBOOT_TAG_TYPE_MMAP,
    }
)

_KEXEC_ELF_MACHINES = (EM_386, EM_486)


@dataclass(frozen=True)
class Multiboot1Header:
    """A Multiboot 1 header found at file offset ``offset``.

    ``load_addresses`` are (header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr)
    when the a.out kludge flag (bit 16) is set; ``video`` is (mode_type, width, height, depth)
    when the video mode flag (bit 2) is set.  ``problems`` covers the header itself and the
    flags kexec-tools refuses.
    """

    offset: int
    flags: int
    checksum: int
    checksum_ok: bool
    load_addresses: tuple[int, int, int, int, int] | None
    video: tuple[int, int, int, int] | None
    problems: tuple[str, ...]


@dataclass(frozen=True)
class Multiboot2Tag:
    """One header tag.  ``values`` are the little-endian 32-bit words after the tag head."""

    type: int
    flags: int
    size: int
    name: str
    values: tuple[int, ...] = ()

    @property
    def optional(self) -> bool:
        return bool(self.flags & MULTIBOOT_HEADER_TAG_OPTIONAL)


@dataclass(frozen=True)
class Multiboot2Header:
    """A Multiboot 2 header found at file offset ``offset``, with its tags up to the end tag."""

    offset: int
    architecture: int
    header_length: int
    checksum: int
    checksum_ok: bool
    tags: tuple[Multiboot2Tag, ...]
    problems: tuple[str, ...]

    def tag(self, tag_type: int) -> Multiboot2Tag | None:
        """The first tag of ``tag_type``, if any."""
        return next((tag for tag in self.tags if tag.type == tag_type), None)


def _candidates(data: bytes, magic: int, search: int, align: int, size: int) -> list[int]:
    """Aligned offsets in the search window where a header starting with ``magic`` fits."""
    needle = struct.pack("<I", magic)
    window = data[: min(len(data), search)]
    found: list[int] = []
    position = window.find(needle)
    while position >= 0:
        if position % align == 0 and position + size <= len(window):
            found.append(position)
        position = window.find(needle, position + 1)
    return found


_Header = TypeVar("_Header", "Multiboot1Header", "Multiboot2Header")


def _first(headers: list[_Header]) -> _Header | None:
    """Like kexec-tools: the first header with a valid checksum, else the first one found."""
    for header in headers:
        if header.checksum_ok:
            return header
    return headers[0] if headers else None


# --- Multiboot 1 -------------------------------------------------------------------------


def _aout_problems(
    data: bytes, offset: int, addresses: tuple[int, int, int, int, int]
) -> list[str]:
    """Consistency of the a.out kludge addresses (spec section 3.1.3)."""
    header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr = addresses
    problems: list[str] = []
    if load_addr > header_addr:
        return [
            f"the a.out kludge load address {load_addr:#x} is above the header address "
            f"{header_addr:#x}"
        ]
    file_start = offset - (header_addr - load_addr)
    if file_start < 0:
        return [
            f"the a.out kludge addresses put the start of the image {-file_start:#x} bytes "
            "before the start of the file"
        ]
    if load_end_addr and load_end_addr < load_addr:
        problems.append(
            f"the a.out kludge load end address {load_end_addr:#x} is below the load address "
            f"{load_addr:#x}"
        )
        return problems
    image_end = load_addr + (len(data) - file_start)
    if load_end_addr:
        needed = file_start + (load_end_addr - load_addr)
        if needed > len(data):
            problems.append(
                f"the kernel file is truncated: the Multiboot header says the image takes "
                f"{needed} bytes of the file, it has {len(data)}"
            )
        image_end = load_end_addr
    if bss_end_addr and bss_end_addr < image_end:
        problems.append(
            f"the a.out kludge bss end address {bss_end_addr:#x} is below the end of the "
            f"loaded image {image_end:#x}"
        )
    memory_end = max(image_end, bss_end_addr)
    if not load_addr <= entry_addr < memory_end:
        problems.append(
            f"the entry address {entry_addr:#x} is outside the loaded image "
            f"({load_addr:#x}-{memory_end:#x})"
        )
    return problems


def _parse_multiboot1(data: bytes, offset: int) -> Multiboot1Header:
    magic, flags, checksum = struct.unpack_from("<III", data, offset)
    checksum_ok = (magic + flags + checksum) & 0xFFFFFFFF == 0
    problems: list[str] = []
    if not checksum_ok:
        problems.append(
            f"the Multiboot header at {offset:#x} has a wrong checksum ({checksum:#010x}); "
            "boot loaders will not recognise it"
        )
    load_addresses: tuple[int, int, int, int, int] | None = None
    video: tuple[int, int, int, int] | None = None
    needed = _MB1_BASE_SIZE
    if flags & MULTIBOOT_AOUT_KLUDGE:
        needed = _MB1_AOUT_END
    if flags & MULTIBOOT_VIDEO_MODE:
        needed = _MB1_VIDEO_END
    if offset + needed > len(data):
        problems.append(
            f"the Multiboot header at {offset:#x} is truncated: its flags need {needed} bytes"
        )
    else:
        if flags & MULTIBOOT_AOUT_KLUDGE:
            load_addresses = struct.unpack_from("<5I", data, offset + _MB1_BASE_SIZE)
            problems.extend(_aout_problems(data, offset, load_addresses))
        if flags & MULTIBOOT_VIDEO_MODE:
            video = struct.unpack_from("<4I", data, offset + _MB1_AOUT_END)
    if flags & MULTIBOOT_AOUT_KLUDGE:
        problems.append(
            "the kernel uses the Multiboot a.out kludge (flag 16), which kexec-tools "
            "does not support"
        )
    if flags & MULTIBOOT_VIDEO_MODE:
        problems.append(
            "the kernel requires a graphics mode set up by the boot loader (Multiboot flag 2), "
            "which kexec-tools cannot provide"
        )
    unknown = flags & KEXEC_MULTIBOOT_UNSUPPORTED & ~MULTIBOOT_VIDEO_MODE
    if unknown:
        problems.append(
            f"the kernel requires Multiboot features kexec-tools does not know "
            f"(required flag bits {unknown:#06x})"
        )
    return Multiboot1Header(
        offset=offset,
        flags=flags,
        checksum=checksum,
        checksum_ok=checksum_ok,
        load_addresses=load_addresses,
        video=video,
        problems=tuple(problems),
    )


def find_multiboot1(data: bytes) -> Multiboot1Header | None:
    """The Multiboot 1 header in the first 8192 bytes, or None.

    Among several candidates the first with a valid checksum wins (as in kexec-tools and GRUB);
    when none is valid, the first one is returned with ``checksum_ok`` False.
    """
    offsets = _candidates(
        data, MULTIBOOT_HEADER_MAGIC, MULTIBOOT_SEARCH, MULTIBOOT_HEADER_ALIGN, _MB1_BASE_SIZE
    )
    return _first([_parse_multiboot1(data, offset) for offset in offsets])


# --- Multiboot 2 -------------------------------------------------------------------------


def _walk_tags(
    data: bytes, offset: int, header_length: int
) -> tuple[list[Multiboot2Tag], list[str]]:
    tags: list[Multiboot2Tag] = []
    problems: list[str] = []
    end = offset + header_length
    position = offset + _MB2_BASE_SIZE
    while True:
        if position + _MB2_TAG_SIZE > end:
            problems.append(
                f"the Multiboot 2 header at {offset:#x} has no end tag within its "
                f"{header_length} bytes"
            )
            break
        if position + _MB2_TAG_SIZE > len(data):
            problems.append(f"the Multiboot 2 header at {offset:#x} is truncated")
            break
        tag_type, tag_flags, size = struct.unpack_from("<HHI", data, position)
        name = HEADER_TAG_NAMES.get(tag_type, f"unknown tag {tag_type}")
        if size < _MB2_TAG_SIZE:
            problems.append(
                f"Multiboot 2 header tag {tag_type} ({name}) at {position:#x} has size {size}, "
                f"less than {_MB2_TAG_SIZE}"
            )
            break
        if position + size > end:
            problems.append(
                f"Multiboot 2 header tag {tag_type} ({name}) at {position:#x} runs past the "
                f"end of the header ({end:#x})"
            )
            break
        if position + size > len(data):
            problems.append(f"the Multiboot 2 header at {offset:#x} is truncated")
            break
        words = (size - _MB2_TAG_SIZE) // 4
        values = struct.unpack_from(f"<{words}I", data, position + _MB2_TAG_SIZE)
        tags.append(Multiboot2Tag(tag_type, tag_flags, size, name, tuple(values)))
        if tag_type == MULTIBOOT_HEADER_TAG_END:
            break
        position += (size + MULTIBOOT_TAG_ALIGN - 1) & ~(MULTIBOOT_TAG_ALIGN - 1)
    return tags, problems


def _tag_problems(tags: list[Multiboot2Tag]) -> list[str]:
    """Required tags no boot loader may ignore, and required information kexec-tools lacks."""
    problems: list[str] = []
    types = {tag.type for tag in tags}
    supplied = set(_KEXEC_MB2_SUPPLIED)
    if MULTIBOOT_HEADER_TAG_RELOCATABLE in types:
        supplied.add(MULTIBOOT_TAG_TYPE_LOAD_BASE_ADDR)
    if MULTIBOOT_HEADER_TAG_FRAMEBUFFER in types:
        supplied.add(MULTIBOOT_TAG_TYPE_FRAMEBUFFER)
    for tag in tags:
        if tag.type not in HEADER_TAG_NAMES and not tag.optional:
            problems.append(
                f"the kernel requires Multiboot 2 header tag {tag.type}, which is not in the "
                "specification; no boot loader can satisfy it"
            )
        if tag.type == MULTIBOOT_HEADER_TAG_INFORMATION_REQUEST and not tag.optional:
            missing = [value for value in tag.values if value and value not in supplied]
            if missing:
                names = ", ".join(
                    f"{INFO_TAG_NAMES.get(value, 'unknown')} (tag {value})" for value in missing
                )
                problems.append(
                    f"the kernel requires boot information kexec-tools does not give: {names}"
                )
    return problems


def _parse_multiboot2(data: bytes, offset: int) -> Multiboot2Header:
    magic, architecture, header_length, checksum = struct.unpack_from("<IIII", data, offset)
    checksum_ok = (magic + architecture + header_length + checksum) & 0xFFFFFFFF == 0
    problems: list[str] = []
    if not checksum_ok:
        problems.append(
            f"the Multiboot 2 header at {offset:#x} has a wrong checksum ({checksum:#010x}); "
            "boot loaders will not recognise it"
        )
    if architecture not in _MB2_ARCHITECTURES:
        problems.append(f"the Multiboot 2 header names an unknown architecture ({architecture})")
    elif architecture != MULTIBOOT_ARCHITECTURE_I386:
        problems.append(
            "the kernel is a Multiboot 2 kernel for 32-bit MIPS; kexec-tools loads only "
            "i386 Multiboot 2 kernels"
        )
    tags: list[Multiboot2Tag] = []
    if header_length < _MB2_BASE_SIZE + _MB2_TAG_SIZE:
        problems.append(
            f"the Multiboot 2 header at {offset:#x} is {header_length} bytes long, too short "
            "to hold an end tag"
        )
    else:
        if offset + header_length > MULTIBOOT2_SEARCH:
            problems.append(
                f"the Multiboot 2 header at {offset:#x} ({header_length} bytes) does not end "
                f"within the first {MULTIBOOT2_SEARCH} bytes of the file"
            )
        tags, tag_walk_problems = _walk_tags(data, offset, header_length)
        problems.extend(tag_walk_problems)
        problems.extend(_tag_problems(tags))
    return Multiboot2Header(
        offset=offset,
        architecture=architecture,
        header_length=header_length,
        checksum=checksum,
        checksum_ok=checksum_ok,
        tags=tuple(tags),
        problems=tuple(problems),
    )


def find_multiboot2(data: bytes) -> Multiboot2Header | None:
    """The Multiboot 2 header in the first 32768 bytes, or None (same choice rule as MB1)."""
    offsets = _candidates(
        data, MULTIBOOT2_HEADER_MAGIC, MULTIBOOT2_SEARCH, MULTIBOOT2_HEADER_ALIGN, _MB2_BASE_SIZE
    )
    return _first([_parse_multiboot2(data, offset) for offset in offsets])


# --- Both --------------------------------------------------------------------------------


def _elf_problems(
    data: bytes, version: int, aout_kludge: bool
) -> tuple[ElfImage | None, list[str]]:
    """Parse the ELF file and say what kexec-tools' ELF-only Multiboot loaders would refuse."""
    if not is_elf(data):
        if version == 2:
            return None, [
                "the kernel is not an ELF file; kexec-tools loads Multiboot 2 kernels only "
                "from ELF files"
            ]
        if aout_kludge:
            return None, []  # already reported: kexec-tools refuses the a.out kludge
        return None, [
            "the kernel is neither an ELF file nor does its Multiboot header give load "
            "addresses (a.out kludge); no boot loader can load it"
        ]
    try:
        image = parse_elf(data)
    except FormatError as error:
        return None, [f"the kernel's ELF headers cannot be read: {error}"]
    problems = list(image.problems)
    if image.machine_number not in _KEXEC_ELF_MACHINES:
        built_for = image.architecture or image.machine
        problems.insert(
            0,
            f"the kernel is a {image.elf_class}-bit {built_for} ELF file; kexec-tools loads "
            "Multiboot kernels only from 32-bit x86 (EM_386) ELF files",
        )
    return image, problems


def inspect_multiboot(data: bytes) -> ImageInfo | None:
    """Validate a Multiboot kernel; None when ``data`` has neither header.

    When a file carries both headers (Xen does), the one kexec-tools would use is reported:
    Multiboot 2 if its checksum is valid, otherwise Multiboot 1.
    """
    mb2 = find_multiboot2(data)
    mb1 = find_multiboot1(data)
    chosen: Multiboot1Header | Multiboot2Header | None
    if mb2 is not None and mb2.checksum_ok:
        chosen = mb2
    elif mb1 is not None and mb1.checksum_ok:
        chosen = mb1
    else:
        chosen = mb2 or mb1
    if chosen is None:
        return None
    details: dict[str, Any] = {"header_offset": chosen.offset, "checksum_ok": chosen.checksum_ok}
    if isinstance(chosen, Multiboot2Header):
        version = 2
        architecture = _MB2_ARCHITECTURES.get(chosen.architecture)
        aout_kludge = False
        details["architecture"] = chosen.architecture
        details["header_length"] = chosen.header_length
        details["tags"] = [
            {"type": t.type, "name": t.name, "optional": t.optional, "size": t.size}
            for t in chosen.tags
        ]
        details["also_multiboot1"] = mb1 is not None
    else:
        version = 1
        architecture = "i386"
        aout_kludge = bool(chosen.flags & MULTIBOOT_AOUT_KLUDGE)
        details["flags"] = chosen.flags
        details["load_addresses"] = list(chosen.load_addresses) if chosen.load_addresses else None
        details["video"] = list(chosen.video) if chosen.video else None
    details["multiboot"] = version
    image, elf_problems = _elf_problems(data, version, aout_kludge)
    details["elf"] = elf_details(image) if image is not None else None
    return ImageInfo(
        format=f"multiboot{version}",
        kind="multiboot",
        architecture=architecture,
        signed=None,
        problems=chosen.problems + tuple(elf_problems),
        details=details,
    )
