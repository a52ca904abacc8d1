"""Image validation: what a file is, and whether this machine can boot it.

The byte-level work is done by the pure validators (``efi.pe``, ``bootmenu.formats.bzimage``,
``…elf``, ``…multiboot``, ``…initrd``); this module picks the right ones by the file's magic
numbers, merges their findings and adds what only the running machine knows (its architecture).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from bootmenu import arch
from bootmenu.errors import FormatError
from bootmenu.formats import bzimage, elf, initrd, multiboot
from bootmenu.model import ImageInfo, Kind
from bootmenu.system.fs import MAX_IMAGE_SIZE, VolumeReader
from efi import loaders, pe, uki

ELF_MAGIC = b"\x7fELF"
GZIP_MAGIC = b"\x1f\x8b"
# A gzip-compressed kernel (Debian's /boot/xen-*.gz) is unpacked up to this size to look inside.
MAX_UNPACKED_KERNEL = 64 * 1024 * 1024
MZ_MAGIC = b"MZ"
# How much of an initrd is read to recognise its parts (early microcode cpio + compressed cpio).
INITRD_HEAD = 8 * 1024 * 1024
# Discovery's quick check (``inspect_file(quick=True)``) of a Linux kernel reads its first
# KERNEL_HEAD bytes (boot sector, setup header and code, PE headers and section table: 20-40
# KiB in Debian's) and its size, of an initrd its first INITRD_QUICK_HEAD bytes.  Reading and
# decompressing whole files was most of discovery's time: under TCG 37 ms for an 8 MB kernel
# and 60 ms for a 1 MB gzip initrd, for every entry (docs/performance.md).
KERNEL_HEAD = 256 * 1024
INITRD_QUICK_HEAD = 64 * 1024

_KIND_WORDS = {
    Kind.LINUX.value: "a Linux kernel",
    Kind.UKI.value: "a unified kernel image (UKI)",
    Kind.MULTIBOOT.value: "a Multiboot kernel",
    Kind.EFI.value: "an EFI application",
    "initrd": "an initrd",
}


def _describe(info: ImageInfo) -> str:
    if info.kind in _KIND_WORDS:
        return _KIND_WORDS[info.kind]
    if info.format == "elf":
        return "an ELF file without a Multiboot header"
    if info.format == "pe":
        return "a PE file"
    return "not a format bootmenu knows"


def _merge(base: ImageInfo, extra: ImageInfo, *, key: str) -> ImageInfo:
    details: dict[str, Any] = dict(base.details)
    details[key] = dict(extra.details)
    return ImageInfo(
        format=base.format,
        kind=base.kind,
        architecture=base.architecture or extra.architecture,
        signed=base.signed if base.signed is not None else extra.signed,
        problems=base.problems + tuple(p for p in extra.problems if p not in base.problems),
        details=details,
    )


def _gunzip(data: bytes) -> bytes | None:
    """The unpacked contents of a gzip file, or None when it is not one (or unpacks too big)."""
    unpacker = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        inner = unpacker.decompress(data, MAX_UNPACKED_KERNEL)
    except zlib.error:
        return None
    return None if unpacker.unconsumed_tail else inner


def _identify(data: bytes, total_size: int) -> ImageInfo:
    """Recognise an image from its bytes (the whole file, or for initrds its head)."""
    if not data:
        return ImageInfo(
            format="empty", kind=None, architecture=None, problems=("the file is empty",)
        )
    if data.startswith(MZ_MAGIC):
        info = inspect_pe(data, total_size=total_size)
        if bzimage.has_setup_header(data):
            # A Linux kernel with an EFI stub is both: boot protocol header and signed PE.
            bz = bzimage.inspect_bzimage(data, total_size=total_size)
            return _merge(
                ImageInfo(
                    format="bzimage",
                    kind=info.kind if info.kind == Kind.UKI.value else bz.kind,
                    architecture=bz.architecture or info.architecture,
                    signed=info.signed,
                    problems=bz.problems,
                    details=dict(bz.details),
                ),
                info,
                key="pe",
            )
        return info
    if bzimage.has_setup_header(data):
        return bzimage.inspect_bzimage(data, total_size=total_size)
    if data.startswith(GZIP_MAGIC):
        inner = _gunzip(data)
        if inner is not None and (
            inner.startswith(ELF_MAGIC) or multiboot.inspect_multiboot(inner) is not None
        ):
            # kexec-tools unpacks gzip-compressed kernels itself (Xen ships as xen-*.gz).
            info = _identify(inner, len(inner))
            return ImageInfo(
                format=info.format,
                kind=info.kind,
                architecture=info.architecture,
                signed=info.signed,
                problems=info.problems,
                details={**info.details, "compression": "gzip"},
            )
    mb = multiboot.inspect_multiboot(data)
    if data.startswith(ELF_MAGIC):
        info = elf.inspect_elf(data)
        return _merge(mb, info, key="elf") if mb is not None else info
    if mb is not None:
        return mb
    rd = initrd.inspect_initrd(data, total_size)
    if rd.details.get("segments"):
        return rd
    head = data[:8].hex(" ")
    return ImageInfo(
        format="unknown",
        kind=None,
        architecture=None,
        problems=(f"not a kernel, EFI application or initrd bootmenu knows (starts with {head})",),
    )


def inspect_image(
    data: bytes,
    *,
    total_size: int | None = None,
    expect: str | None = None,
    host_arch: str | None = None,
) -> ImageInfo:
    """Validate one image.

    ``expect`` is the kind a boot entry needs (a :class:`Kind` value or ``"initrd"``); when the
    file is something else that is a problem.  ``host_arch`` defaults to this machine's.  Never
    raises: a file the parsers reject is reported with the parser's sentence as a problem.
    """
    size = len(data) if total_size is None else total_size
    host = host_arch or arch.host()
    try:
        if expect == "initrd":
            info = initrd.inspect_initrd(data, size)
        else:
            info = _identify(data, size)
    except FormatError as e:
        info = ImageInfo(format="invalid", kind=None, architecture=None, problems=(str(e),))
    problems = list(info.problems)
    if expect is not None and info.format not in ("invalid", "empty"):
        if info.kind is None or not _kind_fits(expect, info.kind):
            wanted = _KIND_WORDS.get(expect, expect)
            problems.append(f"expected {wanted}, but the file is {_describe(info)}")
    if info.architecture and info.kind != "initrd":
        runs_as_efi = info.kind in (Kind.EFI.value, Kind.UKI.value) or expect == Kind.EFI.value
        if not arch.can_run(info.architecture, host, efi=runs_as_efi):
            problems.append(f"built for {info.architecture}, but this machine is {host}")
    return ImageInfo(
        format=info.format,
        kind=info.kind,
        architecture=info.architecture,
        signed=info.signed,
        problems=tuple(problems),
        details=info.details,
    )


def inspect_file(
    reader: VolumeReader,
    path: str,
    *,
    expect: str | None = None,
    host_arch: str | None = None,
    quick: bool = False,
) -> ImageInfo:
    """Read ``path`` from ``reader``'s volume as much as its validator needs (an initrd's first
    :data:`INITRD_HEAD` bytes and its size; any other image whole, up to ``MAX_IMAGE_SIZE``) and
    :func:`inspect_image` it: the one way a file on a disk is checked, by the scanner, the
    firmware entries, the menu's ``i`` and its custom entry.  PathError when it cannot be read.

    ``quick`` is discovery's check: a Linux kernel (``expect`` linux) is judged from its first
    :data:`KERNEL_HEAD` bytes and its size, an initrd from its first :data:`INITRD_QUICK_HEAD`.
    It can only accept sooner, never reject differently: a head that shows any problem (or a
    UKI, or anything but a Linux kernel) is checked again the full way, so every problem the
    menu shows comes from the full check.  What lies beyond the head (a damaged certificate
    table, the compressed kernel's bytes, the rest of an initrd) is checked when the entry is
    planned: the hand-off reads every file whole and checks it before anything is loaded.
    Such a result carries ``details["checked"] = "head"``."""
    if quick and expect in ("initrd", Kind.LINUX.value):
        head_size = INITRD_QUICK_HEAD if expect == "initrd" else KERNEL_HEAD
        head, total = reader.read_head(path, head_size)
        if total > len(head):
            info = inspect_image(head, total_size=total, expect=expect, host_arch=host_arch)
            if not info.problems and info.kind in ("initrd", Kind.LINUX.value):
                return replace(info, details={**info.details, "checked": "head"})
    if expect == "initrd":
        data, total = reader.read_head(path, INITRD_HEAD)
        return inspect_image(data, total_size=total, expect=expect, host_arch=host_arch)
    data = reader.read(path, limit=MAX_IMAGE_SIZE)
    return inspect_image(data, expect=expect, host_arch=host_arch)


def _kind_fits(expect: str, kind: str) -> bool:
    if expect == kind:
        return True
    # A UKI is also an EFI application (firmware can start it), and an EFI-stub kernel is both a
    # Linux kernel and an EFI application.
    if expect == Kind.EFI.value:
        return kind in (Kind.UKI.value, Kind.LINUX.value)
    return False


def report_json(path: str, info: ImageInfo) -> Mapping[str, Any]:
    """The JSON object documented for ``bootmenu inspect --json``."""
    return {
        "path": path,
        "format": info.format,
        "kind": info.kind,
        "architecture": info.architecture,
        "bootable": not info.problems,
        "signed": info.signed,
        "problems": list(info.problems),
        "details": dict(info.details),
    }


def inspect_pe(data: bytes, *, total_size: int | None = None) -> ImageInfo:
    """The validator's report for a PE file: format ``pe``; kind ``uki`` (has ``.linux``),
    ``linux`` (carries a Linux boot header) or ``efi``; details for ``bootmenu inspect``.
    ``data`` may be the file's head with ``total_size`` its size (see ``efi.pe.parse_pe``)."""
    image = pe.parse_pe(data, total_size=total_size)
    problems = list(image.problems)
    details: dict[str, Any] = {
        "machine": f"{image.machine:#06x} ({image.machine_name})",
        "subsystem": f"{image.subsystem} ({image.subsystem_name})",
        "sections": [s.name for s in image.sections],
        "entry_point": f"{image.entry_point:#x}",
        "sbat": image.sbat,
        "loader": loaders.identify(data, image),
    }
    if image.version_info:
        details["version_info"] = dict(image.version_info)
    if uki.is_uki(image):
        kind = "uki"
        parsed = uki.parse_uki(data)
        problems += [p for p in parsed.problems if p not in problems]
        details["uki"] = {
            "osrel": parsed.osrel,
            "cmdline": parsed.cmdline,
            "uname": parsed.uname,
            "linux_size": parsed.linux_size,
            "initrd_size": parsed.initrd_size,
            "sections": list(parsed.sections),
        }
    elif image.has_linux_header:
        kind = "linux"
    else:
        kind = "efi"
        if details["loader"] == "systemd-stub":
            problems.append(
                "this is systemd's UKI stub without a kernel (.linux section): on its own it "
                "boots nothing"
            )
    return ImageInfo(
        format="pe",
        kind=kind,
        architecture=image.architecture,
        signed=image.signed,
        problems=tuple(problems),
        details=details,
    )
