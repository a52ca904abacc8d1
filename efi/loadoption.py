"""EFI_LOAD_OPTION (UEFI 2.10, 3.1.3): the contents of ``Boot####`` variables, and the
``BootOrder``/``BootNext``/``BootCurrent`` numbers that refer to them.

An EFI_LOAD_OPTION is: Attributes (u32), FilePathListLength (u16), Description (UCS-2, NUL
terminated), FilePathList (FilePathListLength bytes of packed device paths, the first one the
image to load) and OptionalData (everything after, passed to the image as its load options).
:func:`parse_load_option` and ``bytes(LoadOption)`` round-trip byte for byte.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from typing import Final

from efi.devicepath import DevicePath, parse_device_paths
from efi.errors import FormatError

LOAD_OPTION_ACTIVE: Final = 0x00000001
LOAD_OPTION_FORCE_RECONNECT: Final = 0x00000002
LOAD_OPTION_HIDDEN: Final = 0x00000008
LOAD_OPTION_CATEGORY: Final = 0x00001F00
LOAD_OPTION_CATEGORY_BOOT: Final = 0x00000000
LOAD_OPTION_CATEGORY_APP: Final = 0x00000100

_HEAD: Final = struct.Struct("<IH")
_U16: Final = struct.Struct("<H")
_BOOT_NAME: Final = re.compile(r"Boot([0-9A-Fa-f]{4})")
MAX_OPTION_NUMBER: Final = 0xFFFF


@dataclass(frozen=True)
class LoadOption:
    """One decoded EFI_LOAD_OPTION."""

    attributes: int
    description: str
    paths: tuple[DevicePath, ...]
    optional_data: bytes = b""

    @property
    def active(self) -> bool:
        return bool(self.attributes & LOAD_OPTION_ACTIVE)

    @property
    def hidden(self) -> bool:
        return bool(self.attributes & LOAD_OPTION_HIDDEN)

    @property
    def category(self) -> int:
        return self.attributes & LOAD_OPTION_CATEGORY

    @property
    def path(self) -> DevicePath | None:
        """The device path of the image to load (the first of the list)."""
        return self.paths[0] if self.paths else None

    def __bytes__(self) -> bytes:
        file_paths = b"".join(bytes(p) for p in self.paths)
        if len(file_paths) > 0xFFFF:
            raise ValueError(f"file path list too long ({len(file_paths)} bytes)")
        # surrogatepass: a description that was not valid UTF-16 is written back as it was.
        description = self.description.encode("utf-16-le", errors="surrogatepass") + b"\0\0"
        return (
            _HEAD.pack(self.attributes & 0xFFFFFFFF, len(file_paths))
            + description
            + file_paths
            + self.optional_data
        )


def parse_load_option(data: bytes, *, what: str = "EFI_LOAD_OPTION") -> LoadOption:
    """Decode the data of a ``Boot####`` (or ``Driver####``, ``SysPrep####``) variable."""
    if len(data) < _HEAD.size:
        raise FormatError(f"{what}: truncated at {len(data):#x}", what=what, offset=len(data))
    attributes, path_length = _HEAD.unpack_from(data, 0)
    off = _HEAD.size
    end = None
    for pos in range(off, len(data) - 1, 2):
        if data[pos] == 0 and data[pos + 1] == 0:
            end = pos
            break
    if end is None:
        raise FormatError(
            f"{what}: truncated at {len(data):#x} (description has no NUL terminator)",
            what=what,
            offset=len(data),
        )
    description = data[off:end].decode("utf-16-le", errors="surrogatepass")
    off = end + 2
    if off + path_length > len(data):
        raise FormatError(
            f"{what}: truncated at {len(data):#x} (FilePathListLength is {path_length} bytes)",
            what=what,
            offset=len(data),
        )
    paths = parse_device_paths(data[off : off + path_length], what=f"{what} file path list")
    return LoadOption(attributes, description, paths, bytes(data[off + path_length :]))


def boot_variable_name(number: int, prefix: str = "Boot") -> str:
    """``Boot0001``: the variable name for an option number (four upper-case hex digits)."""
    if not 0 <= number <= MAX_OPTION_NUMBER:
        raise ValueError(f"load option number {number} is out of range")
    return f"{prefix}{number:04X}"


def parse_boot_variable_name(name: str) -> int | None:
    """The option number of a ``Boot####`` name, or None for any other variable."""
    match = _BOOT_NAME.fullmatch(name)
    return int(match.group(1), 16) if match else None


def parse_u16_list(data: bytes, *, what: str = "BootOrder") -> tuple[int, ...]:
    """A ``BootOrder``-style array of option numbers."""
    if len(data) % 2:
        raise FormatError(
            f"{what}: truncated at {len(data):#x} (odd length)", what=what, offset=len(data)
        )
    return tuple(v for (v,) in _U16.iter_unpack(data))


def encode_u16_list(numbers: tuple[int, ...] | list[int]) -> bytes:
    return b"".join(_U16.pack(n) for n in numbers)


def parse_u16(data: bytes, *, what: str = "BootNext") -> int:
    """A ``BootNext``/``BootCurrent`` value: one option number."""
    if len(data) != _U16.size:
        raise FormatError(
            f"{what}: expected 2 bytes, found {len(data)}", what=what, offset=len(data)
        )
    return int(_U16.unpack(data)[0])


def encode_u16(number: int) -> bytes:
    return _U16.pack(number)
