"""Hand-off blocks (HOBs): the machine description a UEFI Universal Payload starts from.

Layouts from the UEFI Platform Initialization Specification 1.7, volume 3 ("Shared
Architectural Elements", chapter 5 "HOB Code Definitions"); the GUIDed payloads from the
Universal Payload Specification and edk2's ``MdeModulePkg/Include/UniversalPayload/*.h`` (all
``#pragma pack(1)``) and ``MdeModulePkg/Include/Guid/GraphicsInfoHob.h``.

Every HOB starts with ``EFI_HOB_GENERIC_HEADER`` (type u16, length u16, reserved u32) and its
length is a multiple of 8.  A list starts with the PHIT HOB and ends with an end-of-list HOB;
the PHIT's ``EfiEndOfHobList`` is the address of that last HOB.

One dataclass per HOB type, each with ``__bytes__``; :func:`parse_hob_list` reads a list back
(round trip).  The GUIDed structures (:class:`ExtraData`, :class:`SerialPortInfo`,
:class:`AcpiTable`, :class:`SmbiosTable`, :class:`GraphicsInfo`, :class:`BootmenuVariable`)
encode to the data of a :class:`GuidHob` with ``.hob()`` and decode with ``.parse(data)``.
:func:`build_hob_list` lays a list out for the physical address it will be loaded at.

Pure: bytes in, bytes out.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final
from uuid import UUID

from efi.errors import FormatError

# -- EFI_HOB_TYPE_* -------------------------------------------------------------------------
EFI_HOB_TYPE_HANDOFF: Final = 0x0001
EFI_HOB_TYPE_MEMORY_ALLOCATION: Final = 0x0002
EFI_HOB_TYPE_RESOURCE_DESCRIPTOR: Final = 0x0003
EFI_HOB_TYPE_GUID_EXTENSION: Final = 0x0004
EFI_HOB_TYPE_FV: Final = 0x0005
EFI_HOB_TYPE_CPU: Final = 0x0006
EFI_HOB_TYPE_MEMORY_POOL: Final = 0x0007
EFI_HOB_TYPE_FV2: Final = 0x0009
EFI_HOB_TYPE_UNUSED: Final = 0xFFFE
EFI_HOB_TYPE_END_OF_HOB_LIST: Final = 0xFFFF

EFI_HOB_HANDOFF_TABLE_VERSION: Final = 0x0009
BOOT_WITH_FULL_CONFIGURATION: Final = 0x00

# EFI_RESOURCE_TYPE
EFI_RESOURCE_SYSTEM_MEMORY: Final = 0x00
EFI_RESOURCE_MEMORY_MAPPED_IO: Final = 0x01
EFI_RESOURCE_IO: Final = 0x02
EFI_RESOURCE_FIRMWARE_DEVICE: Final = 0x03
EFI_RESOURCE_MEMORY_MAPPED_IO_PORT: Final = 0x04
EFI_RESOURCE_MEMORY_RESERVED: Final = 0x05
EFI_RESOURCE_IO_RESERVED: Final = 0x06

# EFI_RESOURCE_ATTRIBUTE_TYPE
EFI_RESOURCE_ATTRIBUTE_PRESENT: Final = 0x00000001
EFI_RESOURCE_ATTRIBUTE_INITIALIZED: Final = 0x00000002
EFI_RESOURCE_ATTRIBUTE_TESTED: Final = 0x00000004
EFI_RESOURCE_ATTRIBUTE_UNCACHEABLE: Final = 0x00000400
EFI_RESOURCE_ATTRIBUTE_WRITE_COMBINEABLE: Final = 0x00000800
EFI_RESOURCE_ATTRIBUTE_WRITE_THROUGH_CACHEABLE: Final = 0x00001000
EFI_RESOURCE_ATTRIBUTE_WRITE_BACK_CACHEABLE: Final = 0x00002000
# What edk2's coreboot/SBL parsers give system memory: present, initialized, tested, all caching.
SYSTEM_MEMORY_ATTRIBUTES: Final = (
    EFI_RESOURCE_ATTRIBUTE_PRESENT
    | EFI_RESOURCE_ATTRIBUTE_INITIALIZED
    | EFI_RESOURCE_ATTRIBUTE_TESTED
    | EFI_RESOURCE_ATTRIBUTE_UNCACHEABLE
    | EFI_RESOURCE_ATTRIBUTE_WRITE_COMBINEABLE
    | EFI_RESOURCE_ATTRIBUTE_WRITE_THROUGH_CACHEABLE
    | EFI_RESOURCE_ATTRIBUTE_WRITE_BACK_CACHEABLE
)  # 0x3C07
RESERVED_MEMORY_ATTRIBUTES: Final = (
    EFI_RESOURCE_ATTRIBUTE_PRESENT | EFI_RESOURCE_ATTRIBUTE_INITIALIZED
)

# EFI_MEMORY_TYPE (UEFI 2.10, 7.2)
EfiReservedMemoryType: Final = 0
EfiLoaderCode: Final = 1
EfiLoaderData: Final = 2
EfiBootServicesCode: Final = 3
EfiBootServicesData: Final = 4
EfiRuntimeServicesCode: Final = 5
EfiRuntimeServicesData: Final = 6
EfiConventionalMemory: Final = 7
EfiUnusableMemory: Final = 8
EfiACPIReclaimMemory: Final = 9
EfiACPIMemoryNVS: Final = 10
EfiMemoryMappedIO: Final = 11

# GUIDs (edk2 MdeModulePkg.dec / MdePkg.dec)
ZERO_GUID: Final = UUID(int=0)
HOB_MEMORY_ALLOC_MODULE_GUID: Final = UUID("f8e21975-0899-4f58-a4be-5525a9c6d77a")
HOB_MEMORY_ALLOC_STACK_GUID: Final = UUID("4ed4bf27-4092-42e9-807d-527b1d00c9bd")
EXTRA_DATA_GUID: Final = UUID("15a5baf6-1c91-467d-9dfb-319d178d4bb4")
SERIAL_PORT_INFO_GUID: Final = UUID("aa7e190d-be21-4409-8e67-a2cd0f61e170")
ACPI_TABLE_GUID: Final = UUID("9f9a9506-5597-4515-bab6-8bcde784ba87")
SMBIOS_TABLE_GUID: Final = UUID("590a0d26-06e5-4d20-8a82-59ea1b34982d")  # 32-bit entry point
SMBIOS3_TABLE_GUID: Final = UUID("92b7896c-3362-46ce-99b3-4f5e3c34eb42")  # 64-bit entry point
GRAPHICS_INFO_GUID: Final = UUID("39f62cce-6825-4669-bb56-541aba753a07")
# bootmenu's own: one UEFI variable for the payload to set before its boot manager runs
# (payload/BootmenuVariablesDxe; docs/payload.md).
BOOTMENU_VARIABLE_GUID: Final = UUID("996ad62f-b721-445b-ac69-2971defd22ac")

UNIVERSAL_PAYLOAD_EXTRA_DATA_REVISION: Final = 1
UNIVERSAL_PAYLOAD_SERIAL_PORT_INFO_REVISION: Final = 1
UNIVERSAL_PAYLOAD_ACPI_TABLE_REVISION: Final = 1
UNIVERSAL_PAYLOAD_SMBIOS_TABLE_REVISION: Final = 1

# EFI_GRAPHICS_PIXEL_FORMAT
PixelRedGreenBlueReserved8BitPerColor: Final = 0
PixelBlueGreenRedReserved8BitPerColor: Final = 1
PixelBitMask: Final = 2
PixelBltOnly: Final = 3

_HEADER: Final = struct.Struct("<HHI")  # EFI_HOB_GENERIC_HEADER
_PHIT: Final = struct.Struct("<IIQQQQQ")  # after the header
_MEMORY_ALLOCATION: Final = struct.Struct("<16sQQI4x")  # EFI_HOB_MEMORY_ALLOCATION_HEADER
_MODULE: Final = struct.Struct("<16sQ")  # ModuleName, EntryPoint
_RESOURCE: Final = struct.Struct("<16sIIQQ")
_CPU: Final = struct.Struct("<BB6x")
_FV: Final = struct.Struct("<QQ")
_GENERIC: Final = struct.Struct("<BBH")  # UNIVERSAL_PAYLOAD_GENERIC_HEADER
_EXTRA_ENTRY: Final = struct.Struct("<16sQQ")
_SERIAL: Final = struct.Struct("<BBIQ")
_U32: Final = struct.Struct("<I")
_U64: Final = struct.Struct("<Q")
_GRAPHICS: Final = struct.Struct("<QIIIIIIIIII")
_VARIABLE: Final = struct.Struct("<16sIII")
HOB_ALIGN: Final = 8


def _guid(data: bytes, off: int) -> UUID:
    return UUID(bytes_le=bytes(data[off : off + 16]))


def _hob(hob_type: int, body: bytes) -> bytes:
    length = _HEADER.size + len(body)
    pad = -length % HOB_ALIGN
    if length + pad > 0xFFFF:
        raise ValueError(f"HOB of type {hob_type:#x} is too long ({length} bytes)")
    return _HEADER.pack(hob_type, length + pad, 0) + body + b"\0" * pad


def _need(data: bytes, size: int, what: str, off: int = 0) -> None:
    if len(data) < off + size:
        raise FormatError(f"{what}: truncated at {len(data):#x}", what=what, offset=len(data))


# -- the HOBs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Phit:
    """EFI_HOB_HANDOFF_INFO_TABLE: the memory the HOB producer handed over."""

    memory_top: int
    memory_bottom: int
    free_memory_top: int
    free_memory_bottom: int
    end_of_hob_list: int
    boot_mode: int = BOOT_WITH_FULL_CONFIGURATION
    version: int = EFI_HOB_HANDOFF_TABLE_VERSION

    def __bytes__(self) -> bytes:
        return _hob(
            EFI_HOB_TYPE_HANDOFF,
            _PHIT.pack(
                self.version,
                self.boot_mode,
                self.memory_top,
                self.memory_bottom,
                self.free_memory_top,
                self.free_memory_bottom,
                self.end_of_hob_list,
            ),
        )


@dataclass(frozen=True)
class Cpu:
    """EFI_HOB_CPU: address bits of memory and I/O space."""

    memory_bits: int
    io_bits: int = 16

    def __bytes__(self) -> bytes:
        return _hob(EFI_HOB_TYPE_CPU, _CPU.pack(self.memory_bits, self.io_bits))


@dataclass(frozen=True)
class ResourceDescriptor:
    """EFI_HOB_RESOURCE_DESCRIPTOR: a range of system memory, MMIO, I/O or reserved space."""

    resource_type: int
    attributes: int
    start: int
    length: int
    owner: UUID = ZERO_GUID

    @property
    def end(self) -> int:
        return self.start + self.length

    def __bytes__(self) -> bytes:
        return _hob(
            EFI_HOB_TYPE_RESOURCE_DESCRIPTOR,
            _RESOURCE.pack(
                self.owner.bytes_le, self.resource_type, self.attributes, self.start, self.length
            ),
        )


@dataclass(frozen=True)
class MemoryAllocation:
    """EFI_HOB_MEMORY_ALLOCATION: a range already in use, with its EFI memory type."""

    base: int
    length: int
    memory_type: int
    name: UUID = ZERO_GUID

    def __bytes__(self) -> bytes:
        return _hob(
            EFI_HOB_TYPE_MEMORY_ALLOCATION,
            _MEMORY_ALLOCATION.pack(self.name.bytes_le, self.base, self.length, self.memory_type),
        )


@dataclass(frozen=True)
class MemoryAllocationModule:
    """EFI_HOB_MEMORY_ALLOCATION_MODULE: the memory of a loaded module and its entry point."""

    base: int
    length: int
    memory_type: int
    module_name: UUID
    entry_point: int
    name: UUID = HOB_MEMORY_ALLOC_MODULE_GUID

    def __bytes__(self) -> bytes:
        return _hob(
            EFI_HOB_TYPE_MEMORY_ALLOCATION,
            _MEMORY_ALLOCATION.pack(self.name.bytes_le, self.base, self.length, self.memory_type)
            + _MODULE.pack(self.module_name.bytes_le, self.entry_point),
        )


@dataclass(frozen=True)
class FirmwareVolume:
    """EFI_HOB_FIRMWARE_VOLUME."""

    base: int
    length: int

    def __bytes__(self) -> bytes:
        return _hob(EFI_HOB_TYPE_FV, _FV.pack(self.base, self.length))


@dataclass(frozen=True)
class GuidHob:
    """EFI_HOB_GUID_TYPE: a GUID and data (padded with zeros to 8 bytes on encoding)."""

    guid: UUID
    data: bytes

    def __bytes__(self) -> bytes:
        return _hob(EFI_HOB_TYPE_GUID_EXTENSION, self.guid.bytes_le + self.data)


@dataclass(frozen=True)
class EndOfHobList:
    def __bytes__(self) -> bytes:
        return _HEADER.pack(EFI_HOB_TYPE_END_OF_HOB_LIST, _HEADER.size, 0)


@dataclass(frozen=True)
class UnknownHob:
    """A HOB type this module does not decode: kept as its body (after the header)."""

    hob_type: int
    body: bytes

    def __bytes__(self) -> bytes:
        return _hob(self.hob_type, self.body)


Hob = (
    Phit
    | Cpu
    | ResourceDescriptor
    | MemoryAllocation
    | MemoryAllocationModule
    | FirmwareVolume
    | GuidHob
    | EndOfHobList
    | UnknownHob
)


# -- GUIDed payloads -----------------------------------------------------------------------


def _generic(revision: int, length: int) -> bytes:
    return _GENERIC.pack(revision, 0, length)


def _check_generic(data: bytes, size: int, what: str) -> tuple[int, int]:
    _need(data, size, what)
    revision, _reserved, length = _GENERIC.unpack_from(data)
    if length < size or length > len(data):
        raise FormatError(
            f"{what}: header length {length} does not fit its {len(data)} bytes",
            what=what,
            offset=2,
        )
    return revision, length


@dataclass(frozen=True)
class ExtraDataEntry:
    identifier: str  # at most 15 ASCII characters ("uefi_fv")
    base: int
    size: int


@dataclass(frozen=True)
class ExtraData:
    """UNIVERSAL_PAYLOAD_EXTRA_DATA: where the payload's ``.upld.*`` sections were put."""

    entries: tuple[ExtraDataEntry, ...]
    revision: int = UNIVERSAL_PAYLOAD_EXTRA_DATA_REVISION
    guid = EXTRA_DATA_GUID

    def __bytes__(self) -> bytes:
        length = _GENERIC.size + _U32.size + _EXTRA_ENTRY.size * len(self.entries)
        out = _generic(self.revision, length) + _U32.pack(len(self.entries))
        for e in self.entries:
            name = e.identifier.encode("ascii")
            if len(name) > 15:
                raise ValueError(f"ExtraData identifier {e.identifier!r} is too long")
            out += _EXTRA_ENTRY.pack(name, e.base, e.size)
        return out

    def hob(self) -> GuidHob:
        return GuidHob(self.guid, bytes(self))

    @classmethod
    def parse(cls, data: bytes) -> ExtraData:
        what = "ExtraData HOB"
        revision, _length = _check_generic(data, _GENERIC.size + _U32.size, what)
        (count,) = _U32.unpack_from(data, _GENERIC.size)
        off = _GENERIC.size + _U32.size
        _need(data, count * _EXTRA_ENTRY.size, what, off)
        entries = []
        for i in range(count):
            raw, base, size = _EXTRA_ENTRY.unpack_from(data, off + i * _EXTRA_ENTRY.size)
            name = raw.split(b"\0", 1)[0].decode("ascii", errors="replace")
            entries.append(ExtraDataEntry(name, base, size))
        return cls(tuple(entries), revision)


@dataclass(frozen=True)
class SerialPortInfo:
    """UNIVERSAL_PAYLOAD_SERIAL_PORT_INFO (packed: 18 bytes)."""

    register_base: int = 0x3F8
    baud_rate: int = 115200
    use_mmio: bool = False
    register_stride: int = 1
    revision: int = UNIVERSAL_PAYLOAD_SERIAL_PORT_INFO_REVISION
    guid = SERIAL_PORT_INFO_GUID

    def __bytes__(self) -> bytes:
        return _generic(self.revision, _GENERIC.size + _SERIAL.size) + _SERIAL.pack(
            int(self.use_mmio), self.register_stride, self.baud_rate, self.register_base
        )

    def hob(self) -> GuidHob:
        return GuidHob(self.guid, bytes(self))

    @classmethod
    def parse(cls, data: bytes) -> SerialPortInfo:
        revision, _ = _check_generic(data, _GENERIC.size + _SERIAL.size, "SerialPortInfo HOB")
        mmio, stride, baud, base = _SERIAL.unpack_from(data, _GENERIC.size)
        return cls(base, baud, bool(mmio), stride, revision)


@dataclass(frozen=True)
class AcpiTable:
    """UNIVERSAL_PAYLOAD_ACPI_TABLE: the RSDP's physical address (12 bytes)."""

    rsdp: int
    revision: int = UNIVERSAL_PAYLOAD_ACPI_TABLE_REVISION
    guid = ACPI_TABLE_GUID

    def __bytes__(self) -> bytes:
        return _generic(self.revision, _GENERIC.size + _U64.size) + _U64.pack(self.rsdp)

    def hob(self) -> GuidHob:
        return GuidHob(self.guid, bytes(self))

    @classmethod
    def parse(cls, data: bytes) -> AcpiTable:
        revision, _ = _check_generic(data, _GENERIC.size + _U64.size, "AcpiTable HOB")
        return cls(_U64.unpack_from(data, _GENERIC.size)[0], revision)


@dataclass(frozen=True)
class SmbiosTable:
    """UNIVERSAL_PAYLOAD_SMBIOS_TABLE: the entry point's address (12 bytes).  ``version3``:
    a 64-bit SMBIOS 3 entry point (the Smbios3 GUID), else the 32-bit one."""

    entry_point: int
    version3: bool = False
    revision: int = UNIVERSAL_PAYLOAD_SMBIOS_TABLE_REVISION

    @property
    def guid(self) -> UUID:
        return SMBIOS3_TABLE_GUID if self.version3 else SMBIOS_TABLE_GUID

    def __bytes__(self) -> bytes:
        return _generic(self.revision, _GENERIC.size + _U64.size) + _U64.pack(self.entry_point)

    def hob(self) -> GuidHob:
        return GuidHob(self.guid, bytes(self))

    @classmethod
    def parse(cls, data: bytes, *, version3: bool = False) -> SmbiosTable:
        revision, _ = _check_generic(data, _GENERIC.size + _U64.size, "SmbiosTable HOB")
        return cls(_U64.unpack_from(data, _GENERIC.size)[0], version3, revision)


@dataclass(frozen=True)
class GraphicsInfo:
    """EFI_PEI_GRAPHICS_INFO_HOB: a linear framebuffer and its mode (48 bytes)."""

    frame_buffer_base: int
    frame_buffer_size: int
    horizontal_resolution: int
    vertical_resolution: int
    pixel_format: int
    pixels_per_scan_line: int
    red_mask: int = 0
    green_mask: int = 0
    blue_mask: int = 0
    reserved_mask: int = 0
    version: int = 0
    guid = GRAPHICS_INFO_GUID

    def __bytes__(self) -> bytes:
        return _GRAPHICS.pack(
            self.frame_buffer_base,
            self.frame_buffer_size,
            self.version,
            self.horizontal_resolution,
            self.vertical_resolution,
            self.pixel_format,
            self.red_mask,
            self.green_mask,
            self.blue_mask,
            self.reserved_mask,
            self.pixels_per_scan_line,
        )

    def hob(self) -> GuidHob:
        return GuidHob(self.guid, bytes(self))

    @classmethod
    def parse(cls, data: bytes) -> GraphicsInfo:
        _need(data, _GRAPHICS.size, "GraphicsInfo HOB")
        base, size, version, h, v, fmt, r, g, b, x, stride = _GRAPHICS.unpack_from(data)
        return cls(base, size, h, v, fmt, stride, r, g, b, x, version)


@dataclass(frozen=True)
class BootmenuVariable:
    """bootmenu's GUID HOB: one UEFI variable for ``BootmenuVariablesDxe`` to set before the
    payload's BDS runs.  Layout: vendor GUID, attributes u32, name size u32 (bytes, with the
    UCS-2 NUL), data size u32, name, data (packed)."""

    name: str
    vendor: UUID
    attributes: int
    data: bytes
    guid = BOOTMENU_VARIABLE_GUID

    def __bytes__(self) -> bytes:
        name = self.name.encode("utf-16-le") + b"\0\0"
        return (
            _VARIABLE.pack(self.vendor.bytes_le, self.attributes, len(name), len(self.data))
            + name
            + self.data
        )

    def hob(self) -> GuidHob:
        return GuidHob(self.guid, bytes(self))

    @classmethod
    def parse(cls, data: bytes) -> BootmenuVariable:
        what = "bootmenu variable HOB"
        _need(data, _VARIABLE.size, what)
        vendor, attributes, name_size, data_size = _VARIABLE.unpack_from(data)
        off = _VARIABLE.size
        if name_size < 2 or name_size % 2:
            raise FormatError(f"{what}: name size {name_size} is not a UCS-2 string", what=what)
        _need(data, name_size + data_size, what, off)
        raw = data[off : off + name_size]
        if raw[-2:] != b"\0\0" or b"\0\0" in _pairs(raw[:-2]):
            raise FormatError(f"{what}: the name is not one NUL-terminated string", what=what)
        name = raw[:-2].decode("utf-16-le", errors="replace")
        value = data[off + name_size : off + name_size + data_size]
        return cls(name, UUID(bytes_le=vendor), attributes, bytes(value))


def _pairs(raw: bytes) -> list[bytes]:
    return [raw[i : i + 2] for i in range(0, len(raw), 2)]


# -- lists -------------------------------------------------------------------------------------


def parse_hob(hob_type: int, body: bytes) -> Hob:
    """One HOB from its type and its bytes after the generic header."""
    what = f"HOB of type {hob_type:#x}"
    if hob_type == EFI_HOB_TYPE_HANDOFF:
        _need(body, _PHIT.size, what)
        version, mode, top, bottom, free_top, free_bottom, end = _PHIT.unpack_from(body)
        return Phit(top, bottom, free_top, free_bottom, end, mode, version)
    if hob_type == EFI_HOB_TYPE_CPU:
        _need(body, _CPU.size, what)
        memory_bits, io_bits = _CPU.unpack_from(body)
        return Cpu(memory_bits, io_bits)
    if hob_type == EFI_HOB_TYPE_RESOURCE_DESCRIPTOR:
        _need(body, _RESOURCE.size, what)
        owner, rtype, attributes, start, length = _RESOURCE.unpack_from(body)
        return ResourceDescriptor(rtype, attributes, start, length, UUID(bytes_le=owner))
    if hob_type == EFI_HOB_TYPE_MEMORY_ALLOCATION:
        _need(body, _MEMORY_ALLOCATION.size, what)
        name, base, length, mtype = _MEMORY_ALLOCATION.unpack_from(body)
        guid = UUID(bytes_le=name)
        if guid == HOB_MEMORY_ALLOC_MODULE_GUID:
            _need(body, _MEMORY_ALLOCATION.size + _MODULE.size, what)
            module, entry = _MODULE.unpack_from(body, _MEMORY_ALLOCATION.size)
            return MemoryAllocationModule(base, length, mtype, UUID(bytes_le=module), entry)
        return MemoryAllocation(base, length, mtype, guid)
    if hob_type == EFI_HOB_TYPE_FV:
        _need(body, _FV.size, what)
        return FirmwareVolume(*_FV.unpack_from(body))
    if hob_type == EFI_HOB_TYPE_GUID_EXTENSION:
        _need(body, 16, what)
        return GuidHob(_guid(body, 0), bytes(body[16:]))
    if hob_type == EFI_HOB_TYPE_END_OF_HOB_LIST:
        return EndOfHobList()
    return UnknownHob(hob_type, bytes(body))


def parse_hob_list(data: bytes) -> tuple[Hob, ...]:
    """Every HOB up to and including the end-of-list HOB (GUID HOB data keeps its padding)."""
    hobs: list[Hob] = []
    off = 0
    while True:
        if off + _HEADER.size > len(data):
            raise FormatError(f"HOB list: truncated at {off:#x}", what="HOB list", offset=off)
        hob_type, length, _ = _HEADER.unpack_from(data, off)
        if length < _HEADER.size or length % HOB_ALIGN or off + length > len(data):
            raise FormatError(
                f"HOB list: HOB of type {hob_type:#x} at {off:#x} has a bad length {length}",
                what="HOB list",
                offset=off,
            )
        hob = parse_hob(hob_type, data[off + _HEADER.size : off + length])
        hobs.append(hob)
        off += length
        if isinstance(hob, EndOfHobList):
            return tuple(hobs)


def build_hob_list(
    address: int,
    *,
    memory_bottom: int,
    memory_top: int,
    free_memory_bottom: int,
    free_memory_top: int,
    hobs: Sequence[Hob],
) -> bytes:
    """PHIT, ``hobs`` (in order), end of list, for a list loaded at physical ``address``: the
    PHIT's EfiEndOfHobList is the address of the end-of-list HOB."""
    body = b"".join(bytes(h) for h in hobs)
    phit_size = len(bytes(Phit(0, 0, 0, 0, 0)))
    end = address + phit_size + len(body)
    phit = Phit(memory_top, memory_bottom, free_memory_top, free_memory_bottom, end)
    return bytes(phit) + body + bytes(EndOfHobList())
