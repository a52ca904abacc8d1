"""Tell which boot loader an EFI binary is, by its content rather than its path.

\\EFI\\BOOT\\BOOTX64.EFI may be shim, GRUB, systemd-boot, Windows Boot Manager or Haiku's loader;
the menu needs to know which.  Each test below looks for something the project itself puts into
its binary, and says where that comes from:

- Windows Boot Manager (bootmgfw.efi, bootmgr.efi): its VS_VERSIONINFO resource.  Windows 11
  22H2's bootmgfw.efi 10.0.22621.3447 carries CompanyName "Microsoft Corporation",
  InternalName and OriginalFilename "bootmgr.exe", FileDescription "Boot Manager" (WinDbg
  ``lmvm bootmgfw`` as shown in "Locked Down but Not Out", Black Hat USA 2024).  Accepted: a
  Microsoft CompanyName plus either that description or a bootmgr/bootmgfw file name.
- Haiku (haiku_loader.efi, copied by Haiku to \\EFI\\BOOT\\BOOTX64.EFI on its ESP from
  /boot/system/data/platform_loaders/): the boot menu's texts, compiled in as plain C strings.
  haiku/haiku src/system/boot/platform/generic/text_menu.cpp draw_menu() prints "Welcome to
  the" / "Haiku Boot Loader" (the EFI platform's menu.cpp calls this generic text menu), and
  src/system/boot/loader/menu.cpp user_menu() adds "Select safe mode options".  Both must be
  present.
- shim: shim.c's version banner "UEFI SHIM\\n$Version: …" (absent from its fbx64/mmx64 helpers).
- GRUB: an ``.sbat`` entry for the ``grub`` component (GRUB >= 2.06 with SBAT), or the ``mods``
  section grub-mkimage puts the module archive in (older images without SBAT).
- systemd-boot: the ``.sdmagic`` text "#### LoaderInfo: systemd-boot <version> ####" (systemd
  >= 250), or the UTF-16 LoaderInfo value "systemd-boot <version>" older releases set.
- memtest86+: an ``.sbat`` entry for ``memtest86+``, or its "Memtest86+ v<version>" banner.
- iPXE: an ``.sbat`` entry for ``ipxe``, or its banner texts "iPXE" and "ipxe.org".
- UKI: a ``.linux`` section (see :mod:`efi.uki`); a Linux kernel: the x86 "HdrS" boot header, the
  arm64/RISC-V Image header magic, or the EFI zboot "zimg" header.

An image with the x86 boot header says what it is in that header's ``kernel_version`` string:
Linux writes ``UTS_RELEASE " (" LINUX_COMPILE_BY "@" LINUX_COMPILE_HOST ") " UTS_VERSION``
(arch/x86/boot/version.c; Debian's: "6.1.0-57-amd64 (debian-kernel@lists.debian.org) #1 SMP
…"), memtest86+ 6 its banner ("Memtest86+ v6.10" in Debian's memtest86+ 6.10).  Either one
answers without searching the image; only a header without such a string is searched.
"""

from __future__ import annotations

import re
from typing import Final

from efi.pe import PeImage, parse_sbat
from efi.uki import is_uki

WINDOWS_FILE_NAMES: Final = frozenset({"bootmgr.exe", "bootmgr.efi", "bootmgfw.efi"})
WINDOWS_DESCRIPTION: Final = "Boot Manager"

HAIKU_MARKERS: Final = (b"Haiku Boot Loader", b"Select safe mode options")

SHIM_MARKER: Final = b"UEFI SHIM\n$Version: "

SYSTEMD_BOOT_MAGIC: Final = b"#### LoaderInfo: systemd-boot "
# systemd's UKI stub (linuxx64.efi.stub) carries the same kind of .sdmagic text.
SYSTEMD_STUB_MAGIC: Final = b"#### LoaderInfo: systemd-stub "
SYSTEMD_BOOT_UTF16: Final = re.compile(re.escape("systemd-boot ".encode("utf-16-le")) + rb"[0-9]\0")

MEMTEST_BANNER: Final = re.compile(rb"Memtest86\+ v[0-9]")
# The x86 boot header: "HdrS" at 0x202, the protocol version at 0x206, kernel_version (the
# string's offset minus 0x200, 0 for none; protocol >= 2.00) at 0x20E.
BOOT_HEADER_MAGIC: Final = (0x202, b"HdrS")
KERNEL_VERSION_FIELD: Final = 0x20E
KERNEL_VERSION_MAX: Final = 256
LINUX_VERSION_STRING: Final = re.compile(rb"[0-9]+\.[0-9]+\S* \([^()\s]*@[^()\s]*\) #[0-9]")
IPXE_MARKERS: Final = (b"iPXE", b"ipxe.org")

# Linux kernel image headers: arm64 Image "ARM\x64" at 0x38 (Documentation/arch/arm64/booting),
# RISC-V Image "RSC\x05" at 0x38 (Documentation/arch/riscv/boot-image-header), EFI zboot
# "zimg" at 0x04 (drivers/firmware/efi/libstub/zboot-header.S).
LINUX_IMAGE_MAGICS: Final = ((0x38, b"ARM\x64"), (0x38, b"RSC\x05"), (0x04, b"zimg"))


def identify(data: bytes, image: PeImage) -> str | None:
    """Name the loader in ``data`` (already parsed as ``image``), or None if unknown.

    One of ``windows-boot-manager``, ``haiku``, ``shim``, ``grub``, ``systemd-boot``, ``uki``,
    ``systemd-stub`` (the UKI stub without a kernel), ``linux``, ``memtest86+``, ``ipxe``.
    """
    sbat = {entry.component for entry in parse_sbat(image.sbat or "")}
    if _is_windows_boot_manager(image):
        return "windows-boot-manager"
    if image.has_linux_header and not is_uki(image):
        # Of the loaders named here only memtest86+ and iPXE also carry a Linux boot header:
        # a kernel is not searched for the others' markers (eight scans of every kernel a
        # disk lists were most of its validation time).
        return _linux_like(data, sbat)
    if all(marker in data for marker in HAIKU_MARKERS):
        return "haiku"
    if is_uki(image):
        return "uki"
    if SHIM_MARKER in data:
        return "shim"
    if "grub" in sbat or image.section("mods") is not None:
        return "grub"
    if SYSTEMD_BOOT_MAGIC in data or SYSTEMD_BOOT_UTF16.search(data):
        return "systemd-boot"
    if SYSTEMD_STUB_MAGIC in data:
        return "systemd-stub"  # the stub alone: a UKI would have been recognised above
    # memtest86+ also carries a Linux boot header (it can be started like a kernel): test first.
    if "memtest86+" in sbat or MEMTEST_BANNER.search(data):
        return "memtest86+"
    if "ipxe" in sbat or all(marker in data for marker in IPXE_MARKERS):
        return "ipxe"
    if image.has_linux_header or any(
        data[offset : offset + len(magic)] == magic for offset, magic in LINUX_IMAGE_MAGICS
    ):
        return "linux"
    return None


def _linux_like(data: bytes, sbat: set[str]) -> str:
    """memtest86+, iPXE or a Linux kernel: the loaders with a Linux boot header."""
    version = boot_header_version(data)
    if version is not None and LINUX_VERSION_STRING.match(version):
        return "linux"
    if version is not None and MEMTEST_BANNER.match(version):
        return "memtest86+"
    if "memtest86+" in sbat or MEMTEST_BANNER.search(data):
        return "memtest86+"
    if "ipxe" in sbat or all(marker in data for marker in IPXE_MARKERS):
        return "ipxe"
    return "linux"


def boot_header_version(data: bytes) -> bytes | None:
    """The x86 boot header's ``kernel_version`` string (up to its NUL), or None when the image
    has no such header or the field is empty or points outside the image."""
    offset, magic = BOOT_HEADER_MAGIC
    if data[offset : offset + len(magic)] != magic or len(data) < KERNEL_VERSION_FIELD + 2:
        return None
    if int.from_bytes(data[0x206:0x208], "little") < 0x200:
        return None
    pointer = int.from_bytes(data[KERNEL_VERSION_FIELD : KERNEL_VERSION_FIELD + 2], "little")
    if pointer == 0 or 0x200 + pointer >= len(data):
        return None
    start = 0x200 + pointer
    text = data[start : start + KERNEL_VERSION_MAX]
    end = text.find(b"\0")
    return text if end < 0 else text[:end]


def _is_windows_boot_manager(image: PeImage) -> bool:
    company = image.version_string("CompanyName") or ""
    if "microsoft" not in company.lower():
        return False
    names = {
        (image.version_string(key) or "").strip().lower()
        for key in ("OriginalFilename", "InternalName")
    }
    description = (image.version_string("FileDescription") or "").strip()
    return bool(names & WINDOWS_FILE_NAMES) or description == WINDOWS_DESCRIPTION
