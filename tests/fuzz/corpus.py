"""Seed inputs for each fuzz target: the fixtures under ``tests/fixtures/``, and images built
by the tests' own builders (``tests/images.py``, ``tests/debian.py``'s ``append_section``),
in the input layout each target reads (``name\\0contents`` where a file name matters).

Regression inputs (``regressions/<target>/``) are inputs that once broke a parser; the short
form replays them.
"""

from __future__ import annotations

import bz2
import functools
import gzip
import lzma
import shutil
import struct
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path

from tests.debian import OSREL, append_section
from tests.images import bzimage, cpio_newc, initrd

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
REGRESSIONS = Path(__file__).resolve().parent / "regressions"

MB1_MAGIC = 0x1BADB002
MB2_MAGIC = 0xE85250D6


def _files(*patterns: str) -> list[Path]:
    found: set[Path] = set()
    for pattern in patterns:
        found.update(p for p in FIXTURES.glob(pattern) if p.is_file())
    return sorted(found)


def _named(paths: Iterable[Path]) -> list[bytes]:
    return [p.name.encode() + b"\0" + p.read_bytes() for p in paths]


def _contents(paths: Iterable[Path]) -> list[bytes]:
    return [p.read_bytes() for p in paths]


# -- images built here -------------------------------------------------------------------------


def mb1_header(flags: int = 0x3, *extra: int) -> bytes:
    checksum = -(MB1_MAGIC + flags) & 0xFFFFFFFF
    return struct.pack(f"<III{len(extra)}I", MB1_MAGIC, flags, checksum, *extra)


def mb2_tag(tag_type: int, flags: int = 0, body: bytes = b"") -> bytes:
    raw = struct.pack("<HHI", tag_type, flags, 8 + len(body)) + body
    return raw + b"\0" * (-len(raw) % 8)


def mb2_header(*tags: bytes, architecture: int = 0) -> bytes:
    body = b"".join(tags) + mb2_tag(0)
    length = 16 + len(body)
    checksum = -(MB2_MAGIC + architecture + length) & 0xFFFFFFFF
    return struct.pack("<IIII", MB2_MAGIC, architecture, length, checksum) + body


def elf_with(header: bytes, *, elf64: bool = False, size: int = 0x2000) -> bytes:
    """A loadable ELF executable (i386, or x86-64) with ``header`` at 0x80 in its one segment."""
    data = bytearray(size)
    base = 0x100000
    if elf64:
        data[0:16] = b"\x7fELF\x02\x01\x01" + bytes(9)
        struct.pack_into("<HHIQQQIHHHHHH", data, 16, 2, 62, 1, base + 0x80, 64, 0, 0, 64, 56, 1,
                         64, 0, 0)  # fmt: skip
        struct.pack_into("<IIQQQQQQ", data, 64, 1, 5, 0, base, base, size, size, 0x1000)
    else:
        data[0:16] = b"\x7fELF\x01\x01\x01" + bytes(9)
        struct.pack_into("<HHIIIIIHHHHHH", data, 16, 2, 3, 1, base + 0x80, 52, 0, 0, 52, 32, 1,
                         40, 0, 0)  # fmt: skip
        struct.pack_into("<IIIIIIII", data, 52, 1, 0, base, base, size, size, 5, 0x1000)
    data[0x80 : 0x80 + len(header)] = header
    return bytes(data)


def multiboot_kernels() -> list[bytes]:
    aout = mb1_header(0x10003, 0x100000, 0x100000, 0x102000, 0x103000, 0x100040)
    mb2_tags = (
        mb2_tag(1, 0, struct.pack("<II", 6, 4)),  # information request
        mb2_tag(2, 0, struct.pack("<IIII", 0x100000, 0x100000, 0x102000, 0x103000)),  # address
        mb2_tag(3, 0, struct.pack("<I", 0x100040)),  # entry address
        mb2_tag(4, 1, struct.pack("<I", 3)),  # console flags
        mb2_tag(5, 1, struct.pack("<III", 1024, 768, 32)),  # framebuffer
        mb2_tag(6),  # modules aligned
        mb2_tag(10, 0, struct.pack("<IIII", 0x200000, 0xFFFFFFFF, 0x1000, 1)),  # relocatable
    )
    return [
        elf_with(mb1_header()),
        elf_with(mb1_header(0x7)),
        elf_with(aout)[:0x1000] + bytes(0x2000),
        elf_with(mb2_header()),
        elf_with(mb2_header(*mb2_tags)),
        elf_with(mb2_header(architecture=4)),
        elf_with(mb2_header() + bytes(8) + mb1_header(), elf64=True),
        bytes(0x40) + mb1_header(0x10000, 0x40, 0, 0x2000, 0x2000, 0x40) + bytes(0x2000),
    ]


def bzimages() -> list[bytes]:
    return [
        bzimage(),
        bzimage(protocol=0x020B, xloadflags=0),
        bzimage(protocol=0x0206, setup_sects=1),
        bzimage(xloadflags=0x1F, payload=512),
    ]


def _tool(argv: list[str], data: bytes) -> bytes | None:
    if shutil.which(argv[0]) is None:
        return None
    return subprocess.run(argv, input=data, capture_output=True, check=True).stdout


def initrds() -> list[bytes]:
    main = cpio_newc({"init": b"#!/bin/sh\nexec /bin/sh\n", "initrd-release": b"x\n"})
    early = (FIXTURES / "initrd" / "early-ucode.cpio").read_bytes()
    packed = [
        initrd(),
        main,
        gzip.compress(main, mtime=0),
        lzma.compress(main, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32),
        lzma.compress(main, format=lzma.FORMAT_ALONE),
        bz2.compress(main),
        *(
            out
            for argv in (["zstd", "-q", "-c"], ["lz4", "-q", "-l", "-c"], ["lz4", "-q", "-c"])
            if (out := _tool(argv, main)) is not None
        ),
    ]
    return [
        *_contents(_files("initrd/*.cpio", "initrd/*.lzo")),
        *packed,
        *(early + p for p in packed),
    ]


def pe_images() -> list[bytes]:
    hello = (FIXTURES / "pe" / "hello-x64.efi").read_bytes()
    uki = hello
    for name, content in (
        (".osrel", OSREL.encode()),
        (".cmdline", b"root=UUID=0b2a1b7c ro quiet"),
        (".uname", b"6.1.0-56-amd64"),
        (".sbat", b"sbat,1,SBAT Version,sbat,1,https://example.org\nsystemd,1,x,systemd,1,x\n"),
        (".linux", bzimage(payload=512)),
        (".initrd", initrd()),
    ):
        uki = append_section(uki, name, content)
    return [*_contents(_files("pe/*.efi", "pe/*.exe")), uki]


def elfs() -> list[bytes]:
    return [*_contents(_files("upl/*.elf")), *multiboot_kernels()]


# -- EFI variables -----------------------------------------------------------------------------


def efi_variables() -> list[bytes]:
    return _named(_files("config/efivars/*", "config/efivars-broken/*", "efi/*/*-*-*-*-*-*"))


def load_options() -> list[bytes]:
    # efivarfs files: 4 bytes of attributes, then the EFI_LOAD_OPTION.
    return [p.read_bytes()[4:] for p in _files("efi/*/Boot0*")]


def hob_lists() -> list[bytes]:
    from efi import hob

    return [
        hob.build_hob_list(
            0x1000000,
            memory_bottom=0x1000000,
            memory_top=0x2000000,
            free_memory_bottom=0x1100000,
            free_memory_top=0x1F00000,
            hobs=[
                hob.Cpu(48, 16),
                hob.ResourceDescriptor(0, 0x7, 0, 0x80000000),
                hob.MemoryAllocation(0x1000000, 0x100000, 4),
                hob.ExtraData((hob.ExtraDataEntry("uefi_fv", 0x7E004000, 0x264000),)).hob(),
                hob.SerialPortInfo().hob(),
                hob.AcpiTable(0x7FB7E014).hob(),
                hob.SmbiosTable(0x7F9D4000).hob(),
                hob.GraphicsInfo(0x80000000, 0x300000, 1024, 768, 1, 1024).hob(),
                hob.BootmenuVariable("BootNext", hob.ZERO_GUID, 7, b"\x00\x01").hob(),
            ],
        )
    ]


def udev_dumps() -> list[bytes]:
    return _contents(_files("udev/*"))


# -- per target --------------------------------------------------------------------------------

_SEEDS: dict[str, Callable[[], list[bytes]]] = {
    "bls": lambda: _named(_files("bls/*/*.conf", "grub/*/*/loader/entries/*.conf")),
    "loader": lambda: _contents(_files("bls/loader/*.conf")),
    "grubcfg": lambda: _contents(_files("grub/**/*.cfg")),
    "syslinux": lambda: _contents(_files("syslinux/**/*.cfg", "syslinux/**/*.conf")),
    "grubenv": lambda: _contents(_files("grubenv/*", "grub/**/grubenv")),
    "osrelease": lambda: _contents(_files("osrelease/*")),
    "image": lambda: [*pe_images(), *bzimages(), *elfs(), *initrds()],
    "pe": pe_images,
    "bzimage": bzimages,
    "elf": elfs,
    "multiboot": multiboot_kernels,
    "initrd": initrds,
    "upl": lambda: _contents(_files("upl/*.elf")),
    "hob": hob_lists,
    "loadoption": load_options,
    "efivar": efi_variables,
    "udev": udev_dumps,
    "config": lambda: _contents(_files("config/*.toml")),
    "cmdline": lambda: [
        *_contents(_files("config/cmdline-*.txt")),
        b'BOOT_IMAGE=/vmlinuz root=UUID=0b2a ro bootmenu.timeout=5 bootmenu.default="Arch Linux"',
    ],
}


def regressions(target: str) -> list[bytes]:
    folder = REGRESSIONS / target
    return _contents(sorted(folder.iterdir())) if folder.is_dir() else []


@functools.cache
def seeds(target: str) -> tuple[bytes, ...]:
    """The seed inputs of ``target`` (fixtures, built images and regression inputs)."""
    return tuple(dict.fromkeys([*_SEEDS[target](), *regressions(target)]))
