"""A Unified Kernel Image: systemd-boot's EFI stub with the kernel, initramfs, command line
and os-release added as PE sections (what ukify does with objcopy).

:func:`layout` is pure: it places the new sections after the stub's last one, each aligned
to the stub's SectionAlignment. :func:`build_uki` reads the stub and runs objcopy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pefile

from rootfs.host import BuildError, run

# The order systemd-stub's documentation gives; .linux last but .initrd so that the kernel
# does not need to be copied out of the way.
SECTION_ORDER = (".osrel", ".cmdline", ".initrd", ".linux")


@dataclass(frozen=True)
class Placement:
    name: str
    vma: int  # absolute (ImageBase + RVA), as objcopy --change-section-vma wants it
    size: int


def _align(value: int, alignment: int) -> int:
    return (value + alignment - 1) // alignment * alignment


def layout(
    image_base: int, section_alignment: int, end_rva: int, sizes: Mapping[str, int]
) -> tuple[Placement, ...]:
    """Where each new section goes: after ``end_rva`` (the end of the stub's last section),
    in :data:`SECTION_ORDER`, each starting on a ``section_alignment`` boundary."""
    if section_alignment <= 0:
        raise ValueError(f"stub: section alignment {section_alignment} is not positive")
    rva = _align(end_rva, section_alignment)
    placements = []
    for name in sorted(sizes, key=lambda n: (*SECTION_ORDER, n).index(n)):
        placements.append(Placement(name, image_base + rva, sizes[name]))
        rva = _align(rva + sizes[name], section_alignment)
    return tuple(placements)


def stub_geometry(stub: bytes) -> tuple[int, int, int]:
    """(ImageBase, SectionAlignment, end RVA of the last section) of the stub."""
    try:
        pe = pefile.PE(data=stub, fast_load=True)
    except pefile.PEFormatError as e:
        raise BuildError(f"the UKI stub is not a PE file: {e}") from e
    opt = pe.OPTIONAL_HEADER
    end = max((s.VirtualAddress + max(s.Misc_VirtualSize, s.SizeOfRawData) for s in pe.sections),
              default=0)  # fmt: skip
    return int(opt.ImageBase), int(opt.SectionAlignment), int(end)


def build_uki(
    stub: Path,
    out: Path,
    files: Mapping[str, Path],
    *,
    source_date_epoch: int,
    verbose: bool = False,
) -> tuple[Placement, ...]:
    """Write ``out``: the stub with one section per ``files`` item (section name → file)."""
    base, alignment, end = stub_geometry(stub.read_bytes())
    placements = layout(base, alignment, end, {n: p.stat().st_size for n, p in files.items()})
    cmd: list[str | Path] = ["objcopy"]
    for p in placements:
        cmd += ["--add-section", f"{p.name}={files[p.name]}"]
        cmd += ["--change-section-vma", f"{p.name}={p.vma:#x}"]
    cmd += [stub, out]
    run(cmd, env={"SOURCE_DATE_EPOCH": str(source_date_epoch)}, verbose=verbose)
    out.write_bytes(with_timestamp(out.read_bytes(), stub_timestamp(stub.read_bytes())))
    return placements


def stub_timestamp(stub: bytes) -> int:
    return int(pefile.PE(data=stub, fast_load=True).FILE_HEADER.TimeDateStamp)


def with_timestamp(image: bytes, timestamp: int) -> bytes:
    """``image`` with its COFF TimeDateStamp set and the PE checksum recomputed.

    objcopy stamps the current time into a PE file it writes (binutils 2.40 ignores
    SOURCE_DATE_EPOCH there), which would make every UKI different."""
    pe = pefile.PE(data=image, fast_load=True)
    pe.FILE_HEADER.TimeDateStamp = timestamp
    pe.OPTIONAL_HEADER.CheckSum = 0
    data = bytes(pe.write())
    pe = pefile.PE(data=data, fast_load=True)
    pe.OPTIONAL_HEADER.CheckSum = pe.generate_checksum()
    return bytes(pe.write())


def os_release(version: str, kernel_version: str) -> str:
    fields: Sequence[tuple[str, str]] = (
        ("NAME", "bootmenu"),
        ("ID", "bootmenu"),
        ("VERSION_ID", version),
        ("PRETTY_NAME", f"bootmenu {version} (Linux {kernel_version})"),
    )
    return "".join(f'{key}="{value}"\n' for key, value in fields)
