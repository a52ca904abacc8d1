"""bootmenu.formats.multiboot over the real test kernels, corrupted copies, synthetic headers.

The real kernels come from tests/mbkernel.py (fixture ``mb_kernels``); both put their header
at file offset 0x1000 (see tests/fixtures/multiboot/kernel.ld).  Synthetic non-ELF images are
built here from the layouts in the Multiboot 0.6.96 and 2.0 specifications.
"""

from __future__ import annotations

import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bootmenu.formats.elf import inspect_elf
from bootmenu.formats.multiboot import (
    Multiboot2Tag,
    find_multiboot1,
    find_multiboot2,
    inspect_multiboot,
)

MB1_MAGIC = 0x1BADB002
MB2_MAGIC = 0xE85250D6
HEADER_OFFSET = 0x1000
E_MACHINE = 18


def mb1_header(flags: int, *extra: int, checksum: int | None = None) -> bytes:
    if checksum is None:
        checksum = -(MB1_MAGIC + flags) & 0xFFFFFFFF
    return struct.pack(f"<III{len(extra)}I", MB1_MAGIC, flags, checksum, *extra)


def mb2_tag(tag_type: int, flags: int = 0, body: bytes = b"") -> bytes:
    raw = struct.pack("<HHI", tag_type, flags, 8 + len(body)) + body
    return raw + b"\0" * (-len(raw) % 8)


def mb2_header(*tags: bytes, architecture: int = 0, end: bool = True) -> bytes:
    body = b"".join(tags) + (mb2_tag(0) if end else b"")
    length = 16 + len(body)
    checksum = -(MB2_MAGIC + architecture + length) & 0xFFFFFFFF
    return struct.pack("<IIII", MB2_MAGIC, architecture, length, checksum) + body


def raw_image(header: bytes, at: int = 0x40, size: int = 0x2000) -> bytes:
    data = bytearray(size)
    data[at : at + len(header)] = header
    return bytes(data)


def move(data: bytes, start: int, length: int, to: int) -> bytes:
    """Copy ``length`` bytes from ``start`` to ``to`` (growing the file) and zero the original."""
    moved = bytearray(data) + bytearray(max(0, to + length - len(data)))
    chunk = moved[start : start + length]
    moved[start : start + length] = bytes(length)
    moved[to : to + length] = chunk
    return bytes(moved)


# --- the real kernels ---------------------------------------------------------------------


def test_real_mb1_header(mb_kernels: dict[int, bytes]) -> None:
    header = find_multiboot1(mb_kernels[1])
    assert header is not None
    assert header.offset == HEADER_OFFSET
    assert header.flags == 0x3  # PAGE_ALIGN | MEMORY_INFO, as in mb1.S
    assert header.checksum_ok
    assert header.load_addresses is None
    assert header.video is None
    assert header.problems == ()
    assert find_multiboot2(mb_kernels[1]) is None


def test_real_mb1_inspect(mb_kernels: dict[int, bytes]) -> None:
    info = inspect_multiboot(mb_kernels[1])
    assert info is not None
    assert info.format == "multiboot1"
    assert info.kind == "multiboot"
    assert info.architecture == "i386"
    assert info.problems == ()
    assert info.details["flags"] == 3
    assert info.details["elf"]["machine"] == "EM_386"
    assert info.details["elf"]["entry"] == 0x10000C


def test_real_mb2_header(mb_kernels: dict[int, bytes]) -> None:
    header = find_multiboot2(mb_kernels[2])
    assert header is not None
    assert header.offset == HEADER_OFFSET
    assert header.architecture == 0
    assert header.header_length == 40
    assert header.checksum_ok
    assert header.tags == (
        Multiboot2Tag(1, 0, 16, "information request", (1, 4)),
        Multiboot2Tag(0, 0, 8, "end", ()),
    )
    assert header.problems == ()
    assert find_multiboot1(mb_kernels[2]) is None


def test_real_mb2_inspect(mb_kernels: dict[int, bytes]) -> None:
    info = inspect_multiboot(mb_kernels[2])
    assert info is not None
    assert info.format == "multiboot2"
    assert info.architecture == "i386"
    assert info.problems == ()
    assert [tag["name"] for tag in info.details["tags"]] == ["information request", "end"]
    assert info.details["also_multiboot1"] is False
    assert info.details["elf"]["entry"] == 0x100028


def test_bad_checksum(mb_kernels: dict[int, bytes]) -> None:
    data = bytearray(mb_kernels[1])
    data[HEADER_OFFSET + 8] ^= 0x01
    header = find_multiboot1(bytes(data))
    assert header is not None
    assert not header.checksum_ok
    info = inspect_multiboot(bytes(data))
    assert info is not None
    assert len(info.problems) == 1
    assert "wrong checksum" in info.problems[0]


def test_mb2_bad_checksum(mb_kernels: dict[int, bytes]) -> None:
    data = bytearray(mb_kernels[2])
    data[HEADER_OFFSET + 12] ^= 0x80
    info = inspect_multiboot(bytes(data))
    assert info is not None
    assert info.format == "multiboot2"
    assert any("wrong checksum" in p for p in info.problems)


def test_mb1_header_beyond_8k_is_not_found(mb_kernels: dict[int, bytes]) -> None:
    data = move(mb_kernels[1], HEADER_OFFSET, 12, 0x2004)
    assert find_multiboot1(data) is None
    assert inspect_multiboot(data) is None
    assert inspect_elf(data).kind is None


def test_mb1_header_ending_exactly_at_8k_is_found(mb_kernels: dict[int, bytes]) -> None:
    data = move(mb_kernels[1], HEADER_OFFSET, 12, 8192 - 12)
    header = find_multiboot1(data)
    assert header is not None
    assert header.offset == 8180


def test_mb2_header_beyond_32k_is_not_found(mb_kernels: dict[int, bytes]) -> None:
    data = move(mb_kernels[2], HEADER_OFFSET, 40, 0x8000)
    assert find_multiboot2(data) is None
    assert inspect_multiboot(data) is None


def test_mb2_header_must_be_8_aligned(mb_kernels: dict[int, bytes]) -> None:
    data = move(mb_kernels[2], HEADER_OFFSET, 40, 0x1804)
    assert find_multiboot2(data) is None


def test_truncated_kernel(mb_kernels: dict[int, bytes]) -> None:
    info = inspect_multiboot(mb_kernels[1][:0x1080])
    assert info is not None
    assert info.problems
    assert all("past the end of the file" in p for p in info.problems)


def test_load_segment_beyond_eof(mb_kernels: dict[int, bytes]) -> None:
    data = bytearray(mb_kernels[2])
    (phoff,) = struct.unpack_from("<I", data, 28)
    struct.pack_into("<I", data, phoff + 4, 0x200000)  # p_offset of the first PT_LOAD
    info = inspect_multiboot(bytes(data))
    assert info is not None
    assert len(info.problems) == 1
    assert "file offset 0x200000" in info.problems[0]


def test_x86_64_elf_is_refused_by_kexec(mb_kernels: dict[int, bytes]) -> None:
    data = bytearray(mb_kernels[1])
    struct.pack_into("<H", data, E_MACHINE, 62)
    info = inspect_multiboot(bytes(data))
    assert info is not None
    assert len(info.problems) == 1
    assert "32-bit x86_64 ELF" in info.problems[0]
    assert "EM_386" in info.problems[0]


def test_unreadable_elf_headers(mb_kernels: dict[int, bytes]) -> None:
    data = bytearray(mb_kernels[1])
    struct.pack_into("<H", data, 42, 8)  # e_phentsize smaller than an Elf32_Phdr
    info = inspect_multiboot(bytes(data))
    assert info is not None
    assert any("ELF headers cannot be read" in p for p in info.problems)


# --- synthetic Multiboot 1 images ---------------------------------------------------------


def test_aout_kludge_is_refused_by_kexec() -> None:
    # header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr for a header at 0x40
    # of an image loaded at 1 MiB.
    data = raw_image(mb1_header(0x10003, 0x100040, 0x100000, 0x101800, 0x104000, 0x100060))
    header = find_multiboot1(data)
    assert header is not None
    assert header.load_addresses == (0x100040, 0x100000, 0x101800, 0x104000, 0x100060)
    info = inspect_multiboot(data)
    assert info is not None
    assert info.problems == (
        "the kernel uses the Multiboot a.out kludge (flag 16), which kexec-tools does not support",
    )
    assert info.details["elf"] is None


def test_aout_kludge_inconsistent_addresses() -> None:
    data = raw_image(mb1_header(0x10000, 0x100040, 0x100000, 0x103000, 0x102000, 0x200000))
    header = find_multiboot1(data)
    assert header is not None
    problems = "\n".join(header.problems)
    assert "truncated" in problems  # load_end_addr needs 0x3000 bytes, the file has 0x2000
    assert "bss end address 0x102000" in problems
    assert "entry address 0x200000" in problems


def test_aout_kludge_header_before_file_start() -> None:
    data = raw_image(mb1_header(0x10000, 0x100100, 0x100000, 0, 0, 0x100100))
    header = find_multiboot1(data)
    assert header is not None
    assert any("before the start of the file" in p for p in header.problems)


def test_video_mode_is_refused_by_kexec() -> None:
    data = raw_image(mb1_header(0x10007, 0x100040, 0x100000, 0, 0, 0x100060, 0, 1024, 768, 32))
    header = find_multiboot1(data)
    assert header is not None
    assert header.video == (0, 1024, 768, 32)
    assert any("graphics mode" in p for p in header.problems)


def test_unknown_required_flag() -> None:
    header = find_multiboot1(raw_image(mb1_header(0x0103)))
    assert header is not None
    assert header.problems == (
        "the kernel requires Multiboot features kexec-tools does not know "
        "(required flag bits 0x0100)",
    )


def test_optional_flag_bits_are_fine() -> None:
    header = find_multiboot1(raw_image(mb1_header(0x00F00003)))
    assert header is not None
    assert header.problems == ()


def test_not_elf_without_kludge() -> None:
    info = inspect_multiboot(raw_image(mb1_header(0x3)))
    assert info is not None
    assert info.problems == (
        "the kernel is neither an ELF file nor does its Multiboot header give load "
        "addresses (a.out kludge); no boot loader can load it",
    )


def test_header_truncated_by_end_of_file() -> None:
    data = mb1_header(0x10003)  # says a.out fields follow, but the file ends
    header = find_multiboot1(data)
    assert header is not None
    assert header.load_addresses is None
    assert any("truncated" in p for p in header.problems)


def test_first_valid_header_wins() -> None:
    data = bytearray(0x100)
    data[0x10:0x1C] = mb1_header(0x3, checksum=0)
    data[0x40:0x4C] = mb1_header(0x2)
    header = find_multiboot1(bytes(data))
    assert header is not None
    assert header.offset == 0x40
    assert header.flags == 0x2


# --- synthetic Multiboot 2 images ---------------------------------------------------------


def test_mb2_not_elf() -> None:
    info = inspect_multiboot(raw_image(mb2_header()))
    assert info is not None
    assert info.problems == (
        "the kernel is not an ELF file; kexec-tools loads Multiboot 2 kernels only from ELF files",
    )


def test_mb2_unknown_required_tag() -> None:
    header = find_multiboot2(raw_image(mb2_header(mb2_tag(42, 0, b"\0" * 8))))
    assert header is not None
    assert header.tags[0].name == "unknown tag 42"
    assert header.problems == (
        "the kernel requires Multiboot 2 header tag 42, which is not in the specification; "
        "no boot loader can satisfy it",
    )


def test_mb2_unknown_optional_tag_is_fine() -> None:
    header = find_multiboot2(raw_image(mb2_header(mb2_tag(42, 1, b"\0" * 8))))
    assert header is not None
    assert header.tags[0].optional
    assert header.problems == ()


def test_mb2_required_information_kexec_lacks() -> None:
    request = mb2_tag(1, 0, struct.pack("<4I", 1, 6, 14, 12))
    header = find_multiboot2(raw_image(mb2_header(request)))
    assert header is not None
    assert header.problems == (
        "the kernel requires boot information kexec-tools does not give: "
        "ACPI 1.0 RSDP (tag 14), EFI 64-bit system table (tag 12)",
    )


def test_mb2_optional_information_request_is_fine() -> None:
    request = mb2_tag(1, 1, struct.pack("<2I", 14, 15))
    header = find_multiboot2(raw_image(mb2_header(request)))
    assert header is not None
    assert header.problems == ()


def test_mb2_load_base_address_needs_relocatable_tag() -> None:
    request = mb2_tag(1, 0, struct.pack("<I", 21))
    relocatable = mb2_tag(10, 0, struct.pack("<3IHH", 0x200000, 0xFFFFFFFF, 0x200000, 1, 0)[:16])
    without = find_multiboot2(raw_image(mb2_header(request)))
    with_tag = find_multiboot2(raw_image(mb2_header(request, relocatable)))
    assert without is not None and with_tag is not None
    assert len(without.problems) == 1
    assert with_tag.problems == ()


def test_mb2_mips() -> None:
    info = inspect_multiboot(raw_image(mb2_header(architecture=4)))
    assert info is not None
    assert info.architecture == "mips"
    assert any("MIPS" in p for p in info.problems)


def test_mb2_unknown_architecture() -> None:
    header = find_multiboot2(raw_image(mb2_header(architecture=7)))
    assert header is not None
    assert any("unknown architecture (7)" in p for p in header.problems)


def test_mb2_missing_end_tag() -> None:
    header = find_multiboot2(raw_image(mb2_header(mb2_tag(6, 0), end=False)))
    assert header is not None
    assert [tag.name for tag in header.tags] == ["module alignment"]
    assert any("no end tag" in p for p in header.problems)


def test_mb2_tag_too_small() -> None:
    body = struct.pack("<HHI", 4, 0, 4)
    header = find_multiboot2(raw_image(mb2_header(body)))
    assert header is not None
    assert any("has size 4" in p for p in header.problems)


def test_mb2_tag_runs_past_header() -> None:
    body = struct.pack("<HHI", 2, 0, 200) + bytes(16)
    header = find_multiboot2(raw_image(mb2_header(body)))
    assert header is not None
    assert any("runs past the end of the header" in p for p in header.problems)


def test_both_headers_prefers_multiboot2() -> None:
    data = bytearray(0x1000)
    data[0x10:0x1C] = mb1_header(0x3)
    data[0x40 : 0x40 + 24] = mb2_header()
    info = inspect_multiboot(bytes(data))
    assert info is not None
    assert info.format == "multiboot2"
    assert info.details["also_multiboot1"] is True
    data[0x4C] ^= 0xFF  # break the Multiboot 2 checksum: kexec-tools falls back to MB1
    info = inspect_multiboot(bytes(data))
    assert info is not None
    assert info.format == "multiboot1"


# --- robustness ---------------------------------------------------------------------------


def _inspect_all(data: bytes) -> None:
    """None of these may raise: damage is reported as problems."""
    find_multiboot1(data)
    find_multiboot2(data)
    info = inspect_multiboot(data)
    assert info is None or all(isinstance(problem, str) for problem in info.problems)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=256), st.sampled_from([b"", mb1_header(0x3), mb2_header()]))
def test_arbitrary_bytes_around_a_header(tail: bytes, header: bytes) -> None:
    _inspect_all(header[:8] + tail + header[8:] if tail else header)
    _inspect_all(struct.pack("<I", MB2_MAGIC) + tail)
    _inspect_all(struct.pack("<I", MB1_MAGIC) + tail)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.sampled_from([1, 2]),
    st.lists(st.tuples(st.integers(0, 0x1040), st.integers(0, 255)), min_size=1, max_size=8),
)
def test_corrupted_real_kernels(
    mb_kernels: dict[int, bytes], version: int, writes: list[tuple[int, int]]
) -> None:
    """Random bytes written into the ELF headers and the Multiboot header."""
    data = bytearray(mb_kernels[version])
    for offset, value in writes:
        data[offset if offset < 0x100 else HEADER_OFFSET + offset % 0x40] = value
    _inspect_all(bytes(data))
