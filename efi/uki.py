"""Unified Kernel Images (Boot Loader Specification type 2 entries).

A UKI is an EFI stub (systemd-stub) with the kernel, initrd, command line and metadata appended
as PE sections (UAPI.5 "Unified Kernel Image" specification): ``.linux`` (required), ``.initrd``,
``.cmdline``, ``.osrel``, ``.uname``, ``.splash``, ``.dtb``, ``.ucode``, ``.sbat``, ``.pcrsig``,
``.pcrpkey``, ``.profile`` … Sections are read the way systemd-stub reads them: the first
section of a name, trimmed to its virtual size.  In a multi-profile UKI the first sections are
the base profile's, which is what this module reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from efi.errors import FormatError
from efi.pe import LINUX_HEADER_MAGIC, LINUX_HEADER_OFFSET, PeImage, parse_pe, section_data

# Section names defined by the UKI specification, in the order it lists them.
UKI_SECTIONS: Final = (
    ".linux",
    ".osrel",
    ".cmdline",
    ".initrd",
    ".ucode",
    ".splash",
    ".dtb",
    ".dtbauto",
    ".hwids",
    ".uname",
    ".sbat",
    ".pcrsig",
    ".pcrpkey",
    ".profile",
    ".efifw",
)
MZ_MAGIC: Final = b"MZ"


@dataclass(frozen=True)
class Uki:
    """What :func:`parse_uki` found.  ``problems`` include the PE image's own problems."""

    osrel: str | None
    cmdline: str | None
    uname: str | None
    has_linux: bool
    has_initrd: bool
    linux_size: int
    initrd_size: int
    sections: tuple[str, ...]
    problems: tuple[str, ...]
    architecture: str | None = None


def is_uki(image: PeImage) -> bool:
    """Whether a PE image is a UKI: it carries a kernel in a ``.linux`` section."""
    return image.section(".linux") is not None


def parse_uki(data: bytes) -> Uki:
    """Describe a UKI.  Raises :class:`FormatError` if ``data`` is not a PE image; anything
    else wrong (no ``.linux``, undecodable text sections, …) is reported in ``problems``."""
    image = parse_pe(data)
    problems = list(image.problems)
    linux = section_data(data, image, ".linux")
    initrd = section_data(data, image, ".initrd")
    if linux is None:
        problems.append("not a UKI: no .linux section")
    else:
        problem = _check_kernel(linux, image)
        if problem:
            problems.append(problem)
    return Uki(
        osrel=_text(data, image, ".osrel", problems),
        cmdline=_text(data, image, ".cmdline", problems),
        uname=_text(data, image, ".uname", problems),
        has_linux=linux is not None,
        has_initrd=initrd is not None,
        linux_size=len(linux or b""),
        initrd_size=len(initrd or b""),
        sections=tuple(s.name for s in image.sections if s.name in UKI_SECTIONS),
        problems=tuple(problems),
        architecture=image.architecture,
    )


def _text(data: bytes, image: PeImage, name: str, problems: list[str]) -> str | None:
    raw = section_data(data, image, name)
    if raw is None:
        return None
    try:
        return raw.decode("utf-8").rstrip("\0")
    except UnicodeDecodeError as err:
        problems.append(f"the {name} section is not UTF-8 text (byte {err.start:#x})")
        return None


def _check_kernel(linux: bytes, image: PeImage) -> str | None:
    """A problem with the embedded kernel, or None if it looks like a kernel for this stub."""
    if not linux:
        return "the .linux section is empty"
    bzimage = linux[LINUX_HEADER_OFFSET : LINUX_HEADER_OFFSET + 4] == LINUX_HEADER_MAGIC
    if not linux.startswith(MZ_MAGIC):
        if bzimage:
            return None  # a bzImage without an EFI stub; systemd-stub can still hand it over
        return "the .linux section is not a Linux kernel (neither a bzImage nor an EFI image)"
    try:
        kernel = parse_pe(linux)
    except FormatError:
        if bzimage:
            return None
        return "the .linux section is not a Linux kernel (neither a bzImage nor an EFI image)"
    if (
        kernel.architecture
        and image.architecture
        and kernel.architecture != image.architecture
        # an x86_64 stub may carry a kernel whose PE header says i386 (mixed-mode kernels)
        and not (bzimage and {kernel.architecture, image.architecture} <= {"x86_64", "i386"})
    ):
        return (
            f"the kernel in .linux is built for {kernel.architecture}, the UKI's stub for "
            f"{image.architecture}"
        )
    return None
