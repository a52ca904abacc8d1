"""UEFI variables as Linux efivarfs shows them.

Each file in efivarfs (``/sys/firmware/efi/efivars``) is named ``<Name>-<vendor GUID>`` and holds
the variable's 32-bit attributes (little-endian) followed by its data; a write must hand over
attributes and data together. This module converts between those files and :class:`EfiVariable`;
it never touches the filesystem (see ``bootmenu.system.efivars`` for that).

systemd-boot's ``Loader*`` variables hold UCS-2 (UTF-16LE) strings ending in a NUL character:
:func:`decode_utf16_string` and :func:`encode_utf16_string` read and write them.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final
from uuid import UUID

from efi.errors import FormatError

# Attributes (UEFI 2.10, section 8.2, GetVariable()).
EFI_VARIABLE_NON_VOLATILE: Final = 0x00000001
EFI_VARIABLE_BOOTSERVICE_ACCESS: Final = 0x00000002
EFI_VARIABLE_RUNTIME_ACCESS: Final = 0x00000004
EFI_VARIABLE_HARDWARE_ERROR_RECORD: Final = 0x00000008
EFI_VARIABLE_AUTHENTICATED_WRITE_ACCESS: Final = 0x00000010  # deprecated by the spec
EFI_VARIABLE_TIME_BASED_AUTHENTICATED_WRITE_ACCESS: Final = 0x00000020
EFI_VARIABLE_APPEND_WRITE: Final = 0x00000040
EFI_VARIABLE_ENHANCED_AUTHENTICATED_ACCESS: Final = 0x00000080

# What systemd and bootctl use for the Loader* variables they set: kept across reboots and
# visible to the OS.
DEFAULT_ATTRIBUTES: Final = (
    EFI_VARIABLE_NON_VOLATILE | EFI_VARIABLE_BOOTSERVICE_ACCESS | EFI_VARIABLE_RUNTIME_ACCESS
)

# EFI_GLOBAL_VARIABLE: BootOrder, Boot####, BootNext, Timeout, …
EFI_GLOBAL_VARIABLE: Final = UUID("8be4df61-93ca-11d2-aa0d-00e098032b8c")
# systemd-boot's vendor GUID (the Boot Loader Interface): LoaderEntryDefault, LoaderEntryOneShot,
# LoaderConfigTimeout, …
SYSTEMD_BOOT_VENDOR: Final = UUID("4a67b082-0a4c-41cf-b6c7-440b29bb8c4f")

_ATTRIBUTES: Final = struct.Struct("<I")
_GUID_TEXT_LENGTH: Final = 36  # 8-4-4-4-12 hex digits and dashes
_NAMES: Final = {
    EFI_VARIABLE_NON_VOLATILE: "NON_VOLATILE",
    EFI_VARIABLE_BOOTSERVICE_ACCESS: "BOOTSERVICE_ACCESS",
    EFI_VARIABLE_RUNTIME_ACCESS: "RUNTIME_ACCESS",
    EFI_VARIABLE_HARDWARE_ERROR_RECORD: "HARDWARE_ERROR_RECORD",
    EFI_VARIABLE_AUTHENTICATED_WRITE_ACCESS: "AUTHENTICATED_WRITE_ACCESS",
    EFI_VARIABLE_TIME_BASED_AUTHENTICATED_WRITE_ACCESS: "TIME_BASED_AUTHENTICATED_WRITE_ACCESS",
    EFI_VARIABLE_APPEND_WRITE: "APPEND_WRITE",
    EFI_VARIABLE_ENHANCED_AUTHENTICATED_ACCESS: "ENHANCED_AUTHENTICATED_ACCESS",
}


def efivarfs_name(name: str, vendor: UUID) -> str:
    """The efivarfs file name of a variable: ``LoaderEntryDefault-4a67b082-…-440b29bb8c4f``."""
    return f"{name}-{vendor}"


def split_efivarfs_name(name_with_guid: str) -> tuple[str, UUID]:
    """Split an efivarfs file name into the variable name and its vendor GUID."""
    what = f"EFI variable {name_with_guid!r}"
    if len(name_with_guid) < _GUID_TEXT_LENGTH + 2 or name_with_guid[-37] != "-":
        raise FormatError(f"{what}: name does not end in '-' and a vendor GUID", what=what)
    name, guid = name_with_guid[:-37], name_with_guid[-36:]
    try:
        vendor = UUID(guid)
    except ValueError:
        raise FormatError(f"{what}: {guid!r} is not a GUID", what=what) from None
    if str(vendor) != guid.lower():  # UUID() also accepts braces, "urn:uuid:" and no dashes
        raise FormatError(f"{what}: {guid!r} is not a GUID", what=what)
    return name, vendor


def describe_attributes(attributes: int) -> str:
    """``NON_VOLATILE|BOOTSERVICE_ACCESS|RUNTIME_ACCESS`` (unknown bits in hex), for messages."""
    parts = [label for bit, label in _NAMES.items() if attributes & bit]
    unknown = attributes & ~sum(_NAMES)
    if unknown:
        parts.append(f"{unknown:#x}")
    return "|".join(parts) or "0"


@dataclass(frozen=True)
class EfiVariable:
    """One UEFI variable: its name, vendor GUID, attribute bits and data."""

    name: str
    vendor: UUID
    attributes: int
    data: bytes

    @classmethod
    def parse(cls, name_with_guid: str, raw: bytes) -> EfiVariable:
        """Read the contents ``raw`` of the efivarfs file called ``name_with_guid``."""
        name, vendor = split_efivarfs_name(name_with_guid)
        if len(raw) < _ATTRIBUTES.size:
            what = f"EFI variable {name_with_guid}"
            raise FormatError(
                f"{what}: truncated at {len(raw):#x} (expected 4 bytes of attributes)",
                what=what,
                offset=len(raw),
            )
        (attributes,) = _ATTRIBUTES.unpack_from(raw, 0)
        return cls(name, vendor, attributes, bytes(raw[_ATTRIBUTES.size :]))

    @property
    def filename(self) -> str:
        """The name of this variable's file in efivarfs."""
        return efivarfs_name(self.name, self.vendor)

    def __bytes__(self) -> bytes:
        """The efivarfs file contents: attributes then data, to be written in one go."""
        return _ATTRIBUTES.pack(self.attributes & 0xFFFFFFFF) + self.data


def decode_utf16_string(data: bytes, *, what: str = "EFI variable") -> str:
    """Decode a NUL-terminated UTF-16LE string as systemd-boot stores it.

    Everything from the first NUL character on is ignored; a missing terminator is accepted
    (some writers leave it out).
    """
    if len(data) % 2:
        raise FormatError(
            f"{what}: UTF-16 string has an odd length of {len(data)} bytes",
            what=what,
            offset=len(data) - 1,
        )
    end = len(data)
    for off in range(0, len(data), 2):
        if data[off] == 0 and data[off + 1] == 0:
            end = off
            break
    try:
        return data[:end].decode("utf-16-le")
    except UnicodeDecodeError as e:
        raise FormatError(
            f"{what}: not a valid UTF-16 string ({e.reason} at byte {e.start:#x})",
            what=what,
            offset=e.start,
        ) from None


def encode_utf16_string(text: str) -> bytes:
    """Encode ``text`` as a NUL-terminated UTF-16LE string, as systemd-boot expects.

    Raises ValueError for text that contains NUL or lone surrogates (which UTF-16 cannot carry).
    """
    if "\0" in text:
        raise ValueError(f"{text!r}: a UTF-16 variable string cannot contain NUL")
    try:
        return text.encode("utf-16-le") + b"\0\0"
    except UnicodeEncodeError as e:
        raise ValueError(f"{text!r}: cannot be encoded as UTF-16 ({e.reason})") from None
