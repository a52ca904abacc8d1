"""Small, structurally valid boot images built in tests (unit tier only).

They follow the documented layouts (Linux x86 boot protocol, cpio newc) closely enough for the
validators to accept them; the real Debian kernels and EFI binaries are exercised separately
(tests marked ``debian``) and real boots live in the VM tier.
"""

from __future__ import annotations

import gzip
import struct
from collections.abc import Iterable

from rootfs import cpio

SECTOR = 512


def bzimage(
    release: str = "6.1.0-test-amd64",
    *,
    protocol: int = 0x020F,
    xloadflags: int = 0x3,
    setup_sects: int = 4,
    payload: int = 4096,
) -> bytes:
    """A bzImage: boot sector + setup code with the 'HdrS' header, then a protected-mode part."""
    setup = bytearray(SECTOR * (setup_sects + 1))
    version_text = f"{release} (test@bootmenu) #1 SMP PREEMPT_DYNAMIC\0".encode()
    version_at = 0x400  # inside the setup code, pointer is relative to 0x200
    setup[version_at : version_at + len(version_text)] = version_text
    syssize = (payload + 15) // 16
    struct.pack_into("<B", setup, 0x1F1, setup_sects)
    struct.pack_into("<I", setup, 0x1F4, syssize)
    struct.pack_into("<H", setup, 0x1FE, 0xAA55)
    setup[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", setup, 0x206, protocol)
    struct.pack_into("<H", setup, 0x20E, version_at - 0x200)
    struct.pack_into("<B", setup, 0x211, 0x01)  # loadflags: LOADED_HIGH
    struct.pack_into("<I", setup, 0x214, 0x100000)  # code32_start
    struct.pack_into("<B", setup, 0x234, 1)  # relocatable_kernel
    struct.pack_into("<H", setup, 0x236, xloadflags)
    struct.pack_into("<I", setup, 0x238, 2048)  # cmdline_size
    struct.pack_into("<Q", setup, 0x258, 0x1000000)  # pref_address
    struct.pack_into("<I", setup, 0x260, 0x2000000)  # init_size
    return bytes(setup) + b"\x90" * payload


def cpio_archive(entries: Iterable[cpio.Entry]) -> bytes:
    """An uncompressed newc cpio archive, written by the initramfs builder's own writer."""
    out = bytearray()
    cpio.write_archive(entries, out.extend, mtime=0)
    return bytes(out)


def cpio_newc(files: dict[str, bytes]) -> bytes:
    """An uncompressed newc archive of regular files (mode 0644), as the kernel unpacks it."""
    return cpio_archive(cpio.Entry.file(name, data) for name, data in files.items())


def initrd(files: dict[str, bytes] | None = None) -> bytes:
    """A gzip-compressed newc initrd, as Debian's initramfs-tools makes by default."""
    return gzip.compress(cpio_newc(files or {"init": b"#!/bin/sh\necho hello\n"}), mtime=0)
