"""bootmenu.formats.bzimage over synthetic setup headers and, when present, the host's kernel.

The synthetic images are laid out from the table in Documentation/arch/x86/boot.rst
("The real-mode kernel header"), written out below independently of the module under test.
"""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bootmenu.errors import FormatError
from bootmenu.formats.bzimage import has_setup_header, inspect_bzimage, parse_setup_header
from tests.debian import debian_file, kernel_package

# A Debian kernel's version string, as `file` shows it.
DEBIAN_VERSION = (
    "6.1.0-18-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC "
    "Debian 6.1.76-1 (2024-02-01)"
)

# boot.rst offsets (Offset/Size column).
OFF_SETUP_SECTS = 0x1F1
OFF_SYSSIZE = 0x1F4
OFF_BOOT_FLAG = 0x1FE
OFF_JUMP = 0x200
OFF_HEADER = 0x202
OFF_VERSION = 0x206
OFF_KERNEL_VERSION = 0x20E
OFF_LOADFLAGS = 0x211
OFF_KERNEL_ALIGNMENT = 0x230
OFF_RELOCATABLE = 0x234
OFF_XLOADFLAGS = 0x236
OFF_CMDLINE_SIZE = 0x238
OFF_PAYLOAD_OFFSET = 0x248
OFF_PAYLOAD_LENGTH = 0x24C
OFF_PREF_ADDRESS = 0x258
OFF_INIT_SIZE = 0x260
OFF_HANDOVER_OFFSET = 0x264

# What a Debian amd64 6.1 kernel declares: LOADED_HIGH | CAN_USE_HEAP, and
# KERNEL_64 | ABOVE_4G | EFI_HANDOVER_32 | EFI_HANDOVER_64 | EFI_KEXEC | 5LEVEL.
AMD64_LOADFLAGS = 0x81
AMD64_XLOADFLAGS = 0x3F


def make_bzimage(
    *,
    version: int = 0x020F,
    setup_sects: int = 27,
    syssize_bytes: int = 0x1000,
    loadflags: int = AMD64_LOADFLAGS,
    xloadflags: int = AMD64_XLOADFLAGS,
    boot_flag: int = 0xAA55,
    kernel_version: str | None = DEBIAN_VERSION,
    handover_offset: int = 0x190,
    mz: bool = True,
) -> bytes:
    """A bzImage-shaped file: boot sector, setup sectors and a protected-mode part of zeros."""
    setup_size = ((setup_sects or 4) + 1) * 512
    image = bytearray(setup_size + syssize_bytes)
    if mz:
        image[0:2] = b"MZ"
    struct.pack_into("<B", image, OFF_SETUP_SECTS, setup_sects)
    struct.pack_into("<I", image, OFF_SYSSIZE, syssize_bytes // 16)
    struct.pack_into("<H", image, OFF_BOOT_FLAG, boot_flag)
    struct.pack_into("<BB", image, OFF_JUMP, 0xEB, 0x6A)  # jmp to the end of the header
    image[OFF_HEADER : OFF_HEADER + 4] = b"HdrS"
    struct.pack_into("<H", image, OFF_VERSION, version)
    if kernel_version is not None:
        pointer = 0x3C0  # the string lives in the setup code, at pointer + 0x200
        struct.pack_into("<H", image, OFF_KERNEL_VERSION, pointer)
        text = kernel_version.encode() + b"\0"
        image[pointer + 0x200 : pointer + 0x200 + len(text)] = text
    struct.pack_into("<B", image, OFF_LOADFLAGS, loadflags)
    struct.pack_into("<I", image, OFF_KERNEL_ALIGNMENT, 0x200000)
    struct.pack_into("<B", image, OFF_RELOCATABLE, 1)
    struct.pack_into("<H", image, OFF_XLOADFLAGS, xloadflags)
    struct.pack_into("<I", image, OFF_CMDLINE_SIZE, 2047)
    struct.pack_into("<I", image, OFF_PAYLOAD_OFFSET, 0x3A5)
    struct.pack_into("<I", image, OFF_PAYLOAD_LENGTH, 0x7A1F35)
    struct.pack_into("<Q", image, OFF_PREF_ADDRESS, 0x1000000)
    struct.pack_into("<I", image, OFF_INIT_SIZE, 0x2D6B000)
    struct.pack_into("<I", image, OFF_HANDOVER_OFFSET, handover_offset)
    return bytes(image)


def test_debian_amd64_header_fields() -> None:
    header = parse_setup_header(make_bzimage())
    assert header.version == (2, 15)
    assert header.version_string == "2.15"
    assert header.setup_sects == 27
    assert header.setup_size == 28 * 512
    assert header.syssize == 0x100
    assert header.kernel_version == DEBIAN_VERSION
    assert header.loaded_high
    assert header.relocatable
    assert header.xloadflags == 0x3F
    assert header.kernel_alignment == 0x200000
    assert header.cmdline_size == 2047
    assert header.payload_offset == 0x3A5
    assert header.payload_length == 0x7A1F35
    assert header.pref_address == 0x1000000
    assert header.init_size == 0x2D6B000
    assert header.handover_offset == 0x190


def test_debian_amd64_inspect() -> None:
    info = inspect_bzimage(make_bzimage())
    assert info.format == "bzimage"
    assert info.kind == "linux"
    assert info.architecture == "x86_64"
    assert info.problems == ()
    assert info.details["protocol"] == "2.15"
    assert info.details["release"] == "6.1.0-18-amd64"
    assert info.details["kernel_version"] == DEBIAN_VERSION
    assert info.details["entry_64bit"] is True
    assert info.details["relocatable"] is True
    assert info.details["loaded_high"] is True
    assert info.details["efi_stub"] is True
    assert info.details["efi_handover"] == {
        "offset": 0x190,
        "entry_32bit": True,
        "entry_64bit": True,
    }
    assert info.details["supports_5level_paging"] is True
    assert info.details["kexec_file_load"] is True
    assert info.details["kexec_file_load_reason"] is None


def test_has_setup_header() -> None:
    assert has_setup_header(make_bzimage())
    assert not has_setup_header(b"")
    assert not has_setup_header(b"\0" * 0x300)
    assert not has_setup_header(b"\x7fELF" + b"\0" * 0x300)


def test_missing_magic_is_format_error() -> None:
    image = bytearray(make_bzimage())
    image[OFF_HEADER : OFF_HEADER + 4] = b"HdrZ"
    with pytest.raises(FormatError, match="HdrS"):
        parse_setup_header(bytes(image))
    with pytest.raises(FormatError):
        inspect_bzimage(b"MZ")


def test_header_cut_short_is_format_error() -> None:
    # Protocol 2.15 declares fields up to 0x26c; the file ends at 0x240.
    with pytest.raises(FormatError, match="truncated"):
        parse_setup_header(make_bzimage()[:0x240])


def test_i386_kernel_cannot_use_kexec_file_load() -> None:
    info = inspect_bzimage(make_bzimage(xloadflags=0x0C))  # EFI handover only
    assert info.architecture == "i386"
    assert info.problems == ()
    assert info.details["entry_64bit"] is False
    assert info.details["kexec_file_load"] is False
    assert "XLF_KERNEL_64" in info.details["kexec_file_load_reason"]


def test_kernel_that_must_stay_below_4g() -> None:
    info = inspect_bzimage(make_bzimage(xloadflags=0x01))
    assert info.architecture == "x86_64"
    assert info.details["kexec_file_load"] is False
    assert "XLF_CAN_BE_LOADED_ABOVE_4G" in info.details["kexec_file_load_reason"]


def test_old_protocol() -> None:
    # Protocol 2.10 (Linux 2.6.31): no xloadflags, no handover_offset, no kernel_info.
    data = make_bzimage(version=0x020A)
    header = parse_setup_header(data)
    assert header.version_string == "2.10"
    assert header.xloadflags == 0  # bytes are there, but 2.10 does not define the field
    assert header.handover_offset == 0
    assert header.init_size == 0x2D6B000  # defined since 2.10
    info = inspect_bzimage(data)
    assert info.architecture is None
    assert any("2.10" in p and "2.12" in p for p in info.problems)
    assert info.details["kexec_file_load"] is False
    assert "older than 2.12" in info.details["kexec_file_load_reason"]


def test_protocol_before_204_has_16_bit_syssize() -> None:
    image = bytearray(make_bzimage(version=0x0202, kernel_version=None))
    struct.pack_into("<I", image, OFF_SYSSIZE, 0xABCD0123)
    header = parse_setup_header(bytes(image))
    assert header.syssize == 0x0123
    assert header.kernel_version is None
    assert header.kernel_alignment == 0  # 2.05 field


def test_missing_boot_flag() -> None:
    info = inspect_bzimage(make_bzimage(boot_flag=0))
    assert any("0xaa55" in p for p in info.problems)
    assert info.details["kexec_file_load"] is False
    assert "boot sector" in info.details["kexec_file_load_reason"]


def test_zimage_is_refused() -> None:
    info = inspect_bzimage(make_bzimage(loadflags=0))
    assert any("zImage" in p for p in info.problems)
    assert "LOADED_HIGH" in info.details["kexec_file_load_reason"]


def test_truncated_inside_setup_code() -> None:
    data = make_bzimage()[:0x1000]  # setup code is 28 sectors = 0x3800 bytes
    info = inspect_bzimage(data)
    assert any("truncated" in p and "14336" in p for p in info.problems)
    assert info.details["kexec_file_load_reason"] == "the bzImage is truncated"


def test_truncated_protected_mode_kernel() -> None:
    data = make_bzimage(syssize_bytes=0x10000)[:-0x100]
    info = inspect_bzimage(data)
    expected = 28 * 512 + 0x10000
    assert any("truncated" in p and str(expected) in p for p in info.problems)
    # The kernel's kexec loader only checks the setup part.
    assert info.details["kexec_file_load"] is True


def test_signed_kernel_with_trailing_signature_is_not_truncated() -> None:
    data = make_bzimage() + b"\x30\x82" + b"\0" * 0x700  # appended PKCS#7 signature
    assert inspect_bzimage(data).problems == ()


def test_setup_sects_zero_means_four() -> None:
    header = parse_setup_header(make_bzimage(setup_sects=0, kernel_version=None))
    assert header.setup_sects == 0
    assert header.setup_size == 5 * 512


def test_version_pointer_outside_setup_code_is_ignored() -> None:
    image = bytearray(make_bzimage(setup_sects=1, kernel_version=None))
    struct.pack_into("<H", image, OFF_KERNEL_VERSION, 0x7000)
    assert parse_setup_header(bytes(image)).kernel_version is None


def test_too_short_for_kexec_file_load() -> None:
    data = make_bzimage(setup_sects=1, syssize_bytes=0)[:0x300]
    info = inspect_bzimage(data)
    assert "too short" in info.details["kexec_file_load_reason"]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=0x400))
def test_arbitrary_bytes(data: bytes) -> None:
    with contextlib.suppress(FormatError):
        inspect_bzimage(data)


@settings(max_examples=300, deadline=None)
@given(
    st.binary(min_size=0x1F1, max_size=0x1F1),
    st.binary(max_size=0x300),
)
def test_arbitrary_header_after_magic(prefix: bytes, rest: bytes) -> None:
    data = prefix + rest[:0x11] + b"HdrS" + rest[0x11:]
    assert has_setup_header(data) == (len(rest) >= 0x11)
    try:
        info = inspect_bzimage(data)
    except FormatError:
        return
    assert all(isinstance(problem, str) for problem in info.problems)


@pytest.mark.debian
def test_debian_kernel() -> None:
    """The kernel Debian ships: a complete 64-bit bzImage kexec_file_load accepts."""
    path = debian_file(kernel_package(), "boot/vmlinuz-*")
    info = inspect_bzimage(path.read_bytes())
    assert info.problems == ()
    assert info.architecture == "x86_64"
    assert info.details["kexec_file_load"] is True
    assert info.details["release"] == path.name.removeprefix("vmlinuz-")
    truncated = inspect_bzimage(path.read_bytes()[: len(path.read_bytes()) // 2])
    assert any("truncated" in p for p in truncated.problems)
