"""efi.uki: Unified Kernel Images.

The real UKIs here are built at test time the way ukify (systemd 252) does it: Debian 12's
systemd-stub (linuxx64.efi.stub) with ``objcopy --add-section … --change-section-vma …``, the
Debian kernel as ``.linux`` and a tiny newc cpio as ``.initrd``.  The quick tests without
Debian binaries append sections to tests/fixtures/pe/hello-x64.efi (a GNU ld-built EFI
application) with tests.debian.append_section; their ``.linux`` is a stand-in, not a kernel.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bootmenu.errors import FormatError
from bootmenu.validate import inspect_pe
from efi import loaders, pe, uki
from tests.debian import OSREL, append_section, build_uki, debian_bytes
from tests.images import cpio_newc

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "pe"
CMDLINE = "root=UUID=0b2a1b7c-3c4f-4e37-9d38-7d1c0d51a3a9 ro quiet"
UNAME = "6.1.0-56-amd64"


def hello() -> bytes:
    return (FIXTURES / "hello-x64.efi").read_bytes()


def fake_bzimage() -> bytes:
    """4 KiB with the x86 boot protocol's "HdrS" at 0x202, as a bzImage without EFI stub has."""
    data = bytearray(4096)
    data[0x1FE:0x200] = b"\x55\xaa"
    data[0x202:0x206] = b"HdrS"
    return bytes(data)


def small_uki(sections: dict[str, bytes]) -> bytes:
    data = hello()
    for name, content in sections.items():
        data = append_section(data, name, content)
    return data


# -- quick tests on hello-x64.efi with sections added ------------------------------------------


def test_sections_are_read_and_text_is_decoded() -> None:
    data = small_uki(
        {
            ".osrel": OSREL.encode(),
            ".cmdline": CMDLINE.encode() + b"\0",
            ".uname": UNAME.encode(),
            ".linux": fake_bzimage(),
            ".initrd": b"070701",
        }
    )
    result = uki.parse_uki(data)
    assert result.osrel == OSREL
    assert result.cmdline == CMDLINE
    assert result.uname == UNAME
    assert (result.has_linux, result.has_initrd) == (True, True)
    assert (result.linux_size, result.initrd_size) == (4096, 6)
    assert result.sections == (".sbat", ".osrel", ".cmdline", ".uname", ".linux", ".initrd")
    assert result.architecture == "x86_64"
    assert result.problems == ()
    assert uki.is_uki(pe.parse_pe(data))


def test_without_linux_it_is_not_a_uki() -> None:
    data = small_uki({".osrel": OSREL.encode(), ".cmdline": b"quiet"})
    result = uki.parse_uki(data)
    assert result.has_linux is False
    assert result.linux_size == 0
    assert result.cmdline == "quiet"
    assert result.problems == ("not a UKI: no .linux section",)
    assert not uki.is_uki(pe.parse_pe(data))
    assert uki.parse_uki(hello()).problems == ("not a UKI: no .linux section",)


def test_cmdline_that_is_not_utf8() -> None:
    data = small_uki({".linux": fake_bzimage(), ".cmdline": b"root=/dev/sda1 \xff\xfe"})
    result = uki.parse_uki(data)
    assert result.cmdline is None
    assert result.problems == ("the .cmdline section is not UTF-8 text (byte 0xf)",)


def test_linux_section_that_is_not_a_kernel() -> None:
    result = uki.parse_uki(small_uki({".linux": b"#!/bin/sh\necho not a kernel\n"}))
    assert result.problems == (
        "the .linux section is not a Linux kernel (neither a bzImage nor an EFI image)",
    )


def test_linux_section_for_another_architecture() -> None:
    """hello-ia32.efi (an i386 PE without a Linux header) as the kernel of an x86_64 UKI."""
    ia32 = (FIXTURES / "hello-ia32.efi").read_bytes()
    result = uki.parse_uki(small_uki({".linux": ia32}))
    assert result.problems == ("the kernel in .linux is built for i386, the UKI's stub for x86_64",)


def test_pe_problems_are_included() -> None:
    console = (FIXTURES / "console-x64.exe").read_bytes()
    result = uki.parse_uki(append_section(console, ".linux", fake_bzimage()))
    assert result.problems == ("not an EFI application (PE subsystem 3, expected 10)",)


def test_not_a_pe_is_a_format_error() -> None:
    with pytest.raises(FormatError):
        uki.parse_uki(fake_bzimage())


def test_inspect_pe_reports_uki_fields() -> None:
    data = small_uki({".osrel": OSREL.encode(), ".cmdline": b"quiet", ".linux": fake_bzimage()})
    info = inspect_pe(data)
    assert (info.format, info.kind, info.architecture) == ("pe", "uki", "x86_64")
    assert info.details["uki"]["cmdline"] == "quiet"
    assert info.details["uki"]["linux_size"] == 4096
    assert info.details["loader"] == "uki"


# -- robustness --------------------------------------------------------------------------------


def _parse_or_format_error(data: bytes) -> None:
    with contextlib.suppress(FormatError):
        uki.parse_uki(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes(data: bytes) -> None:
    _parse_or_format_error(data)


SMALL_UKI = small_uki({".osrel": OSREL.encode(), ".cmdline": b"quiet", ".linux": fake_bzimage()})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.integers(0, len(SMALL_UKI) - 1), st.integers(0, 255)), min_size=1, max_size=8
    ),
    st.integers(0, len(SMALL_UKI)),
)
def test_mutations_of_a_small_uki(flips: list[tuple[int, int]], length: int) -> None:
    data = bytearray(SMALL_UKI)
    for offset, value in flips:
        data[offset] = value
    _parse_or_format_error(bytes(data[:length]))


# -- real UKIs from Debian's systemd-stub and kernel ------------------------------------------


@pytest.fixture(scope="module")
def initrd() -> bytes:
    return cpio_newc({"init": b"#!/bin/sh\necho hello from the initramfs\n"})


@pytest.fixture(scope="module")
def debian_uki(tmp_path_factory: pytest.TempPathFactory, initrd: bytes) -> bytes:
    sections = {
        ".osrel": OSREL.encode(),
        ".cmdline": CMDLINE.encode(),
        ".uname": UNAME.encode(),
        ".linux": debian_bytes("vmlinuz"),
        ".initrd": initrd,
    }
    return build_uki(tmp_path_factory.mktemp("uki"), sections)


@pytest.mark.debian
def test_debian_uki(debian_uki: bytes, initrd: bytes) -> None:
    result = uki.parse_uki(debian_uki)
    assert result.osrel == OSREL
    assert result.cmdline == CMDLINE
    assert result.uname == UNAME
    assert result.linux_size == len(debian_bytes("vmlinuz"))
    assert result.initrd_size == len(initrd)
    assert result.sections == (".sbat", ".osrel", ".cmdline", ".uname", ".linux", ".initrd")
    assert result.problems == ()
    image = pe.parse_pe(debian_uki)
    kernel = pe.section_data(debian_uki, image, ".linux")
    assert kernel == debian_bytes("vmlinuz")  # byte for byte, trimmed to the virtual size
    assert image.signed is False  # Debian's stub is unsigned, and so is a UKI made from it
    assert loaders.identify(debian_uki, image) == "uki"
    info = inspect_pe(debian_uki)
    assert (info.kind, info.architecture, info.problems) == ("uki", "x86_64", ())


@pytest.mark.debian
def test_debian_uki_without_objcopy_matches(
    debian_uki: bytes, initrd: bytes, systemd_stub_bytes: bytes
) -> None:
    """The same UKI built by tests.debian.append_section instead of objcopy parses the same."""
    data = systemd_stub_bytes
    for name, content in {
        ".osrel": OSREL.encode(),
        ".cmdline": CMDLINE.encode(),
        ".uname": UNAME.encode(),
        ".linux": debian_bytes("vmlinuz"),
        ".initrd": initrd,
    }.items():
        data = append_section(data, name, content)
    assert uki.parse_uki(data) == uki.parse_uki(debian_uki)


@pytest.fixture(scope="module")
def systemd_stub_bytes() -> bytes:
    return debian_bytes("systemd-stub")


@pytest.mark.debian
def test_debian_stub_alone_is_not_a_uki(systemd_stub_bytes: bytes) -> None:
    result = uki.parse_uki(systemd_stub_bytes)
    assert result.problems == ("not a UKI: no .linux section",)
    assert result.sections == (".sbat",)
    assert loaders.identify(systemd_stub_bytes, pe.parse_pe(systemd_stub_bytes)) == "systemd-stub"


@pytest.mark.debian
def test_debian_uki_with_an_i386_efi_application_as_kernel(tmp_path: Path) -> None:
    """GRUB's i386 EFI image is a PE for another architecture and not a kernel."""
    data = build_uki(tmp_path, {".linux": debian_bytes("grub-ia32")})
    assert uki.parse_uki(data).problems == (
        "the kernel in .linux is built for i386, the UKI's stub for x86_64",
    )


@pytest.mark.debian
@pytest.mark.parametrize("fraction", [0.5, 0.9, 0.99])
def test_truncated_debian_uki(debian_uki: bytes, fraction: float) -> None:
    result = uki.parse_uki(debian_uki[: int(len(debian_uki) * fraction)])
    assert any("extends past the end of the file" in p for p in result.problems)
