"""The Linux/x86 boot protocol: the setup header of a bzImage.

Layout and field meanings follow the kernel's ``Documentation/arch/x86/boot.rst``.  The header
starts at 0x1F1 in the first (boot) sector; the "HdrS" magic at 0x202 marks protocol 2.00 or
later.  Fields added by later protocol versions are read only when the image declares that
version; otherwise they are reported as 0.

:func:`inspect_bzimage` also tells whether the running kernel's ``kexec_file_load`` would accept
the image, applying the checks of ``bzImage64_probe()`` and ``bzImage64_load()`` in the
kernel's ``arch/x86/kernel/kexec-bzimage64.c`` in the same order.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from bootmenu.errors import FormatError
from bootmenu.model import ImageInfo

SECTOR_SIZE = 512
SETUP_HEADER_OFFSET = 0x1F1
HEADER_MAGIC = b"HdrS"
HEADER_MAGIC_OFFSET = 0x202
BOOT_FLAG = 0xAA55
DEFAULT_SETUP_SECTS = 4  # "If this field is 0, the real value is 4."
# syssize counts 16-byte paragraphs rounded up, so a complete file may be up to 15 bytes
# shorter than setup + syssize * 16 (Debian's memtest86+x64.bin is 8 bytes shorter).
SYSSIZE_SLACK = 15

# loadflags
LOADED_HIGH = 1 << 0
KASLR_FLAG = 1 << 1
QUIET_FLAG = 1 << 5
KEEP_SEGMENTS = 1 << 6
CAN_USE_HEAP = 1 << 7

# xloadflags (protocol 2.12+)
XLF_KERNEL_64 = 1 << 0
XLF_CAN_BE_LOADED_ABOVE_4G = 1 << 1
XLF_EFI_HANDOVER_32 = 1 << 2
XLF_EFI_HANDOVER_64 = 1 << 3
XLF_EFI_KEXEC = 1 << 4
XLF_5LEVEL = 1 << 5
XLF_5LEVEL_ENABLED = 1 << 6
XLF_MEM_ENCRYPTION = 1 << 7

# Oldest protocol the x86_64 kexec loaders (kernel and kexec-tools "bzImage64") accept.
KEXEC64_MIN_VERSION = 0x020C
# kexec_file_load refuses files shorter than two sectors.
KEXEC_MIN_LENGTH = 2 * SECTOR_SIZE
# Longest kernel_version string we read (it lives in the setup code).
_MAX_VERSION_STRING = 512

# (name, offset, struct format, first protocol version that defines the field)
_FIELDS: tuple[tuple[str, int, str, int], ...] = (
    ("setup_sects", 0x1F1, "<B", 0x0000),
    ("root_flags", 0x1F2, "<H", 0x0000),
    ("syssize", 0x1F4, "<I", 0x0204),
    ("vid_mode", 0x1FA, "<H", 0x0000),
    ("root_dev", 0x1FC, "<H", 0x0000),
    ("boot_flag", 0x1FE, "<H", 0x0000),
    ("jump", 0x200, "<H", 0x0200),
    ("version", 0x206, "<H", 0x0200),
    ("kernel_version", 0x20E, "<H", 0x0200),
    ("type_of_loader", 0x210, "<B", 0x0200),
    ("loadflags", 0x211, "<B", 0x0200),
    ("code32_start", 0x214, "<I", 0x0200),
    ("initrd_addr_max", 0x22C, "<I", 0x0203),
    ("kernel_alignment", 0x230, "<I", 0x0205),
    ("relocatable_kernel", 0x234, "<B", 0x0205),
    ("min_alignment", 0x235, "<B", 0x020A),
    ("xloadflags", 0x236, "<H", 0x020C),
    ("cmdline_size", 0x238, "<I", 0x0206),
    ("hardware_subarch", 0x23C, "<I", 0x0207),
    ("payload_offset", 0x248, "<I", 0x0208),
    ("payload_length", 0x24C, "<I", 0x0208),
    ("pref_address", 0x258, "<Q", 0x020A),
    ("init_size", 0x260, "<I", 0x020A),
    ("handover_offset", 0x264, "<I", 0x020B),
    ("kernel_info_offset", 0x268, "<I", 0x020F),
)

# Protocols before 2.04 keep syssize in 16 bits.
_SYSSIZE_16_OFFSET = 0x1F4


@dataclass(frozen=True)
class SetupHeader:
    """The fields of the setup header bootmenu cares about.

    Fields that the image's protocol version predates are 0.  ``setup_sects`` is the raw value
    (0 means 4); :attr:`setup_size` is the size of the real-mode part in bytes.
    """

    setup_sects: int
    root_flags: int
    syssize: int
    vid_mode: int
    root_dev: int
    boot_flag: int
    version: tuple[int, int]
    kernel_version: str | None
    type_of_loader: int
    loadflags: int
    code32_start: int
    initrd_addr_max: int
    kernel_alignment: int
    relocatable: bool
    min_alignment: int
    xloadflags: int
    cmdline_size: int
    hardware_subarch: int
    payload_offset: int
    payload_length: int
    pref_address: int
    init_size: int
    handover_offset: int
    kernel_info_offset: int

    @property
    def version_number(self) -> int:
        """The protocol version as the header stores it (``0x020F`` for 2.15)."""
        return (self.version[0] << 8) | self.version[1]

    @property
    def version_string(self) -> str:
        """The protocol version as boot.rst writes it: ``"2.15"``, ``"2.05"``."""
        return f"{self.version[0]}.{self.version[1]:02d}"

    @property
    def setup_size(self) -> int:
        """Bytes before the protected-mode kernel: the boot sector plus the setup sectors."""
        return ((self.setup_sects or DEFAULT_SETUP_SECTS) + 1) * SECTOR_SIZE

    @property
    def kernel_size(self) -> int:
        """Size of the protected-mode kernel as declared by ``syssize`` (16-byte paragraphs)."""
        return self.syssize * 16

    @property
    def loaded_high(self) -> bool:
        return bool(self.loadflags & LOADED_HIGH)


def has_setup_header(data: bytes) -> bool:
    """Whether ``data`` starts like a Linux/x86 boot image (protocol 2.00 or later)."""
    end = HEADER_MAGIC_OFFSET + len(HEADER_MAGIC)
    return len(data) >= end and data[HEADER_MAGIC_OFFSET:end] == HEADER_MAGIC


def _kernel_version_string(data: bytes, pointer: int, setup_size: int) -> str | None:
    """The NUL-terminated version string at ``pointer + 0x200``, inside the setup code."""
    if pointer == 0:
        return None
    start = pointer + 0x200
    limit = min(len(data), setup_size, start + _MAX_VERSION_STRING)
    if start >= limit:
        return None
    end = data.find(b"\0", start, limit)
    raw = data[start : limit if end < 0 else end]
    text = raw.decode("ascii", errors="replace").strip()
    return text or None


def parse_setup_header(data: bytes) -> SetupHeader:
    """Parse the setup header of a bzImage.

    Raises :class:`FormatError` when the "HdrS" magic is missing or when the file ends inside
    the header fields its protocol version declares.
    """
    if not has_setup_header(data):
        raise FormatError(
            f"not a Linux x86 boot image: no 'HdrS' magic at {HEADER_MAGIC_OFFSET:#x}",
            what="bzImage",
            offset=HEADER_MAGIC_OFFSET,
        )
    version_offset = 0x206
    if len(data) < version_offset + 2:
        raise FormatError(
            f"setup header: truncated at {len(data):#x}", what="bzImage", offset=len(data)
        )
    (version,) = struct.unpack_from("<H", data, version_offset)
    values: dict[str, int] = {}
    for name, offset, fmt, since in _FIELDS:
        if version < since:
            values[name] = 0
            continue
        size = struct.calcsize(fmt)
        if offset + size > len(data):
            raise FormatError(
                f"setup header (protocol {version >> 8}.{version & 0xFF:02d}): "
                f"truncated at {len(data):#x}, field {name} needs {offset + size:#x} bytes",
                what="bzImage",
                offset=offset,
            )
        (values[name],) = struct.unpack_from(fmt, data, offset)
    if version < 0x0204:
        (values["syssize"],) = struct.unpack_from("<H", data, _SYSSIZE_16_OFFSET)
    setup_size = ((values["setup_sects"] or DEFAULT_SETUP_SECTS) + 1) * SECTOR_SIZE
    return SetupHeader(
        setup_sects=values["setup_sects"],
        root_flags=values["root_flags"],
        syssize=values["syssize"],
        vid_mode=values["vid_mode"],
        root_dev=values["root_dev"],
        boot_flag=values["boot_flag"],
        version=(version >> 8, version & 0xFF),
        kernel_version=_kernel_version_string(data, values["kernel_version"], setup_size),
        type_of_loader=values["type_of_loader"],
        loadflags=values["loadflags"],
        code32_start=values["code32_start"],
        initrd_addr_max=values["initrd_addr_max"],
        kernel_alignment=values["kernel_alignment"],
        relocatable=bool(values["relocatable_kernel"]),
        min_alignment=values["min_alignment"],
        xloadflags=values["xloadflags"],
        cmdline_size=values["cmdline_size"],
        hardware_subarch=values["hardware_subarch"],
        payload_offset=values["payload_offset"],
        payload_length=values["payload_length"],
        pref_address=values["pref_address"],
        init_size=values["init_size"],
        handover_offset=values["handover_offset"],
        kernel_info_offset=values["kernel_info_offset"],
    )


def kexec_file_load_refusal(size: int, header: SetupHeader) -> str | None:
    """Why Linux's ``kexec_file_load`` on x86_64 would refuse an image of ``size`` bytes with
    this header, or None if it would not.

    These are the static checks of ``bzImage64_probe()`` and ``bzImage64_load()``, in order.
    The two checks that depend on the running machine (32-bit EFI firmware, 5-level paging)
    are left to the caller; see ``details["supports_5level_paging"]``.
    """
    if size < KEXEC_MIN_LENGTH:
        return f"the file is too short to be a bzImage ({size} bytes)"
    if header.boot_flag != BOOT_FLAG:
        return "there is no x86 boot sector (boot flag 0xAA55 missing)"
    if header.version_number < KEXEC64_MIN_VERSION:
        return f"boot protocol {header.version_string} is older than 2.12"
    if not header.loaded_high:
        return "it is a zImage, not a bzImage (LOADED_HIGH is not set)"
    if not header.xloadflags & XLF_KERNEL_64:
        return "it has no 64-bit entry point (XLF_KERNEL_64 is not set)"
    if not header.xloadflags & XLF_CAN_BE_LOADED_ABOVE_4G:
        return "it cannot be loaded above 4 GiB (XLF_CAN_BE_LOADED_ABOVE_4G is not set)"
    if size < header.setup_size:
        return "the bzImage is truncated"
    return None


def _problems(size: int, header: SetupHeader) -> list[str]:
    problems: list[str] = []
    if header.boot_flag != BOOT_FLAG:
        problems.append(
            f"no x86 boot sector: the boot flag at 0x1fe is {header.boot_flag:#06x}, "
            f"expected 0xaa55"
        )
    if not header.loaded_high:
        problems.append("this is an old zImage (loaded low); kexec loads only bzImages")
    if header.version_number < KEXEC64_MIN_VERSION:
        problems.append(
            f"the kernel uses boot protocol {header.version_string}; "
            "kexec on x86_64 needs 2.12 or later (Linux 3.8 and newer)"
        )
    if size < header.setup_size:
        problems.append(
            f"the kernel file is truncated: it is {size} bytes long but its setup code "
            f"alone takes {header.setup_size} bytes"
        )
    elif header.syssize and size + SYSSIZE_SLACK < header.setup_size + header.kernel_size:
        problems.append(
            f"the kernel file is truncated: it is {size} bytes long but its header "
            f"says {header.setup_size + header.kernel_size} bytes"
        )
    return problems


def inspect_bzimage(data: bytes, *, total_size: int | None = None) -> ImageInfo:
    """Validate a bzImage and describe it for ``bootmenu inspect``.

    ``data`` may be only the file's head (the setup code and header are at its start) with
    ``total_size`` its size.  Raises :class:`FormatError` when ``data`` has no readable setup
    header at all.
    """
    size = len(data) if total_size is None else total_size
    header = parse_setup_header(data)
    has_xloadflags = header.version_number >= 0x020C
    if not has_xloadflags:
        architecture: str | None = None  # before 2.12 the header does not say
    elif header.xloadflags & XLF_KERNEL_64:
        architecture = "x86_64"
    else:
        architecture = "i386"
    refusal = kexec_file_load_refusal(size, header)
    details: dict[str, Any] = {
        "protocol": header.version_string,
        "kernel_version": header.kernel_version,
        "release": header.kernel_version.split()[0] if header.kernel_version else None,
        "setup_sects": header.setup_sects or DEFAULT_SETUP_SECTS,
        "syssize": header.syssize,
        "loaded_high": header.loaded_high,
        "relocatable": header.relocatable,
        "entry_64bit": bool(header.xloadflags & XLF_KERNEL_64),
        "above_4g": bool(header.xloadflags & XLF_CAN_BE_LOADED_ABOVE_4G),
        "efi_handover": {
            "offset": header.handover_offset,
            "entry_32bit": bool(header.xloadflags & XLF_EFI_HANDOVER_32),
            "entry_64bit": bool(header.xloadflags & XLF_EFI_HANDOVER_64),
        }
        if header.handover_offset
        else None,
        "efi_stub": data[:2] == b"MZ",
        "supports_5level_paging": bool(header.xloadflags & XLF_5LEVEL),
        "xloadflags": header.xloadflags,
        "loadflags": header.loadflags,
        "kernel_alignment": header.kernel_alignment,
        "pref_address": header.pref_address,
        "init_size": header.init_size,
        "cmdline_size": header.cmdline_size,
        "payload_offset": header.payload_offset,
        "payload_length": header.payload_length,
        "kexec_file_load": refusal is None,
        "kexec_file_load_reason": refusal,
    }
    return ImageInfo(
        format="bzimage",
        kind="linux",
        architecture=architecture,
        signed=None,
        problems=tuple(_problems(size, header)),
        details=details,
    )
