"""UEFI Universal Payload ELF: PT_LOADs, RELATIVE relocations, .upld_info, .upld.* sections.

mini.elf is made by tests/fixtures/upl/make.sh with binutils (readelf: entry 0x1bc, PT_LOADs
at 0x0 (0x1c8 bytes) and 0x1ef0 (0x142 file, 0x3150 memory), three R_X86_64_RELATIVE relocs
at 0x2000/0x2008/0x2010 with addends 0x1bc/0x2008/0x2018, .upld.uefi_fv at 0x1032, 0x200 bytes).
"""

from __future__ import annotations

import contextlib
import os
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bootmenu.errors import FormatError
from efi import upl

FIXTURES = Path(__file__).parent.parent / "fixtures" / "upl"
MINI = (FIXTURES / "mini.elf").read_bytes()
REAL = Path(os.environ.get("BOOTMENU_CACHE", Path.home() / ".cache" / "bootmenu")) / (
    "payload/UniversalPayload.elf"
)


def test_segments_entry_and_size() -> None:
    p = upl.parse_upl(MINI)
    assert p.entry == 0x1BC
    assert [(s.vaddr, s.offset, s.filesz, s.memsz) for s in p.segments] == [
        (0x0, 0x0, 0x1C8, 0x1C8),
        (0x1EF0, 0xEF0, 0x142, 0x3150),
    ]
    assert p.low == 0
    assert p.image_size == 0x6000  # 0x1ef0 + 0x3150 = 0x5040, page-rounded


def test_relocations() -> None:
    p = upl.parse_upl(MINI)
    assert [(r.offset, r.type, r.addend) for r in p.relocations] == [
        (0x2000, 8, 0x1BC),
        (0x2008, 8, 0x2008),
        (0x2010, 8, 0x2018),
    ]


def test_info_header() -> None:
    info = upl.parse_upl(MINI).info
    assert info.header_length == 56
    assert info.spec_version == "0.9"
    assert info.version == "0.1.2.3"
    assert info.producer_id == "bootmenu-test"
    assert info.image_id == "UEFI"
    assert not info.debug


def test_extra_sections() -> None:
    p = upl.parse_upl(MINI)
    fv = p.section("uefi_fv")
    assert fv is not None and (fv.offset, fv.size) == (0x1032, 0x200)
    assert upl.extra_data(MINI, fv)[0x28:0x2C] == b"_FVH"
    assert p.section("bds_fv") is None
    assert upl.problems(MINI) == ()


def test_relocate_applies_relative_relocations() -> None:
    p = upl.parse_upl(MINI)
    base = 0x7E00_0000
    image = upl.relocate(MINI, p, base)
    assert len(image) == 0x6000
    assert struct.unpack_from("<3Q", image, 0x2000) == (base + 0x1BC, base + 0x2008, base + 0x2018)
    # the code is copied as it is, the .bss is zero, the message after the table too
    assert image[0x1B8:0x1BC] == b"\xcc" * 4
    assert image[0x2018:0x2031] == b"hello from a mini payload"
    assert image[0x2040:0x5040] == bytes(0x3000)
    assert p.entry_at(base) == base + 0x1BC


def test_relocate_needs_a_page_aligned_base() -> None:
    p = upl.parse_upl(MINI)
    with pytest.raises(ValueError):
        upl.relocate(MINI, p, 0x1234)


def test_foreign_machine_is_a_clear_problem() -> None:
    (problem,) = upl.problems((FIXTURES / "aarch64.elf").read_bytes())
    assert "built for ELF machine 183, not x86-64" in problem


def test_plain_elf_is_not_a_payload() -> None:
    (problem,) = upl.problems((FIXTURES / "no-info.elf").read_bytes())
    assert "no .upld_info section" in problem


def test_not_elf() -> None:
    assert upl.problems(b"MZ" + bytes(100)) == ("payload: not an ELF file",)


def test_bad_pldh_signature() -> None:
    bad = MINI.replace(b"PLDH", b"XXXX")
    with pytest.raises(FormatError, match="identifier is b'XXXX'"):
        upl.parse_upl(bad)


def test_truncated_payload() -> None:
    with pytest.raises(FormatError, match="truncated"):
        upl.parse_upl(MINI[:0x1100])


def test_other_relocation_type_is_refused() -> None:
    data = bytearray(MINI)
    # .rela.dyn at 0x170: r_info of the first entry -> R_X86_64_64 (1)
    struct.pack_into("<Q", data, 0x178, 1)
    with pytest.raises(FormatError, match="only R_X86_64_RELATIVE"):
        upl.parse_upl(bytes(data))


def test_section_offset_past_any_file_is_a_format_error() -> None:
    """Found by the fuzzer (tests/fuzz): an offset no file can have made pyelftools' seek
    raise OverflowError, which escaped parse_upl."""
    data = bytearray(MINI)
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    # Section 0 marked SHF_COMPRESSED, its (compression header's) offset 2**63.
    struct.pack_into("<Q", data, shoff + 8, 0x800)
    struct.pack_into("<Q", data, shoff + 24, 1 << 63)
    with pytest.raises(FormatError, match="damaged ELF file"):
        upl.parse_upl(bytes(data))


def test_overlapping_program_headers_are_a_format_error() -> None:
    """Found by the fuzzer (tests/fuzz): 0-byte program header entries at offset 0, 16 896 of
    them, made pyelftools parse one header again and again (a second under the fuzzer, for a
    6 KiB file; pyelftools refuses 0-byte entries only elsewhere in the file)."""
    data = bytearray(MINI)
    struct.pack_into("<Q", data, 0x20, 0)  # e_phoff
    struct.pack_into("<HH", data, 0x36, 0, 16896)  # e_phentsize, e_phnum
    with pytest.raises(FormatError, match="program header table entries are 0 bytes"):
        upl.parse_upl(bytes(data))


@pytest.mark.skipif(not REAL.exists(), reason="the payload is not built (scripts/build-payload)")
def test_real_edk2_payload() -> None:
    data = REAL.read_bytes()
    p = upl.parse_upl(data)
    assert p.info.image_id == "UEFI"
    assert p.info.producer_id == "INTEL"
    fv = p.section("uefi_fv")
    assert fv is not None and fv.offset % 16 == 0
    assert upl.extra_data(data, fv)[0x28:0x2C] == b"_FVH"
    assert len(p.relocations) > 10
    assert upl.problems(data) == ()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512))
def test_arbitrary_bytes(data: bytes) -> None:
    with contextlib.suppress(FormatError):
        upl.parse_upl(data)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(MINI) - 1), st.integers(0, 255))
def test_damaged_payload(offset: int, value: int) -> None:
    data = bytearray(MINI)
    data[offset] = value
    try:
        p = upl.parse_upl(bytes(data))
        upl.relocate(bytes(data), p, 0x100000)
    except FormatError:
        pass
