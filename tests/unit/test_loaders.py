"""efi.loaders: which boot loader an EFI binary is, from its content.

Debian ships shim, GRUB, systemd-boot, memtest86+, iPXE and the kernel, so those are tested on
the real binaries (marked ``debian``).  Windows Boot Manager and Haiku's loader are not in
Debian: tests/fixtures/pe/bootmgr-x64.efi and haiku-x64.efi are small EFI applications linked by
GNU ld that carry, respectively, bootmgfw.efi's version resource and the Haiku boot menu texts
(see tests/fixtures/pe/make_fixtures.py); the negative cases patch those bytes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bootmenu.errors import FormatError
from efi import loaders, pe
from tests.debian import append_section, debian_bytes

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "pe"


def identify(data: bytes) -> str | None:
    return loaders.identify(data, pe.parse_pe(data))


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_windows_boot_manager_by_its_version_resource() -> None:
    data = fixture("bootmgr-x64.efi")
    image = pe.parse_pe(data)
    assert image.version_string("CompanyName") == "Microsoft Corporation"
    assert image.version_string("OriginalFilename") == "bootmgr.exe"
    assert loaders.identify(data, image) == "windows-boot-manager"


def test_version_resource_from_another_company_is_not_windows() -> None:
    data = fixture("bootmgr-x64.efi")
    patched = data.replace("Microsoft".encode("utf-16-le"), "Macrosoft".encode("utf-16-le"))
    assert patched != data
    image = pe.parse_pe(patched)
    assert image.version_string("CompanyName") == "Macrosoft Corporation"
    assert loaders.identify(patched, image) is None


def test_haiku_loader_by_its_menu_texts() -> None:
    assert identify(fixture("haiku-x64.efi")) == "haiku"


def test_one_haiku_text_alone_is_not_enough() -> None:
    data = fixture("haiku-x64.efi").replace(
        b"Select safe mode options", b"Select safe mode choices"
    )
    assert identify(data) is None


def test_plain_efi_application_is_unknown() -> None:
    assert identify(fixture("hello-x64.efi")) is None


def test_linux_header_makes_linux() -> None:
    """hello-x64.efi with "HdrS" written at 0x202 (inside the DOS stub, as in a bzImage)."""
    data = bytearray(fixture("hello-x64.efi"))
    data[0x202:0x206] = b"HdrS"
    assert identify(bytes(data)) == "linux"


def _with_boot_header(version: bytes, body: bytes = b"") -> bytes:
    """hello-x64.efi with an x86 boot header (protocol 2.15) whose kernel_version string is
    ``version`` and ``body`` after the image (where hello-x64.efi's DOS stub is too small)."""
    data = bytearray(fixture("hello-x64.efi"))
    data[0x202:0x206] = b"HdrS"
    data[0x206:0x208] = (0x20F).to_bytes(2, "little")
    data[0x20E:0x210] = (len(data) - 0x200).to_bytes(2, "little")
    return bytes(data) + version + b"\0" + body


DEBIAN_VERSION = b"6.1.0-57-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC Debian"


def test_linux_version_in_the_boot_header_decides_without_searching_the_image() -> None:
    """A kernel whose header names a Linux version is Linux, whatever texts its data holds (the
    image is not searched: that search was most of the time a disk's kernels took to check)."""
    body = b"iPXE\0http://ipxe.org\0Memtest86+ v6.10\0"
    assert loaders.boot_header_version(_with_boot_header(DEBIAN_VERSION)) == DEBIAN_VERSION
    assert identify(_with_boot_header(DEBIAN_VERSION, body)) == "linux"


def test_memtest_banner_in_the_boot_header_makes_memtest() -> None:
    assert identify(_with_boot_header(b"Memtest86+ v6.10")) == "memtest86+"


@pytest.mark.parametrize(
    "version",
    [b"", b"6.1.0 built by someone", b"Linux 6.1 (a@b)", b"6.1.0-57-amd64 (debian-kernel) #1"],
)
def test_a_header_without_a_linux_version_is_still_searched(version: bytes) -> None:
    body = b"iPXE\0http://ipxe.org\0"
    assert identify(_with_boot_header(version, body)) == "ipxe"
    assert identify(_with_boot_header(version)) == "linux"


def test_kernel_version_pointing_outside_the_image_is_none() -> None:
    data = bytearray(_with_boot_header(DEBIAN_VERSION))
    data[0x20E:0x210] = (0xFFFF).to_bytes(2, "little")
    assert loaders.boot_header_version(bytes(data)) is None
    data[0x206:0x208] = (0x1FF).to_bytes(2, "little")  # protocol < 2.00: no such field
    assert loaders.boot_header_version(bytes(data)) is None


def test_arm64_image_header_makes_linux() -> None:
    """hello-x64.efi with the arm64 Image magic "ARM\\x64" at 0x38, as arm64 EFI kernels have."""
    data = bytearray(fixture("hello-x64.efi"))
    data[0x38:0x3C] = b"ARM\x64"
    assert identify(bytes(data)) == "linux"


def test_uki_is_recognised_before_the_loader_markers() -> None:
    data = append_section(fixture("hello-x64.efi"), ".linux", b"MZ" + bytes(0x200) + b"HdrS")
    assert identify(data) == "uki"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes(data: bytes) -> None:
    try:
        image = pe.parse_pe(data)
    except FormatError:
        return
    assert loaders.identify(data, image) in {None, *ALL}


ALL = {
    "windows-boot-manager",
    "haiku",
    "shim",
    "grub",
    "systemd-boot",
    "uki",
    "linux",
    "memtest86+",
    "ipxe",
}


@pytest.mark.debian
@pytest.mark.parametrize(
    "key, expected",
    [
        ("shim-signed", "shim"),
        ("shim-unsigned", "shim"),
        ("shim-fallback", None),  # fbx64.efi: shim's helper, not shim
        ("mokmanager", None),  # mmx64.efi
        ("grub-signed", "grub"),
        ("grub-unsigned", "grub"),
        ("grub-ia32", "grub"),
        ("systemd-boot", "systemd-boot"),
        ("systemd-stub", "systemd-stub"),  # a stub without .linux boots nothing
        ("memtest-x64", "memtest86+"),
        ("memtest-ia32", "memtest86+"),
        ("ipxe", "ipxe"),
        ("ipxe-snponly", "ipxe"),
        ("vmlinuz", "linux"),
    ],
)
def test_debian_binaries(key: str, expected: str | None) -> None:
    assert identify(debian_bytes(key)) == expected


@pytest.mark.debian
def test_debian_systemd_boot_with_haiku_texts_patched_in() -> None:
    """Debian's systemd-boot with a .rodata2 section holding Haiku's menu texts: the Haiku
    test comes first, so a loader carrying both is reported as Haiku."""
    texts = b"Welcome to the\0Haiku Boot Loader\0Select safe mode options\0"
    data = append_section(debian_bytes("systemd-boot"), ".rodata2", texts)
    assert identify(data) == "haiku"
