"""PE/COFF images as UEFI firmware loads them: EFI applications, Linux EFI stubs and UKIs.

:func:`parse_pe` reads the headers and section table (through ``pefile``) and checks what firmware
relies on: the sections lie inside the file and do not overlap, the entry point is inside the
image, the subsystem is an EFI application, and a certificate table (Authenticode signature), if
there is one, is where the security data directory says.  Nothing here verifies a signature.

References: Microsoft "PE Format" (Optional Header Windows-Specific Fields, Section Table, The
Attribute Certificate Table); UEFI 2.10 section 2.1.1 (UEFI Image); the shim SBAT.md for
``.sbat``; the Linux x86 boot protocol for the "HdrS" magic at 0x202.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import pefile

from efi.errors import FormatError

# IMAGE_FILE_HEADER.Machine (PE Format, "Machine Types").
IMAGE_FILE_MACHINE_I386: Final = 0x014C
IMAGE_FILE_MACHINE_ARM: Final = 0x01C0
IMAGE_FILE_MACHINE_THUMB: Final = 0x01C2
IMAGE_FILE_MACHINE_ARMNT: Final = 0x01C4
IMAGE_FILE_MACHINE_IA64: Final = 0x0200
IMAGE_FILE_MACHINE_EBC: Final = 0x0EBC
IMAGE_FILE_MACHINE_AMD64: Final = 0x8664
IMAGE_FILE_MACHINE_ARM64: Final = 0xAA64
IMAGE_FILE_MACHINE_RISCV32: Final = 0x5032
IMAGE_FILE_MACHINE_RISCV64: Final = 0x5064
IMAGE_FILE_MACHINE_LOONGARCH32: Final = 0x6232
IMAGE_FILE_MACHINE_LOONGARCH64: Final = 0x6264

# machine -> (name as in the PE spec without the prefix, Linux architecture name or None)
MACHINES: Final[Mapping[int, tuple[str, str | None]]] = {
    IMAGE_FILE_MACHINE_I386: ("I386", "i386"),
    IMAGE_FILE_MACHINE_ARM: ("ARM", "arm"),
    IMAGE_FILE_MACHINE_THUMB: ("THUMB", "arm"),
    IMAGE_FILE_MACHINE_ARMNT: ("ARMNT", "arm"),
    IMAGE_FILE_MACHINE_IA64: ("IA64", "ia64"),
    IMAGE_FILE_MACHINE_EBC: ("EBC", None),  # EFI Byte Code runs on any firmware with an EBC VM
    IMAGE_FILE_MACHINE_AMD64: ("AMD64", "x86_64"),
    IMAGE_FILE_MACHINE_ARM64: ("ARM64", "aarch64"),
    IMAGE_FILE_MACHINE_RISCV32: ("RISCV32", "riscv32"),
    IMAGE_FILE_MACHINE_RISCV64: ("RISCV64", "riscv64"),
    IMAGE_FILE_MACHINE_LOONGARCH32: ("LOONGARCH32", "loongarch32"),
    IMAGE_FILE_MACHINE_LOONGARCH64: ("LOONGARCH64", "loongarch64"),
}

# IMAGE_OPTIONAL_HEADER.Subsystem (PE Format, "Windows Subsystem").
IMAGE_SUBSYSTEM_EFI_APPLICATION: Final = 10
SUBSYSTEMS: Final[Mapping[int, str]] = {
    0: "unknown",
    1: "native",
    2: "Windows GUI",
    3: "Windows console",
    5: "OS/2 console",
    7: "POSIX console",
    8: "native Windows 9x driver",
    9: "Windows CE",
    10: "EFI application",
    11: "EFI boot service driver",
    12: "EFI runtime driver",
    13: "EFI ROM",
    14: "Xbox",
    16: "Windows boot application",
}

# Optional header magic.
PE32_MAGIC: Final = 0x10B
PE32PLUS_MAGIC: Final = 0x20B
_64BIT_MACHINES: Final = frozenset(
    {
        IMAGE_FILE_MACHINE_AMD64,
        IMAGE_FILE_MACHINE_ARM64,
        IMAGE_FILE_MACHINE_IA64,
        IMAGE_FILE_MACHINE_RISCV64,
        IMAGE_FILE_MACHINE_LOONGARCH64,
    }
)

IMAGE_DIRECTORY_ENTRY_RESOURCE: Final = 2
IMAGE_DIRECTORY_ENTRY_SECURITY: Final = 4

# The Attribute Certificate Table: WIN_CERTIFICATE {dwLength, wRevision, wCertificateType, …}.
WIN_CERTIFICATE_HEADER: Final = struct.Struct("<IHH")
WIN_CERT_REVISION_1_0: Final = 0x0100
WIN_CERT_REVISION_2_0: Final = 0x0200
WIN_CERT_TYPE_X509: Final = 0x0001
WIN_CERT_TYPE_PKCS_SIGNED_DATA: Final = 0x0002
WIN_CERT_TYPE_TS_STACK_SIGNED: Final = 0x0004
WIN_CERT_TYPE_EFI_PKCS115: Final = 0x0EF0
WIN_CERT_TYPE_EFI_GUID: Final = 0x0EF1
_CERT_TYPES: Final = frozenset(
    {
        WIN_CERT_TYPE_X509,
        WIN_CERT_TYPE_PKCS_SIGNED_DATA,
        WIN_CERT_TYPE_TS_STACK_SIGNED,
        WIN_CERT_TYPE_EFI_PKCS115,
        WIN_CERT_TYPE_EFI_GUID,
    }
)

MZ_MAGIC: Final = b"MZ"
DOS_HEADER_SIZE: Final = 0x40
E_LFANEW_OFFSET: Final = 0x3C  # IMAGE_DOS_HEADER.e_lfanew: file offset of the PE signature
PE_SIGNATURE: Final = b"PE\0\0"

# Linux x86 boot protocol: "HdrS" at 0x202 marks a bzImage (also carried by EFI-stub kernels).
LINUX_HEADER_OFFSET: Final = 0x202
LINUX_HEADER_MAGIC: Final = b"HdrS"

SECTION_HEADER_SIZE: Final = 40
MAX_SECTIONS: Final = 96  # the PE loader limit in EDK2 and Windows


@dataclass(frozen=True)
class PeSection:
    """One entry of the section table (offsets and sizes as stored, not validated)."""

    name: str
    virtual_address: int
    virtual_size: int
    raw_offset: int
    raw_size: int


@dataclass(frozen=True)
class SbatEntry:
    """One line of an ``.sbat`` section (shim SBAT.md): component and its generation."""

    component: str
    generation: str
    vendor: str = ""
    package: str = ""
    version: str = ""
    url: str = ""


@dataclass(frozen=True)
class PeImage:
    """What :func:`parse_pe` found.  ``problems`` are sentences; an image with problems may
    still have been described completely (they say why firmware would refuse or misload it)."""

    machine: int
    machine_name: str
    architecture: str | None
    subsystem: int
    subsystem_name: str
    sections: tuple[PeSection, ...]
    signed: bool
    sbat: str | None
    has_linux_header: bool
    problems: tuple[str, ...]
    entry_point: int = 0
    image_base: int = 0
    size_of_image: int = 0
    # StringFileInfo strings of a VS_VERSIONINFO resource (CompanyName, OriginalFilename, …).
    version_info: tuple[tuple[str, str], ...] = ()

    def section(self, name: str) -> PeSection | None:
        """The first section called ``name``, as firmware and systemd-stub look sections up."""
        for section in self.sections:
            if section.name == name:
                return section
        return None

    def version_string(self, key: str) -> str | None:
        for k, value in self.version_info:
            if k == key:
                return value
        return None


class _PeFromBytes(pefile.PE):  # type: ignore[misc]
    """pefile.PE over bytes in memory: there is no file to close, and pefile's close() (also
    run when parsing fails) would force a full gc.collect() on every call."""

    def close(self) -> None:
        pass


def parse_pe(data: bytes, *, total_size: int | None = None) -> PeImage:
    """Describe a PE image.  Raises :class:`FormatError` if ``data`` is not a PE file at all.

    ``data`` may be only the file's head, with ``total_size`` its size: the headers and the
    section table must be in it; what lies beyond it (the certificate table, an ``.sbat``
    section) is checked against the size only, and ``signed`` then means that the image has
    a certificate table inside the file, not that its entries were read."""
    if len(data) < DOS_HEADER_SIZE or not data.startswith(MZ_MAGIC):
        raise FormatError("not a PE image: no MZ header", what="pe", offset=0)
    (e_lfanew,) = struct.unpack_from("<I", data, E_LFANEW_OFFSET)
    if data[e_lfanew : e_lfanew + 4] != PE_SIGNATURE:
        raise FormatError(
            f"not a PE image: no PE signature at {e_lfanew:#x}", what="pe", offset=e_lfanew
        )
    try:
        pe = _PeFromBytes(data=data, fast_load=True)
    except pefile.PEFormatError as err:
        raise FormatError(f"not a PE image: {err.value}", what="pe") from None
    except Exception as err:  # pefile lets struct/index/value errors escape on garbage
        raise FormatError(f"not a PE image: {err}", what="pe") from None
    try:
        return _describe(pe, data, len(data) if total_size is None else total_size)
    except FormatError:
        raise
    except Exception as err:
        raise FormatError(f"damaged PE image: {err}", what="pe") from None
    finally:
        # pefile's objects refer to each other: only the cycle collector frees them, which
        # runs by object counts, not bytes.  Holding the image, they kept every kernel a scan
        # read alive until then (a disk with 100 kernels peaked at 20 of them in memory).
        pe.__data__ = b""


def _describe(pe: Any, data: bytes, size: int) -> PeImage:
    problems: list[str] = []
    file_header = pe.FILE_HEADER
    optional = getattr(pe, "OPTIONAL_HEADER", None)
    if optional is None:
        raise FormatError("not a PE image: no optional header", what="pe")

    machine = int(file_header.Machine)
    known = MACHINES.get(machine)
    machine_name = known[0] if known else f"unknown machine {machine:#06x}"
    architecture = known[1] if known else None
    if known is None:
        problems.append(f"unknown machine type {machine:#06x}")

    magic = int(optional.Magic)
    if magic not in (PE32_MAGIC, PE32PLUS_MAGIC):
        problems.append(f"unknown optional header magic {magic:#x}")
    elif (magic == PE32PLUS_MAGIC) != (machine in _64BIT_MACHINES) and known is not None:
        kind = "PE32+ (64-bit)" if magic == PE32PLUS_MAGIC else "PE32 (32-bit)"
        problems.append(f"{kind} optional header does not match the {machine_name} machine type")

    subsystem = int(optional.Subsystem)
    subsystem_name = SUBSYSTEMS.get(subsystem, f"unknown subsystem {subsystem}")
    if subsystem != IMAGE_SUBSYSTEM_EFI_APPLICATION:
        problems.append(
            f"not an EFI application (PE subsystem {subsystem}, expected "
            f"{IMAGE_SUBSYSTEM_EFI_APPLICATION})"
        )

    sections = _sections(pe, data, problems)
    size_of_image = int(optional.SizeOfImage)
    entry_point = int(optional.AddressOfEntryPoint)
    _check_layout(sections, size, size_of_image, entry_point, problems)

    signed = _check_certificates(pe, data, size, problems)
    sbat = _sbat(data, size, sections, problems)
    version_info = _version_info(pe)

    return PeImage(
        machine=machine,
        machine_name=machine_name,
        architecture=architecture,
        subsystem=subsystem,
        subsystem_name=subsystem_name,
        sections=tuple(sections),
        signed=signed,
        sbat=sbat,
        has_linux_header=data[LINUX_HEADER_OFFSET : LINUX_HEADER_OFFSET + 4] == LINUX_HEADER_MAGIC,
        problems=tuple(problems),
        entry_point=entry_point,
        image_base=int(optional.ImageBase),
        size_of_image=size_of_image,
        version_info=version_info,
    )


def _sections(pe: Any, data: bytes, problems: list[str]) -> list[PeSection]:
    # Where the section table is, as the PE spec computes it (pefile stops quietly when it
    # runs out of data, so check the table is complete ourselves).
    count = int(pe.FILE_HEADER.NumberOfSections)
    table = (
        int(pe.DOS_HEADER.e_lfanew) + 4 + 20 + int(pe.FILE_HEADER.SizeOfOptionalHeader)
    )  # PE signature + IMAGE_FILE_HEADER + optional header
    end = table + count * SECTION_HEADER_SIZE
    if count == 0:
        problems.append("the image has no sections")
    elif count > MAX_SECTIONS:
        problems.append(f"the image claims {count} sections; firmware accepts at most 96")
    if end > len(data):
        raise FormatError(
            f"PE section table: truncated at {len(data):#x} (needs {end:#x} bytes)",
            what="pe",
            offset=len(data),
        )
    result = []
    for header in pe.sections:
        raw_name = bytes(header.Name).split(b"\0", 1)[0]
        result.append(
            PeSection(
                name=raw_name.decode("utf-8", errors="replace"),
                virtual_address=int(header.VirtualAddress),
                virtual_size=int(header.Misc_VirtualSize),
                raw_offset=int(header.PointerToRawData),
                raw_size=int(header.SizeOfRawData),
            )
        )
    if len(result) != count:
        problems.append(f"the section table lists {count} sections but {len(result)} were read")
    return result


def _check_layout(
    sections: list[PeSection],
    size: int,
    size_of_image: int,
    entry_point: int,
    problems: list[str],
) -> None:
    raw: list[tuple[int, int, str]] = []
    virtual: list[tuple[int, int, str]] = []
    for s in sections:
        if s.raw_size:
            end = s.raw_offset + s.raw_size
            if end > size:
                problems.append(
                    f"section {s.name}: data at {s.raw_offset:#x}-{end:#x} extends past the end "
                    f"of the file ({size:#x} bytes)"
                )
            raw.append((s.raw_offset, end, s.name))
        vsize = s.virtual_size or s.raw_size
        vend = s.virtual_address + vsize
        if vsize and vend > size_of_image:
            problems.append(
                f"section {s.name}: memory range {s.virtual_address:#x}-{vend:#x} is outside "
                f"the image size {size_of_image:#x}"
            )
        if vsize:
            virtual.append((s.virtual_address, vend, s.name))
    for what, ranges in (("file data", raw), ("memory", virtual)):
        ranges.sort()
        for (_, a_end, a_name), (b_start, _, b_name) in itertools.pairwise(ranges):
            if b_start < a_end:
                problems.append(f"sections {a_name} and {b_name} overlap in {what}")
    if not any(start <= entry_point < end for start, end, _ in virtual):
        problems.append(f"entry point {entry_point:#x} is outside every section")


def _check_certificates(pe: Any, data: bytes, size: int, problems: list[str]) -> bool:
    """Whether the image carries a well-formed Authenticode certificate table (of a file of
    ``size`` bytes; one beyond ``data``, the part read, is only placed, not read)."""
    directories = pe.OPTIONAL_HEADER.DATA_DIRECTORY
    if len(directories) <= IMAGE_DIRECTORY_ENTRY_SECURITY:
        return False
    directory = directories[IMAGE_DIRECTORY_ENTRY_SECURITY]
    # Unlike every other directory, this one holds a file offset, not an RVA.
    offset, length = int(directory.VirtualAddress), int(directory.Size)
    if offset == 0 and length == 0:
        return False
    end = offset + length
    if offset == 0 or length < WIN_CERTIFICATE_HEADER.size:
        problems.append(f"certificate table at {offset:#x} ({length} bytes) is not valid")
        return False
    if end > size:
        problems.append(
            f"certificate table at {offset:#x}-{end:#x} extends past the end of the file "
            f"({size:#x} bytes)"
        )
        return False
    if end > len(data):
        return True  # not read: the whole file's check reads it
    signatures = 0
    pos = offset
    while pos + WIN_CERTIFICATE_HEADER.size <= end:
        cert_length, revision, cert_type = WIN_CERTIFICATE_HEADER.unpack_from(data, pos)
        if cert_length < WIN_CERTIFICATE_HEADER.size or pos + cert_length > end:
            problems.append(
                f"certificate at {pos:#x}: length {cert_length} does not fit the certificate "
                f"table ({offset:#x}-{end:#x})"
            )
            return False
        if revision not in (WIN_CERT_REVISION_1_0, WIN_CERT_REVISION_2_0):
            problems.append(f"certificate at {pos:#x}: unknown revision {revision:#06x}")
            return False
        if cert_type not in _CERT_TYPES:
            problems.append(f"certificate at {pos:#x}: unknown certificate type {cert_type:#06x}")
            return False
        if cert_type == WIN_CERT_TYPE_PKCS_SIGNED_DATA:
            signatures += 1
        pos += (cert_length + 7) & ~7  # entries are 8-byte aligned
    if signatures == 0:
        problems.append("certificate table holds no Authenticode (PKCS#7) signature")
    return signatures > 0


def section_data(data: bytes, image: PeImage, name: str) -> bytes | None:
    """The bytes of section ``name`` as stored in the file, trimmed to its virtual size (the
    way systemd-stub and ukify read UKI sections: the raw size is padded to FileAlignment).
    None when there is no such section; a section cut short by the end of the file gives
    only the bytes that are there (``parse_pe`` reports it)."""
    section = image.section(name)
    if section is None:
        return None
    length = section.raw_size
    if section.virtual_size:
        length = min(length, section.virtual_size)
    return data[section.raw_offset : section.raw_offset + length]


def _sbat(data: bytes, size: int, sections: list[PeSection], problems: list[str]) -> str | None:
    section = next((s for s in sections if s.name == ".sbat"), None)
    if section is None:
        return None
    length = min(section.raw_size, section.virtual_size or section.raw_size)
    if section.raw_offset + length > len(data) < size:
        return None  # beyond the part read: the whole file's check reads it
    raw = data[section.raw_offset : section.raw_offset + length].split(b"\0", 1)[0]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        problems.append(f"the .sbat section is not UTF-8 text (byte {err.start:#x})")
        return None


def parse_sbat(text: str) -> tuple[SbatEntry, ...]:
    """The entries of an ``.sbat`` section: CSV lines ``component,generation,vendor,…``."""
    entries = []
    for line in text.splitlines():
        fields = [f.strip() for f in line.split(",")]
        if not line.strip() or len(fields) < 2:
            continue
        fields += [""] * (6 - len(fields))
        entries.append(SbatEntry(*fields[:6]))
    return tuple(entries)


def _version_info(pe: Any) -> tuple[tuple[str, str], ...]:
    """StringFileInfo strings of the VS_VERSIONINFO resource; () when absent or damaged."""
    directories = pe.OPTIONAL_HEADER.DATA_DIRECTORY
    if len(directories) <= IMAGE_DIRECTORY_ENTRY_RESOURCE:
        return ()
    if not directories[IMAGE_DIRECTORY_ENTRY_RESOURCE].VirtualAddress:
        return ()
    try:
        pe.parse_data_directories(
            directories=[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_RESOURCE"]]
        )
    except Exception:  # a damaged resource tree only means no version information
        return ()
    strings: list[tuple[str, str]] = []
    for file_info in getattr(pe, "FileInfo", None) or ():
        for entry in file_info:
            for table in getattr(entry, "StringTable", ()):
                for key, value in table.entries.items():
                    strings.append((_text(key), _text(value)))
    return tuple(strings)


def _text(value: bytes | str) -> str:
    if isinstance(value, str):
        return value
    return value.decode("utf-8", errors="replace")
