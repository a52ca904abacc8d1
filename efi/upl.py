"""edk2's UEFI Universal Payload (UPL) as an ELF file: what a loader needs to start it.

The Universal Payload Specification (0.9, "Payload Image Format: ELF") describes a payload
as an ELF image with an ``.upld_info`` section (the 56-byte ``UNIVERSAL_PAYLOAD_INFO_HEADER``,
identifier ``'PLDH'``) and one ``.upld.<name>`` section per extra image (edk2 2022.11 has one:
``.upld.uefi_fv``, the DXE firmware volume).  edk2's X64 payload is position independent (type
``ET_DYN``, linked at 0) and carries ``.rela``: ``R_X86_64_RELATIVE`` relocations only (next
to the link-time ``.rela.text`` and ``.rela.debug_*`` that ``--emit-relocs`` leaves, which a
loader ignores).

A loader (bootmenu's :mod:`bootmenu.boot.payload`) copies the ``PT_LOAD`` segments into one
page-rounded block (:func:`relocate`), applies the relocations for the block's physical
address, places each extra section where the ``ExtraData`` HOB says (:mod:`efi.hob`), and
enters :attr:`UniversalPayload.entry` (relocated) with RCX pointing at the HOB list.

Pure: bytes in, frozen dataclasses and bytes out.  Everything pyelftools can raise on a damaged
file becomes :class:`FormatError`; :func:`problems` turns that into sentences for the menu.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from typing import Any, Final

from efi.errors import FormatError

ELF_MAGIC: Final = b"\x7fELF"
EM_X86_64: Final = 62
ET_EXEC: Final = 2
ET_DYN: Final = 3
SHT_RELA: Final = 4
R_X86_64_NONE: Final = 0
R_X86_64_RELATIVE: Final = 8
PAGE: Final = 0x1000

# UNIVERSAL_PAYLOAD_INFO_HEADER (UniversalPayloadPkg: Include/UniversalPayload/UniversalPayload.h
# and the specification): Identifier u32, HeaderLength u32, SpecRevision u16, Reserved u16,
# Revision u32, Attribute u32, Capability u32, ProducerId[16], ImageId[16].
UPLD_INFO_SECTION: Final = ".upld_info"
UPLD_EXTRA_PREFIX: Final = ".upld."
PLDH_SIGNATURE: Final = b"PLDH"
_INFO: Final = struct.Struct("<4sIHHIII16s16s")
UPLD_INFO_SIZE: Final = _INFO.size  # 56
UPLD_ATTRIBUTE_DEBUG: Final = 0x1  # bit 0: 1 = debug build, 0 = release
UPLD_CAPABILITY_SMM_REBASE: Final = 0x1
EXTRA_IDENTIFIER_SIZE: Final = 16  # UNIVERSAL_PAYLOAD_EXTRA_DATA_ENTRY.Identifier
_RELA: Final = struct.Struct("<QQq")
_U64: Final = struct.Struct("<Q")
# A payload's image larger than this is not a payload (edk2's is about 50 KiB; the FV 3 MB).
MAX_IMAGE_SIZE: Final = 256 << 20


@dataclass(frozen=True)
class LoadSegment:
    """One ``PT_LOAD`` program header."""

    vaddr: int
    offset: int
    filesz: int
    memsz: int
    flags: int


@dataclass(frozen=True)
class Relocation:
    """One ``Elf64_Rela``: write ``base + addend`` at ``base + offset`` (RELATIVE)."""

    offset: int
    type: int
    addend: int


@dataclass(frozen=True)
class PayloadInfo:
    """The ``.upld_info`` header."""

    header_length: int
    spec_revision: int
    revision: int
    attribute: int
    capability: int
    producer_id: str
    image_id: str

    @property
    def debug(self) -> bool:
        return bool(self.attribute & UPLD_ATTRIBUTE_DEBUG)

    @property
    def spec_version(self) -> str:
        """``SpecRevision`` as ``major.minor`` (BCD: 0x0009 is 0.9)."""
        return f"{self.spec_revision >> 8:x}.{self.spec_revision & 0xFF:x}"

    @property
    def version(self) -> str:
        """``Revision``: major.minor.patch.build, one byte each from the top."""
        r = self.revision
        return f"{r >> 24 & 0xFF}.{r >> 16 & 0xFF}.{r >> 8 & 0xFF}.{r & 0xFF}"


@dataclass(frozen=True)
class ExtraSection:
    """One ``.upld.<name>`` section: ``name`` is the ExtraData identifier (``uefi_fv``)."""

    name: str
    offset: int
    size: int
    alignment: int


@dataclass(frozen=True)
class UniversalPayload:
    """A parsed payload.  Addresses are the ELF's (link-time) virtual addresses."""

    entry: int
    segments: tuple[LoadSegment, ...]
    relocations: tuple[Relocation, ...]
    info: PayloadInfo
    extra: tuple[ExtraSection, ...]
    low: int  # lowest PT_LOAD address, page-aligned down
    image_size: int  # bytes from ``low`` to the end of the last segment, page-rounded

    def entry_at(self, base: int) -> int:
        """The entry point when the image is placed at physical ``base``."""
        return base + self.entry - self.low

    def section(self, name: str) -> ExtraSection | None:
        for extra in self.extra:
            if extra.name == name:
                return extra
        return None


def page_round(size: int) -> int:
    return (size + PAGE - 1) & ~(PAGE - 1)


def _cstr(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("ascii", errors="replace")


def parse_info(data: bytes) -> PayloadInfo:
    """The ``UNIVERSAL_PAYLOAD_INFO_HEADER`` at the start of ``data``."""
    if len(data) < UPLD_INFO_SIZE:
        raise FormatError(
            f"{UPLD_INFO_SECTION}: truncated at {len(data):#x} (the header is {UPLD_INFO_SIZE} "
            "bytes)",
            what=UPLD_INFO_SECTION,
            offset=len(data),
        )
    sig, length, spec, _reserved, revision, attribute, capability, producer, image = (
        _INFO.unpack_from(data)
    )
    if sig != PLDH_SIGNATURE:
        raise FormatError(
            f"{UPLD_INFO_SECTION}: identifier is {sig!r}, expected {PLDH_SIGNATURE!r}",
            what=UPLD_INFO_SECTION,
            offset=0,
        )
    if length < UPLD_INFO_SIZE:
        raise FormatError(
            f"{UPLD_INFO_SECTION}: header length {length} is less than {UPLD_INFO_SIZE}",
            what=UPLD_INFO_SECTION,
            offset=4,
        )
    return PayloadInfo(length, spec, revision, attribute, capability, _cstr(producer), _cstr(image))


def _header(data: bytes) -> None:
    """Reject what is not a little-endian ELF64 for x86-64 before pyelftools sees it."""
    if len(data) < 0x40:
        raise FormatError(f"payload: truncated at {len(data):#x}", what="payload")
    if data[:4] != ELF_MAGIC:
        raise FormatError("payload: not an ELF file", what="payload", offset=0)
    if data[4] != 2 or data[5] != 1:
        raise FormatError(
            "payload: not a little-endian 64-bit ELF file (a Universal Payload for x86-64 is)",
            what="payload",
            offset=4,
        )
    (e_type, e_machine) = struct.unpack_from("<HH", data, 16)
    if e_machine != EM_X86_64:
        raise FormatError(
            f"payload: built for ELF machine {e_machine}, not x86-64 ({EM_X86_64})",
            what="payload",
            offset=18,
        )
    (phoff, shoff) = struct.unpack_from("<QQ", data, 32)
    (phentsize, phnum, shentsize, shnum) = struct.unpack_from("<HHHH", data, 54)
    for what, off, count, size, least in (
        ("program header table", phoff, phnum, phentsize, 56),
        ("section header table", shoff, shnum, shentsize, 64),
    ):
        # Smaller entries overlap: 0-byte ones made pyelftools read one header thousands of
        # times (a second for a 6 KiB file).
        if count and size < least:
            raise FormatError(
                f"payload: {what} entries are {size} bytes, at least {least} expected",
                what="payload",
                offset=54,
            )
        if off + count * size > len(data):
            raise FormatError(
                f"payload: {what} truncated at {len(data):#x}", what="payload", offset=off
            )
    if e_type not in (ET_EXEC, ET_DYN):
        raise FormatError(
            f"payload: ELF type {e_type} is not an executable or position-independent image",
            what="payload",
            offset=16,
        )


def _relocations(elf: Any, data: bytes) -> tuple[Relocation, ...]:
    relocs: list[Relocation] = []
    for section in elf.iter_sections():
        # Only the image's own (dynamic) relocations: those apply to no one section
        # (sh_info 0).  ``--emit-relocs`` leaves the link-time ones (.rela.text, .rela.debug_*,
        # sh_info naming their section) in edk2's payload too; they must not be applied.
        if section["sh_type"] != "SHT_RELA" or section["sh_info"] != 0:
            continue
        off, size, entsize = section["sh_offset"], section["sh_size"], section["sh_entsize"]
        if entsize not in (0, _RELA.size) or size % _RELA.size:
            raise FormatError(
                f"payload: {section.name}: entry size {entsize} is not {_RELA.size}",
                what="payload",
                offset=off,
            )
        if off + size > len(data):
            raise FormatError(f"payload: {section.name}: truncated at {len(data):#x}",
                              what="payload", offset=off)  # fmt: skip
        for pos in range(off, off + size, _RELA.size):
            r_offset, r_info, addend = _RELA.unpack_from(data, pos)
            rtype = r_info & 0xFFFFFFFF
            if rtype == R_X86_64_NONE:
                continue
            if rtype != R_X86_64_RELATIVE:
                raise FormatError(
                    f"payload: {section.name} has a relocation of type {rtype} at "
                    f"{r_offset:#x}; only R_X86_64_RELATIVE ({R_X86_64_RELATIVE}) can be applied",
                    what="payload",
                    offset=pos,
                )
            relocs.append(Relocation(r_offset, rtype, addend))
    return tuple(relocs)


def parse_upl(data: bytes) -> UniversalPayload:
    """Parse a Universal Payload ELF; FormatError with a sentence when it is not one."""
    # pyelftools only when a payload is parsed (a boot menu that never starts an EFI program
    # never needs it).
    from elftools.common.exceptions import ELFError
    from elftools.construct.core import ConstructError
    from elftools.elf.elffile import ELFFile

    _header(data)
    try:
        elf = ELFFile(io.BytesIO(data))
        entry = int(elf.header["e_entry"])
        segments: list[LoadSegment] = []
        for phdr in elf.iter_segments():
            if phdr["p_type"] != "PT_LOAD":
                continue
            segments.append(
                LoadSegment(
                    int(phdr["p_vaddr"]),
                    int(phdr["p_offset"]),
                    int(phdr["p_filesz"]),
                    int(phdr["p_memsz"]),
                    int(phdr["p_flags"]),
                )
            )
        info_data: bytes | None = None
        extra: list[ExtraSection] = []
        for section in elf.iter_sections():
            name = section.name
            if name == UPLD_INFO_SECTION:
                off, size = int(section["sh_offset"]), int(section["sh_size"])
                info_data = data[off : off + size]
            elif name.startswith(UPLD_EXTRA_PREFIX):
                extra.append(
                    ExtraSection(
                        name[len(UPLD_EXTRA_PREFIX) :],
                        int(section["sh_offset"]),
                        int(section["sh_size"]),
                        int(section["sh_addralign"]),
                    )
                )
        relocations = _relocations(elf, data)
    # OverflowError: an offset past what a file can have (pyelftools seeks to it as given).
    except (ELFError, ConstructError, struct.error, ValueError, KeyError, IndexError,
            AttributeError, OverflowError, UnicodeDecodeError, RecursionError) as e:  # fmt: skip
        raise FormatError(f"payload: damaged ELF file: {e}", what="payload") from None
    if info_data is None:
        raise FormatError(
            f"payload: no {UPLD_INFO_SECTION} section: not a UEFI Universal Payload",
            what="payload",
        )
    info = parse_info(info_data)
    if not segments:
        raise FormatError("payload: no loadable (PT_LOAD) segment", what="payload")
    for seg in segments:
        if seg.filesz > seg.memsz:
            raise FormatError(
                f"payload: segment at {seg.vaddr:#x} has more file bytes ({seg.filesz}) than "
                f"memory ({seg.memsz})",
                what="payload",
            )
        if seg.offset + seg.filesz > len(data):
            raise FormatError(
                f"payload: segment at {seg.vaddr:#x}: truncated at {len(data):#x}",
                what="payload",
                offset=seg.offset,
            )
    low = min(s.vaddr for s in segments) & ~(PAGE - 1)
    high = max(s.vaddr + s.memsz for s in segments)
    image_size = page_round(high - low)
    if image_size > MAX_IMAGE_SIZE:
        raise FormatError(
            f"payload: its segments span {image_size} bytes, more than a payload ever needs",
            what="payload",
        )
    if not low <= entry < high:
        raise FormatError(
            f"payload: entry point {entry:#x} is outside its segments ({low:#x}-{high:#x})",
            what="payload",
        )
    for extra_section in extra:
        if extra_section.offset + extra_section.size > len(data):
            raise FormatError(
                f"payload: section .upld.{extra_section.name}: truncated at {len(data):#x}",
                what="payload",
                offset=extra_section.offset,
            )
        if len(extra_section.name.encode()) >= EXTRA_IDENTIFIER_SIZE:
            raise FormatError(
                f"payload: section name .upld.{extra_section.name} is longer than an ExtraData "
                f"identifier ({EXTRA_IDENTIFIER_SIZE - 1} characters)",
                what="payload",
            )
    for reloc in relocations:
        if not low <= reloc.offset <= low + image_size - _U64.size:
            raise FormatError(
                f"payload: relocation at {reloc.offset:#x} is outside its segments",
                what="payload",
            )
    return UniversalPayload(
        entry, tuple(segments), relocations, info, tuple(extra), low, image_size
    )


def relocate(data: bytes, upl: UniversalPayload, base: int) -> bytes:
    """The payload's memory image for physical address ``base`` (page-aligned): every
    PT_LOAD copied to ``vaddr - low``, the rest zero, RELATIVE relocations applied."""
    if base % PAGE:
        raise ValueError(f"base {base:#x} is not page-aligned")
    image = bytearray(upl.image_size)
    for seg in upl.segments:
        at = seg.vaddr - upl.low
        image[at : at + seg.filesz] = data[seg.offset : seg.offset + seg.filesz]
    delta = base - upl.low
    for reloc in upl.relocations:
        _U64.pack_into(image, reloc.offset - upl.low, (delta + reloc.addend) & (2**64 - 1))
    return bytes(image)


def extra_data(data: bytes, section: ExtraSection) -> bytes:
    return data[section.offset : section.offset + section.size]


def problems(data: bytes) -> tuple[str, ...]:
    """Why ``data`` cannot be started as bootmenu's payload (sentences); () when it can."""
    try:
        upl = parse_upl(data)
    except FormatError as e:
        return (str(e),)
    found: list[str] = []
    if upl.section("uefi_fv") is None:
        names = ", ".join(f".upld.{x.name}" for x in upl.extra) or "none"
        found.append(f"payload: it has no .upld.uefi_fv section (the DXE firmware volume); "
                     f"extra sections: {names}")  # fmt: skip
    return tuple(found)
