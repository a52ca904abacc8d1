"""bootmenu.formats.elf over the real Multiboot test kernels and corrupted copies of them.

The kernels are built by tests/mbkernel.py (fixture ``mb_kernels``); their layout comes from
tests/fixtures/multiboot/kernel.ld: text at 1 MiB (file offset 0x1000), rodata at 0x101000,
a 16 KiB stack in bss at 0x102000.
"""

from __future__ import annotations

import contextlib
import struct
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bootmenu import arch
from bootmenu.errors import FormatError
from bootmenu.formats.elf import PF_R, PF_W, PF_X, inspect_elf, parse_elf

# ELF32 header field offsets (System V ABI).
E_TYPE = 16
E_MACHINE = 18
E_ENTRY = 24
E_PHOFF = 28
E_PHENTSIZE = 42
E_PHNUM = 44
# ELF32 program header field offsets.
P_TYPE = 0
P_OFFSET = 4
P_FILESZ = 16
P_MEMSZ = 20
PT_LOAD = 1
PT_NOTE = 4


def phdrs(data: bytes) -> list[int]:
    """File offsets of the ELF32 program header entries."""
    (phoff,) = struct.unpack_from("<I", data, E_PHOFF)
    (phentsize, phnum) = struct.unpack_from("<HH", data, E_PHENTSIZE)
    return [phoff + i * phentsize for i in range(phnum)]


def patch(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    patched = bytearray(data)
    struct.pack_into(fmt, patched, offset, value)
    return bytes(patched)


@pytest.fixture(scope="module")
def mb1(mb_kernels: dict[int, bytes]) -> bytes:
    return mb_kernels[1]


def test_real_kernel(mb1: bytes) -> None:
    image = parse_elf(mb1)
    assert image.elf_class == 32
    assert image.machine == "EM_386"
    assert image.architecture == "i386"
    assert image.type == "ET_EXEC"
    assert not image.big_endian
    # _start follows the 12-byte Multiboot header at the start of .text.
    assert image.entry == 0x10000C
    assert [(s.offset, s.vaddr, s.paddr) for s in image.segments] == [
        (0x1000, 0x100000, 0x100000),
        (0x2000, 0x101000, 0x101000),
        (0, 0x102000, 0x102000),
    ]
    text, rodata, bss = image.segments
    assert text.flags == PF_R | PF_X
    assert rodata.flags == PF_R
    assert bss.flags == PF_R | PF_W
    assert (bss.filesz, bss.memsz) == (0, 0x4000)
    assert image.problems == ()


def test_inspect_real_kernel_says_multiboot(mb_kernels: dict[int, bytes]) -> None:
    for version in (1, 2):
        info = inspect_elf(mb_kernels[version])
        assert info.format == "elf"
        assert info.kind == "multiboot"
        assert info.architecture == "i386"
        assert info.problems == ()
        assert info.details["multiboot"] == version
        assert info.details["segments"][0]["flags"] == "r-x"


def test_host_python_is_a_plain_elf() -> None:
    data = Path(sys.executable).resolve().read_bytes()
    if data[:4] != b"\x7fELF":
        pytest.skip("the Python interpreter is not an ELF file here")
    info = inspect_elf(data)
    assert info.kind is None
    assert info.architecture == arch.host()
    assert info.details["class"] == (64 if sys.maxsize > 2**32 else 32)
    assert info.details["type"] in ("ET_EXEC", "ET_DYN")
    assert info.problems == ()


def test_not_elf() -> None:
    with pytest.raises(FormatError, match="not an ELF"):
        parse_elf(b"MZ" + b"\0" * 100)
    with pytest.raises(FormatError):
        parse_elf(b"")


def test_header_cut_short(mb1: bytes) -> None:
    with pytest.raises(FormatError):
        parse_elf(mb1[:30])


def test_program_header_table_cut_short(mb1: bytes) -> None:
    with pytest.raises(FormatError, match="program header table: truncated"):
        parse_elf(mb1[:0x50])


def test_bad_class_byte(mb1: bytes) -> None:
    with pytest.raises(FormatError):
        parse_elf(mb1[:4] + b"\x07" + mb1[5:])


def test_truncated_file(mb1: bytes) -> None:
    image = parse_elf(mb1[:0x1080])
    assert len(image.problems) == 2  # text and rodata both run past the end
    assert "segment 0" in image.problems[0]
    assert "past the end of the file" in image.problems[0]


def test_load_segment_offset_beyond_eof(mb1: bytes) -> None:
    first = phdrs(mb1)[0]
    image = parse_elf(patch(mb1, first + P_OFFSET, "<I", 0x100000))
    assert len(image.problems) == 1
    assert "file offset 0x100000" in image.problems[0]
    assert "truncated or corrupt" in image.problems[0]


def test_filesz_larger_than_memsz(mb1: bytes) -> None:
    first = phdrs(mb1)[0]
    image = parse_elf(patch(mb1, first + P_MEMSZ, "<I", 4))
    assert any("larger in the file" in p for p in image.problems)


def test_relocatable_object(mb1: bytes) -> None:
    image = parse_elf(patch(mb1, E_TYPE, "<H", 1))
    assert image.type == "ET_REL"
    assert image.problems == ("this is a relocatable object file, not an executable",)


def test_no_load_segment(mb1: bytes) -> None:
    data = mb1
    for entry in phdrs(mb1):
        (p_type,) = struct.unpack_from("<I", mb1, entry + P_TYPE)
        if p_type == PT_LOAD:
            data = patch(data, entry + P_TYPE, "<I", PT_NOTE)
    image = parse_elf(data)
    assert image.segments == ()
    assert image.problems == ("the ELF file has no loadable segment (PT_LOAD)",)


def test_entry_outside_segments(mb1: bytes) -> None:
    image = parse_elf(patch(mb1, E_ENTRY, "<I", 0x500000))
    assert image.problems == ("the entry point 0x500000 is not inside any loadable segment",)


def test_unknown_machine(mb1: bytes) -> None:
    image = parse_elf(patch(mb1, E_MACHINE, "<H", 0x7FFF))
    assert image.machine == "EM_0x7fff"
    assert image.architecture is None


def test_x86_64_machine(mb1: bytes) -> None:
    image = parse_elf(patch(mb1, E_MACHINE, "<H", 62))
    assert image.machine == "EM_X86_64"
    assert image.architecture == "x86_64"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512))
def test_arbitrary_bytes_after_magic(tail: bytes) -> None:
    with contextlib.suppress(FormatError):
        inspect_elf(b"\x7fELF" + tail)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(st.integers(0, 0xFF), st.integers(0, 255)), min_size=1, max_size=8))
def test_corrupted_headers(mb1: bytes, writes: list[tuple[int, int]]) -> None:
    """Random bytes written into the ELF and program headers (the first 0xb4 bytes)."""
    data = bytearray(mb1)
    for offset, value in writes:
        data[offset % 0xB4] = value
    try:
        image = parse_elf(bytes(data))
    except FormatError:
        return
    assert all(isinstance(problem, str) for problem in image.problems)
