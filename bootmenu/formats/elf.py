"""ELF executables as boot loaders see them: the file header and the loadable segments.

A boot loader (and kexec-tools) needs only the ELF header and the program header table: it
copies every ``PT_LOAD`` segment to memory and jumps to ``e_entry``.  Section headers, symbols
and dynamic sections are never read here, so a stripped or damaged section table does not
matter.  pyelftools decodes the header and the program header entries; everything it can raise
on a corrupt file becomes :class:`FormatError`.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from typing import Any

from bootmenu.errors import FormatError
from bootmenu.model import ImageInfo

ELF_MAGIC = b"\x7fELF"
EI_CLASS = 4
EI_DATA = 5
ELFDATA2MSB = 2
E_TYPE_OFFSET = 16
E_MACHINE_OFFSET = 18

PF_X = 0x1
PF_W = 0x2
PF_R = 0x4

# e_machine numbers, as in the System V ABI / <elf.h>.
EM_386 = 3
EM_486 = 6  # pre-standard number some old toolchains used for i486; kexec-tools accepts it
EM_MIPS = 8
EM_PPC = 20
EM_PPC64 = 21
EM_S390 = 22
EM_ARM = 40
EM_IA_64 = 50
EM_X86_64 = 62
EM_AARCH64 = 183
EM_RISCV = 243
EM_LOONGARCH = 258

# e_machine -> Linux machine name, by ELF class (32 or 64).
_ARCHITECTURES: dict[int, dict[int, str]] = {
    EM_386: {32: "i386", 64: "i386"},
    EM_486: {32: "i386", 64: "i386"},
    EM_X86_64: {32: "x86_64", 64: "x86_64"},  # class 32 is the x32 ABI
    EM_AARCH64: {32: "aarch64", 64: "aarch64"},
    EM_ARM: {32: "arm", 64: "arm"},
    EM_IA_64: {32: "ia64", 64: "ia64"},
    EM_RISCV: {32: "riscv32", 64: "riscv64"},
    EM_LOONGARCH: {32: "loongarch32", 64: "loongarch64"},
    EM_MIPS: {32: "mips", 64: "mips64"},
    EM_PPC: {32: "ppc", 64: "ppc"},
    EM_PPC64: {32: "ppc64", 64: "ppc64"},
    EM_S390: {32: "s390", 64: "s390x"},
}

_EXECUTABLE_TYPES = ("ET_EXEC", "ET_DYN")
_TYPE_DESCRIPTIONS = {
    "ET_NONE": "an ELF file of no type",
    "ET_REL": "a relocatable object file",
    "ET_CORE": "a core dump",
}

# What pyelftools (and the bundled construct library) raise on malformed input, besides its
# own ELFError and ConstructError (pyelftools is imported when an ELF file is parsed: it is
# the largest import of the discovery path and most disks hold no ELF image).
_PARSER_ERRORS = (
    struct.error,
    ValueError,
    KeyError,
    IndexError,
    TypeError,
    AttributeError,
    OverflowError,
    UnicodeDecodeError,
    RecursionError,
    EOFError,
)


@dataclass(frozen=True)
class ElfSegment:
    """One ``PT_LOAD`` program header entry."""

    offset: int
    vaddr: int
    paddr: int
    filesz: int
    memsz: int
    flags: int

    def contains(self, address: int) -> bool:
        """Whether ``address`` falls in this segment's virtual or physical memory range."""
        size = max(self.memsz, 1)
        return self.vaddr <= address < self.vaddr + size or (
            self.paddr <= address < self.paddr + size
        )


@dataclass(frozen=True)
class ElfImage:
    """An ELF executable reduced to what loading it needs.

    ``machine`` is pyelftools' name for ``e_machine`` (``"EM_386"``), or its hexadecimal
    number when unknown (``"EM_0x1234"``); ``architecture`` is the Linux machine name or None.
    ``segments`` holds the ``PT_LOAD`` entries in file order.  ``problems`` are reasons it
    cannot be loaded.
    """

    elf_class: int
    machine: str
    machine_number: int
    architecture: str | None
    entry: int
    type: str
    big_endian: bool
    segments: tuple[ElfSegment, ...]
    problems: tuple[str, ...]


def is_elf(data: bytes) -> bool:
    """Whether ``data`` starts with the ELF magic."""
    return data[:4] == ELF_MAGIC


def _name(value: object, prefix: str) -> str:
    """pyelftools gives known enum values as names and unknown ones as numbers."""
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return f"{prefix}{value:#x}"
    return f"{prefix}{value!r}"


def _read_segments(elf: Any, data: bytes) -> list[ElfSegment]:
    """The PT_LOAD entries of the program header table (raises FormatError if truncated)."""
    phoff = elf["e_phoff"]
    phnum = elf["e_phnum"]
    phentsize = elf["e_phentsize"]
    if phnum == 0:
        return []
    phdr = elf.structs.Elf_Phdr
    if phentsize < phdr.sizeof():
        raise FormatError(
            f"program header entries are {phentsize} bytes, at least {phdr.sizeof()} expected",
            what="ELF",
        )
    end = phoff + phnum * phentsize
    if end > len(data):
        raise FormatError(
            f"program header table: truncated at {len(data):#x} (the table ends at {end:#x})",
            what="ELF",
            offset=len(data),
        )
    segments: list[ElfSegment] = []
    for index in range(phnum):
        start = phoff + index * phentsize
        entry = phdr.parse(data[start : start + phdr.sizeof()])
        if entry["p_type"] != "PT_LOAD":
            continue
        segments.append(
            ElfSegment(
                offset=entry["p_offset"],
                vaddr=entry["p_vaddr"],
                paddr=entry["p_paddr"],
                filesz=entry["p_filesz"],
                memsz=entry["p_memsz"],
                flags=entry["p_flags"],
            )
        )
    return segments


def _problems(image_type: str, entry: int, segments: list[ElfSegment], size: int) -> list[str]:
    problems: list[str] = []
    if image_type not in _EXECUTABLE_TYPES:
        what = _TYPE_DESCRIPTIONS.get(image_type, f"an ELF file of type {image_type}")
        problems.append(f"this is {what}, not an executable")
    if not segments:
        problems.append("the ELF file has no loadable segment (PT_LOAD)")
    for number, segment in enumerate(segments):
        end = segment.offset + segment.filesz
        if segment.filesz and end > size:
            problems.append(
                f"loadable segment {number} (file offset {segment.offset:#x}, "
                f"{segment.filesz:#x} bytes) ends at {end:#x}, past the end of the file "
                f"({size:#x} bytes): the file is truncated or corrupt"
            )
        if segment.filesz > segment.memsz:
            problems.append(
                f"loadable segment {number} is larger in the file ({segment.filesz:#x} bytes) "
                f"than in memory ({segment.memsz:#x} bytes)"
            )
    if segments and not any(segment.contains(entry) for segment in segments):
        problems.append(f"the entry point {entry:#x} is not inside any loadable segment")
    return problems


def parse_elf(data: bytes) -> ElfImage:
    """Parse the ELF header and program headers of ``data``.

    Raises :class:`FormatError` when ``data`` is not ELF or its headers cannot be read;
    a readable file that could not be loaded is returned with ``problems``.
    """
    if not is_elf(data):
        raise FormatError("not an ELF file (no \\x7fELF magic)", what="ELF", offset=0)
    from elftools.common.exceptions import ELFError
    from elftools.construct.core import ConstructError
    from elftools.elf.elffile import ELFFile

    try:
        elf = ELFFile(io.BytesIO(data))
        elf_class = int(elf.elfclass)
        image_type = _name(elf["e_type"], "ET_")
        machine = _name(elf["e_machine"], "EM_")
        entry = int(elf["e_entry"])
        segments = _read_segments(elf, data)
    except (ELFError, ConstructError, *_PARSER_ERRORS) as error:
        raise FormatError(f"unreadable ELF header: {error}", what="ELF") from error
    big_endian = data[EI_DATA] == ELFDATA2MSB
    (machine_number,) = struct.unpack_from(">H" if big_endian else "<H", data, E_MACHINE_OFFSET)
    return ElfImage(
        elf_class=elf_class,
        machine=machine,
        machine_number=machine_number,
        architecture=_ARCHITECTURES.get(machine_number, {}).get(elf_class),
        entry=entry,
        type=image_type,
        big_endian=big_endian,
        segments=tuple(segments),
        problems=tuple(_problems(image_type, entry, segments, len(data))),
    )


def elf_details(image: ElfImage) -> dict[str, Any]:
    """A JSON-serialisable description of ``image`` for ``details``."""
    return {
        "class": image.elf_class,
        "machine": image.machine,
        "type": image.type,
        "endian": "big" if image.big_endian else "little",
        "entry": image.entry,
        "segments": [
            {
                "offset": segment.offset,
                "vaddr": segment.vaddr,
                "paddr": segment.paddr,
                "filesz": segment.filesz,
                "memsz": segment.memsz,
                "flags": "".join(
                    letter if segment.flags & bit else "-"
                    for letter, bit in (("r", PF_R), ("w", PF_W), ("x", PF_X))
                ),
            }
            for segment in image.segments
        ],
    }


def inspect_elf(data: bytes) -> ImageInfo:
    """Validate an ELF executable; ``kind`` is ``"multiboot"`` when it has a Multiboot header.

    For a Multiboot kernel, :func:`bootmenu.formats.multiboot.inspect_multiboot` gives the
    full report (header checks, what kexec-tools accepts).
    """
    # multiboot imports this module for parse_elf; import it here to keep that one-way.
    from bootmenu.formats import multiboot

    image = parse_elf(data)
    multiboot_version: int | None = None
    if multiboot.find_multiboot2(data) is not None:
        multiboot_version = 2
    elif multiboot.find_multiboot1(data) is not None:
        multiboot_version = 1
    details = elf_details(image)
    details["multiboot"] = multiboot_version
    return ImageInfo(
        format="elf",
        kind="multiboot" if multiboot_version else None,
        architecture=image.architecture,
        signed=None,
        problems=image.problems,
        details=details,
    )
