"""efi.pe: PE/COFF headers, sections, signatures and SBAT.

Fixtures in tests/fixtures/pe/ are real PE images written by GNU ld (see make_fixtures.py);
tests marked ``debian`` use Debian 12's shim, GRUB, systemd-boot, memtest86+ and kernel.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bootmenu.errors import FormatError
from bootmenu.validate import inspect_pe
from efi import pe
from tests.debian import debian_bytes

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "pe"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def e_lfanew(data: bytes) -> int:
    return int(struct.unpack_from("<I", data, 0x3C)[0])


def patch(data: bytes, offset: int, fmt: str, *values: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, *values)
    return bytes(out)


def section_header(data: bytes, index: int) -> int:
    """File offset of section header ``index``."""
    file_header = e_lfanew(data) + 4
    optional_size: int = struct.unpack_from("<H", data, file_header + 16)[0]
    return file_header + 20 + optional_size + 40 * index


def security_directory(data: bytes) -> int:
    optional = e_lfanew(data) + 24
    magic: int = struct.unpack_from("<H", data, optional)[0]
    return optional + (112 if magic == pe.PE32PLUS_MAGIC else 96) + 8 * 4


def with_certificate(data: bytes, revision: int = 0x0200, cert_type: int = 2) -> bytes:
    """``data`` with a WIN_CERTIFICATE appended and the security directory pointing at it.
    The "signature" is a DER SEQUENCE header only: nothing here verifies signatures."""
    body = bytes.fromhex("3082000406092a864886f70d010702")
    cert = struct.pack("<IHH", 8 + len(body), revision, cert_type) + body
    cert += b"\0" * (-len(cert) % 8)
    offset = len(data) + (-len(data) % 8)
    padded = data + b"\0" * (offset - len(data))
    return patch(padded + cert, security_directory(data), "<II", offset, len(cert))


# -- small fixtures ----------------------------------------------------------------------------


def test_hello_x64_is_an_unsigned_x86_64_efi_application() -> None:
    image = pe.parse_pe(fixture("hello-x64.efi"))
    assert image.machine == 0x8664
    assert image.machine_name == "AMD64"
    assert image.architecture == "x86_64"
    assert image.subsystem == 10
    assert image.subsystem_name == "EFI application"
    assert [s.name for s in image.sections] == [".text", ".sbat", ".idata"]
    assert image.signed is False
    assert image.has_linux_header is False
    assert image.problems == ()
    text = image.section(".text")
    assert text is not None and text.virtual_address == 0x1000 and text.raw_offset == 0x400
    assert image.entry_point == 0x1000


def test_sbat_is_read_and_trimmed_to_the_virtual_size() -> None:
    data = fixture("hello-x64.efi")
    image = pe.parse_pe(data)
    assert image.sbat == (
        "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\n"
        "hello,1,bootmenu tests,hello,1,https://example.invalid/hello\n"
    )
    entries = pe.parse_sbat(image.sbat)
    assert [(e.component, e.generation) for e in entries] == [("sbat", "1"), ("hello", "1")]
    assert entries[1].url == "https://example.invalid/hello"
    raw = pe.section_data(data, image, ".sbat")
    assert raw is not None and raw.endswith(b"/hello\n")  # raw size is 0x200, virtual 0x89
    assert pe.section_data(data, image, ".nothere") is None


def test_ia32_application_reports_i386() -> None:
    image = pe.parse_pe(fixture("hello-ia32.efi"))
    assert (image.machine, image.machine_name, image.architecture) == (0x14C, "I386", "i386")
    assert image.problems == ()


@pytest.mark.parametrize(
    "name, subsystem, problem",
    [
        ("console-x64.exe", 3, "not an EFI application (PE subsystem 3, expected 10)"),
        ("driver-x64.efi", 11, "not an EFI application (PE subsystem 11, expected 10)"),
    ],
)
def test_other_subsystems_are_a_problem(name: str, subsystem: int, problem: str) -> None:
    image = pe.parse_pe(fixture(name))
    assert image.subsystem == subsystem
    assert image.problems == (problem,)


@pytest.mark.parametrize(
    "machine, name, architecture",
    [
        (0xAA64, "ARM64", "aarch64"),
        (0x5064, "RISCV64", "riscv64"),
        (0x6264, "LOONGARCH64", "loongarch64"),
        (0x0200, "IA64", "ia64"),
    ],
)
def test_machine_types_of_64_bit_images(machine: int, name: str, architecture: str) -> None:
    """hello-x64.efi with its Machine field patched."""
    data = fixture("hello-x64.efi")
    image = pe.parse_pe(patch(data, e_lfanew(data) + 4, "<H", machine))
    assert (image.machine_name, image.architecture, image.problems) == (name, architecture, ())


def test_32_bit_arm_image_reports_arm() -> None:
    """hello-ia32.efi (PE32) with its Machine field patched to ARMNT (Thumb-2)."""
    data = fixture("hello-ia32.efi")
    image = pe.parse_pe(patch(data, e_lfanew(data) + 4, "<H", 0x1C4))
    assert (image.machine_name, image.architecture, image.problems) == ("ARMNT", "arm", ())


def test_unknown_machine_and_mismatched_optional_header() -> None:
    data = fixture("hello-x64.efi")
    unknown = pe.parse_pe(patch(data, e_lfanew(data) + 4, "<H", 0x1234))
    assert unknown.architecture is None
    assert "unknown machine type 0x1234" in unknown.problems
    ia32 = fixture("hello-ia32.efi")
    mixed = pe.parse_pe(patch(ia32, e_lfanew(ia32) + 4, "<H", 0x8664))
    assert mixed.problems == (
        "PE32 (32-bit) optional header does not match the AMD64 machine type",
    )


def test_certificate_table_makes_an_image_signed() -> None:
    image = pe.parse_pe(with_certificate(fixture("hello-x64.efi")))
    assert image.signed is True
    assert image.problems == ()


def test_bad_certificate_tables_are_problems() -> None:
    data = fixture("hello-x64.efi")
    revision = pe.parse_pe(with_certificate(data, revision=0x0300))
    assert revision.signed is False
    assert any("unknown revision 0x0300" in p for p in revision.problems)
    x509_only = pe.parse_pe(with_certificate(data, cert_type=1))
    assert x509_only.signed is False
    assert x509_only.problems == ("certificate table holds no Authenticode (PKCS#7) signature",)
    signed = with_certificate(data)
    truncated = pe.parse_pe(signed[:-8])
    assert truncated.signed is False
    assert any("extends past the end of the file" in p for p in truncated.problems)


def test_section_data_past_the_end_of_the_file_is_a_problem() -> None:
    data = fixture("hello-x64.efi")
    moved = patch(data, section_header(data, 1) + 20, "<I", 0x100000)  # .sbat PointerToRawData
    image = pe.parse_pe(moved)
    assert image.sbat == ""
    assert image.problems == (
        "section .sbat: data at 0x100000-0x100200 extends past the end of the file (0x10d0 bytes)",
    )


def test_overlapping_sections_and_stray_entry_point() -> None:
    data = fixture("hello-x64.efi")
    overlap = patch(data, section_header(data, 1) + 12, "<I", 0x1000)  # .sbat VA = .text VA
    assert "sections .text and .sbat overlap in memory" in pe.parse_pe(overlap).problems
    optional = e_lfanew(data) + 24
    stray = pe.parse_pe(patch(data, optional + 16, "<I", 0x9000))  # AddressOfEntryPoint
    assert stray.problems == ("entry point 0x9000 is outside every section",)


@pytest.mark.parametrize("blob", [b"", b"MZ", b"\x7fELF" + bytes(60), bytes(4096)])
def test_non_pe_input_is_a_format_error(blob: bytes) -> None:
    with pytest.raises(FormatError, match="not a PE image"):
        pe.parse_pe(blob)


@pytest.mark.parametrize("cut", [0x3C, 0x40, 0x84, 0x100, 0x190, 0x1F0, 0x400, 0x600, 0x9FF])
def test_truncated_image_gives_problems_or_format_error(cut: int) -> None:
    data = fixture("hello-x64.efi")[:cut]
    try:
        image = pe.parse_pe(data)
    except FormatError:
        return
    assert image.problems, f"cut at {cut:#x} went unnoticed"


def test_inspect_pe_of_an_efi_application() -> None:
    info = inspect_pe(fixture("hello-ia32.efi"))
    assert (info.format, info.kind, info.architecture, info.signed) == ("pe", "efi", "i386", False)
    assert info.details["machine"] == "0x014c (I386)"
    assert info.details["subsystem"] == "10 (EFI application)"
    assert info.details["sections"] == [".text", ".sbat", ".idata"]
    assert info.details["loader"] is None


# -- robustness --------------------------------------------------------------------------------


def _parse_or_format_error(data: bytes) -> None:
    try:
        image = pe.parse_pe(data)
    except FormatError:
        return
    inspect_pe(data)
    for section in image.sections:
        pe.section_data(data, image, section.name)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes(data: bytes) -> None:
    _parse_or_format_error(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=1024).map(lambda tail: b"MZ" + bytes(58) + b"\x40\0\0\0PE\0\0" + tail))
def test_arbitrary_bytes_behind_pe_headers(data: bytes) -> None:
    _parse_or_format_error(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.integers(0, 0x4FF), st.integers(0, 255)), min_size=1, max_size=8),
    st.integers(0x40, 0x10D0),
)
def test_mutations_of_a_real_pe(flips: list[tuple[int, int]], length: int) -> None:
    """hello-x64.efi with bytes of its headers and section table overwritten, then cut."""
    data = bytearray(fixture("hello-x64.efi"))
    for offset, value in flips:
        data[offset] = value
    _parse_or_format_error(bytes(data[:length]))


# -- Debian binaries ---------------------------------------------------------------------------


@pytest.mark.debian
@pytest.mark.parametrize(
    "key, architecture, signed",
    [
        ("shim-signed", "x86_64", True),
        ("shim-unsigned", "x86_64", False),
        ("grub-signed", "x86_64", True),
        ("grub-unsigned", "x86_64", False),
        ("grub-ia32", "i386", False),
        ("systemd-boot", "x86_64", False),
        ("systemd-stub", "x86_64", False),
        ("memtest-x64", "x86_64", False),
        ("memtest-ia32", "i386", False),
        ("ipxe", "x86_64", False),
        ("vmlinuz", "x86_64", True),
    ],
)
def test_debian_binaries(key: str, architecture: str, signed: bool) -> None:
    image = pe.parse_pe(debian_bytes(key))
    assert image.architecture == architecture
    assert image.subsystem == 10
    assert image.signed is signed
    assert image.problems == ()


@pytest.mark.debian
def test_debian_kernel_is_a_signed_linux_pe() -> None:
    data = debian_bytes("vmlinuz")
    image = pe.parse_pe(data)
    assert image.has_linux_header
    assert [s.name for s in image.sections][:2] == [".setup", ".compat"]
    info = inspect_pe(data)
    assert (info.kind, info.architecture, info.signed, info.problems) == (
        "linux",
        "x86_64",
        True,
        (),
    )
    assert info.details["loader"] == "linux"


@pytest.mark.debian
def test_debian_sbat_sections() -> None:
    grub = pe.parse_pe(debian_bytes("grub-signed"))
    assert grub.sbat is not None
    assert [e.component for e in pe.parse_sbat(grub.sbat)][:2] == ["sbat", "grub"]
    memtest = pe.parse_pe(debian_bytes("memtest-ia32"))
    assert memtest.sbat is not None and "memtest86+,1,Memtest86+" in memtest.sbat
    assert memtest.has_linux_header  # memtest86+ 6 can also be started as a Linux kernel
    assert pe.parse_pe(debian_bytes("ipxe")).sbat is None


@pytest.mark.debian
def test_memtest_bin_is_not_a_pe() -> None:
    with pytest.raises(FormatError):
        pe.parse_pe(debian_bytes("memtest-x64-bin"))


@pytest.mark.debian
@pytest.mark.parametrize("fraction", [0.001, 0.01, 0.25, 0.5, 0.9, 0.9999])
def test_truncated_debian_kernel(fraction: float) -> None:
    data = debian_bytes("vmlinuz")
    cut = data[: int(len(data) * fraction)]
    try:
        image = pe.parse_pe(cut)
    except FormatError:
        return
    assert image.problems
    assert image.signed is False  # the certificate table at the end is gone


@pytest.mark.debian
def test_signed_shim_with_certificate_table_past_the_end() -> None:
    data = debian_bytes("shim-signed")
    offset, length = struct.unpack_from("<II", data, security_directory(data))
    assert offset + length == len(data)  # Debian's sbsign puts it at the very end
    image = pe.parse_pe(patch(data, security_directory(data), "<II", offset, length + 8))
    assert image.signed is False
    assert image.problems == (
        f"certificate table at {offset:#x}-{offset + length + 8:#x} extends past the end of the "
        f"file ({len(data):#x} bytes)",
    )


@pytest.mark.debian
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 0x3FF), st.integers(0, 255)), min_size=1, max_size=6))
def test_mutations_of_debian_systemd_boot_headers(flips: list[tuple[int, int]]) -> None:
    data = bytearray(debian_bytes("systemd-boot"))
    for offset, value in flips:
        data[offset] = value
    _parse_or_format_error(bytes(data))
