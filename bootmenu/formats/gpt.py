"""GUID Partition Tables, as UEFI 2.10 section 5.3 lays them out (pure).

``bootmenu install`` finds the EFI System Partition by its type GUID without udev: the disk's
header (LBA 1) and partition entry array are read by :mod:`bootmenu.system.fs` and parsed here.
Bounded: at most :data:`MAX_ENTRIES` entries of at most :data:`MAX_ENTRY_SIZE` bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final
from uuid import UUID

from bootmenu.errors import FormatError

SIGNATURE: Final = b"EFI PART"
ESP_TYPE: Final = UUID("c12a7328-f81f-11d2-ba4b-00a0c93ec93b")
# Header fields used here (offsets in the header): the entry array's LBA, count and entry size.
_HEADER: Final = struct.Struct("<8sIIIIQQQQ16sQII")
_ENTRY: Final = struct.Struct("<16s16sQQQ72s")
MAX_ENTRIES: Final = 1024
MAX_ENTRY_SIZE: Final = 4096
_UNUSED: Final = bytes(16)


@dataclass(frozen=True)
class Header:
    entries_lba: int
    count: int
    entry_size: int

    @property
    def entries_bytes(self) -> int:
        return self.count * self.entry_size


@dataclass(frozen=True)
class Partition:
    number: int  # 1-based, as Linux numbers partitions
    type: UUID
    uuid: UUID  # the unique partition GUID (udev's ID_PART_ENTRY_UUID, PARTUUID=)
    first_lba: int
    last_lba: int
    name: str


def parse_header(block: bytes) -> Header:
    """The GPT header in ``block`` (LBA 1); FormatError when it is not one."""
    if len(block) < _HEADER.size or block[:8] != SIGNATURE:
        raise FormatError("no GUID partition table (the disk's LBA 1 has no 'EFI PART' header)")
    fields = _HEADER.unpack_from(block)
    entries_lba, count, entry_size = fields[10], fields[11], fields[12]
    if not 128 <= entry_size <= MAX_ENTRY_SIZE or entry_size % 8:
        raise FormatError(f"the GPT header gives a partition entry size of {entry_size} bytes")
    if not 0 < count <= MAX_ENTRIES:
        raise FormatError(f"the GPT header gives {count} partition entries")
    if entries_lba < 2:
        raise FormatError(f"the GPT header puts the partition entries at LBA {entries_lba}")
    return Header(entries_lba, count, entry_size)


def parse_entries(data: bytes, header: Header) -> tuple[Partition, ...]:
    """The used entries of the partition entry array ``data`` (``header.entries_bytes`` long)."""
    if len(data) < header.entries_bytes:
        raise FormatError("the GPT partition entry array is cut off")
    found = []
    for i in range(header.count):
        raw_type, raw_uuid, first, last, _attrs, raw_name = _ENTRY.unpack_from(
            data, i * header.entry_size
        )
        if raw_type == _UNUSED:
            continue
        name = raw_name.decode("utf-16-le", "replace").split("\0", 1)[0]
        found.append(
            Partition(i + 1, UUID(bytes_le=raw_type), UUID(bytes_le=raw_uuid), first, last, name)
        )
    return tuple(found)
